"""The plan: timed routes per truck, KPIs, and the ``plan.json`` contract.

:func:`evaluate_routes` turns visit sequences (site and facility ids per truck) into a timed
plan under the conventions of :mod:`routing.planning.problem`: earliest service start inside a window,
full unload at facilities, the meal break placed on the first leg where it fits. Every entry is
where the truck stands: the break is taken at the place a leg leads to, after the drive (parked,
waiting for the break window if early), or where the truck is when it must start before the drive
would end; waiting for a window is its own ``wait`` entry, so a site's arrival is its service
start and a driver can follow every row. The solver
uses it to report its routes and the benchmark runner uses it to time published solutions;
neither certifies anything — :mod:`routing.planning.check` does, with its own arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from routing.errors import InvalidInputError
from routing.planning.document import PlanDocument, PlanMeasures, PlanRoute, PlanStop, Unserved, route_colour
from routing.planning.kpis import STANDARD_SHIFT_H, dispatcher_measures
from routing.planning.problem import BreakSpec, Problem, VehicleSpec
from routing.planning.timed import Route, Stop


@dataclass
class Plan:
    scenario: str
    routes: list[Route]
    unserved: list[tuple[str, str]] = field(default_factory=list)  # (site id, reason)
    objective: dict = field(default_factory=dict)
    kpi: dict = field(default_factory=dict)
    search: dict = field(default_factory=dict)  # how it was found: strategy, time, cost history
    measures: PlanMeasures | None = None  # dispatcher measures (routing.planning.kpis)

    def route_map(self) -> dict[str, list[str]]:
        return {r.vehicle_id: r.visits() for r in self.routes}

    def document(self, problem: Problem) -> PlanDocument:
        """The ``plan.json`` document (:mod:`routing.planning.document`), times with the scenario's offset.

        Parameters
        ----------
        problem
            The problem the plan solves: node coordinates and the day's start.

        Returns
        -------
        PlanDocument
        """
        return PlanDocument(
            scenario=self.scenario,
            objective=self.objective,
            kpi=self.kpi,
            routes=[
                PlanRoute(
                    vehicle_id=route.vehicle_id,
                    colour=route_colour(index),
                    stops=[_document_stop(stop, problem) for stop in route.stops],
                )
                for index, route in enumerate(self.routes)
            ],
            unserved=[Unserved(site_id=sid, reason=reason) for sid, reason in self.unserved],
            measures=self.measures,
            search=self.search,
        )

    def to_dict(self, problem: Problem) -> dict:
        """The ``plan.json`` document as JSON-ready data (see :meth:`document`)."""
        return self.document(problem).to_json()


def _document_stop(stop: Stop, problem: Problem) -> PlanStop:
    """A timed stop as the contract states it: coordinates of its node, local times, loads to the gram."""
    return PlanStop(
        kind=stop.kind,
        id=stop.id,
        lon=None if stop.node is None or not problem.geographic else float(problem.lon[stop.node]),
        lat=None if stop.node is None or not problem.geographic else float(problem.lat[stop.node]),
        arrival=problem.at(stop.arrival),
        start=problem.at(stop.start),
        departure=problem.at(stop.departure),
        at=stop.at,
        load_kg={k: round(v, 3) for k, v in stop.load_kg.items()},
        unloaded_kg={k: round(v, 3) for k, v in stop.unloaded_kg.items()},
        leg_distance_m=stop.leg_distance_m,
        leg_duration_s=stop.leg_duration_s,
    )


# --- evaluation ------------------------------------------------------------------------
def _service_start(arrival: int, windows: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(start, lateness): earliest start in a window at or after arrival, else arrival and how late."""
    for open_, close in windows:
        if arrival <= close:
            return max(arrival, open_), 0
    return arrival, arrival - windows[-1][1]


