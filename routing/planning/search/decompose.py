"""Cutting a day into pieces the solver handles well, and running searches on both cores.

Independent pieces come first: trucks and sites linked by compatibility (stream, access)
form separate problems that share nothing but the roads (kitchen-waste trucks never meet
recyclable sites), so they are solved side by side. A piece above
``SolveParams.decompose_above`` sites is cut into zones (网格): sites are clustered by
position into groups of about ``zone_target_sites`` and every zone gets trucks in proportion
to the demand it can serve there (see :mod:`routing.planning.search.zones`); zones are solved in parallel, then
neighbouring zones are re-solved together from their routes (improving across the border),
and sites a zone could not fit are offered to idle trucks, then to every truck able to serve
them (re-planned from its current route). A single small piece is searched twice in parallel
with different first-solution strategies and the better plan is kept (ties: first strategy);
on a tightly packed day (:func:`routing.planning.search.repack.is_tight`) that takes half the time, and the
rest goes to re-packing the plan onto fewer trucks (:mod:`routing.planning.search.repack`) and searching on.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import queue
import time
import traceback
from dataclasses import replace

import numpy as np

from routing.planning.problem import Problem
from routing.planning.search.repack import is_tight, repack
from routing.planning.search.solver import (
    Progress,
    ProgressCallback,
    SearchResult,
    SolveParams,
    default_strategies,
    search,
    unservable_sites,
)

BORDER_SHARE = 0.12  # of the time limit, for each of the two rounds of cross-border improvement
REPAIR_SHARE = 0.1  # of the time limit, for idle trucks to pick up what zones left over
REPACK_SHARE = 0.5  # of the time limit, on a tightly packed day: re-packing, then searches from its plan
CONTINUE_SHARE = 0.1  # of the time limit, at least: the searches from the re-packed plan


def subproblem(problem: Problem, *, site_ids: list[str], vehicle_ids: list[str], name: str) -> Problem:
    """The same day restricted to some sites and trucks (matrices sliced, facilities they may use)."""
    sites = [problem.sites[problem.site_index[s]] for s in site_ids]
    vehicles = [problem.vehicles[problem.vehicle_index[v]] for v in vehicle_ids]
    depot_old = sorted({v.depot for v in vehicles})
    facilities = [f for f in problem.facilities if any(Problem.unloads_at(v, f) for v in vehicles)]
    nodes = [problem.depots[d].node for d in depot_old] + [f.node for f in facilities] + [s.node for s in sites]
    nodes = list(dict.fromkeys(nodes))
    new = {old: i for i, old in enumerate(nodes)}
    depot_new = {old: i for i, old in enumerate(depot_old)}
    index = np.array(nodes)
    return Problem(
        name=name,
        ids=[problem.ids[i] for i in nodes],
        lon=problem.lon[index],
        lat=problem.lat[index],
        duration_s=problem.duration_s[np.ix_(index, index)],
        distance_m=problem.distance_m[np.ix_(index, index)],
        depots=[replace(problem.depots[d], node=new[problem.depots[d].node]) for d in depot_old],
        facilities=[replace(f, node=new[f.node]) for f in facilities],
        sites=[replace(s, node=new[s.node]) for s in sites],
        vehicles=[replace(v, depot=depot_new[v.depot]) for v in vehicles],
        break_rule=problem.break_rule,
        day_start=problem.day_start,
    )


def independent_pieces(problem: Problem, site_ids: set[str]) -> list[tuple[list[str], list[str]]]:
    """Groups of (site ids, vehicle ids) that no truck or site links to another group."""
    parent = list(range(len(problem.vehicles)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    site_owner: dict[str, int] = {}
    for site in problem.sites:
        if site.id not in site_ids:
            continue
        trucks = [vi for vi, v in enumerate(problem.vehicles) if Problem.serves(v, site)]
        for other in trucks[1:]:
            parent[find(other)] = find(trucks[0])
        site_owner[site.id] = trucks[0]
    # facilities with a binding daily capacity couple the trucks that unload there
    for f in problem.facilities:
        if f.capacity_kg is not None:
            users = [vi for vi, v in enumerate(problem.vehicles) if Problem.unloads_at(v, f)]
            for other in users[1:]:
                parent[find(other)] = find(users[0])
    groups: dict[int, tuple[list[str], list[str]]] = {}
    for vi, v in enumerate(problem.vehicles):
        groups.setdefault(find(vi), ([], []))[1].append(v.id)
    for site in problem.sites:
        if site.id in site_owner:
            groups[find(site_owner[site.id])][0].append(site.id)
    return [g for g in groups.values() if g[0]]


def _worker(
    problem: Problem, settings: SolveParams, strategy: str, time_limit_s: float, label: str, initial, out
) -> None:
    def report(elapsed: float, cost: float) -> None:
        out.put(("progress", label, elapsed, cost))

    try:
        result = search(problem, settings, strategy=strategy, time_limit_s=time_limit_s, report=report, initial=initial)
    except BaseException:  # noqa: BLE001 - carried to the parent, which re-raises it
        out.put(("error", label, traceback.format_exc()))
        return
    out.put(("done", label, result))


Task = tuple  # (problem, strategy, time limit s, label, initial routes or None)


def run_tasks(
    tasks: list[Task],
    settings: SolveParams,
    progress: ProgressCallback | None,
    *,
    began: float | None = None,
    others: float = 0.0,
) -> dict[str, SearchResult]:
    """Run (problem, strategy, time limit, label, initial) searches, ``settings.workers`` at a time.

    Progress reports the best total: per piece the best of its searches, plus ``others``
    (the cost of pieces not searched in this call), timed from ``began``.
    """
    began = time.monotonic() if began is None else began
    best: dict[str, float] = {}

    def tell(label: str, cost: float) -> None:
        best[label] = min(cost, best.get(label, math.inf))
        if progress is not None:
            progress(Progress(elapsed_s=time.monotonic() - began, best_cost=others + _combined(best), worker=label))

    if settings.workers <= 1 or len(tasks) == 1:
        results = {}
        for prob, strategy, limit, label, initial in tasks:
            results[label] = search(
                prob,
                settings,
                strategy=strategy,
                time_limit_s=limit,
                report=lambda e, c, label=label: tell(label, c),
                initial=initial,
            )
        return results
    # fork: workers inherit the problem without re-importing the caller's main module
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    out = ctx.Queue()
    pending = list(tasks)
    running: dict[str, mp.Process] = {}
    results: dict[str, SearchResult] = {}
    while pending or running:
        while pending and len(running) < settings.workers:
            prob, strategy, limit, label, initial = pending.pop(0)
            proc = ctx.Process(target=_worker, args=(prob, settings, strategy, limit, label, initial, out), daemon=True)
            proc.start()
            running[label] = proc
        try:
            message = out.get(timeout=0.5)
        except queue.Empty:
            for label, proc in list(running.items()):
                if not proc.is_alive() and label not in results:
                    proc.join()
                    del running[label]
                    raise RuntimeError(f"search worker {label} exited with code {proc.exitcode}")
            continue
        if message[0] == "progress":
            tell(message[1], message[3])
        elif message[0] == "error":
            for proc in running.values():
                proc.kill()
            raise RuntimeError(f"search {message[1]} failed:\n{message[2]}")
        else:
            results[message[1]] = message[2]
            running.pop(message[1]).join()
    return results


def _combined(best: dict[str, float]) -> float:
    """Best total so far: per piece the best of its strategies, summed over pieces."""
    per_piece: dict[str, float] = {}
    for label, cost in best.items():
        piece = label.split("|")[0]
        per_piece[piece] = min(cost, per_piece.get(piece, math.inf))
    return sum(per_piece.values())


def pick_best(results: list[SearchResult]) -> SearchResult:
    """Fewest dropped, then cheapest; on a tie the first in the given order."""
    return min(results, key=lambda r: (len(r.dropped), r.cost))


def run_searches(
    problem: Problem, settings: SolveParams, *, progress: ProgressCallback | None = None
) -> list[SearchResult]:
    """Solve every piece of the day; one result per piece (or zone)."""
    excluded = unservable_sites(problem)
    site_ids = {s.id for s in problem.sites if s.id not in excluded}
    strategies = settings.strategies or default_strategies(problem)
    pieces = independent_pieces(problem, site_ids)
    if len(pieces) == 1 and len(pieces[0][0]) == len(site_ids) and len(site_ids) <= settings.decompose_above:
        began = time.monotonic()
        tight = is_tight(problem, site_ids=sorted(site_ids))
        share = 1.0 - REPACK_SHARE if tight else 1.0
        tasks = [
            (problem, s, settings.time_limit_s * share, f"day|{s}", None)
            for s in strategies[: max(1, settings.workers)]
        ]
        found = run_tasks(tasks, settings, progress, began=began)
        best = pick_best([found[task[3]] for task in tasks])  # strategy order, not finishing order: ties stay stable
        if tight:
            best = _repack_and_continue(problem, settings, best, strategies, progress, began)
        return [best]
    from routing.planning.search.zones import split_into_zones

    parts: list[tuple[list[str], list[str]]] = []
    zoned: list[list[int]] = []  # per cut piece, its zones' positions in ``parts`` (neighbours adjacent)
    for sites, vehicles in pieces:
        if len(sites) > settings.decompose_above:
            zones = split_into_zones(
                problem, site_ids=sites, vehicle_ids=vehicles, target_sites=settings.zone_target_sites
            )
            zoned.append(list(range(len(parts), len(parts) + len(zones))))
            parts.extend(zones)
        else:
            parts.append((sites, vehicles))
    lanes = max(1, settings.workers)
    border_share = BORDER_SHARE if zoned else 0.0
    budget = settings.time_limit_s * (1.0 - 2 * border_share - (REPAIR_SHARE if zoned else 0.0))
    total = sum(len(s) for s, _ in parts)
    tasks = []
    strategy = strategies[0]
    for k, (sites, vehicles) in enumerate(parts):
        share = budget * min(1.0, lanes * len(sites) / total)
        sub = subproblem(problem, site_ids=sites, vehicle_ids=vehicles, name=f"{problem.name}#{k}")
        tasks.append((sub, strategy, share, f"piece{k}|{strategy}", None))
    began = time.monotonic()
    results = run_tasks(tasks, settings, progress, began=began)
    found = [results[t[3]] for t in tasks]
    for offset in (0, 1):  # neighbouring zones re-solved together: pairs (0,1),(2,3)… then (1,2),(3,4)…
        pairs = [(z[i], z[i + 1]) for z in zoned for i in range(offset, len(z) - 1, 2)]
        if not pairs:
            continue
        work = sum(len(parts[a][0]) + len(parts[b][0]) for a, b in pairs)
        tasks = []
        for a, b in pairs:
            sites = parts[a][0] + parts[b][0]
            vehicles = parts[a][1] + parts[b][1]
            sub = subproblem(problem, site_ids=sites, vehicle_ids=vehicles, name=f"{problem.name}#{a}+{b}")
            share = settings.time_limit_s * border_share * min(1.0, lanes * len(sites) / work)
            tasks.append((sub, strategy, share, f"border{a}+{b}|{strategy}", {**found[a].routes, **found[b].routes}))
        involved = {k for pair in pairs for k in pair}
        others = sum(r.cost for k, r in enumerate(found) if k not in involved)
        joined = run_tasks(tasks, settings, progress, began=began, others=others)
        for (a, b), task in zip(pairs, tasks):
            merged = joined[task[3]]
            before = found[a].cost + found[b].cost, len(found[a].dropped) + len(found[b].dropped)
            if (len(merged.dropped), merged.cost) < (before[1], before[0]):
                mine_a = set(parts[a][1])
                found[a] = SearchResult(
                    {v: r for v, r in merged.routes.items() if v in mine_a},
                    {v: t for v, t in merged.start_times.items() if v in mine_a},
                    merged.cost,
                    merged.dropped,
                    merged.history,
                    merged.strategy,
                    merged.status,
                )
                found[b] = SearchResult(
                    {v: r for v, r in merged.routes.items() if v not in mine_a},
                    {v: t for v, t in merged.start_times.items() if v not in mine_a},
                    0.0,
                    [],
                    [],
                    merged.strategy,
                    merged.status,
                )
                # sites moved across the border now belong to the zone of the truck serving them
                moved_a = {s for r in found[a].routes.values() for s in r}
                moved_b = {s for r in found[b].routes.values() for s in r}
                pool = parts[a][0] + parts[b][0]
                parts[a] = ([s for s in pool if s in moved_a or (s not in moved_b and s in parts[a][0])], parts[a][1])
                parts[b] = ([s for s in pool if s not in set(parts[a][0])], parts[b][1])
    if zoned:
        _pick_up_leftovers(problem, settings, found, parts, zoned, strategy, progress, began)
    return found


def _repack_and_continue(problem, settings, best, strategies, progress, began) -> SearchResult:
    """Re-pack the best plan (routing.planning.search.repack: a truck fewer, dropped sites fitted), then search
    on from the result with every strategy until the time limit."""
    end = began + settings.time_limit_s
    packed = repack(
        problem, settings, best, strategies=strategies, deadline=end - CONTINUE_SHARE * settings.time_limit_s
    )
    left = end - time.monotonic()
    if left < 1.0:
        return packed
    tasks = [(problem, s, left, f"day|{s}|repacked", packed.routes) for s in strategies[: max(1, settings.workers)]]
    found = run_tasks(tasks, settings, progress, began=began)
    return pick_best([packed, *(found[task[3]] for task in tasks)])


def _pick_up_leftovers(problem, settings, found, parts, zoned, strategy, progress, began) -> None:
    """Sites the zones dropped: first idle trucks take them, then every truck that could
    serve them re-plans its route with them inserted (its current route as the start)."""
    zone_vehicles = [v for z in zoned for k in z for v in parts[k][1]]
    for stage in ("idle", "insert"):
        leftover = sorted({s for r in found for s in r.dropped})
        if not leftover:
            return
        busy = {v for r in found for v in r.routes}
        if stage == "idle":
            trucks = [v for v in zone_vehicles if v not in busy]
            initial = None
        else:
            specs = [problem.sites[problem.site_index[s]] for s in leftover]
            trucks = [
                v
                for v in zone_vehicles
                if any(Problem.serves(problem.vehicles[problem.vehicle_index[v]], s) for s in specs)
            ]
            initial = {v: r for res in found for v, r in res.routes.items() if v in set(trucks)}
        if not trucks:
            continue
        routed = [s for r in (initial or {}).values() for s in r if s in problem.site_index]
        sub = subproblem(problem, site_ids=routed + leftover, vehicle_ids=trucks, name=f"{problem.name}#{stage}")
        label = f"{stage}|{strategy}"
        others = sum(r.cost for r in found)
        result = run_tasks(
            [(sub, strategy, settings.time_limit_s * REPAIR_SHARE / 2, label, initial)],
            settings,
            progress,
            began=began,
            others=others,
        )[label]
        if not set(result.dropped) <= set(leftover) or len(result.dropped) >= len(leftover):
            continue  # no better: keep what the zones found
        moved = set(trucks)
        served = {s for r in result.routes.values() for s in r}
        for k, r in enumerate(found):
            found[k] = SearchResult(
                {v: x for v, x in r.routes.items() if v not in moved},
                {v: t for v, t in r.start_times.items() if v not in moved},
                r.cost,
                [s for s in r.dropped if s not in served],
                r.history,
                r.strategy,
                r.status,
            )
        found.append(
            SearchResult(
                result.routes, result.start_times, result.cost, [], result.history, result.strategy, result.status
            )
        )
