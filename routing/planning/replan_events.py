"""``events.json``: what happened since a plan was made, as a dispatcher reports it for a re-plan.

The document (every part optional; times are local ``HH:MM`` on the plan's day)::

    {
      "breakdowns": [{"vehicle": "kitchen-8t-03", "at": "10:00"}],
      "finished": {"kitchen-8t-01": ["R-0012", "R-0040"]},
      "positions": [{"vehicle": "kitchen-8t-01", "lon": 113.93, "lat": 22.53, "time": "10:25"}],
      "new_sites": [{"id": "U-1", "lon": 113.95, "lat": 22.54, "stream": "kitchen", "demand_kg": 300}],
      "cancelled": ["R-0100"]
    }

- ``breakdowns``: trucks out of service from ``at`` on (no later than the re-plan time). What a
  truck served before it broke down is finished; the rest of its sites are planned again, and the
  load on board stays with the truck (reported, not planned).
- ``finished``: per truck, the sites it reports done, in the order served. It replaces, for that
  truck, what the plan says was done by the re-plan time; trucks not named follow the plan.
- ``positions``: a truck's reported position at ``time`` (no later than the re-plan time); it
  overrides the latest fix from the database. Without either, a truck is where the plan puts it.
- ``new_sites``: urgent sites, each a site object exactly as in ``scenario.json``, with ids not
  used by the day.
- ``cancelled``: sites of the day no longer to be collected.

:func:`parse_events` checks the form (every bad field named by its path) and :func:`check_events`
checks it against the day: unknown trucks or sites, times outside the day or after the re-plan
time, a site both finished and cancelled or finished by two trucks. Both raise before any solving.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from routing.errors import InvalidInputError, ScenarioError
from routing.jsonfile import read_json, validation_messages
from routing.localtime import parse_utc_offset
from routing.planning.document import PlanDocument
from routing.planning.scenario import CLOCK_PATTERN, ID_MAX, ID_PATTERN, Scenario, Site, clock_to_seconds

EVENTS_SOURCE = "events.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def _id(**kwargs) -> object:
    return Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN, **kwargs)


def _clock(**kwargs) -> object:
    return Field(pattern=CLOCK_PATTERN, **kwargs)


class Breakdown(_Strict):
    """A truck out of service from ``at`` on."""

    vehicle: str = _id(description="the scenario's vehicle id")
    at: str = _clock(description="HH:MM local, no later than the re-plan time")


class ReportedPosition(_Strict):
    """Where a truck reported itself, overriding its latest stored fix."""

    vehicle: str = _id(description="the scenario's vehicle id")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    time: str = _clock(description="HH:MM local, no later than the re-plan time")


class ReplanEvents(_Strict):
    """What happened since the plan was made (see the module docstring)."""

    breakdowns: list[Breakdown] = Field(default_factory=list, max_length=5_000)
    finished: dict[str, list[str]] = Field(
        default_factory=dict, description="vehicle id → sites it reports done, in the order served"
    )
    positions: list[ReportedPosition] = Field(default_factory=list, max_length=5_000)
    new_sites: list[Site] = Field(default_factory=list, max_length=100_000)
    cancelled: list[str] = Field(default_factory=list, max_length=100_000)


def parse_events(raw: object, *, source: str = EVENTS_SOURCE) -> ReplanEvents:
    """Validate the form of a decoded ``events.json``.

    Parameters
    ----------
    raw
        The decoded JSON (``{}`` = nothing happened).
    source
        The file or request field, for the message.

    Returns
    -------
    ReplanEvents

    Raises
    ------
    ScenarioError
        Naming every malformed field by its path (``breakdowns.0.at``, ``new_sites.2.demand_kg (id U-3)``).
    """
    try:
        return ReplanEvents.model_validate(raw)
    except ValidationError as exc:
        ident = lambda item: item.get("id") or item.get("vehicle") if isinstance(item, dict) else None  # noqa: E731
        raise ScenarioError(validation_messages(exc, raw=raw, ident=ident), source=source) from None


def read_events(path) -> ReplanEvents:
    """An ``events.json`` file, its form validated (:func:`parse_events`).

    Raises
    ------
    InputFileError
        The file is missing or not JSON (file, line and column named).
    ScenarioError
        A malformed field.
    """
    return parse_events(read_json(path, what="events"), source=str(path))


def check_plan_matches(plan: PlanDocument, scenario: Scenario, *, source: str) -> None:
    """Refuse a plan that is not of this scenario: other trucks, other sites or another day.

    Raises
    ------
    ScenarioError
        Naming every truck and site of the plan the scenario lacks, or the plan's day.
    """
    vehicles = {v.id for v in scenario.vehicles}
    sites = {s.id for s in scenario.sites}
    problems = []
    for route in plan.routes:
        if route.vehicle_id not in vehicles:
            problems.append(f"routes (vehicle {route.vehicle_id}): 方案中的车辆不在场景中 / truck not in the scenario")
        for stop in route.stops:
            if stop.kind == "site" and stop.id not in sites:
                problems.append(
                    f"routes (vehicle {route.vehicle_id}): 收集点 {stop.id} 不在场景中 / site not in the scenario"
                )
        if route.stops and route.stops[0].departure.date() != scenario.date:
            problems.append(
                f"routes (vehicle {route.vehicle_id}): 日期 {route.stops[0].departure.date()} 与场景 {scenario.date} 不同 "
                f"/ the plan is of another day than the scenario"
            )
    if problems:
        raise ScenarioError(problems, source=source)


def replan_time(value: str, *, scenario: Scenario) -> int:
    """The re-plan time as seconds after the day's local midnight, checked to lie in the working day.

    Parameters
    ----------
    value
        ``HH:MM`` on the scenario's day, or ISO 8601 with its UTC offset (``2026-11-23T10:30:00+08:00``).
    scenario
        The day: its date, UTC offset and the trucks' shifts.

    Returns
    -------
    int

    Raises
    ------
    InvalidInputError
        Not a time, another day, or outside every truck's shift (before the first starts or after the last ends).
    """
    text = value.strip()
    try:
        if "T" in text:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                raise ValueError("no UTC offset")
            local = moment.astimezone(parse_utc_offset(scenario.utc_offset))
            if local.date() != scenario.date:
                raise InvalidInputError(
                    f"at: {text} 不在方案当天 {scenario.date} / is not on the plan's day {scenario.date}"
                )
            seconds = local.hour * 3600 + local.minute * 60 + local.second
        else:
            seconds = clock_to_seconds(text)
    except ValueError:
        raise InvalidInputError(
            f"at: {value!r} 不是时间 / is not a time: write HH:MM or e.g. {scenario.date}T10:30:00{scenario.utc_offset}"
        ) from None
    first = min(clock_to_seconds(v.shift_start) for v in scenario.vehicles)
    last = max(clock_to_seconds(v.shift_end) for v in scenario.vehicles)
    if not first <= seconds < last:
        raise InvalidInputError(
            f"at: {text} 不在当天作业时间 {first // 3600:02d}:{first % 3600 // 60:02d}–{last // 3600:02d}:"
            f"{last % 3600 // 60:02d} 内 / is outside the day's shifts"
        )
    return seconds


def _known(problems: list[str], where: str, value: str, known: set[str], *, what_zh: str, what: str) -> bool:
    if value in known:
        return True
    problems.append(f"{where}: 未知{what_zh} / unknown {what} {value!r}")
    return False


def check_events(events: ReplanEvents, *, scenario: Scenario, at_s: int, source: str = EVENTS_SOURCE) -> None:
    """Check the events against the day: every truck and site known, every time in the day and not after ``at_s``.

    Parameters
    ----------
    events
        The parsed events.
    scenario
        The day the plan was made for.
    at_s
        The re-plan time, seconds after local midnight.
    source
        The file or request field, for the message.

    Raises
    ------
    ScenarioError
        Naming every bad entry: ``breakdowns.0.vehicle: 未知车辆 / unknown truck 'X'``, ``cancelled.2: …``.
    """
    problems: list[str] = []
    trucks = {v.id for v in scenario.vehicles}
    sites = {s.id for s in scenario.sites}
    used = sites | {d.id for d in scenario.depots} | {f.id for f in scenario.facilities}

    def timely(where: str, clock: str) -> None:
        if clock_to_seconds(clock) > at_s:
            problems.append(f"{where}: {clock} 晚于重排时间 / is after the re-plan time")

    broken: set[str] = set()
    for i, b in enumerate(events.breakdowns):
        if _known(problems, f"breakdowns.{i}.vehicle", b.vehicle, trucks, what_zh="车辆", what="truck"):
            if b.vehicle in broken:
                problems.append(f"breakdowns.{i}.vehicle: {b.vehicle} 重复 / listed twice")
            broken.add(b.vehicle)
        timely(f"breakdowns.{i}.at", b.at)
    for i, p in enumerate(events.positions):
        _known(problems, f"positions.{i}.vehicle", p.vehicle, trucks, what_zh="车辆", what="truck")
        timely(f"positions.{i}.time", p.time)
    done_by: dict[str, str] = {}
    for vehicle, listed in events.finished.items():
        _known(problems, f"finished.{vehicle}", vehicle, trucks, what_zh="车辆", what="truck")
        for k, sid in enumerate(listed):
            if not _known(problems, f"finished.{vehicle}.{k}", sid, sites, what_zh="收集点", what="site"):
                continue
            if sid in done_by:
                problems.append(
                    f"finished.{vehicle}.{k}: {sid} 已由 {done_by[sid]} 完成 / also finished by {done_by[sid]}"
                )
            done_by.setdefault(sid, vehicle)
    for i, sid in enumerate(events.cancelled):
        if _known(problems, f"cancelled.{i}", sid, sites, what_zh="收集点", what="site") and sid in done_by:
            problems.append(f"cancelled.{i}: {sid} 已完成, 不能取消 / is finished, it cannot be cancelled")
    for i, site in enumerate(events.new_sites):
        if site.id in used:
            problems.append(f"new_sites.{i}.id (id {site.id}): 编号已被使用 / id already used by the day")
        used.add(site.id)
        for k, vehicle in enumerate(site.vehicles or ()):
            _known(
                problems, f"new_sites.{i}.vehicles.{k} (id {site.id})", vehicle, trucks, what_zh="车辆", what="truck"
            )
        if site.preferred_vehicle is not None:
            where = f"new_sites.{i}.preferred_vehicle (id {site.id})"
            _known(problems, where, site.preferred_vehicle, trucks, what_zh="车辆", what="truck")
    if problems:
        raise ScenarioError(problems, source=source)