@dataclass
class _Timing:
    """A route being timed: the stops written so far, where the truck stands and from when it is free there."""

    stops: list[Stop]
    time: int
    place: tuple[str, str, int]  # (kind, id, node) of where the truck stands
    load: dict[str, float]
    load_l: float = 0.0
    bad: int = 0  # violation seconds

    def drive(self, place: tuple[str, str, int], duration: int) -> None:
        self.time += duration
        self.place = place

    def park(self, kind: str, until: int, leg: tuple[int, int]) -> tuple[int, int]:
        """A wait or break where the truck stands, until ``until``; it carries ``leg``, so the rest carry none."""
        place_kind, place_id, node = self.place
        self.stops.append(
            Stop(kind, place_id, node, self.time, self.time, until, dict(self.load), {}, *leg, self.load_l, place_kind)
        )
        self.time = until
        return 0, 0

    def take_break(self, rule: BreakSpec, place: tuple[str, str, int], duration: int, distance: int) -> bool:
        """The break on the leg to ``place``: there after the drive when it can start in its window, else here.

        Returns whether the truck has driven to ``place``. Either way the next place is ready at the same time as
        if the break were taken on the road, except when the whole break window lies inside one drive.
        """
        drive_first = max(self.time + duration, rule.earliest_start_s) <= rule.latest_start_s
        if drive_first:
            self.drive(place, duration)
        begin = max(self.time, rule.earliest_start_s)
        self.bad += max(0, begin - rule.latest_start_s)
        leg = (distance, duration) if drive_first else (0, 0)
        if begin > self.time:
            leg = self.park("wait", begin, leg)
        self.park("break", begin + rule.duration_s, leg)
        return drive_first


def _visit(
    problem: Problem, timing: _Timing, kind: str, index: int, leg: tuple[int, int], *, not_before: int = 0
) -> None:
    """Serve a site or unload at a facility where the truck stands, not before ``not_before``; waiting for its
    window is its own entry."""
    _, place_id, node = timing.place
    spec = problem.sites[index] if kind == "site" else problem.facilities[index]
    begin, late = _service_start(max(timing.time, not_before), spec.windows)
    timing.bad += late
    if begin > timing.time:
        leg = timing.park("wait", begin, leg)
    if kind == "site":
        timing.load[spec.stream] = timing.load.get(spec.stream, 0.0) + spec.demand_kg
        timing.load_l += spec.demand_l
        unloaded, departure = {}, begin + spec.service_s
    else:
        unloaded, departure = dict(timing.load), begin + spec.unload_s
        timing.load, timing.load_l = {s: 0.0 for s in timing.load}, 0.0
    timing.stops.append(
        Stop(kind, place_id, node, begin, begin, departure, dict(timing.load), unloaded, *leg, timing.load_l)
    )
    timing.time = departure


def _release_waits(problem: Problem, visits: list[tuple[str, int]]) -> dict[int, int]:
    """Per visit that begins a trip (the first site after the depot or a facility), the latest release of its trip."""
    waits: dict[int, int] = {}
    first, latest = None, 0
    for k, (kind, index) in enumerate([*visits, ("depot", -1)]):
        if kind == "site":
            first = k if first is None else first
            latest = max(latest, problem.sites[index].release_s)
            continue
        if first is not None and latest > 0:
            waits[first] = latest
        first, latest = None, 0
    return waits


def _simulate(
    problem: Problem,
    vehicle: VehicleSpec,
    visits: list[tuple[str, int]],
    start_time: int,
    break_leg: int | None,
    not_before: Mapping[int, int] | None = None,
) -> tuple[list[Stop], int]:
    """Time one route; returns (stops, violation seconds). ``break_leg`` k: the break on leg k (see ``take_break``);
    ``not_before``: per visit (position in ``visits``) its earliest service start."""
    depot = problem.depots[vehicle.depot]
    load = {s: 0.0 for s in sorted(vehicle.streams)}
    first = Stop("depot", depot.id, depot.node, start_time, start_time, start_time, dict(load), {})
    timing = _Timing(stops=[first], time=start_time, place=("depot", depot.id, depot.node), load=load)
    releases = _release_waits(problem, visits)  # a trip leaves its depot or facility once its loads are released
    for k, (kind, index) in enumerate([*visits, ("depot", -1)]):
        if releases.get(k, 0) > timing.time:
            timing.park("wait", releases[k], (0, 0))
        if kind == "depot":
            place = ("depot", depot.id, depot.node)
        else:
            spec = problem.sites[index] if kind == "site" else problem.facilities[index]
            place = (kind, spec.id, spec.node)
        duration, distance = problem.travel(timing.place[2], place[2])
        rule = problem.break_rule if break_leg == k else None
        if rule is not None and timing.take_break(rule, place, duration, distance):
            leg = (0, 0)  # the break's entries at ``place`` carried the drive
        else:
            leg = (distance, duration)
            timing.drive(place, duration)
        if kind != "depot":
            _visit(problem, timing, kind, index, leg, not_before=(not_before or {}).get(k, 0))
            continue
        arrival = timing.time
        timing.stops.append(
            Stop("depot", depot.id, depot.node, arrival, arrival, arrival, dict(timing.load), {}, *leg, timing.load_l)
        )
        timing.bad += max(0, arrival - vehicle.shift_end)
    span = timing.stops[-1].arrival - start_time
    if vehicle.max_shift_s is not None:
        timing.bad += max(0, span - vehicle.max_shift_s)
    return timing.stops, timing.bad


