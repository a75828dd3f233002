"""Re-packing sites onto trips: one truck fewer, or a dropped site fitted in after all.

The searches move a site or a short string at a time and keep every trip and truck within
its limits, so when trucks are nearly full (Kim 444: 3,991 yd³ for trucks allowed 200 a trip
and 400 a day) they cannot free the room a dropped site, or a whole truck's round, needs:
that takes dozens of sites changing trips at once. Here the sites are assigned to trips
within every limit (:func:`reassign`: CP-SAT finds a packing, then re-packs nearby trips
exactly, keeping moves few and short), each moved site is inserted where it adds least in its
new trip, and the whole day is searched from there (:func:`repack`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from routing.planning.problem import Problem, VehicleSpec
from routing.planning.search.params import SolveParams
from routing.planning.search.pieces import subproblem
from routing.planning.search.result import SearchResult, pick_best
from routing.planning.search.units import limit_units, load_units
from routing.planning.search.workers import SearchTask, run_tasks

log = logging.getLogger(__name__)

TIGHT_FILL = 0.9  # a day whose fewest possible trucks would be this full gets time to re-pack
MOVE_M = 1000  # metres added to every move's detour estimate: fewer moves, less disturbed routes
REASSIGN_S = 20.0  # one re-packing's time, at most
GROUP_TRIPS = 4  # trips re-packed together in one neighbourhood
STALL_ROUNDS = 3  # per trip: neighbourhoods in a row that improve nothing before re-packing stops
MAX_ATTEMPTS = 1  # trucks tried in a row for removal, least loaded first (Kim 1051: each failed try cost ~15 s)


@dataclass(frozen=True)
class TruckLimits:
    """What one truck may carry per trip and per day, in the routing model's integer units (None = no limit)."""

    trip_kg: int
    trip_litres: int | None
    day_kg: int | None
    stops: int | None


def truck_limits(vehicle: VehicleSpec) -> TruckLimits:
    """Per trip a truck is bound by its body, per day by its daily weight and stop limits.

    Parameters
    ----------
    vehicle : VehicleSpec
        The truck.

    Returns
    -------
    TruckLimits
        Its limits in the model's integer units.
    """
    return TruckLimits(
        trip_kg=limit_units(vehicle.capacity_kg),
        trip_litres=None if vehicle.capacity_l is None else limit_units(vehicle.capacity_l),
        day_kg=None if vehicle.max_daily_kg is None else limit_units(vehicle.max_daily_kg),
        stops=vehicle.max_stops,
    )


def _day_kg(problem: Problem, vehicle: VehicleSpec) -> int | None:
    """Weight one truck may collect in a day: one body-load if it never unloads, else its daily limit."""
    limits = truck_limits(vehicle)
    if not any(Problem.unloads_at(vehicle, f) for f in problem.facilities):
        return min(limits.trip_kg, limits.day_kg or limits.trip_kg)
    return limits.day_kg


def _demand_kg(problem: Problem, site_id: str) -> int:
    return load_units(problem.sites[problem.site_index[site_id]].demand_kg)


def fewest_trucks(problem: Problem, *, site_ids: list[str]) -> int:
    """A lower bound on the trucks ``site_ids`` need by weight (at the largest daily limit of the fleet).

    Returns 0 when some truck has no daily limit (then weight bounds nothing).
    """
    limits = [_day_kg(problem, v) for v in problem.vehicles]
    if not limits or any(k is None for k in limits):
        return 0
    total = sum(_demand_kg(problem, s) for s in site_ids)
    return math.ceil(total / max(limits)) if total else 0


def is_tight(problem: Problem, *, site_ids: list[str]) -> bool:
    """Whether packing decides the truck count: the fewest trucks possible would be ≥ 90 % full.

    Only days whose trucks carry a fixed cost count (elsewhere a truck fewer saves nothing).
    A tight day (True) gets time for re-packing.

    Parameters
    ----------
    problem : Problem
        The day.
    site_ids : list of str
        The sites to serve.

    Returns
    -------
    bool
        True when the demand fills the fewest possible trucks to at least 90 %.
    """
    if not site_ids or not any(v.fixed_cost > 0 for v in problem.vehicles):
        return False
    least = fewest_trucks(problem, site_ids=site_ids)
    if least < 2 or least > len(problem.vehicles):
        return False
    biggest = max(_day_kg(problem, v) for v in problem.vehicles)
    return sum(_demand_kg(problem, s) for s in site_ids) / (least * biggest) >= TIGHT_FILL


