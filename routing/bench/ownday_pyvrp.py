"""A relaxed product day (:func:`routing.bench.ownday.relax`) as PyVRP 0.14 data, and PyVRP's routes back as visits.

The translation is exact, so that PyVRP and the product solve one problem and the product's plan
evaluator prices PyVRP's routes at PyVRP's own objective (the test proves it):

- matrices: the problem's own road distance (m) and duration (s), one PyVRP location per depot,
  facility and site;
- a facility is a reload depot (its unload time the depot's service duration, its one unload
  window the depot's time window): a reload empties the truck, as an unload does;
- a site with several windows is a required group of mutually exclusive clients, one per window;
- loads in units of 100 g and of 0.1 L (``relax`` rounds demands to those), two load dimensions;
- costs in 1/3,600,000 yuan (:data:`SCALE`): per metre ``cost_per_km × 3600``, per second
  ``cost_per_hour × 1000``, fixed ``fixed_cost × SCALE``, all integers for rates with up to two
  decimals per km and three per hour. PyVRP's penalty bounds (defaults meant for a unit distance
  cost of 1) are scaled by the smallest unit distance cost: with the defaults a second of time warp
  cost about what a second of driving does, and the kitchen piece of Shenzhen day 1 (900 sites,
  35 s) ended infeasible, with PyVRP warning of its penalty bound; scaled, it ends feasible;
- ending empty: PyVRP 0.14 cannot require a reload before the end depot, so such trucks end at a
  virtual depot whose arcs are "to the cheapest accepting facility (for this truck's rates), unload,
  drive home" (from a facility: straight home). Exact while that facility is open at the last unload,
  which the checker re-verifies on every converted plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from routing.errors import InvalidInputError, QingyunError
from routing.planning.problem import Problem, VehicleSpec

SCALE = 3_600_000  # PyVRP cost units per yuan
PER_KG, PER_L = 10, 10  # PyVRP load units per kg (100 g) and per litre (dl): integers for one-decimal data
_NEVER = np.iinfo(np.int64).max
PENALTIES = ("scaled", "default")  # PyVRP's penalty bounds: scaled to the cost unit, or its own


@dataclass(frozen=True)
class PyvrpDay:
    """PyVRP data of one problem and the maps back to the product's ids."""

    data: object  # pyvrp.ProblemData
    client_site: list[str]  # per PyVRP client, its site id
    client_location: list[int]  # per PyVRP client, its location index
    depot_facility: list[str | None]  # per PyVRP depot, the facility it stands for (None: garage, virtual end)
    end_unload: dict[int, list[str | None]]  # per virtual end depot, per location, the last unload's facility
    type_vehicles: list[list[str]]  # per PyVRP vehicle type, its trucks


@dataclass(frozen=True)
class PyvrpRun:
    """PyVRP's best solution as the product's visits, its own objective (yuan) and wall time."""

    routes: dict[str, list[str]]
    start_times: dict[str, int]
    objective: float
    feasible: bool
    wall_s: float


def _units(value: float, what: str) -> int:
    """An integer number of PyVRP units; a rate the scale cannot hold exactly is refused, not rounded."""
    units = round(value)
    if abs(units - value) > 1e-6:
        raise InvalidInputError(f"{what} = {value / SCALE:g} yuan is not a whole number of 1/{SCALE} yuan")
    return units


def unmodelled(problem: Problem) -> list[str]:
    """What of the problem PyVRP 0.14 would not see (each named); empty for a relaxed day."""
    found = []
    if problem.break_rule is not None:
        found.append("a break rule")
    if problem.hold_s:
        found.append("hold limits")
    if problem.balance_per_h or problem.compactness_per_site:
        found.append("shift balance or compactness")
    for f in problem.facilities:
        if f.capacity_kg is not None or len(f.windows) != 1:
            found.append(f"facility {f.id}: a daily capacity or several windows")
    for v in problem.vehicles:
        if v.max_stops is not None or v.max_daily_kg is not None:
            found.append(f"vehicle {v.id}: stops or weight per shift")
    for s in problem.sites:
        if s.vehicles is not None or s.preferred_vehicle is not None or s.access != "large":
            found.append(f"site {s.id}: allowed, preferred trucks or street access")
        if abs(s.demand_kg * PER_KG - round(s.demand_kg * PER_KG)) > 1e-6:
            found.append(f"site {s.id}: demand not in whole units of 100 g")
    return found