def _hold_excess(problem: Problem, stops: list[Stop]) -> tuple[int, tuple[int, int, int] | None]:
    """Seconds beyond the hold limits, summed over loads, and for the first load beyond its limit its first
    pickup: (visit position, service start, latest start in that window); None when every load is in time."""
    excess, first_bad = 0, None
    position = -1
    picked: dict[str, tuple[int, int, int]] = {}  # stream -> its first pickup on board
    for stop in stops[1:]:
        if stop.kind in ("site", "facility"):
            position += 1
        if stop.kind == "site":
            site = problem.sites[problem.site_index[stop.id]]
            if site.stream in problem.hold_s:
                close = next(c for o, c in site.windows if stop.start <= c) if stop.start <= site.windows[-1][1] else 0
                since = site.picked_at(stop.start)
                if since < picked.get(site.stream, (0, since + 1, 0))[1]:
                    picked[site.stream] = (position, since, close)
        elif stop.kind in ("facility", "depot"):
            until = stop.start if stop.kind == "facility" else stop.arrival
            for stream, pickup in sorted(picked.items(), key=lambda item: item[1]):
                over = until - pickup[1] - problem.hold_s[stream]
                if over > 0:
                    excess += over
                    first_bad = pickup if first_bad is None else first_bad
            picked = {}
    return excess, first_bad


def _timed(
    problem: Problem, vehicle: VehicleSpec, visits: list[tuple[str, int]], start_time: int, break_leg: int | None
) -> tuple[list[Stop], int]:
    """:func:`_simulate`, then a load held too long gets its first pickup later (the truck waits before it, empty,
    rather than after it, loaded) while that shortens the hold and breaks nothing; the violation seconds include
    what still exceeds the holds."""
    stops, bad = _simulate(problem, vehicle, visits, start_time, break_leg)
    excess, pickup = _hold_excess(problem, stops)
    later: dict[int, int] = {}
    for _ in range(len(visits)):
        if pickup is None or pickup[2] <= pickup[1]:
            break
        at, start, close = pickup
        tried = {**later, at: min(close, start + excess)}
        new_stops, new_bad = _simulate(problem, vehicle, visits, start_time, break_leg, tried)
        new_excess, new_pickup = _hold_excess(problem, new_stops)
        if new_bad > bad or new_excess >= excess:
            break
        stops, bad, excess, pickup, later = new_stops, new_bad, new_excess, new_pickup, tried
    return stops, bad + excess


def _resolve(problem: Problem, vehicle_id: str, visit_ids: Sequence[str]) -> list[tuple[str, int]]:
    visits = []
    for vid in visit_ids:
        if vid in problem.site_index:
            visits.append(("site", problem.site_index[vid]))
        elif vid in problem.facility_index:
            visits.append(("facility", problem.facility_index[vid]))
        else:
            raise InvalidInputError(
                f"route of vehicle {vehicle_id}: {vid!r} is neither a site nor a facility of {problem.name}"
            )
    return visits