@dataclass
class Trip:
    """One load of one truck: the sites it collects, in order, and where it unloads (None: it does not)."""

    truck: str
    sites: list[str]
    unload: str | None


def trips_of(problem: Problem, routes: dict[str, list[str]]) -> list[Trip]:
    """The trips of the trucks in use, plus one empty trip per truck that unloads (room for a new load).

    Parameters
    ----------
    problem : Problem
        The day.
    routes : dict
        Visit ids per truck.

    Returns
    -------
    list of Trip
        In route order, truck by truck.
    """
    trips = []
    for truck, route in routes.items():
        if not any(s in problem.site_index for s in route):
            continue
        current: list[str] = []
        last_unload = None
        for stop in route:
            if stop in problem.site_index:
                current.append(stop)
            else:
                if current:
                    trips.append(Trip(truck, current, stop))
                current, last_unload = [], stop
        if current:
            trips.append(Trip(truck, current, None))
        if last_unload is not None:
            trips.append(Trip(truck, [], last_unload))
    return trips


@dataclass
class _Packing:
    """A re-packing problem: sites, the trips they may take, what each costs, and the limits."""

    sites: list[str]
    home: np.ndarray  # trip index per site, -1 for an orphan
    kg: np.ndarray
    litres: np.ndarray
    cost: np.ndarray  # [site, trip] metres; -1 where the trip's truck cannot serve the site
    open_cost: np.ndarray  # per trip: metres to start it (new trips only)
    trip_kg: np.ndarray
    trip_litres: np.ndarray  # -1: no limit
    truck_of: np.ndarray  # per trip, an index into the trucks
    day_kg: np.ndarray  # per truck, -1: no limit
    stops: np.ndarray  # per truck, -1: no limit


def _packing(problem: Problem, trips: list[Trip], orphans: list[str], *, new_trips: bool) -> _Packing:
    sites = [s for trip in trips for s in trip.sites] + list(orphans)
    where = {s: k for k, trip in enumerate(trips) for s in trip.sites}
    node = np.array([problem.sites[problem.site_index[s]].node for s in sites], dtype=np.int64)
    distance = problem.distance_m
    facility_node = {f.id: f.node for f in problem.facilities}
    trucks = list(dict.fromkeys(trip.truck for trip in trips))
    home = np.array([where.get(s, -1) for s in sites], dtype=np.int64)
    cost = np.full((len(sites), len(trips)), -1, dtype=np.int64)
    open_cost = np.zeros(len(trips), dtype=np.int64)
    serves: dict[str, np.ndarray] = {}  # per truck: which sites it may take
    for k, trip in enumerate(trips):
        if not trip.sites and not new_trips:
            continue
        vehicle = problem.vehicles[problem.vehicle_index[trip.truck]]
        near = trip.sites or [s for other in trips if other.truck == trip.truck for s in other.sites]
        anchor = np.array([problem.sites[problem.site_index[s]].node for s in near], dtype=np.int64)
        detour = 2 * distance[np.ix_(node, anchor)].min(axis=1) + MOVE_M
        detour[home == k] = 0
        if not trip.sites:
            open_cost[k] = 2 * distance[facility_node[trip.unload], anchor].min()
        if trip.truck not in serves:
            serves[trip.truck] = np.array(
                [Problem.serves(vehicle, problem.sites[problem.site_index[s]]) for s in sites]
            )
        cost[serves[trip.truck], k] = detour[serves[trip.truck]]
    limits = [truck_limits(problem.vehicles[problem.vehicle_index[t]]) for t in trucks]
    by_trip = [limits[trucks.index(trip.truck)] for trip in trips]
    return _Packing(
        sites=sites,
        home=home,
        kg=np.array([_demand_kg(problem, s) for s in sites], dtype=np.int64),
        litres=np.array([load_units(problem.sites[problem.site_index[s]].demand_l) for s in sites], dtype=np.int64),
        cost=cost,
        open_cost=open_cost,
        trip_kg=np.array([lim.trip_kg for lim in by_trip], dtype=np.int64),
        trip_litres=np.array([-1 if lim.trip_litres is None else lim.trip_litres for lim in by_trip], dtype=np.int64),
        truck_of=np.array([trucks.index(trip.truck) for trip in trips], dtype=np.int64),
        day_kg=np.array([-1 if lim.day_kg is None else lim.day_kg for lim in limits], dtype=np.int64),
        stops=np.array([-1 if lim.stops is None else lim.stops for lim in limits], dtype=np.int64),
    )


