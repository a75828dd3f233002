"""Compiled ruin-and-recreate (SISR) over tasks, each route's service directions chosen optimally.

Why this design: Christiaens & Vanden Berghe's SISR (Transportation Science 54(2), 2020) is the
search the node-routing stage already compiles (:mod:`routing.planning.search.sisr`) and shares its
string removal (:func:`routing.planning.search.ruin.cut_strings`); for arc routing two things
change. A task is inserted in whichever direction adds least, and every route a ruin touched has
its directions re-chosen by a shortest path over (position, direction) — a two-state dynamic
programme, exact for a given order — so a route is never charged for a direction chosen when its
neighbours were different. Costs come from a matrix between service arcs
(:func:`routing.arcs.paths.arc_matrix`), so rules on how a vertex is entered and left (U-turns)
never reach this module.

Loads are one unit against one capacity. Without facilities each route is one load and the fleet
is free (the CARP benchmarks); with facilities (the street product: dump sites, water points) a
route is a vehicle's shift, its loads cut by facility visits that :func:`routing.arcs.split.split_refresh`
places exactly, the routes are at most the fleet, and a route whose cost (time) exceeds the shift
is refused where the insertion is tried.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numba import njit

from routing.arcs.paths import UNREACHABLE
from routing.arcs.split import split_refresh, via
from routing.arcs.state import (
    ArcArrays,
    ArcState,
    Ruin,
    empty_state,
    giant_tour,
    new_scratch,
    state_routes,
    task_neighbours,
)
from routing.planning.search.ruin import cooled_share, cut_strings, seed_compiled_rng

INF = UNREACHABLE
BLINK = 0.01  # SISR's blink rate: an insertion position is skipped with this probability
CHUNK = 200  # ruins per compiled call; the deadline and temperature are checked between calls


def _copy(state: ArcState) -> ArcState:
    return ArcState(*(part.copy() for part in state))


def _cost(state: ArcState, penalty: int) -> int:
    return int(state.route_cost.sum()) + penalty * int(state.unassigned_count[0])


def improve(
    arrays: ArcArrays,
    *,
    deadline: float,
    seed: int,
    start_temperature: float,
    ruin: Ruin,
    restarts: int = 1,
    max_iterations: int | None = None,
    routes: int | None = None,
    skip: np.ndarray | None = None,
) -> tuple[list[list[tuple[int, int, int]]], int, int, list[int]]:
    """Build routes by cheapest insertion, then ruin and recreate them until ``deadline``.

    The time (or ``max_iterations``) is shared by ``restarts`` annealing runs, each starting from
    the best routes so far at the start temperature (``start_temperature`` × the first routes'
    cost per task), cooling geometrically to 1/100 of it.

    Parameters
    ----------
    arrays : ArcArrays
        The problem.
    deadline : float
        ``time.monotonic()`` at which to stop.
    seed : int
        The compiled code's random seed: the same seed and work give the same routes.
    start_temperature : float
        Annealing start, in costs per task.
    ruin : Ruin
        Ruin sizes and the penalty of an unrouted task.
    restarts : int
        Annealing runs sharing the budget.
    max_iterations : int, optional
        Ruins at most (all runs together).
    routes : int, optional
        The fleet: routes at most (default: as many as tasks).
    skip : ndarray, optional
        Tasks never tried (no route can serve them); they are not counted as unrouted.

    Returns
    -------
    tuple
        (best routes as (task, direction, facility after) triples, their cost with penalties, ruins
        made, the tasks left unrouted).
    """
    seed_compiled_rng(seed)
    tasks = len(arrays.demand)
    current = empty_state(tasks, routes)
    if skip is not None and len(skip):
        kept = np.setdiff1d(np.arange(tasks), skip)
        current.unassigned[: len(kept)] = kept
        current.unassigned_count[0] = len(kept)
    scratch = new_scratch(tasks, len(current.length))
    if routes is not None:  # a fleet: shifts cut from a nearest-neighbour tour
        todo = current.unassigned[: current.unassigned_count[0]].copy()
        current.unassigned_count[0] = 0
        _fill(giant_tour(arrays.dist, arrays.serve, todo), current, scratch, arrays)
    work, best = _copy(current), _copy(current)
    if routes is None:
        current_cost, best_cost = _search(
            1, 0.0, ruin.penalty * tasks, ruin.penalty * tasks + 1, arrays, ruin, current, work, best, scratch
        )
    else:
        current_cost = best_cost = _cost(current, ruin.penalty)
    t_start = start_temperature * max(1, current_cost) / max(1, tasks)
    made, began, total = 1, time.monotonic(), max_iterations
    for run in range(restarts):
        run_deadline = began + (deadline - began) * (run + 1) / restarts
        run_planned = None if total is None else max(1, (total - 1) * (run + 1) // restarts + 1)
        run_began, run_made = time.monotonic(), made
        if run:
            for target, source in zip(current, best):
                target[:] = source
            for target, source in zip(work, best):
                target[:] = source
            current_cost = best_cost
        while time.monotonic() < run_deadline and (run_planned is None or made < run_planned):
            share = cooled_share(
                began=run_began,
                deadline=run_deadline,
                done=made - run_made,
                planned=None if run_planned is None else run_planned - run_made,
            )
            temperature = t_start * 0.01**share
            count = CHUNK if run_planned is None else min(CHUNK, run_planned - made)
            current_cost, found = _search(
                count, temperature, current_cost, best_cost, arrays, ruin, current, work, best, scratch
            )
            best_cost = min(best_cost, found)
            made += count
    unrouted = [int(t) for t in best.unassigned[: int(best.unassigned_count[0])]]
    return state_routes(best), best_cost, made, unrouted


@njit(cache=True)
def _refresh(v, state, arrays, scratch):
    """Route v's load, directions and cost: the two-state programme, or the split when there are facilities."""
    if arrays.fac_cost.shape[0] > 0 and state.length[v] > 0:
        split_refresh(v, state, arrays, scratch)
    else:
        _refresh_plain(v, state, arrays, scratch.back)


