"""Fleet supervision: the second data flow of Qingyun, from GPS terminals to an audit report.

Stages, in the order data flows:

- ``fleet.jt808`` — ingest: the JT/T 808 gateway stores terminals' positions.
- ``fleet.tracks`` — positions (database or CSV) → cleaned tracks, trips, stops, gaps; map matching.
- ``fleet.audit`` — tracks → compliance rules → plan coverage → company scores → report; one
  pipeline (:func:`fleet.audit.pipeline.run_audit`) for the CLI and the API.
- ``fleet.supervise`` — live supervision: the audit's rules judged fix by fix (one engine for the
  audit and live alarms), alarms with stable keys.
- ``fleet.simulate`` — simulated trucks and terminals with known truth, for tests and benchmarks.

Public API: :class:`FleetSettings` (every supervision threshold, resolved once by the shell) and
:func:`run_audit`.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.settings": ("FleetSettings",),
        "fleet.audit.pipeline": ("run_audit",),
    },
)