def _solve_part(
    data: _Packing,
    assignment: np.ndarray | None,
    free_trips: list[int],
    *,
    time_limit_s: float,
    first_only: bool = False,
) -> np.ndarray | None:
    """CP-SAT over the sites of ``free_trips`` (all sites when ``assignment`` is None), the rest fixed."""
    from ortools.sat.python import cp_model

    trips = np.array(free_trips, dtype=np.int64)
    free = np.arange(len(data.sites)) if assignment is None else np.flatnonzero(np.isin(assignment, trips))
    model = cp_model.CpModel()
    x = {}
    terms = []
    opened = {}
    for k in trips:
        if data.open_cost[k]:
            opened[k] = model.new_bool_var(f"open{k}")
            terms.append(int(data.open_cost[k]) * opened[k])
    for si in free:
        options = []
        for k in trips:
            if data.cost[si, k] < 0:
                continue
            x[si, k] = var = model.new_bool_var(f"x{si}_{k}")
            options.append(var)
            if data.cost[si, k]:
                terms.append(int(data.cost[si, k]) * var)
            if k in opened:
                model.add_implication(var, opened[k])
            if assignment is not None:
                model.add_hint(var, assignment[si] == k)
            elif data.home[si] >= 0:
                model.add_hint(var, data.home[si] == k)
        if not options:
            return None
        model.add_exactly_one(options)
    fixed = np.ones(len(data.sites), dtype=bool)
    fixed[free] = False
    for k in trips:
        mine = [x[si, k] * int(data.kg[si]) for si in free if (si, k) in x]
        model.add(sum(mine) <= int(data.trip_kg[k]))
        if data.trip_litres[k] >= 0:
            model.add(sum(x[si, k] * int(data.litres[si]) for si in free if (si, k) in x) <= int(data.trip_litres[k]))
    for t in np.unique(data.truck_of[trips]):
        mine = [k for k in trips if data.truck_of[k] == t]
        others = fixed & np.isin(assignment, np.flatnonzero(data.truck_of == t)) if assignment is not None else fixed
        if data.day_kg[t] >= 0:
            model.add(
                sum(x[si, k] * int(data.kg[si]) for k in mine for si in free if (si, k) in x)
                <= int(data.day_kg[t] - data.kg[others].sum())
            )
        if data.stops[t] >= 0:
            model.add(sum(x[si, k] for k in mine for si in free if (si, k) in x) <= int(data.stops[t] - others.sum()))
    model.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit_s)
    solver.parameters.num_workers = 2 if first_only else 1
    solver.parameters.stop_after_first_solution = first_only
    status = solver.solve(model)
    if first_only:
        log.info("re-packing: first packing %s after %.1f s", solver.status_name(status), solver.wall_time)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    out = np.full(len(data.sites), -1, dtype=np.int64) if assignment is None else assignment.copy()
    for (si, k), var in x.items():
        if solver.value(var):
            out[si] = k
    return out


def _total(data: _Packing, assignment: np.ndarray) -> int:
    used = np.unique(assignment)
    return int(data.cost[np.arange(len(assignment)), assignment].sum() + data.open_cost[used].sum())


