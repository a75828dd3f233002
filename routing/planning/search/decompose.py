"""How a day is searched: whole on both cores, or in pieces and zones joined afterwards.

Independent pieces (see :mod:`routing.planning.search.pieces`) are solved side by side. A piece
above ``SolveParams.decompose_above`` sites is cut into zones (网格); zones are solved in
parallel, then neighbouring zones are re-solved together from their routes (improving across
the border), and sites a zone could not fit are offered to idle trucks, then to every truck
able to serve them (re-planned from its current route). A single small piece is searched
twice in parallel with different first-solution strategies and the better plan is kept (ties:
first strategy); on a tightly packed day (:func:`routing.planning.search.repack.is_tight`)
that takes half the time, and the rest goes to re-packing the plan onto fewer trucks
(:mod:`routing.planning.search.repack`) and searching on. Given ``SolveParams.initial_routes`` (a
re-plan's routes still ahead), every day, piece and zone starts from its trucks' routes (:func:`warm_start`).

Pieces, zones and border pairs are independent searches: under a piece runner
(:func:`routing.planning.search.workers.pieces_run_by`, the service's Celery workers when
``QINGYUN_REDIS_URL`` is set) they run on other machines (:mod:`routing.planning.search.remote`);
the whole day's strategies and the leftover repair stay in this process.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from routing.planning.problem import Problem
from routing.planning.search.construct import build_routes
from routing.planning.search.params import ProgressCallback, SolveParams, default_strategies
from routing.planning.search.pieces import independent_pieces, intake_kg, split_into_zones, subproblem, zone_reserves
from routing.planning.search.repack import is_tight, repack
from routing.planning.search.result import SearchResult, pick_best
from routing.planning.search.workers import SearchTask, run_tasks

BORDER_SHARE = 0.12  # of the time limit, for each of the two rounds of cross-border improvement
REPAIR_SHARE = 0.1  # of the time limit, for idle trucks to pick up what zones left over
REPACK_SHARE = 0.5  # of the time limit, on a tightly packed day: re-packing, then searches from its plan
CONTINUE_SHARE = 0.1  # of the time limit, at least: the searches from the re-packed plan

Part = tuple[list[str], list[str]]  # (site ids, vehicle ids)


def run_searches(
    problem: Problem,
    settings: SolveParams,
    *,
    excluded: dict[str, str],
    progress: ProgressCallback | None = None,
) -> list[SearchResult]:
    """Solve every piece of the day but the ``excluded`` sites (:func:`unservable_sites`, found by the driver).

    Returns one result per piece (or zone, or leftover repair); their routes together are the
    plan. ``progress`` receives the best total cost at every improvement.
    """
    site_ids = {s.id for s in problem.sites if s.id not in excluded}
    strategies = settings.strategies or default_strategies(problem)
    pieces = independent_pieces(problem, site_ids)
    if len(pieces) == 1 and len(pieces[0][0]) == len(site_ids) and len(site_ids) <= settings.decompose_above:
        return [_search_whole_day(problem, settings, site_ids, strategies, progress)]
    return _search_in_parts(problem, settings, pieces, strategies[0], progress)


def _search_whole_day(problem, settings, site_ids, strategies, progress) -> SearchResult:
    """One search per worker, each with its strategy; on a tight day half the time, then re-packing."""
    began = time.monotonic()
    tight = is_tight(problem, site_ids=sorted(site_ids))
    share = 1.0 - REPACK_SHARE if tight else 1.0
    initial = warm_start(settings, problem, site_ids=site_ids)
    tasks = [
        SearchTask(f"day|{s}", problem, s, settings.time_limit_s * share, initial)
        for s in strategies[: max(1, settings.workers)]
    ]
    found = run_tasks(tasks, settings, progress, began=began)
    best = pick_best([found[task.label] for task in tasks])  # strategy order, not finishing order: ties stay stable
    if tight:
        best = _repack_and_continue(problem, settings, best, strategies, progress, began)
    return best


def _search_in_parts(
    problem: Problem, settings: SolveParams, pieces: list[Part], strategy: str, progress
) -> list[SearchResult]:
    """Pieces and zones searched side by side, zone borders re-searched, leftovers picked up."""
    parts: list[Part] = []
    reserved: list[dict[str, float]] = []  # per part, facility capacity kept for the other zones of its piece
    zoned: list[list[int]] = []  # per cut piece, its zones' positions in ``parts`` (neighbours adjacent)
    orphans: set[str] = set()  # sites of zones no truck was dealt to: picked up with the leftovers
    for sites, vehicles in pieces:
        if len(sites) > settings.decompose_above:
            zones = split_into_zones(
                problem, site_ids=sites, vehicle_ids=vehicles, target_sites=settings.zone_target_sites
            )
            zoned.append(list(range(len(parts), len(parts) + len(zones))))
            parts.extend(zones)
            reserved.extend(zone_reserves(problem, zones))
            orphans |= set(sites) - {s for z, _ in zones for s in z}
        else:
            parts.append((sites, vehicles))
            reserved.append({})
    lanes = max(1, settings.workers)
    border_share = BORDER_SHARE if zoned else 0.0
    budget = settings.time_limit_s * (1.0 - 2 * border_share - (REPAIR_SHARE if zoned else 0.0))
    total = sum(len(s) for s, _ in parts)
    tasks = []
    for k, (sites, vehicles) in enumerate(parts):
        share = budget * min(1.0, lanes * len(sites) / total)
        sub = subproblem(
            problem, site_ids=sites, vehicle_ids=vehicles, name=f"{problem.name}#{k}", received=reserved[k]
        )
        tasks.append(SearchTask(f"piece{k}|{strategy}", sub, strategy, share, warm_start(settings, sub)))
    began = time.monotonic()
    results = run_tasks(tasks, settings, progress, began=began, remote=True)
    found = [results[t.label] for t in tasks]
    for offset in (0, 1):  # neighbouring zones re-solved together: pairs (0,1),(2,3)… then (1,2),(3,4)…
        pairs = [(z[i], z[i + 1]) for z in zoned for i in range(offset, len(z) - 1, 2)]
        if pairs:
            _join_borders(problem, settings, found, parts, pairs, strategy, border_share, progress, began)
    if zoned:
        _pick_up_leftovers(problem, settings, found, parts, zoned, strategy, progress, began, orphans)
    return found


def warm_start(
    settings: SolveParams, problem: Problem, *, site_ids: set[str] | None = None
) -> dict[str, list[str]] | None:
    """``settings.initial_routes`` for a problem (a day, a piece or a zone), completed on its idle trucks.

    Each truck's route is kept to the problem's sites (``site_ids`` of them, when given) and facilities, an
    unload never first nor twice in a row; the sites no route holds (a broken truck's, a new urgent one) are
    routed by :func:`routing.planning.search.construct.build_routes` on the trucks without a route, and what
    fits there neither is left to the search to insert. Why: searched from scratch, a re-plan moved the other
    trucks' sites and left more unserved (demo day, a kitchen truck down at 10:00, start sites kept: 6 sites
    against 3); from the old routes, only the orphans need a place. None when the settings carry no routes.
    """
    if settings.initial_routes is None:
        return None
    keep = set(problem.site_index) if site_ids is None else set(site_ids) & set(problem.site_index)
    routes = {}
    for vehicle in problem.vehicles:
        visits: list[str] = []
        for vid in settings.initial_routes.get(vehicle.id, ()):
            if vid in keep or vid in problem.facility_index and visits and visits[-1] in keep:
                visits.append(vid)
        if visits:
            routes[vehicle.id] = visits
    routed = {vid for visits in routes.values() for vid in visits}
    missing = sorted(keep - routed)
    idle = {v.id for v in problem.vehicles if v.id not in routes}
    if missing and idle:
        routes.update(build_routes(problem, missing, trucks=idle))
    return routes


def _join_borders(problem, settings, found, parts, pairs, strategy, border_share, progress, began) -> None:
    """Re-search each pair of neighbouring zones together from their routes; keep what improves.

    ``found`` and ``parts`` are updated in place: sites moved across a border belong to the
    zone of the truck now serving them. The pairs are searched side by side: each may fill a facility up to what
    it unloads there now and an equal share of the capacity still free.
    """
    lanes = max(1, settings.workers)
    work = sum(len(parts[a][0]) + len(parts[b][0]) for a, b in pairs)
    everyone = intake_kg(problem, {v: r for found_k in found for v, r in found_k.routes.items()})
    free = {f.id: f.capacity_kg - everyone.get(f.id, 0.0) for f in problem.facilities if f.capacity_kg is not None}
    tasks = []
    for a, b in pairs:
        sites = parts[a][0] + parts[b][0]
        vehicles = parts[a][1] + parts[b][1]
        own = intake_kg(problem, {**found[a].routes, **found[b].routes})
        received = {f: everyone.get(f, 0.0) - own.get(f, 0.0) + left * (1 - 1 / len(pairs)) for f, left in free.items()}
        sub = subproblem(
            problem, site_ids=sites, vehicle_ids=vehicles, name=f"{problem.name}#{a}+{b}", received=received
        )
        share = settings.time_limit_s * border_share * min(1.0, lanes * len(sites) / work)
        initial = {**found[a].routes, **found[b].routes}
        tasks.append(SearchTask(f"border{a}+{b}|{strategy}", sub, strategy, share, initial))
    involved = {k for pair in pairs for k in pair}
    others = sum(r.cost for k, r in enumerate(found) if k not in involved)
    joined = run_tasks(tasks, settings, progress, began=began, others=others, remote=True)
    for (a, b), task in zip(pairs, tasks):
        merged = joined[task.label]
        before = found[a].cost + found[b].cost, len(found[a].dropped) + len(found[b].dropped)
        if (len(merged.dropped), merged.cost) >= (before[1], before[0]):
            continue
        mine_a = set(parts[a][1])
        found[a] = replace(
            merged,
            routes={v: r for v, r in merged.routes.items() if v in mine_a},
            start_times={v: t for v, t in merged.start_times.items() if v in mine_a},
        )
        found[b] = replace(
            merged,
            routes={v: r for v, r in merged.routes.items() if v not in mine_a},
            start_times={v: t for v, t in merged.start_times.items() if v not in mine_a},
            cost=0.0,
            dropped=[],
            history=[],
        )
        moved_a = {s for r in found[a].routes.values() for s in r}
        moved_b = {s for r in found[b].routes.values() for s in r}
        pool = parts[a][0] + parts[b][0]
        parts[a] = ([s for s in pool if s in moved_a or (s not in moved_b and s in parts[a][0])], parts[a][1])
        parts[b] = ([s for s in pool if s not in set(parts[a][0])], parts[b][1])


def _repack_and_continue(problem, settings, best, strategies, progress, began) -> SearchResult:
    """Re-pack the best plan (a truck fewer, dropped sites fitted), then search on from the result
    with every strategy until the time limit."""
    end = began + settings.time_limit_s
    packed = repack(
        problem, settings, best, strategies=strategies, deadline=end - CONTINUE_SHARE * settings.time_limit_s
    )
    left = end - time.monotonic()
    if left < 1.0:
        return packed
    tasks = [
        SearchTask(f"day|{s}|repacked", problem, s, left, packed.routes) for s in strategies[: max(1, settings.workers)]
    ]
    found = run_tasks(tasks, settings, progress, began=began)
    return pick_best([packed, *(found[task.label] for task in tasks)])


def _pick_up_leftovers(problem, settings, found, parts, zoned, strategy, progress, began, orphans) -> None:
    """Sites the zones dropped, or that fell in a zone without a truck (``orphans``): first idle trucks
    take them, then every truck that could serve them re-plans its route with them inserted (its
    current route as the start). Why the orphans: the small Shenzhen day cut into one-truck zones
    (decompose_above 5, zones of 3) left 7 of 32 sites in truckless zones, never searched (75 % served)."""
    zone_vehicles = [v for z in zoned for k in z for v in parts[k][1]]
    orphans = set(orphans)
    for stage in ("idle", "insert"):
        leftover = sorted({s for r in found for s in r.dropped} | orphans)
        if not leftover:
            return
        busy = {v for r in found for v in r.routes}
        if stage == "idle":
            trucks = [v for v in zone_vehicles if v not in busy]
            initial = None
        else:
            routes = {v: r for res in found for v, r in res.routes.items()}
            trucks = nearest_trucks(problem, zone_vehicles, routes, leftover, cap=settings.zone_target_sites)
            initial = {v: routes[v] for v in trucks if v in routes}
        if not trucks:
            continue
        routed = [s for r in (initial or {}).values() for s in r if s in problem.site_index]
        elsewhere = {v: x for r in found for v, x in r.routes.items() if v not in set(trucks)}
        sub = subproblem(
            problem,
            site_ids=routed + leftover,
            vehicle_ids=trucks,
            name=f"{problem.name}#{stage}",
            received=intake_kg(problem, elsewhere),
        )
        task = SearchTask(f"{stage}|{strategy}", sub, strategy, settings.time_limit_s * REPAIR_SHARE / 2, initial)
        result = run_tasks([task], settings, progress, began=began, others=sum(r.cost for r in found))[task.label]
        if not set(result.dropped) <= set(leftover) or len(result.dropped) >= len(leftover):
            continue  # no better: keep what the zones found
        moved = set(trucks)
        served = {s for r in result.routes.values() for s in r}
        orphans -= served
        for k, r in enumerate(found):
            found[k] = replace(
                r,
                routes={v: x for v, x in r.routes.items() if v not in moved},
                start_times={v: t for v, t in r.start_times.items() if v not in moved},
                dropped=[s for s in r.dropped if s not in served],
            )
        found.append(replace(result, dropped=[]))


def nearest_trucks(
    problem: Problem, trucks: list[str], routes: dict[str, list[str]], leftover: list[str], *, cap: int
) -> list[str]:
    """The trucks that re-plan with the ``leftover`` sites inserted: for each site the capable truck whose route
    passes nearest, then the next nearest while their routes and the leftovers stay within ``cap`` sites.

    Why a cap: every capable truck with its route made a 10,000-stop day's repair one 4,500-node model
    (~71 bytes per node² in OR-Tools, 4.8 GB in one process); a repair as big as a zone costs what a zone does.

    Parameters
    ----------
    problem : Problem
        The day.
    trucks : list of str
        Candidate truck ids.
    routes : dict
        Current visit ids per truck (a truck without a route stands at its depot).
    leftover : list of str
        Sites to insert.
    cap : int
        Sites of the repair at most (routed and leftover), beyond each leftover site's nearest capable truck.

    Returns
    -------
    list of str
        Truck ids, nearest first.
    """
    sites = [problem.sites[problem.site_index[s]] for s in leftover]
    nodes = np.array([s.node for s in sites], dtype=np.int64)
    gap = {}  # per truck: metres from its route to each leftover site (inf where it cannot serve it)
    for v in trucks:
        vehicle = problem.vehicles[problem.vehicle_index[v]]
        route = [problem.sites[problem.site_index[x]].node for x in routes.get(v, ()) if x in problem.site_index]
        near = problem.distance_m[np.ix_(route or [problem.depots[vehicle.depot].node], nodes)].min(axis=0)
        gap[v] = np.where([Problem.serves(vehicle, s) for s in sites], near.astype(float), np.inf)
    capable = [v for v in trucks if np.isfinite(gap[v]).any()]
    if not capable:
        return []
    table = np.array([gap[v] for v in capable])
    chosen: list[str] = []
    for j, i in enumerate(table.argmin(axis=0)):
        if np.isfinite(table[i, j]) and capable[i] not in chosen:
            chosen.append(capable[i])
    size = len(leftover) + sum(_routed(problem, routes, v) for v in chosen)
    for k in np.argsort(table.min(axis=1), kind="stable"):
        v = capable[k]
        if v not in chosen and size + _routed(problem, routes, v) <= cap:
            chosen.append(v)
            size += _routed(problem, routes, v)
    return chosen


def _routed(problem: Problem, routes: dict[str, list[str]], vehicle_id: str) -> int:
    return sum(x in problem.site_index for x in routes.get(vehicle_id, ()))
