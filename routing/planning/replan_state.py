"""Where each truck stands at the re-plan time: from the plan, the dispatcher's events and the trucks' fixes.

The rules (:func:`truck_states`), per truck of the plan's scenario:

- **out of service** (a breakdown in ``events.json``): what it served before the breakdown is
  finished; the load on board stays with it (reported, not planned); its other sites are planned again.
- **not yet out** (the plan has it leave the depot after the re-plan time, or gives it no route):
  it starts from its depot, no earlier than the re-plan time.
- **back at the depot** (the plan has it return by then): its sites are finished; it may go out
  again from its depot, empty, within its shift.
- **under way**: the sites whose service started by the re-plan time are finished. A truck serving,
  unloading or on its break then finishes that first; a truck driving is placed where the leg leads,
  at the plan's arrival there; a truck waiting is free where it waits. Its load is what it collected
  since its last unload.

A dispatcher's ``finished`` list replaces the plan's for that truck (the truck then stands at its
last finished site, free at the re-plan time); a position (``events.positions``, else the latest
fix no older than :data:`FIX_MAX_AGE_S`) replaces the plan's place of a truck under way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from routing.localtime import parse_utc_offset
from routing.planning.document import PlanDocument, PlanRoute, PlanStop
from routing.planning.replan_events import ReplanEvents
from routing.planning.scenario import Scenario, clock_to_seconds

FIX_MAX_AGE_S = 900
"""A fix older than this (seconds before the re-plan time) no longer tells where the truck is."""


@dataclass(frozen=True)
class Fix:
    """A truck's reported position: a GPS fix from the database or a position in ``events.json``."""

    lon: float
    lat: float
    time: datetime
    source: str = "fix"  # fix (database) | report (events.json)


@dataclass
class TruckState:
    """One truck at the re-plan time (see the module docstring)."""

    vehicle_id: str
    status: str  # under_way | depot | out_of_service
    ready_s: int  # free from (seconds after local midnight)
    lon: float | None = None  # under way: where it stands
    lat: float | None = None
    position_from: str = "plan"  # plan | fix | report | finished (its last finished site)
    finished: list[str] = field(default_factory=list)  # sites done, in the order served
    load_kg: dict[str, float] = field(default_factory=dict)  # on board per stream
    load_l: float = 0.0
    load_since: dict[str, int] = field(default_factory=dict)  # per stream on board, its earliest pickup (seconds)
    break_taken: bool = False
    departed_s: int | None = None  # when it left the depot today (its shift began)
    remaining: list[str] = field(default_factory=list)  # its plan's sites still to serve, in plan order
    ahead: list[str] = field(default_factory=list)  # its plan's visits (sites, unloads) still ahead, in plan order


class DayClock:
    """Plan times as seconds after the scenario day's local midnight."""

    def __init__(self, scenario: Scenario) -> None:
        tz = parse_utc_offset(scenario.utc_offset)
        self.midnight = datetime.combine(scenario.date, time(0, 0), tzinfo=tz)

    def __call__(self, moment: datetime) -> int:
        return round((moment - self.midnight).total_seconds())

    def moment(self, seconds: int) -> datetime:
        return self.midnight + timedelta(seconds=seconds)


def _passed(stops: list[PlanStop], until: int, secs: DayClock) -> int:
    """Index of the last entry the truck has reached by ``until`` (its arrival there, i.e. a site's service start)."""
    return max(k for k, s in enumerate(stops) if secs(s.arrival) <= until)


def _load(
    stops: list[PlanStop], passed: int, finished: list[str], *, secs: DayClock, sites: Mapping, until: int
) -> tuple[dict[str, float], float, list[str]]:
    """On board: the finished sites not collected before the plan's last unload by ``until`` (per stream, litres,
    and the sites themselves)."""
    last_unload = max(
        (k for k in range(passed + 1) if stops[k].kind == "facility" and secs(stops[k].start) <= until), default=-1
    )
    unloaded = {s.id for s in stops[: last_unload + 1] if s.kind == "site"}
    load: dict[str, float] = {}
    litres = 0.0
    aboard = [sid for sid in finished if sid not in unloaded]
    for sid in aboard:
        site = sites[sid]
        load[site.stream] = load.get(site.stream, 0.0) + site.demand_kg
        litres += site.demand_l
    return load, litres, aboard