@njit(cache=True)
def _refresh_plain(v, state, arrays, back):
    """Route v's load, and its directions and cost by the exact two-state programme over its order."""
    k = state.length[v]
    nodes, dist, serve = state.nodes, arrays.dist, arrays.serve
    depot = dist.shape[0] - 1
    if k == 0:
        state.load[v] = 0
        state.route_cost[v] = 0
        return
    load = 0
    for i in range(k):
        load += arrays.demand[nodes[v, i]]
    state.load[v] = load
    t = nodes[v, 0]
    c0 = dist[depot, 2 * t] + serve[2 * t] if serve[2 * t] < INF else INF
    c1 = dist[depot, 2 * t + 1] + serve[2 * t + 1] if serve[2 * t + 1] < INF else INF
    for i in range(1, k):
        p = nodes[v, i - 1]
        t = nodes[v, i]
        n0 = INF
        n1 = INF
        for o in range(2):
            arc = 2 * t + o
            if serve[arc] >= INF:
                continue
            from0 = c0 + dist[2 * p, arc] if c0 < INF else INF
            from1 = c1 + dist[2 * p + 1, arc] if c1 < INF else INF
            if from0 <= from1:
                back[i, o] = 0
                value = from0 + serve[arc]
            else:
                back[i, o] = 1
                value = from1 + serve[arc]
            if o == 0:
                n0 = value
            else:
                n1 = value
        c0 = n0
        c1 = n1
    t = nodes[v, k - 1]
    end0 = c0 + dist[2 * t, depot] if c0 < INF else INF
    end1 = c1 + dist[2 * t + 1, depot] if c1 < INF else INF
    o = 0 if end0 <= end1 else 1
    state.route_cost[v] = end0 if o == 0 else end1
    for i in range(k - 1, -1, -1):
        state.orient[nodes[v, i]] = o
        if i > 0:
            o = back[i, o]


