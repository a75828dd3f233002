"""Taking a truck off when the others of its type can take its sites: no handful-of-stops routes, no stub shifts.

Why: the searches weigh a truck's fixed cost against the detours its sites would cause elsewhere,
one site at a time, so a truck sent out for three sites (or for a 1-hour shift next to 6-hour
ones of the same type) survives whenever no single move removes it, although a dispatcher
would hand its sites to the others. Here the weakest route — fewer than
:data:`routing.planning.kpis.SHORT_ROUTE_SITES` sites, else the shortest shift of a type whose
longest is more than :data:`SPREAD` times it — is taken out, and the other trucks that could serve
its sites search on from their own routes with its sites to insert; the change is kept only
when every site still finds a truck. A few tries, within the time the solve keeps for it.
"""

from __future__ import annotations

import logging
import time

from routing.planning.kpis import SHORT_ROUTE_SITES
from routing.planning.plan import time_route
from routing.planning.problem import Problem
from routing.planning.search.params import ProgressCallback, SolveParams
from routing.planning.search.pieces import intake_kg, subproblem
from routing.planning.search.workers import SearchTask, run_tasks

log = logging.getLogger(__name__)

SPREAD = 1.5  # longest / shortest shift within a vehicle type a dispatcher accepts
TRIES = 3  # routes tried, weakest first
FOLD_CHECKS = 80  # positions tried per site of a short route, least added distance first
MIN_TRY_S = 3.0  # a try gets at least this many seconds, or is not made