def reassign(
    problem: Problem, *, trips: list[Trip], orphans: list[str], new_trips: bool, time_limit_s: float, seed: int = 0
) -> dict[str, int] | None:
    """Sites that change trip so every orphan gets one and every trip and truck stays within its limits.

    CP-SAT finds a packing first (any: a packing 99.8 % full is hard to find at all, and
    neither CP-SAT nor SCIP improves a whole-day model much from there); then neighbourhoods
    of :data:`GROUP_TRIPS` nearby trips are re-packed exactly until they stop improving.
    A move costs its detour, estimated as twice the distance to the nearest site of the
    receiving trip (for a new trip, of its truck, plus the drive to and from its unload), plus
    :data:`MOVE_M`.

    Parameters
    ----------
    problem : Problem
        The day.
    trips : list of Trip
        The current trips.
    orphans : list of str
        Sites on no trip that must get one.
    new_trips : bool
        Whether the empty trips (a new load after an unload) may be opened.
    time_limit_s : float
        Seconds for the whole re-packing.
    seed : int
        Seed of the neighbourhood choice.

    Returns
    -------
    dict or None
        Site → index into ``trips`` for every site that changes trip, or None when no packing was found.
    """
    deadline = time.monotonic() + time_limit_s
    data = _packing(problem, trips, orphans, new_trips=new_trips)
    assignment = _solve_part(data, None, list(range(len(trips))), time_limit_s=time_limit_s, first_only=True)
    if assignment is None:
        return None
    first = current = _total(data, assignment)
    # trips near each other: the mean cost of moving one trip's sites into the other
    near = np.zeros((len(trips), len(trips)))
    for k in range(len(trips)):
        members = data.home == k
        if members.any():
            near[k] = np.where(data.cost[members] < 0, 10**9, data.cost[members]).mean(axis=0)
    rng = np.random.default_rng(seed)
    rounds = stalled = 0
    while time.monotonic() < deadline and stalled < STALL_ROUNDS * len(trips):
        k0 = int(rng.integers(len(trips)))
        # the trips k0's own sites were moved to (so they can come back), then the trips nearest to it
        away, count = np.unique(assignment[(data.home == k0) & (assignment != k0)], return_counts=True)
        group = [k0, *away[np.argsort(-count)][:2].tolist()]
        group += [int(k) for k in np.argsort(near[k0]) if k not in group][: max(1, GROUP_TRIPS - len(group))]
        better = _solve_part(data, assignment, group, time_limit_s=min(1.0, deadline - time.monotonic()))
        total = math.inf if better is None else _total(data, better)
        if total < current:
            assignment, current, stalled = better, total, 0
        else:
            stalled += 1
        rounds += 1
    log.info("re-packing: first packing %d m, after %d rounds %d m", first, rounds, current)
    return {data.sites[si]: int(k) for si, k in enumerate(assignment) if data.home[si] != k}


def _site_load(problem: Problem, route: list[str]) -> int:
    return sum(_demand_kg(problem, s) for s in route if s in problem.site_index)


def _with_moves(problem: Problem, trips: list[Trip], moves: dict[str, int]) -> dict[str, list[str]]:
    """Routes after the moves: each moved site inserted where it adds least distance in its new trip."""
    distance = problem.distance_m
    node = {s.id: s.node for s in problem.sites} | {f.id: f.node for f in problem.facilities}
    routes: dict[str, list[str]] = {}
    for k, trip in enumerate(trips):
        sequence = [s for s in trip.sites if s not in moves]
        for site, target in moves.items():
            if target != k:
                continue
            truck = problem.vehicles[problem.vehicle_index[trip.truck]]
            route = routes.get(trip.truck, [])
            start = node[route[-1]] if route else problem.depots[truck.depot].node
            end = node[trip.unload] if trip.unload else problem.depots[truck.depot].node
            path = [start, *(node[s] for s in sequence), end]
            here = node[site]
            added = [distance[a, here] + distance[here, b] - distance[a, b] for a, b in zip(path, path[1:])]
            sequence.insert(int(np.argmin(added)), site)
        if sequence:
            routes.setdefault(trip.truck, []).extend(sequence + ([trip.unload] if trip.unload else []))
    return routes