def _starts(problem: Problem, vehicle: VehicleSpec, visits: list[tuple[str, int]], base: int) -> list[int]:
    """Starts from ``base`` that cut waiting: later by all the waiting of the route timed from ``base`` without the
    break, later by its first wait, ``base``."""
    plain, _ = _timed(problem, vehicle, visits, base, None)
    waiting = sum(s.departure - s.arrival for s in plain if s.kind == "wait")
    if waiting == 0:
        return [base]
    first_wait = plain[1].departure - plain[1].arrival if plain[1].kind == "wait" else 0
    return [base + waiting, base + first_wait, base]


def time_route(
    problem: Problem, vehicle: VehicleSpec, visit_ids: Sequence[str], *, start_time: int | None = None
) -> Route:
    """Schedule one truck's visits: earliest feasible times, the break where it fits, the start that cuts the shift.

    The starts tried cut waiting from the shift's start and, where the break is due on the shift, from the end of
    its earliest window (a route wholly after it needs no break, as OR-Tools may time it).

    Parameters
    ----------
    problem : Problem
        The day.
    vehicle : VehicleSpec
        The truck.
    visit_ids : sequence of str
        Site and facility ids in visiting order.
    start_time : int, optional
        A start (seconds of the day) to try first, e.g. the solver's own.

    Returns
    -------
    Route
        The timed stops of the schedule with the fewest violations, then the shortest shift (return less start;
        what a cost per hour prefers), then the start tried first.

    Raises
    ------
    InvalidInputError
        If a visit id is not a site or facility of the problem.
    """
    visits = _resolve(problem, vehicle.id, visit_ids)
    rule = problem.break_rule
    bases = [vehicle.shift_start]
    if rule is not None and rule.due(vehicle.shift_start, vehicle.shift_end):
        bases.append(rule.earliest_start_s + rule.duration_s)
    candidates = [] if start_time is None else [start_time]
    for base in bases:
        candidates += [c for c in _starts(problem, vehicle, visits, base) if c not in candidates]
    best = None
    for begin in candidates:
        stops, bad = _timed(problem, vehicle, visits, begin, None)
        if rule is not None and rule.due(stops[0].departure, stops[-1].arrival):
            options = []
            for leg in range(len(visits) + 1):
                with_break, bad_b = _timed(problem, vehicle, visits, begin, leg)
                options.append((bad_b, with_break))
                if bad_b == 0:
                    break
            bad, stops = min(options, key=lambda o: o[0])
        if best is None or (bad, stops[-1].arrival - begin) < (best[0], best[1][-1].arrival - best[1][0].departure):
            best = (bad, stops)
        if bad == 0 and not any(s.kind in ("wait", "break") for s in stops):
            break  # only drives and services: no start makes a shorter shift
    return Route(vehicle_id=vehicle.id, stops=best[1])


def evaluate_routes(
    problem: Problem,
    routes: Mapping[str, Sequence[str]],
    *,
    start_times: Mapping[str, int] | None = None,
    unserved_reasons: Mapping[str, str] | None = None,
    search: dict | None = None,
) -> Plan:
    """Turn ``{vehicle_id: [site/facility ids in order]}`` into a timed :class:`Plan` with KPIs.

    Vehicles with an empty sequence stay home. Sites in no route are unserved, with the
    reason from ``unserved_reasons`` when given.

    Parameters
    ----------
    problem : Problem
        The day.
    routes : mapping of str to sequence of str
        Visit ids in order per vehicle id.
    start_times : mapping of str to int, optional
        Start (seconds of the day) per vehicle to try first.
    unserved_reasons : mapping of str to str, optional
        Why a site was left out, per site id.
    search : dict, optional
        Search details stored with the plan.

    Returns
    -------
    Plan
        Timed routes, unserved sites, cost (:func:`plan_cost`), KPIs (:func:`plan_kpis`) and dispatcher measures
        (:func:`routing.planning.kpis.dispatcher_measures`).

    Raises
    ------
    InvalidInputError
        If a route names an unknown vehicle or visit id.
    """
    timed = []
    for vehicle_id, visit_ids in routes.items():
        if not visit_ids:
            continue
        if vehicle_id not in problem.vehicle_index:
            raise InvalidInputError(f"route for unknown vehicle {vehicle_id!r} in {problem.name}")
        vehicle = problem.vehicles[problem.vehicle_index[vehicle_id]]
        start = None if start_times is None else start_times.get(vehicle_id)
        timed.append(time_route(problem, vehicle, visit_ids, start_time=start))
    served = {s.id for r in timed for s in r.stops if s.kind == "site"}
    reasons = unserved_reasons or {}
    unserved = [(s.id, reasons.get(s.id, "未安排 / not in any route")) for s in problem.sites if s.id not in served]
    plan = Plan(scenario=problem.name, routes=timed, unserved=unserved, search=dict(search or {}))
    plan.objective = plan_cost(problem, plan)
    plan.kpi = plan_kpis(problem, plan)
    plan.measures = dispatcher_measures(problem, plan.routes)
    return plan