def consolidate(
    problem: Problem,
    routes: dict[str, list[str]],
    starts: dict[str, int],
    settings: SolveParams,
    *,
    strategy: str,
    deadline: float,
    progress: ProgressCallback | None = None,
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Routes and start times with the weakest trucks taken off where the others can take their sites.

    Parameters
    ----------
    problem : Problem
        The day.
    routes, starts : dict
        Visit ids and start times per truck, from the searches.
    settings : SolveParams
        Search settings.
    strategy : str
        The search of each try.
    deadline : float
        ``time.monotonic()`` by which to stop.
    progress : callable, optional
        Receives the tries' progress.

    Returns
    -------
    tuple of dict
        The routes and start times kept.
    """
    routes, starts = fold_short_routes(problem, routes, starts)
    tried: set[str] = set()
    for _ in range(TRIES):
        weakest = _weakest(problem, routes, skip=tried)
        left = deadline - time.monotonic()
        if weakest is None or left < MIN_TRY_S:
            log.info("consolidate: %s, %.1f s left", weakest or "nothing to take off", left)
            break
        tried.add(weakest)
        own = [problem.sites[problem.site_index[x]] for x in routes[weakest] if x in problem.site_index]
        helpers = [  # the other trucks at work that could take any of its sites (no truck from the depot instead)
            v.id
            for v in problem.vehicles
            if v.id in routes and v.id != weakest and any(Problem.serves(v, s) for s in own)
        ]
        site_ids = [s for v in [weakest, *helpers] for s in routes.get(v, []) if s in problem.site_index]
        elsewhere = {v: r for v, r in routes.items() if v != weakest and v not in helpers}
        sub = subproblem(
            problem,
            site_ids=site_ids,
            vehicle_ids=helpers,
            name=f"{problem.name}#without-{weakest}",
            received=intake_kg(problem, elsewhere),
        )
        initial = {v: routes[v] for v in helpers if v in routes}
        task = SearchTask(f"consolidate|{strategy}", sub, strategy, min(left, max(MIN_TRY_S, left / 2)), initial)
        result = run_tasks([task], settings, progress)[task.label]
        log.info("consolidate: %s off -> %d dropped, %d trucks", weakest, len(result.dropped), len(result.routes))
        if result.dropped or not result.routes:
            continue
        routes = {v: r for v, r in routes.items() if v != weakest and v not in helpers} | result.routes
        starts = {v: t for v, t in starts.items() if v in routes and v not in helpers} | result.start_times
    return routes, starts


def fold_short_routes(
    problem: Problem, routes: dict[str, list[str]], starts: dict[str, int]
) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Routes of fewer than :data:`SHORT_ROUTE_SITES` sites folded into the others where each of their sites fits.

    Each site goes where it adds the least distance among the positions that the independent checker
    accepts for the route it joins (timed by :func:`routing.planning.plan.time_route`; at most
    :data:`FOLD_CHECKS` positions tried per site); a short route is folded only when all its sites fit.

    Parameters
    ----------
    problem : Problem
        The day.
    routes, starts : dict
        Visit ids and start times per truck.

    Returns
    -------
    tuple of dict
        The routes and start times, short routes folded where they fit (the receiving trucks' starts left to
        the timing).
    """
    short = sorted(
        (v for v, r in routes.items() if sum(1 for x in r if x in problem.site_index) < SHORT_ROUTE_SITES),
        key=lambda v: (len(routes[v]), v),
    )
    for gone in short:
        trial = {v: list(r) for v, r in routes.items() if v != gone}
        placed = all(_fold(problem, trial, site) for site in routes[gone] if site in problem.site_index)
        placed = placed and _within_capacities(problem, trial)  # its sites may now unload elsewhere
        log.info("consolidate: short route %s %s", gone, "folded into the others" if placed else "kept")
        if placed:
            changed = {v for v in trial if trial[v] != routes[v]}
            routes = trial
            starts = {v: t for v, t in starts.items() if v in routes and v not in changed}
    return routes, starts


def _fold(problem: Problem, routes: dict[str, list[str]], site_id: str) -> bool:
    """Insert ``site_id`` (in place) where it adds least distance and the checker accepts the route; False: nowhere."""
    from routing.planning.check import check_plan
    from routing.planning.plan import Plan

    site = problem.sites[problem.site_index[site_id]]
    d = problem.distance_m
    options = []
    for v, visits in routes.items():
        vehicle = problem.vehicles[problem.vehicle_index[v]]
        if not Problem.serves(vehicle, site):
            continue
        depot = problem.depots[vehicle.depot].node
        nodes = [depot, *(_node(problem, x) for x in visits), depot]
        for p in range(len(visits) + 1):
            options.append((int(d[nodes[p], site.node] + d[site.node, nodes[p + 1]] - d[nodes[p], nodes[p + 1]]), v, p))
    for _, v, p in sorted(options)[:FOLD_CHECKS]:
        vehicle = problem.vehicles[problem.vehicle_index[v]]
        visits = routes[v][:p] + [site_id] + routes[v][p:]
        plan = Plan(scenario=problem.name, routes=[time_route(problem, vehicle, visits)])
        if not any(x.startswith(f"vehicle {v}") for x in check_plan(problem, plan).violations):
            routes[v] = visits
            return True
    return False


def _within_capacities(problem: Problem, routes: dict[str, list[str]]) -> bool:
    """Whether no facility receives more than its daily capacity from ``routes``."""
    intake = intake_kg(problem, routes)
    return all(f.capacity_kg is None or intake.get(f.id, 0.0) <= f.capacity_kg for f in problem.facilities)


def _node(problem: Problem, visit: str) -> int:
    if visit in problem.site_index:
        return problem.sites[problem.site_index[visit]].node
    return problem.facilities[problem.facility_index[visit]].node


def _weakest(problem: Problem, routes: dict[str, list[str]], *, skip: set[str]) -> str | None:
    """The truck with the fewest sites under the short-route count, else the shortest shift of the type with the
    widest spread beyond :data:`SPREAD` (None: nothing to take off)."""
    sites = {v: sum(1 for x in r if x in problem.site_index) for v, r in routes.items() if v not in skip}
    short = [v for v, n in sites.items() if n < SHORT_ROUTE_SITES]
    if short:
        return min(short, key=lambda v: (sites[v], v))
    spans: dict[str, list[tuple[int, str]]] = {}
    for v, visits in routes.items():
        vehicle = problem.vehicles[problem.vehicle_index[v]]
        route = time_route(problem, vehicle, visits)
        spans.setdefault(vehicle.type_id, []).append((route.end - route.start, v))
    worst = None
    for members in spans.values():
        shortest, longest = min(members), max(members)
        ratio = longest[0] / max(shortest[0], 1)
        if ratio > SPREAD and shortest[1] not in skip and (worst is None or ratio > worst[0]):
            worst = (ratio, shortest[1])
    return None if worst is None else worst[1]
