"""Re-planning during the day: the rest of the day planned again from where every truck stands.

:func:`replan_day` turns a plan, a time and ``events.json`` (:mod:`routing.planning.replan_events`)
into a new scenario for the rest of the day and plans it with the one pipeline
(:func:`routing.planning.pipeline.plan_day`: solve, then the independent checker):

- finished sites (:mod:`routing.planning.replan_state`) are left out and reported in ``replans.finished``;
  cancelled sites are dropped; urgent sites are added; trucks out of service are removed and their
  remaining sites planned again;
- a truck under way starts, at the time it is free, from where it stands with what it carries: a start
  site ``_at-<vehicle>`` there (demand = its load per stream, served at that very minute, only by that
  truck). The model's routes begin at the depot, so the truck's shift is set to start one drive
  earlier and that leg is a modelling device (its kilometres and minutes are in the new plan's cost);
  the shift limit still counts from when the truck really left (``shift_end`` ≤ departure + ``max_shift_h``),
  and a truck that already had its meal break is not given another;
- every remaining site of a truck still in service prefers that truck (``preferred_vehicle``, paying
  :data:`STABILITY_PENALTY` when moved), so the search changes as little as it must; balancing shifts and
  cutting territories are turned off (the replaced plan settled them, and they would move sites);
- every search starts from the old routes still ahead (:func:`routes_ahead`, ``SolveParams.initial_routes``): the
  broken truck's and new sites go to idle trucks or are inserted, the other trucks keep their sites and order;
- the share of those sites that kept their truck and their order is reported, with a change sheet per driver.

The new plan is a new version: ``plan.json`` carries ``replans`` (:class:`routing.planning.document.ReplanLink`)
naming the plan it replaces. A truck waiting at the depot whose shift cannot reach any remaining site
is left out (``off_shift``), as the problem builder would refuse it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from routing.network.graph import RoadNetwork, load_network
from routing.network.settings import NetworkSettings
from routing.planning.changes import change_rows, site_orders, stability
from routing.planning.document import PlanDocument, ReplanLink, Unserved
from routing.planning.grids import grid_trucks
from routing.planning.pipeline import PlanOutcome, plan_day, scenario_osm
from routing.planning.replan_events import ReplanEvents, check_events, check_plan_matches, replan_time
from routing.planning.replan_state import DayClock, Fix, TruckState, truck_states
from routing.planning.scenario import ACCESS_RANK, Scenario, clock_to_seconds, parse_scenario
from routing.planning.search.params import ProgressCallback, SolveParams

START_PREFIX = "_at-"
"""Start sites are ``_at-<vehicle>`` (``_at-<vehicle>-<stream>`` for a second stream on board)."""

REPLAN_TIME_LIMIT_S = 8.0
"""Default search seconds of a re-plan: with the states, matrices, model building and check, a demo-sized day
re-plans in 11-15 s on the shared 2-core machine (benchmarks/RESULTS.md)."""

STABILITY_PENALTY = 1000.0
"""Currency per remaining site a re-plan moves off its truck (the scenario's own ``stability_penalty`` of 100
measured too weak: a rest-of-day search then trades away a quarter of the assignments for kilometres)."""

NO_TRUCK_LEFT = "允许服务该点的车辆均已停运 / every truck allowed to serve it is out of service"


@dataclass
class ReplanOutcome:
    """A checked re-plan: the pipeline's outcome (its document carries ``replans``), the day it solved, the changes."""

    outcome: PlanOutcome
    scenario: Scenario  # the rest of the day as solved (start sites included): re-plan it again from here
    changes: list[list[str]]  # rows under routing.planning.changes.CHANGE_HEADER
    seconds: float  # wall time of the whole re-plan: states, network, matrices, search, check


def _clock(seconds: int) -> str:
    seconds = min(max(seconds, 0), 24 * 3600)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _up(seconds: float) -> int:
    return int(math.ceil(seconds / 60.0)) * 60