def _type_key(v: VehicleSpec) -> tuple:
    return (v.depot, v.streams, v.capacity_kg, v.capacity_l, v.shift_start, v.shift_end, v.max_shift_s) + (
        v.fixed_cost,
        v.cost_per_km,
        v.cost_per_hour,
        v.ends_empty,
    )


def _end_key(v: VehicleSpec) -> tuple:
    return (v.depot, v.streams, v.cost_per_km, v.cost_per_hour)


def _end_arcs(problem: Problem, key: tuple, nodes: np.ndarray, n_fixed: int):
    """Distance, duration and chosen facility per location into the virtual end of ``key`` (see module docstring)."""
    depot, streams, per_km, per_h = key
    home = problem.depots[depot].node
    accepting = [fi for fi, f in enumerate(problem.facilities) if streams <= f.streams]
    if not accepting:
        return None
    d, t = problem.distance_m, problem.duration_s
    via_d = np.stack([d[nodes, problem.facilities[fi].node] + d[problem.facilities[fi].node, home] for fi in accepting])
    via_t = np.stack(
        [
            t[nodes, problem.facilities[fi].node]
            + problem.facilities[fi].unload_s
            + t[problem.facilities[fi].node, home]
            for fi in accepting
        ]
    )
    best = np.argmin(per_km * 3600 * via_d + per_h * 1000 * via_t, axis=0)
    cols = np.arange(len(nodes))
    dist, dur = via_d[best, cols], via_t[best, cols]
    chosen: list[str | None] = [problem.facilities[accepting[b]].id for b in best]
    for k in range(n_fixed):  # the garages and facilities: the truck is empty there, it drives home
        dist[k], dur[k], chosen[k] = d[nodes[k], home], t[nodes[k], home], None
    return dist, dur, chosen


def _matrices(problem: Problem, nodes: np.ndarray, ends: list[tuple], n_fixed: int):
    """Location × location matrices with the virtual end columns, and each end's chosen facilities."""
    base = len(nodes)
    size = base + len(ends)
    dist = np.zeros((size, size), dtype=np.int64)
    dur = np.zeros((size, size), dtype=np.int64)
    dist[:base, :base] = problem.distance_m[np.ix_(nodes, nodes)]
    dur[:base, :base] = problem.duration_s[np.ix_(nodes, nodes)]
    chosen = {}
    for e, key in enumerate(ends):
        column = base + e
        d_end, t_end, chosen[e] = _end_arcs(problem, key, nodes, n_fixed)
        dist[:base, column], dur[:base, column] = d_end, t_end
        home = key[0]  # leaving a virtual end (never done): as leaving the garage
        dist[column, :base], dur[column, :base] = dist[home, :base], dur[home, :base]
    return dist, dur, chosen


def _clients(problem: Problem, first_site_location: int):
    from pyvrp import Client, ClientGroup

    clients, groups, client_site, client_location = [], [], [], []
    for si, s in enumerate(problem.sites):
        group = len(groups) if len(s.windows) > 1 else None
        members = []
        for early, late in s.windows:
            members.append(len(clients))
            clients.append(
                Client(
                    first_site_location + si,
                    delivery=[round(s.demand_kg * PER_KG), round(s.demand_l * PER_L)],
                    service_duration=s.service_s,
                    tw_early=early,
                    tw_late=late,
                    release_time=s.release_s,
                    required=group is None,
                    group=group,
                    name=s.id,
                )
            )
            client_site.append(s.id)
            client_location.append(first_site_location + si)
        if group is not None:
            groups.append(ClientGroup(members, required=True))
    return clients, groups, client_site, client_location


def _vehicle_types(problem: Problem, ends: list[tuple], first_end: int, volume_dl: int):
    from pyvrp import VehicleType

    kinds: dict[tuple, list[VehicleSpec]] = {}
    for v in problem.vehicles:
        kinds.setdefault(_type_key(v), []).append(v)
    types, members = [], []
    garages = len(problem.depots)
    for trucks in kinds.values():
        v = trucks[0]
        end = first_end + ends.index(_end_key(v)) if v.ends_empty and _end_key(v) in ends else v.depot
        types.append(
            VehicleType(
                num_available=len(trucks),
                capacity=[
                    round(v.capacity_kg * PER_KG),
                    volume_dl if v.capacity_l is None else round(v.capacity_l * PER_L),
                ],
                start_depot=v.depot,
                end_depot=end,
                fixed_cost=_units(v.fixed_cost * SCALE, f"{v.id} fixed_cost"),
                tw_early=v.shift_start,
                tw_late=v.shift_end,
                shift_duration=_NEVER if v.max_shift_s is None else v.max_shift_s,
                unit_distance_cost=_units(v.cost_per_km * 3600, f"{v.id} cost_per_km / 1000"),
                unit_duration_cost=_units(v.cost_per_hour * 1000, f"{v.id} cost_per_hour / 3600"),
                reload_depots=[garages + fi for fi, f in enumerate(problem.facilities) if Problem.unloads_at(v, f)],
                name=v.type_id,
            )
        )
        members.append([t.id for t in trucks])
    return types, members


