"""Live supervision: the audit's rules judged fix by fix as positions arrive, raising alarms.

``alarms`` is the alarm model (a violation with a stable key, a start and later an end event);
``engine`` keeps each truck's recent fixes and open alarms and runs the one rule implementation
(``fleet.audit.rules.engine.audit_track``) on them — over a stored day for the batch audit
(:func:`audit_fleet`), or on every accepted position for live supervision
(:class:`SupervisionEngine`). ``store`` keeps the alarms (table ``alarm``) and their handling;
``replay`` runs a period's stored positions through the engine into the store.

Public API: :class:`SupervisionEngine`, :class:`Fix`, :func:`audit_fleet`, :class:`Alarm`,
:class:`AlarmEvent`, :func:`alarm_key`.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.supervise.engine": ("SupervisionEngine", "Fix", "audit_fleet"),
        "fleet.supervise.alarms": ("Alarm", "AlarmEvent", "alarm_key"),
    },
)