def _from_route(route: PlanRoute, *, at_s: int, until_s: int, secs: DayClock) -> TruckState:
    """A truck's state by the plan alone (``until_s``: the breakdown time of a truck out of service, else ``at_s``)."""
    stops = route.stops
    sites = [s.id for s in stops if s.kind == "site"]
    state = TruckState(vehicle_id=route.vehicle_id, status="depot", ready_s=at_s)
    departed = secs(stops[0].departure)
    if departed > until_s:
        state.remaining = sites
        state.ahead = [s.id for s in stops if s.kind in ("site", "facility")]
        return state
    state.departed_s = departed
    k = _passed(stops, until_s, secs)
    state.finished = [s.id for s in stops[: k + 1] if s.kind == "site"]
    state.remaining = sites[len(state.finished) :]
    state.ahead = [s.id for s in stops[k + 1 :] if s.kind in ("site", "facility")]
    state.break_taken = any(s.kind == "break" for s in stops[: k + 1])
    if k == len(stops) - 1:  # back at the depot
        return state
    entry = stops[k]
    if until_s < secs(entry.departure) and entry.kind != "depot":
        busy = entry.kind in ("site", "facility", "break")  # finishes what it does; a wait is free at once
        state.ready_s = max(at_s, secs(entry.departure)) if busy else at_s
    else:  # driving: placed where the leg leads, when it gets there
        entry = stops[k + 1]
        if k + 1 == len(stops) - 1:
            state.ready_s = max(at_s, secs(entry.arrival))
            return state
        state.ready_s = max(at_s, secs(entry.arrival))
    state.status, state.lon, state.lat = "under_way", entry.lon, entry.lat
    return state


def truck_states(
    *,
    scenario: Scenario,
    plan: PlanDocument,
    at_s: int,
    events: ReplanEvents,
    positions: Mapping[str, Fix] | None = None,
) -> dict[str, TruckState]:
    """Every truck of the scenario at the re-plan time (rules in the module docstring).

    Parameters
    ----------
    scenario
        The day the plan was made for.
    plan
        The plan being re-planned (checked against the scenario).
    at_s
        The re-plan time, seconds after local midnight.
    events
        What happened (checked against the day).
    positions
        Latest fixes per vehicle id (e.g. from the database); ``events.positions`` take precedence.

    Returns
    -------
    dict of str to TruckState
        By vehicle id, in the scenario's order.
    """
    secs = DayClock(scenario)
    sites = {s.id: s for s in scenario.sites}
    routes = {r.vehicle_id: r for r in plan.routes}
    started = {s.id: secs(s.start) for r in plan.routes for s in r.stops if s.kind == "site"}
    broken = {b.vehicle: clock_to_seconds(b.at) for b in events.breakdowns}
    fixes = {v: f for v, f in (positions or {}).items() if 0 <= at_s - secs(f.time) <= FIX_MAX_AGE_S}
    for p in events.positions:
        fixes[p.vehicle] = Fix(lon=p.lon, lat=p.lat, time=secs.moment(clock_to_seconds(p.time)), source="report")
    states = {}
    for vehicle in scenario.vehicles:
        vid, route = vehicle.id, routes.get(vehicle.id)
        until = min(at_s, broken.get(vid, at_s))
        if route is None:
            state = TruckState(vehicle_id=vid, status="depot", ready_s=at_s)
        else:
            state = _from_route(route, at_s=at_s, until_s=until, secs=secs)
        if vid in events.finished:
            _reported(
                state, events.finished[vid], sites=sites, at_s=at_s, shift_start=clock_to_seconds(vehicle.shift_start)
            )
        if state.status == "under_way" or vid in broken:
            stops = route.stops if route is not None else []
            passed = _passed(stops, until, secs) if stops and state.departed_s is not None else -1
            state.load_kg, state.load_l, aboard = _load(
                stops, passed, state.finished, secs=secs, sites=sites, until=until
            )
            for sid in aboard:  # when the load was picked up (hold times): the plan's service start, else departure
                picked = started.get(sid, state.departed_s if state.departed_s is not None else at_s)
                stream = sites[sid].stream
                state.load_since[stream] = min(state.load_since.get(stream, picked), picked)
        if vid in broken:
            state.status = "out_of_service"
        elif state.status == "under_way" and vid in fixes:
            fix = fixes[vid]
            state.lon, state.lat, state.position_from = fix.lon, fix.lat, fix.source
        states[vid] = state
    return states


def _reported(state: TruckState, finished: list[str], *, sites: Mapping, at_s: int, shift_start: int) -> None:
    """The dispatcher's finished list replaces the plan's; a truck not back at its depot stands at its last
    finished site, free at the re-plan time (with nothing finished it stays where the plan puts it)."""
    done = set(finished)
    state.ahead = [s for s in state.finished + state.ahead if s not in done]  # its unloads passed stay passed
    state.remaining = [s for s in state.finished + state.remaining if s not in done]
    state.finished = list(finished)
    back = state.status == "depot" and state.departed_s is not None
    if finished and not back:
        last = sites[finished[-1]]
        state.status, state.lon, state.lat, state.position_from = "under_way", last.lon, last.lat, "finished"
        state.ready_s = at_s
        state.departed_s = shift_start if state.departed_s is None else state.departed_s