def _served(problem: Problem, routes: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per truck in use, the sites it serves (unloads left out)."""
    sites = {v: [s for s in r if s in problem.site_index] for v, r in routes.items()}
    return {v: r for v, r in sites.items() if r}


def _fit(
    problem: Problem,
    settings: SolveParams,
    plan: SearchResult,
    *,
    fleet: list[str],
    strategies: tuple[str, ...],
    deadline: float,
) -> SearchResult | None:
    """``plan`` with its dropped sites re-packed into its trips, then searched; None if they do not fit.

    New trips (a drive to and from an unload) are opened only if the existing ones cannot
    take every site.
    """
    trips = trips_of(problem, plan.routes)
    moves = None
    for new_trips in (False, True):
        left = deadline - time.monotonic()
        moves = reassign(
            problem,
            trips=trips,
            orphans=list(plan.dropped),
            new_trips=new_trips,
            time_limit_s=min(REASSIGN_S, 0.3 * left),
        )
        if moves is not None:
            break
    log.info(
        "re-packing %d site(s): %s",
        len(plan.dropped),
        "no assignment within the limits" if moves is None else f"{len(moves)} site(s) change trip",
    )
    if moves is None:
        return None
    initial = _with_moves(problem, trips, moves)
    sites = [s for trip in trips for s in trip.sites] + list(plan.dropped)
    sub = subproblem(problem, site_ids=sites, vehicle_ids=fleet, name=f"{problem.name}#repacked")
    left = max(1.0, deadline - time.monotonic())
    lanes = max(1, settings.workers)
    tasks = [SearchTask(f"repacked|{s}", sub, s, 0.5 * left, initial) for s in strategies[:lanes]]
    found = run_tasks(tasks, settings, None)
    return pick_best([found[t.label] for t in tasks])


def repack(
    problem: Problem,
    settings: SolveParams,
    best: SearchResult,
    *,
    strategies: tuple[str, ...],
    deadline: float,
) -> SearchResult:
    """The cheaper of ``best`` and the plans re-packing finds before ``deadline``.

    Dropped sites are re-packed into the trucks' trips first. Then, while the trucks in use
    are more than the weight allows at least, the least-loaded one's sites are re-packed into
    the others' trips (:data:`MAX_ATTEMPTS` trucks tried in a row). Every re-packed plan is
    searched on from there and kept when it drops no more sites and costs less.

    Parameters
    ----------
    problem, settings
        The day and its search settings.
    best : SearchResult
        The best plan so far.
    strategies : tuple of str
        Strategies of the searches from a re-packed plan (one per worker).
    deadline : float
        ``time.monotonic()`` to finish by.

    Returns
    -------
    SearchResult
        ``best`` or a better plan.
    """
    fleet = [v.id for v in problem.vehicles]
    if best.dropped:
        fitted = _fit(problem, settings, best, fleet=fleet, strategies=strategies, deadline=deadline)
        if fitted is None or (len(fitted.dropped), fitted.cost) >= (len(best.dropped), best.cost):
            return best
        best = fitted
    tried: set[str] = set()
    while time.monotonic() < deadline - 2.0 and len(tried) < MAX_ATTEMPTS and not best.dropped:
        used = _served(problem, best.routes)
        if len(used) <= fewest_trucks(problem, site_ids=[s for r in used.values() for s in r]):
            break
        candidates = sorted((v for v in used if v not in tried), key=lambda v: _site_load(problem, used[v]))
        if not candidates:
            break
        removed = candidates[0]
        tried.add(removed)
        without = SearchResult({v: r for v, r in best.routes.items() if v != removed}, {}, math.inf, used[removed])
        plan = _fit(
            problem,
            settings,
            without,
            fleet=[v for v in used if v != removed],
            strategies=strategies,
            deadline=deadline,
        )
        log.info(
            "without truck %s: %s",
            removed,
            "no fit" if plan is None else f"{len(plan.dropped)} dropped, cost {plan.cost:.1f} (was {best.cost:.1f})",
        )
        if plan is not None and not plan.dropped and plan.cost < best.cost:
            best, tried = plan, set()
    return best