def pyvrp_day(problem: Problem) -> PyvrpDay:
    """The relaxed problem as PyVRP data (see the module docstring).

    Parameters
    ----------
    problem : Problem
        A relaxed day or piece (:func:`routing.bench.ownday.relax`).

    Returns
    -------
    PyvrpDay

    Raises
    ------
    InvalidInputError
        The problem has what PyVRP 0.14 does not model (:func:`unmodelled`), or a cost rate the scale cannot hold.
    """
    from pyvrp import Depot, Location, ProblemData

    missing = unmodelled(problem)
    if missing:
        raise InvalidInputError(f"{problem.name}: not relaxed for PyVRP: {'; '.join(missing[:5])}")
    nodes = np.array(
        [d.node for d in problem.depots] + [f.node for f in problem.facilities] + [s.node for s in problem.sites]
    )
    n_fixed = len(problem.depots) + len(problem.facilities)
    ends = sorted({_end_key(v) for v in problem.vehicles if v.ends_empty}, key=repr)
    ends = [key for key in ends if any(key[1] <= f.streams for f in problem.facilities)]
    dist, dur, chosen = _matrices(problem, nodes, ends, n_fixed)
    locations = [Location(float(problem.lon[n]), float(problem.lat[n])) for n in nodes]
    locations += [locations[key[0]] for key in ends]
    depots = [Depot(k) for k in range(len(problem.depots))]
    depots += [
        Depot(len(problem.depots) + fi, tw_early=f.windows[0][0], tw_late=f.windows[0][1], service_duration=f.unload_s)
        for fi, f in enumerate(problem.facilities)
    ]
    first_end = len(depots)
    depots += [Depot(len(nodes) + e) for e in range(len(ends))]
    clients, groups, client_site, client_location = _clients(problem, n_fixed)
    volume = max(1, sum(round(s.demand_l * PER_L) for s in problem.sites))
    types, members = _vehicle_types(problem, ends, first_end, volume)
    data = ProblemData(locations, clients, depots, types, [dist], [dur], groups)
    return PyvrpDay(
        data=data,
        client_site=client_site,
        client_location=client_location,
        depot_facility=[None] * len(problem.depots) + [f.id for f in problem.facilities] + [None] * len(ends),
        end_unload={first_end + e: chosen[e] for e in range(len(ends))},
        type_vehicles=members,
    )


def routes_of(day: PyvrpDay, solution) -> tuple[dict[str, list[str]], dict[str, int]]:
    """PyVRP's routes as visit ids per truck (a reload: an unload at its facility; a virtual end: the last unload
    at the facility its arc stands for) and each route's start.

    Parameters
    ----------
    day : PyvrpDay
        The data the solution solves.
    solution : pyvrp.Solution
        A solution.

    Returns
    -------
    routes : dict
        Visit ids per truck id (only trucks used).
    start_times : dict
        Depot departure per truck id (seconds of the day).
    """
    free = [list(trucks) for trucks in day.type_vehicles]
    routes, starts = {}, {}
    for route in solution.routes():
        activities = list(route)
        visits, last = [], None
        for activity in activities[1:-1]:
            if activity.is_client():
                visits.append(day.client_site[activity.idx])
                last = day.client_location[activity.idx]
            elif activity.is_depot():
                visits.append(day.depot_facility[activity.idx])
                last = None
        if not visits:
            continue
        end = activities[-1].idx
        if end in day.end_unload and last is not None:
            visits.append(day.end_unload[end][last])
        if None in visits:
            raise QingyunError(f"PyVRP route {visits}: a reload at a depot that is no facility")
        truck = free[route.vehicle_type()].pop(0)
        routes[truck], starts[truck] = visits, int(route.start_time())
    return routes, starts