def plan_cost(problem: Problem, plan: Plan) -> dict:
    """Money cost of the plan: fixed per truck used, per km driven, per shift hour.

    Parameters
    ----------
    problem : Problem
        The day (the trucks' cost rates).
    plan : Plan
        The timed routes.

    Returns
    -------
    dict
        ``total_cost``, ``fixed_cost``, ``distance_cost``, ``time_cost`` (currency, 2 decimals),
        ``distance`` (m), ``vehicles`` used and ``unserved`` sites.
    """
    fixed = distance = hours = 0.0
    for route in plan.routes:
        v = problem.vehicles[problem.vehicle_index[route.vehicle_id]]
        fixed += v.fixed_cost
        distance += v.cost_per_km * route.distance_m / 1000.0
        hours += v.cost_per_hour * (route.end - route.start) / 3600.0
    return {
        "total_cost": round(fixed + distance + hours, 2),
        "fixed_cost": round(fixed, 2),
        "distance_cost": round(distance, 2),
        "time_cost": round(hours, 2),
        "distance": sum(r.distance_m for r in plan.routes),
        "vehicles": len(plan.routes),
        "unserved": len(plan.unserved),
    }


def plan_kpis(problem: Problem, plan: Plan, *, standard_shift_h: float = STANDARD_SHIFT_H) -> dict:
    """清运率 clearance rate, km, hours, tonnes, stops, utilisation, overtime, shift spread.

    Parameters
    ----------
    problem : Problem
        The day.
    plan : Plan
        The timed routes.
    standard_shift_h : float
        Shift length in hours beyond which time counts as overtime.

    Returns
    -------
    dict
        ``clearance_rate`` (0-1), tonnes, km, hours, stops, unload visits, trucks used/available,
        ``utilisation`` (unloaded / capacity per unload), ``overtime_h`` and shift spread (h).
    """
    total = sum(s.demand_kg for s in problem.sites)
    served = {s.id for r in plan.routes for s in r.stops if s.kind == "site"}
    collected = sum(s.demand_kg for s in problem.sites if s.id in served)
    shifts = [(r.end - r.start) / 3600.0 for r in plan.routes]
    loads, capacity = 0.0, 0.0
    for route in plan.routes:
        v = problem.vehicles[problem.vehicle_index[route.vehicle_id]]
        for stop in route.stops:
            if stop.kind == "facility":
                loads += sum(stop.unloaded_kg.values())
                capacity += v.capacity_kg
    return {
        "clearance_rate": round(collected / total, 6) if total else 1.0,
        "collected_t": round(collected / 1000.0, 3),
        "demand_t": round(total / 1000.0, 3),
        "distance_km": round(sum(r.distance_m for r in plan.routes) / 1000.0, 3),
        "hours": round(sum(shifts), 3),
        "stops": len(served),
        "unload_visits": sum(1 for r in plan.routes for s in r.stops if s.kind == "facility"),
        "vehicles_used": len(plan.routes),
        "vehicles_available": len(problem.vehicles),
        "utilisation": round(loads / capacity, 4) if capacity else 0.0,
        "overtime_h": round(sum(max(0.0, h - standard_shift_h) for h in shifts), 3),
        "longest_shift_h": round(max(shifts), 3) if shifts else 0.0,
        "shortest_shift_h": round(min(shifts), 3) if shifts else 0.0,
    }