@njit(cache=True)
def _insertion(prev, prev_brk, nxt, arc, first, arrays):
    """Cost of serving ``arc`` between ``prev`` and ``nxt`` (minus the gap it replaces), facility visits kept."""
    dist = arrays.dist
    if prev_brk >= 0:  # the route leaves prev for a facility: serve the arc before or after the visit
        base = arrays.to_fac[prev, prev_brk] + arrays.fac_cost[prev_brk] + arrays.from_fac[prev_brk, nxt]
        before = via(prev, arc, arrays)[0] + dist[arc, nxt]
        after = dist[prev, arc] + via(arc, nxt, arrays)[0]
        return min(before, after) + arrays.serve[arc] - base
    if first and arrays.end_at_fac[0]:  # a new route: out, serve, through a facility home
        return dist[prev, arc] + arrays.serve[arc] + via(arc, nxt, arrays)[0]
    return dist[prev, arc] + arrays.serve[arc] + dist[arc, nxt] - dist[prev, nxt]


@njit(cache=True)
def _cheapest_position(t, state, arrays, banned):
    """(route, position, direction) where task t adds least and fits (positions blink); (-1, -1, -1): none.

    Without facilities a route must keep its load within the capacity; with them the split makes any
    load fit, and the estimate of the new cost must stay within the route bound (the shift).
    """
    nodes, length, orient, dist, serve = state.nodes, state.length, state.orient, arrays.dist, arrays.serve
    depot = dist.shape[0] - 1
    demand = arrays.demand[t]
    facilities = arrays.fac_cost.shape[0] > 0
    best = INF
    best_v = -1
    best_p = -1
    best_o = -1
    empty_seen = False
    for v in range(length.shape[0]):
        if banned[v]:
            continue
        k = length[v]
        if k == 0:
            if empty_seen:
                continue
            empty_seen = True
        if not facilities and state.load[v] + demand > arrays.capacity[0]:
            continue
        prev = depot
        prev_brk = -1
        for p in range(k + 1):
            nxt = depot if p == k else 2 * nodes[v, p] + orient[nodes[v, p]]
            if k > 0 and np.random.random() < BLINK:
                prev = nxt
                prev_brk = -1 if p == k or not facilities else state.brk[nodes[v, p]]
                continue
            base = dist[prev, nxt]
            for o in range(2):
                arc = 2 * t + o
                if serve[arc] >= INF:
                    continue
                if facilities:
                    delta = _insertion(prev, prev_brk, nxt, arc, k == 0, arrays)
                else:
                    delta = dist[prev, arc] + serve[arc] + dist[arc, nxt] - base
                if delta < best and state.route_cost[v] + delta <= arrays.max_cost[0]:
                    best = delta
                    best_v = v
                    best_p = p
                    best_o = o
            prev = nxt
            prev_brk = -1 if p == k or not facilities else state.brk[nodes[v, p]]
    return best_v, best_p, best_o


@njit(cache=True)
def _place(t, state, scratch, arrays):
    """Insert task t where it adds least; a route the split finds over its bound is undone and banned (3 tries)."""
    banned = scratch.banned
    placed = False
    tried0 = -1
    tried1 = -1
    for attempt in range(3):
        v, p, o = _cheapest_position(t, state, arrays, banned)
        if v < 0:
            break
        k = state.length[v]
        for i in range(k, p, -1):
            state.nodes[v, i] = state.nodes[v, i - 1]
        state.nodes[v, p] = t
        state.length[v] = k + 1
        state.orient[t] = o
        state.route_of[t] = v
        scratch.touched[v] = True
        _refresh(v, state, arrays, scratch)
        if state.route_cost[v] <= arrays.max_cost[0]:
            placed = True
            break
        for i in range(p, k):
            state.nodes[v, i] = state.nodes[v, i + 1]
        state.length[v] = k
        state.route_of[t] = -1
        _refresh(v, state, arrays, scratch)
        banned[v] = True
        if attempt == 0:
            tried0 = v
        elif attempt == 1:
            tried1 = v
        else:
            banned[v] = False
    if tried0 >= 0:  # the bans hold for this task only
        banned[tried0] = False
    if tried1 >= 0:
        banned[tried1] = False
    return placed