def run_pyvrp_day(
    problem: Problem, *, time_limit_s: float, seed: int = 1, day: PyvrpDay | None = None, penalty: str = "scaled"
) -> PyvrpRun:
    """PyVRP's iterated local search on one thread for ``time_limit_s`` seconds, its best routes converted.

    Parameters
    ----------
    problem : Problem
        A relaxed day or piece.
    time_limit_s : float
        Search time (s); building the data is outside it, and in ``wall_s``.
    seed : int
        PyVRP's seed.
    day : PyvrpDay, optional
        The problem's PyVRP data when already built (then outside ``wall_s``).
    penalty : str
        ``"scaled"``: PyVRP's penalty bounds times the smallest unit distance cost (module docstring);
        ``"default"``: PyVRP's own bounds.

    Returns
    -------
    PyvrpRun
        Routes and starts for :func:`routing.planning.plan.evaluate_routes`, PyVRP's objective in yuan.
    """
    from pyvrp import PenaltyParams, SolveParams, solve
    from pyvrp.stop import MaxRuntime

    began = time.perf_counter()
    day = day or pyvrp_day(problem)
    if penalty not in PENALTIES:
        raise InvalidInputError(f"PyVRP penalty {penalty!r}: use one of {', '.join(PENALTIES)}")
    unit = max(1, min((t.unit_distance_cost for t in day.data.vehicle_types()), default=1))
    bounds = PenaltyParams()
    if penalty == "scaled":
        bounds = PenaltyParams(min_penalty=bounds.min_penalty * unit, max_penalty=bounds.max_penalty * unit)
    params = SolveParams(penalty=bounds)
    result = solve(
        day.data, stop=MaxRuntime(time_limit_s), seed=seed, display=False, collect_stats=False, params=params
    )
    wall = time.perf_counter() - began
    best = result.best
    routes, starts = routes_of(day, best)
    objective = (best.distance_cost() + best.duration_cost() + best.fixed_vehicle_cost()) / SCALE
    return PyvrpRun(routes=routes, start_times=starts, objective=objective, feasible=best.is_feasible(), wall_s=wall)


def pyvrp_view(problem: Problem, day: PyvrpDay, plan) -> tuple[bool, float | None]:
    """Another solver's timed plan as a PyVRP solution: whether PyVRP finds it feasible, and its objective (yuan).

    The other direction of the exactness: the product's routes are feasible in PyVRP's model too, priced the
    same or less (PyVRP picks each route's start to minimise its duration). A unload just before an ends-empty
    truck returns is PyVRP's virtual end; each site visit is the client copy of the window it starts in.

    Parameters
    ----------
    problem : Problem
        The relaxed problem the plan solves.
    day : PyvrpDay
        Its PyVRP data (:func:`pyvrp_day`).
    plan : routing.planning.plan.Plan
        The timed routes.

    Returns
    -------
    tuple of (bool, float or None)
        None when PyVRP refuses the routes as a solution at all.
    """
    from pyvrp import Activity, ActivityType, Route, Solution

    copies: dict[str, list[int]] = {}
    for k, site in enumerate(day.client_site):
        copies.setdefault(site, []).append(k)
    type_of = {truck: t for t, trucks in enumerate(day.type_vehicles) for truck in trucks}
    garages = len(problem.depots)
    routes = []
    for route in plan.routes:
        vehicle_type = day.data.vehicle_type(type_of[route.vehicle_id])
        stops = [s for s in route.stops if s.kind in ("site", "facility")]
        if stops and stops[-1].kind == "facility" and vehicle_type.end_depot in day.end_unload:
            stops = stops[:-1]  # the virtual end's unload
        activities = [Activity(ActivityType.DEPOT, vehicle_type.start_depot)]
        for stop in stops:
            if stop.kind == "facility":
                activities.append(Activity(ActivityType.DEPOT, garages + problem.facility_index[stop.id]))
                continue
            windows = problem.sites[problem.site_index[stop.id]].windows
            copy = next((w for w, (a, b) in enumerate(windows) if a <= stop.start <= b), 0)
            activities.append(Activity(ActivityType.CLIENT, copies[stop.id][copy]))
        activities.append(Activity(ActivityType.DEPOT, vehicle_type.end_depot))
        routes.append(Route(day.data, activities, type_of[route.vehicle_id]))
    try:
        solution = Solution(day.data, routes)
    except RuntimeError:  # more routes of a type than it has trucks, a site twice: not a PyVRP solution
        return False, None
    objective = (solution.distance_cost() + solution.duration_cost() + solution.fixed_vehicle_cost()) / SCALE
    return solution.is_feasible(), objective