def _down(seconds: float) -> int:
    return int(seconds // 60) * 60


def _start_sites(state: TruckState, *, vehicle: dict, index: int, streams: list[str], ready: int) -> list[dict]:
    """The truck's start sites: where it stands, its load per stream, served at ``ready`` by it alone."""
    loaded = [s for s in streams if state.load_kg.get(s, 0.0) > 0] or streams[:1]
    total = sum(state.load_kg.get(s, 0.0) for s in loaded) or 1.0
    sites = []
    for k, stream in enumerate(loaded):
        sid = f"{START_PREFIX}{vehicle['id']}" + (f"-{stream}" if k else "")
        kg = state.load_kg.get(stream, 0.0)
        # to the minute above: the plan kept the hold to the second, a minute earlier could break it by seconds
        since = _clock(_up(state.load_since.get(stream, ready)))
        sites.append(
            {
                "id": sid if len(sid) <= 64 else f"{START_PREFIX}{index}-{k}",
                "name": f"{vehicle['id']} 当前位置 / position at {_clock(ready)}",
                "lon": state.lon,
                "lat": state.lat,
                "stream": stream,
                "demand_kg": round(kg, 3),
                "demand_l": round(state.load_l * kg / total, 3),
                "service_s": 0,
                "windows": [{"start": _clock(ready), "end": _clock(ready)}],
                "vehicles": [vehicle["id"]],
                "on_board_since": since,
            }
        )
    return sites


def _drives_from_depots(network: RoadNetwork, *, depots: list[dict], points: list[dict]) -> dict[tuple[str, str], int]:
    """Seconds from each depot to each point (start sites, remaining sites), one Dijkstra per depot."""
    from routing.network.matrix import travel_matrices

    if not points:
        return {}
    snap = network.snap
    origins = snap(ids=[d["id"] for d in depots], lon=[d["lon"] for d in depots], lat=[d["lat"] for d in depots])
    targets = snap(ids=[p["id"] for p in points], lon=[p["lon"] for p in points], lat=[p["lat"] for p in points])
    matrix = travel_matrices(network, points=origins, destinations=targets).duration_s
    return {(d["id"], p["id"]): int(matrix[i, j]) for i, d in enumerate(depots) for j, p in enumerate(points)}


def _reaches_a_site(vehicle: dict, vtype: dict, *, sites: list[dict], drive: Mapping, start: int, end: int) -> bool:
    """The rule of :func:`routing.planning.problem.check_fleet_reaches_sites`, before the matrices are built."""
    for s in sites:
        if s["stream"] not in vtype["streams"] or ACCESS_RANK[vtype["access"]] > ACCESS_RANK[s["access"]]:
            continue
        if s.get("vehicles") is not None and vehicle["id"] not in s["vehicles"]:
            continue
        arrive = start + drive[vehicle["depot"], s["id"]]
        for w in s["windows"]:
            opens, closes = clock_to_seconds(w["start"]), clock_to_seconds(w["end"])
            if arrive <= closes and max(arrive, opens) + s["service_s"] <= end:
                return True
    return False


def _limits_left(vtype: dict, state: TruckState, *, starts: list[dict], collected: float, index: int) -> dict | None:
    """A type of its own for a truck that worked already under per-shift limits: the stops and weight it has left.

    Its start sites count as stops and their load as collected, as the checker counts them.
    """
    if not state.finished or (vtype["max_stops"] is None and vtype["max_daily_kg"] is None):
        return None
    own = {**vtype, "id": f"{vtype['id'][:40]}.{index}"}
    if vtype["max_stops"] is not None:
        own["max_stops"] = max(1, max(0, vtype["max_stops"] - len(state.finished)) + len(starts))
    if vtype["max_daily_kg"] is not None:
        carried = sum(s["demand_kg"] for s in starts)
        own["max_daily_kg"] = max(1.0, vtype["max_daily_kg"] - collected + carried)
    return own


@dataclass
class _Day:
    """The re-plan scenario being written, and what it reports."""

    doc: dict
    starts: dict[str, list[str]]
    off_shift: list[str]


def _fleet(
    scenario: Scenario, states: Mapping[str, TruckState], *, at_s: int, sites: list[dict], network: RoadNetwork
) -> _Day:
    """Trucks of the rest of the day with their shifts, start sites and limits; the break rule for it."""
    doc = scenario.model_dump(mode="json")
    types = {t["id"]: t for t in doc["vehicle_types"]}
    depots = {d["id"]: d for d in doc["depots"]}
    rule = doc["break_rule"]
    if rule is not None and at_s >= clock_to_seconds(rule["latest_start"]):
        rule = None  # its window is over: every truck due has taken it
    after_break = None if rule is None else clock_to_seconds(rule["earliest_start"]) + round(rule["duration_min"] * 60)
    points = [
        {"id": f"{START_PREFIX}{v}", "lon": s.lon, "lat": s.lat} for v, s in states.items() if s.status == "under_way"
    ]
    drive = _drives_from_depots(network, depots=list(depots.values()), points=points + sites)
    vehicles, start_sites, starts, off, derived = [], [], {}, [], []
    demand = {s.id: s.demand_kg for s in scenario.sites}
    for index, vehicle in enumerate(doc["vehicles"]):
        state, vtype = states[vehicle["id"]], types[vehicle["type"]]
        if state.status == "out_of_service":
            continue
        end = clock_to_seconds(vehicle["shift_end"])
        if state.departed_s is not None and vtype["max_shift_h"] is not None:
            end = min(end, _down(state.departed_s + vtype["max_shift_h"] * 3600))
        ready = max(state.ready_s, clock_to_seconds(vehicle["shift_start"]))
        after = after_break if state.break_taken else None  # starting after it, a route owes no second break
        if state.status == "under_way":
            leg = drive[vehicle["depot"], f"{START_PREFIX}{vehicle['id']}"]
            # to the minute below (the plan's times are in minutes; a truck late by seconds would miss windows
            # the plan met), or after the break window plus the drive for a truck that had its break
            ready = _down(ready) if after is None else max(_down(ready), _up(after + leg + 2))
            begin = _down(ready - leg - 2)  # 2 s spare: the full matrix may round the leg a second longer
        else:
            begin = ready = _up(ready if after is None else max(ready, after))
        at_depot = state.status != "under_way"
        if (
            ready >= end
            or at_depot
            and not _reaches_a_site(vehicle, vtype, sites=sites, drive=drive, start=begin, end=end)
        ):
            off.append(vehicle["id"])
            continue
        mine = (
            [] if at_depot else _start_sites(state, vehicle=vehicle, index=index, streams=vtype["streams"], ready=ready)
        )
        left = _limits_left(vtype, state, starts=mine, collected=sum(demand[s] for s in state.finished), index=index)
        if left is not None:
            derived.append(left)
        vehicles.append(
            {**vehicle, "type": (left or vtype)["id"], "shift_start": _clock(begin), "shift_end": _clock(end)}
        )
        if mine:
            start_sites += mine
            starts[vehicle["id"]] = [s["id"] for s in mine]
    doc["vehicles"], doc["break_rule"] = vehicles, rule
    doc["vehicle_types"] += derived
    doc["sites"] = start_sites + sites
    return _Day(doc=doc, starts=starts, off_shift=off)


def _rest_of_day_sites(
    scenario: Scenario, states: Mapping[str, TruckState], events: ReplanEvents
) -> tuple[list[dict], list[str]]:
    """Sites still to collect: not finished, not cancelled, urgent ones added; each prefers its truck if in service.

    Returns the sites and those left out because every truck allowed to serve them is out of service.
    """
    done = {sid for s in states.values() for sid in s.finished} | set(events.cancelled)
    in_service = {v for v, s in states.items() if s.status != "out_of_service"}
    truck_of = {sid: v for v, s in states.items() if v in in_service for sid in s.remaining}
    day = scenario.model_copy(update={"sites": [*scenario.sites, *events.new_sites]})
    gridded = grid_trucks(day)  # the grids become each site's own trucks: start sites lie outside them
    sites, stranded = [], []
    for site in day.sites:
        if site.id in done:
            continue
        doc = site.model_dump(mode="json")
        allowed = gridded.get(site.id, frozenset(in_service)) & set(doc.get("vehicles") or in_service)
        if site.id in gridded or doc.get("vehicles") is not None:
            doc["vehicles"] = sorted(allowed & in_service) or None
            if doc["vehicles"] is None:
                stranded.append(site.id)
                continue
        if site.id in truck_of:  # its truck before the re-plan, still in service: moving it costs the penalty
            doc["preferred_vehicle"], doc["preference_penalty"] = truck_of[site.id], STABILITY_PENALTY
        elif doc.get("preferred_vehicle") not in in_service:
            doc["preferred_vehicle"] = None
        sites.append(doc)
    return sites, stranded


def replan_scenario(
    scenario: Scenario, *, states: Mapping[str, TruckState], events: ReplanEvents, at_s: int, network: RoadNetwork
) -> tuple[Scenario, _Day, list[str]]:
    """The rest of the day as a scenario (see the module docstring).

    Returns
    -------
    tuple
        The validated scenario, the trucks' start sites and those left out, and the sites no truck in service may serve.
    """
    sites, stranded = _rest_of_day_sites(scenario, states, events)
    day = _fleet(scenario, states, at_s=at_s, sites=sites, network=network)
    off = set(day.off_shift)
    for site in day.doc["sites"]:
        if site.get("preferred_vehicle") in off:
            site["preferred_vehicle"] = None
        if site.get("vehicles") is not None:
            site["vehicles"] = [v for v in site["vehicles"] if v not in off] or None
    day.doc["name"] = f"{scenario.name} @ {_clock(at_s)}"
    day.doc["grids"] = None  # resolved into the sites' trucks above
    # the replaced plan settled balance and territories (its trucks' sites prefer them): re-cutting either moves sites
    day.doc["balance_per_h"] = day.doc["compactness_per_site"] = 0.0
    return parse_scenario(day.doc, source=f"re-plan at {_clock(at_s)}"), day, stranded


def routes_ahead(
    rest: Scenario, *, states: Mapping[str, TruckState], starts: Mapping[str, list[str]]
) -> dict[str, list[str]]:
    """The replaced plan's visits still ahead per truck of the rest of the day: its start sites, then its sites and
    unloads in the old order (cancelled sites left out, an unload never first nor twice in a row).

    Why: every search of the re-plan starts from these routes (``SolveParams.initial_routes``), so the other trucks
    keep their sites and order and only the broken truck's and new sites are routed; searched from scratch, the
    day's 8 s left sites unserved.
    """
    sites = {s.id for s in rest.sites}
    facilities = {f.id for f in rest.facilities}
    routes = {}
    for vehicle in rest.vehicles:
        visits = [*starts.get(vehicle.id, [])]
        for vid in states[vehicle.id].ahead:
            if vid in sites or vid in facilities and visits and visits[-1] not in facilities:
                visits.append(vid)
        if visits:
            routes[vehicle.id] = visits
    return routes


def replan_day(
    *,
    scenario: Scenario,
    plan: PlanDocument,
    at: str,
    events: ReplanEvents,
    params: SolveParams,
    from_plan: str,
    positions: Mapping[str, Fix] | None = None,
    network: RoadNetwork | None = None,
    scenario_dir: Path | None = None,
    network_settings: NetworkSettings | None = None,
    progress: ProgressCallback | None = None,
) -> ReplanOutcome:
    """Plan the rest of the day after ``events``, keeping finished stops and changing as little as it must.

    Parameters
    ----------
    scenario
        The day the plan was made for.
    plan
        The plan to replace.
    at
        The re-plan time: ``HH:MM`` on the plan's day, or ISO 8601 with its offset.
    events
        What happened (:func:`routing.planning.replan_events.parse_events`).
    params
        Search settings (its time limit is the search's share of the re-plan).
    from_plan
        How the replaced plan is named in ``replans.from_plan`` (its id, or its file).
    positions
        Latest fixes per vehicle id (the database's); ``events.positions`` take precedence.
    network, scenario_dir, network_settings, progress
        As for :func:`routing.planning.pipeline.plan_day`.

    Returns
    -------
    ReplanOutcome

    Raises
    ------
    ScenarioError
        The plan is not of this scenario, or an event names an unknown truck or site, a time after ``at`` …
    InvalidInputError
        ``at`` is not a time of the plan's day within the trucks' shifts.
    PlanCheckError
        The independent checker rejected the re-plan (nothing is returned).
    """
    began = time.perf_counter()
    check_plan_matches(plan, scenario, source=from_plan)
    at_s = replan_time(at, scenario=scenario)
    check_events(events, scenario=scenario, at_s=at_s)
    states = truck_states(scenario=scenario, plan=plan, at_s=at_s, events=events, positions=positions)
    if network is None:
        network = load_network(scenario_osm(scenario, scenario_dir=scenario_dir), settings=network_settings)
    rest, day, stranded_sites = replan_scenario(scenario, states=states, events=events, at_s=at_s, network=network)
    warm = replace(params, initial_routes=routes_ahead(rest, states=states, starts=day.starts))
    outcome = plan_day(rest, params=warm, network=network, progress=progress)
    starts = {sid for ids in day.starts.values() for sid in ids}
    before = {v: s.remaining for v, s in states.items()}
    cancelled = set(events.cancelled)
    keepable = {
        v: [sid for sid in ids if sid not in cancelled]
        for v, ids in before.items()
        if states[v].status != "out_of_service" and v not in day.off_shift
    }
    broken = {b.vehicle: b.at for b in events.breakdowns}
    link = ReplanLink(
        from_plan=from_plan,
        at=DayClock(scenario).moment(at_s),
        events=events.model_dump(mode="json", exclude_defaults=True),
        finished={v: s.finished for v, s in states.items() if s.finished},
        out_of_service=list(broken),
        off_shift=day.off_shift,
        stranded_kg={v: states[v].load_kg for v in broken if any(states[v].load_kg.values())},
        starts=day.starts,
        positions={v: states[v].position_from for v in day.starts},
        cancelled=list(events.cancelled),
        added=[s.id for s in events.new_sites],
        **stability(keepable, site_orders(outcome.document, skip=starts)),
    )
    unserved = [*outcome.document.unserved, *(Unserved(site_id=sid, reason=NO_TRUCK_LEFT) for sid in stranded_sites)]
    outcome.document = outcome.document.model_copy(update={"replans": link, "unserved": unserved})
    sites = {s.id: s for s in [*scenario.sites, *events.new_sites]}
    changes = change_rows(
        before=before,
        old=plan,
        new=outcome.document,
        skip=starts,
        out_of_service=broken,
        cancelled=set(events.cancelled),
        sites=sites,
    )
    return ReplanOutcome(outcome=outcome, scenario=rest, changes=changes, seconds=time.perf_counter() - began)
