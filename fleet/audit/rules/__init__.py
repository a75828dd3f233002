"""Compliance rules for construction-waste trucks (渣土车), one module per rule family.

Stage: tracks → **rules** → scores. ``engine`` runs every family over one truck's track
(``fleet.supervise.engine`` drives it, for the batch audit and live alike):
``route`` (approved corridor), ``hours`` (permitted windows), ``permit`` (no valid permit,
manifest not closed), ``zones`` (restricted zones), ``speed``, ``dumping`` (loaded stops and
unloading away from sites) and ``gaps`` (reporting gaps); ``context`` holds what they share and
``settings`` their thresholds (``QINGYUN_COMPLIANCE_``).

Public API: :func:`audit_track`, :func:`zone_entries`, :func:`in_windows`,
:class:`ComplianceSettings`.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.audit.rules.engine": ("audit_track",),
        "fleet.audit.rules.zones": ("zone_entries",),
        "fleet.audit.rules.context": ("in_windows",),
        "fleet.audit.rules.settings": ("ComplianceSettings",),
    },
)