@njit(cache=True)
def _fill(order, state, scratch, arrays):
    """Append ``order`` to route 0 while its shift holds, then to route 1, …; what no route takes is unassigned."""
    v = 0
    for t in order:
        while v < state.length.shape[0]:
            k = state.length[v]
            state.nodes[v, k] = t
            state.length[v] = k + 1
            state.route_of[t] = v
            _refresh(v, state, arrays, scratch)
            if state.route_cost[v] <= arrays.max_cost[0]:
                break
            state.length[v] = k
            state.route_of[t] = -1
            _refresh(v, state, arrays, scratch)
            v += 1
        if v == state.length.shape[0]:
            state.unassigned[state.unassigned_count[0]] = t
            state.unassigned_count[0] += 1


@njit(cache=True)
def _recreate(count, order, state, scratch, arrays):
    """Insert ``order[:count]`` one by one, each where it adds least; the unplaceable stay unassigned."""
    for j in range(count):
        t = order[j]
        if not _place(t, state, scratch, arrays):
            state.unassigned[state.unassigned_count[0]] = t
            state.unassigned_count[0] += 1


@njit(cache=True)
def _sort_removed(count, removed, arrays):
    """SISR's orders for re-inserting: random (4), largest demand (4), farthest (2), closest (1)."""
    for i in range(count - 1, 0, -1):
        j = np.random.randint(i + 1)
        removed[i], removed[j] = removed[j], removed[i]
    pick = np.random.randint(11)
    if pick < 4:
        return
    depot = arrays.dist.shape[0] - 1
    keys = np.empty(count, dtype=np.int64)
    for i in range(count):
        t = removed[i]
        near = min(arrays.dist[depot, 2 * t], arrays.dist[depot, 2 * t + 1])
        if pick < 8:
            keys[i] = -arrays.demand[t]
        elif pick < 10:
            keys[i] = -near
        else:
            keys[i] = near
    order = np.argsort(keys, kind="mergesort")
    removed[:count] = removed[:count][order]


@njit(cache=True)
def _ruin_and_recreate(arrays, ruin, work, scratch):
    """One ruin of ``work`` and its recreation; returns the new cost (penalties included)."""
    touched, removed = scratch.touched, scratch.removed
    routes = work.length.shape[0]
    touched[:] = False
    count = cut_strings(
        work.nodes,
        work.length,
        work.route_of,
        touched,
        removed,
        arrays.removable,
        arrays.tasks,
        arrays.neighbours,
        ruin.average_removed,
        ruin.max_string,
        ruin.route_removal,
        0.0,  # no split strings: the arc search was measured without them
    )
    for v in range(routes):
        if touched[v]:
            _refresh(v, work, arrays, scratch)
    for i in range(work.unassigned_count[0]):
        removed[count + i] = work.unassigned[i]
    count += work.unassigned_count[0]
    work.unassigned_count[0] = 0
    _sort_removed(count, removed, arrays)
    _recreate(count, removed, work, scratch, arrays)
    cost = ruin.penalty * work.unassigned_count[0]
    for v in range(routes):
        cost += work.route_cost[v]
    return cost


@njit(cache=True)
def _copy_route(v, src, dst):
    k = src.length[v]
    dst.nodes[v, :k] = src.nodes[v, :k]
    dst.length[v] = k
    dst.load[v] = src.load[v]
    dst.route_cost[v] = src.route_cost[v]


