"""The alarm: a violation raised while its truck is on the road, with a stable key, a start and an end.

A violation found live becomes an :class:`Alarm` the moment the rules first report it (event
``start``), changes while the episode lasts (``update`` when its severity changes) and ends once
the truck has reported ``alarm_settle_s`` past the episode (``end``); an ended alarm that later
fixes still correct (a trip's end is known only after a long stop) gets an ``update``. An alarm
the rules stop reporting before it ends is ``withdrawn``. The key names the device,
the rule, the permit and zone and the episode's first fix time, so the same episode judged again
— a re-delivered position, a worker replaying a stream — never raises a second alarm.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from fleet.audit.violations import Violation

AlarmState = Literal["open", "ended", "withdrawn"]
EventKind = Literal["start", "update", "end", "withdrawn"]


def alarm_key(violation: Violation) -> str:
    """The stable key of a violation's episode: device, rule, permit, zone and first fix time.

    Parameters
    ----------
    violation
        A violation as the rules report it.

    Returns
    -------
    str
        ``device|type|permit|zone|start`` (``-`` for a missing permit or zone).
    """
    zone = violation.details.get("zone_id") or "-"
    return f"{violation.device}|{violation.type}|{violation.permit_id or '-'}|{zone}|{violation.start}"


class Alarm(BaseModel):
    """One episode of a violation, judged as its truck's positions arrived."""

    key: str = Field(description="stable key (alarm_key): the same episode never raises a second alarm")
    state: AlarmState = Field("open", description="open while the episode may go on; ended; withdrawn")
    late: bool = Field(
        False, description="first raised by a position that arrived out of GPS-time order (blind-area upload)"
    )
    violation: Violation = Field(description="the episode as last judged: times, severity, evidence")


class AlarmEvent(BaseModel):
    """What changed: an alarm started, changed severity, ended, or was withdrawn (later fixes undid it)."""

    kind: EventKind
    alarm: Alarm
