"""Audit stage: tracks → compliance rules → plan coverage → company scores → report.

``inputs`` reads permits and zones, ``geometry`` projects them, ``rules`` (one module per rule
family, run by ``fleet.supervise.engine`` for the audit and live alarms alike) finds violations
(``violations``), ``coverage`` checks a collection plan, ``scores``
deducts points per company, ``pipeline`` runs them all for the CLI (``cli``) and the API, and
``report`` writes the files and the HTML page; ``settings`` holds the coverage and score thresholds.

Public API: :func:`run_audit`, :class:`AuditResult`, :class:`AuditSummary`, :func:`write_report`,
:func:`read_permits`, :func:`read_zones`, :func:`read_plan`, :class:`Permit`, :class:`ZoneFeature`,
:class:`Violation`, :class:`CompanyScore`, :class:`CoverageReport`.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.audit.pipeline": ("run_audit", "AuditResult", "AuditSummary"),
        "fleet.audit.report": ("write_report",),
        "fleet.audit.inputs": ("read_permits", "read_zones", "Permit", "ZoneFeature"),
        "routing.planning.document": ("read_plan",),
        "fleet.audit.violations": ("Violation",),
        "fleet.audit.scores": ("CompanyScore",),
        "fleet.audit.coverage": ("CoverageReport",),
    },
)