@njit(cache=True)
def _copy_assignment(src, dst):
    dst.orient[:] = src.orient
    dst.brk[:] = src.brk
    dst.route_of[:] = src.route_of
    dst.unassigned[:] = src.unassigned
    dst.unassigned_count[0] = src.unassigned_count[0]


@njit(cache=True)
def _search(count, temperature, current_cost, best_cost, arrays, ruin, current, work, best, scratch):
    """``count`` ruins from the current state (``work`` mirrors it); returns (current cost, best cost)."""
    routes = current.length.shape[0]
    touched = scratch.touched
    for _ in range(count):
        new_cost = _ruin_and_recreate(arrays, ruin, work, scratch)
        accept = new_cost < current_cost
        if not accept and temperature > 0:
            accept = new_cost < current_cost - temperature * math.log(np.random.random())
        for v in range(routes):
            if touched[v]:
                if accept:
                    _copy_route(v, work, current)
                else:
                    _copy_route(v, current, work)
        if accept:
            _copy_assignment(work, current)
            current_cost = new_cost
            if new_cost < best_cost:
                best_cost = new_cost
                for v in range(routes):
                    _copy_route(v, current, best)
                _copy_assignment(current, best)
        else:
            _copy_assignment(current, work)
    return current_cost, best_cost


def compile_now() -> None:
    """Compile (and cache on disk) the loop by running it on a three-task triangle.

    numba compiles on first use (~10 s on the reference machine), time a 30-second benchmark run
    cannot spare, so ``make install`` runs this once (``python -m routing.arcs.search``) and later
    processes load the cached machine code.
    """
    dist = np.array(
        [[0, 5, 0, 5, 5, 0, 0], [5, 0, 5, 0, 0, 5, 5], [0, 5, 0, 5, 5, 0, 0], [5, 0, 5, 0, 0, 5, 5]]
        + [[5, 0, 5, 0, 0, 5, 5], [0, 5, 0, 5, 5, 0, 0], [0, 5, 0, 5, 5, 0, 0]],
        dtype=np.int64,
    )
    arrays = ArcArrays(
        dist=dist,
        serve=np.full(6, 5, dtype=np.int64),
        demand=np.ones(3, dtype=np.int64),
        capacity=np.array([2], dtype=np.int64),
        neighbours=task_neighbours(dist, keep=3),
        tasks=np.arange(3, dtype=np.int64),
        removable=np.ones(3, dtype=np.bool_),
        to_fac=np.zeros((7, 0), dtype=np.int64),
        from_fac=np.zeros((0, 7), dtype=np.int64),
        fac_cost=np.zeros(0, dtype=np.int64),
        max_cost=np.array([INF], dtype=np.int64),
        end_at_fac=np.zeros(1, dtype=np.int64),
    )
    ruin = Ruin(penalty=10_000, average_removed=2, max_string=2, route_removal=0.1)
    improve(arrays, deadline=time.monotonic() + 60, seed=1, start_temperature=1.0, ruin=ruin, max_iterations=CHUNK)
    yard = arrays._replace(  # a fleet of two with a facility at vertex 0: the giant tour, the fill and the split
        to_fac=dist[:, :1].copy(), from_fac=dist[:1, :].copy(), fac_cost=np.array([1], dtype=np.int64)
    )
    improve(
        yard, deadline=time.monotonic() + 60, seed=1, start_temperature=1.0, ruin=ruin, max_iterations=CHUNK, routes=2
    )


if __name__ == "__main__":
    # run through the importable module, not this ``__main__`` copy: the cached machine code is keyed by
    # the bundles' classes, which must be ``routing.arcs.search``'s for later processes to load it
    from routing.arcs import search

    began = time.monotonic()
    search.compile_now()
    print(f"routing.arcs.search compiled and cached in {time.monotonic() - began:.1f} s")
