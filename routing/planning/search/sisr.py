"""Compiled ruin-and-recreate (SISR) for days whose only constraints are windows, loads and stops.

Why: an OR-Tools greedy descent costs ~100 ms on a 100-site windowed day, so the
OR-Tools-backed loop of :mod:`routing.planning.search.ruin` makes ~100 ruins per core in 10 s where
Christiaens & Vanden Berghe's SISR (Transportation Science 54(2), 2020) makes tens of
thousands. Here the whole loop — string removal, cheapest insertion with blinks, annealing —
runs as numba-compiled code over plain arrays (~20 µs per ruin on Solomon's R1), and the
solver hands the best routes back to OR-Tools for a closing descent, which also re-checks
them against the full model.

What it models (and so when the solver may use it, see ``RoutingModel.route_arrays``): one
service-start window per site, per-truck shifts, loads in one or more units against per-truck
capacities, stops per truck, which trucks may serve a site, arc costs per truck class and a
fixed cost per used truck, a penalty per unserved site. No unloads, breaks, shift-length
limits or time costs: days with those keep the OR-Tools loop.

Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service time at ``a`` plus
the drive to ``b``, and a truck may wait.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numba import njit

from routing.planning.search.ruin import RuinParams, cut_strings, seed_compiled_rng

INF = np.iinfo(np.int64).max // 4
BLINK = 0.01  # SISR's blink rate: a position is skipped with this probability
CHUNK = 200  # ruins per compiled call; the deadline and temperature are checked between calls


@dataclass(frozen=True)
class RouteArrays:
    """A routing model's numbers as arrays over its nodes (depots, sites) and trucks."""

    travel: np.ndarray  # int64 [n, n]: service at a + drive a→b
    cost: np.ndarray  # int64 [classes, n, n]: arc cost per truck cost class
    vehicle_class: np.ndarray  # int64 [V]
    fixed: np.ndarray  # int64 [V]: cost of using the truck at all
    open: np.ndarray  # int64 [n]: earliest service start
    close: np.ndarray  # int64 [n]: latest service start
    demand: np.ndarray  # int64 [n, units]
    capacity: np.ndarray  # int64 [V, units]
    max_stops: np.ndarray  # int64 [V]
    allowed: np.ndarray  # bool [n, V]: truck may serve node
    depot: np.ndarray  # int64 [V]: start and end node
    shift_start: np.ndarray  # int64 [V]
    shift_end: np.ndarray  # int64 [V]
    neighbours: np.ndarray  # int64 [n, K]: per site its nearest sites, itself first; -1 rows: not a site
    penalty: int  # per unserved site

    @cached_property
    def is_site(self) -> np.ndarray:
        return self.neighbours[:, 0] >= 0

    @cached_property
    def sites(self) -> np.ndarray:
        """The nodes to serve."""
        return np.flatnonzero(self.is_site)


class RouteState:
    """Routes as arrays (nodes per truck, schedules, loads, costs) that the compiled loop edits."""

    def __init__(self, arrays: RouteArrays, routes: list[list[int]]) -> None:
        n = arrays.travel.shape[0]
        vehicles = arrays.depot.shape[0]
        width = len(arrays.sites) + 2
        self.nodes = np.zeros((vehicles, width), dtype=np.int64)
        self.length = np.zeros(vehicles, dtype=np.int64)
        self.load = np.zeros((vehicles, arrays.demand.shape[1]), dtype=np.int64)
        self.earliest = np.zeros((vehicles, width + 2), dtype=np.int64)
        self.latest = np.zeros((vehicles, width + 2), dtype=np.int64)
        self.route_cost = np.zeros(vehicles, dtype=np.int64)
        self.route_of = np.full(n, -1, dtype=np.int64)
        self.unassigned = np.zeros(len(arrays.sites), dtype=np.int64)
        self.unassigned_count = np.zeros(1, dtype=np.int64)
        for v, route in enumerate(routes):
            self.nodes[v, : len(route)] = route
            self.length[v] = len(route)
            self.route_of[route] = v
        missing = [int(s) for s in arrays.sites if self.route_of[s] < 0]
        self.unassigned[: len(missing)] = missing
        self.unassigned_count[0] = len(missing)
        for v in range(vehicles):
            _refresh(v, *self.parts()[:6], *_model(arrays))

    def parts(self) -> tuple:
        return (self.nodes, self.length, self.load, self.earliest, self.latest, self.route_cost, self.route_of)

    def copy(self) -> RouteState:
        out = object.__new__(RouteState)
        for name, value in vars(self).items():
            setattr(out, name, value.copy())
        return out

    def routes(self) -> list[list[int]]:
        return [self.nodes[v, : self.length[v]].tolist() for v in range(len(self.length))]

    def cost(self, penalty: int) -> int:
        return int(self.route_cost.sum()) + penalty * int(self.unassigned_count[0])


def _model(a: RouteArrays) -> tuple:
    return (
        a.travel,
        a.cost,
        a.vehicle_class,
        a.fixed,
        a.open,
        a.close,
        a.demand,
        a.capacity,
        a.depot,
        a.shift_start,
        a.shift_end,
    )


def improve(
    arrays: RouteArrays,
    routes: list[list[int]],
    *,
    deadline: float,
    settings: RuinParams,
    seed: int,
    max_iterations: int | None = None,
) -> tuple[list[list[int]], int, int]:
    """SISR from ``routes`` (nodes per truck) until ``deadline``: (best routes, their cost, ruins made).

    The temperature starts at ``settings.compiled_start_temperature`` × the routes' cost per site and cools
    geometrically to 1/100 of that by the deadline (SISR's T0 = 100 → Tf = 1).
    """
    seed_compiled_rng(seed)
    current = RouteState(arrays, routes)
    best = current.copy()
    best_cost = current_cost = current.cost(arrays.penalty)
    work = current.copy()
    sites = max(1, len(arrays.sites))
    t_start = settings.compiled_start_temperature * max(1, int(current.route_cost.sum())) / sites
    t_end = t_start / 100.0
    began = time.monotonic()
    span = max(1e-9, deadline - began)
    made = 0
    touched = np.zeros(len(arrays.depot), dtype=np.bool_)
    removed = np.zeros(len(arrays.sites), dtype=np.int64)
    while True:
        now = time.monotonic()
        if now >= deadline or (max_iterations is not None and made >= max_iterations):
            break
        fraction = min(1.0, (now - began) / span)
        temperature = t_start * (t_end / t_start) ** fraction
        count = CHUNK if max_iterations is None else min(CHUNK, max_iterations - made)
        current_cost, found = _search(
            count,
            temperature,
            current_cost,
            best_cost,
            *current.parts(),
            current.unassigned,
            current.unassigned_count,
            *work.parts(),
            work.unassigned,
            work.unassigned_count,
            *best.parts(),
            best.unassigned,
            best.unassigned_count,
            touched,
            removed,
            *_model(arrays),
            arrays.max_stops,
            arrays.allowed,
            arrays.sites,
            arrays.is_site,
            arrays.neighbours,
            arrays.penalty,
            settings.average_removed,
            settings.max_string,
            settings.route_removal,
        )
        best_cost = min(best_cost, found)
        made += count
    return best.routes(), best_cost, made


@njit(cache=True)
def _node_at(v, p, nodes, length, depot):
    """Node at position p of truck v's route, depot at both ends (p = 0 and p = length + 1)."""
    if p == 0 or p == length[v] + 1:
        return depot[v]
    return nodes[v, p - 1]


@njit(cache=True)
def _refresh(
    v,
    nodes,
    length,
    load,
    earliest,
    latest,
    route_cost,
    travel,
    cost,
    vehicle_class,
    fixed,
    open_,
    close,
    demand,
    capacity,
    depot,
    shift_start,
    shift_end,
):
    """Recompute truck v's schedule (earliest and latest service starts), load and cost."""
    k = length[v]
    c = vehicle_class[v]
    load[v, :] = 0
    t = shift_start[v]
    earliest[v, 0] = t
    total = 0
    prev = depot[v]
    for p in range(1, k + 2):
        node = _node_at(v, p, nodes, length, depot)
        t = t + travel[prev, node]
        if p <= k:
            if t < open_[node]:
                t = open_[node]
            load[v, :] += demand[node, :]
        earliest[v, p] = t
        total += cost[c, prev, node]
        prev = node
    route_cost[v] = total + fixed[v] if k > 0 else 0
    t = shift_end[v]
    latest[v, k + 1] = t
    nxt = depot[v]
    for p in range(k, -1, -1):
        node = _node_at(v, p, nodes, length, depot)
        t = t - travel[node, nxt]
        if p >= 1 and close[node] < t:
            t = close[node]
        latest[v, p] = t
        nxt = node


@njit(cache=True)
def _copy_route(
    v,
    src_nodes,
    src_length,
    src_load,
    src_earliest,
    src_latest,
    src_cost,
    dst_nodes,
    dst_length,
    dst_load,
    dst_earliest,
    dst_latest,
    dst_cost,
):
    k = src_length[v]
    dst_nodes[v, :k] = src_nodes[v, :k]
    dst_length[v] = k
    dst_load[v, :] = src_load[v, :]
    dst_earliest[v, : k + 2] = src_earliest[v, : k + 2]
    dst_latest[v, : k + 2] = src_latest[v, : k + 2]
    dst_cost[v] = src_cost[v]


@njit(cache=True)
def _recreate(
    order_count,
    order,
    nodes,
    length,
    load,
    earliest,
    latest,
    route_cost,
    route_of,
    unassigned,
    unassigned_count,
    touched,
    travel,
    cost,
    vehicle_class,
    fixed,
    open_,
    close,
    demand,
    capacity,
    depot,
    shift_start,
    shift_end,
    max_stops,
    allowed,
):
    """Insert ``order[:order_count]`` one by one, each where it adds least (skipping positions at the blink rate)."""
    vehicles = length.shape[0]
    units = demand.shape[1]
    for j in range(order_count):
        site = order[j]
        best_delta = INF
        best_v = -1
        best_p = -1
        for v in range(vehicles):
            if not allowed[site, v] or length[v] + 1 > max_stops[v]:
                continue
            fits = True
            for u in range(units):
                if load[v, u] + demand[site, u] > capacity[v, u]:
                    fits = False
                    break
            if not fits:
                continue
            c = vehicle_class[v]
            k = length[v]
            extra = fixed[v] if k == 0 else 0
            prev = depot[v]
            for p in range(k + 1):
                nxt = depot[v] if p == k else nodes[v, p]
                if np.random.random() < BLINK:
                    prev = nxt
                    continue
                delta = cost[c, prev, site] + cost[c, site, nxt] - cost[c, prev, nxt] + extra
                if delta < best_delta:
                    arrive = earliest[v, p] + travel[prev, site]
                    if arrive < open_[site]:
                        arrive = open_[site]
                    if arrive <= close[site] and arrive + travel[site, nxt] <= latest[v, p + 1]:
                        best_delta = delta
                        best_v = v
                        best_p = p
                prev = nxt
        if best_v < 0:
            unassigned[unassigned_count[0]] = site
            unassigned_count[0] += 1
            continue
        v = best_v
        k = length[v]
        for i in range(k, best_p, -1):
            nodes[v, i] = nodes[v, i - 1]
        nodes[v, best_p] = site
        length[v] = k + 1
        route_of[site] = v
        touched[v] = True
        _refresh(
            v,
            nodes,
            length,
            load,
            earliest,
            latest,
            route_cost,
            travel,
            cost,
            vehicle_class,
            fixed,
            open_,
            close,
            demand,
            capacity,
            depot,
            shift_start,
            shift_end,
        )


@njit(cache=True)
def _sort_removed(count, removed, demand, travel, depot0):
    """SISR's orders for re-inserting: random (4), largest demand (4), farthest (2), closest (1)."""
    for i in range(count - 1, 0, -1):  # shuffle first: ties in the sorts below stay random
        j = np.random.randint(i + 1)
        removed[i], removed[j] = removed[j], removed[i]
    pick = np.random.randint(11)
    if pick < 4:
        return
    keys = np.empty(count, dtype=np.int64)
    for i in range(count):
        site = removed[i]
        if pick < 8:
            keys[i] = -demand[site, 0]
        elif pick < 10:
            keys[i] = -travel[depot0, site]
        else:
            keys[i] = travel[depot0, site]
    order = np.argsort(keys, kind="mergesort")
    removed[:count] = removed[:count][order]


@njit(cache=True)
def _search(
    count,
    temperature,
    current_cost,
    best_cost,
    c_nodes,
    c_length,
    c_load,
    c_earliest,
    c_latest,
    c_cost,
    c_route_of,
    c_unassigned,
    c_unassigned_count,
    w_nodes,
    w_length,
    w_load,
    w_earliest,
    w_latest,
    w_cost,
    w_route_of,
    w_unassigned,
    w_unassigned_count,
    b_nodes,
    b_length,
    b_load,
    b_earliest,
    b_latest,
    b_cost,
    b_route_of,
    b_unassigned,
    b_unassigned_count,
    touched,
    removed,
    travel,
    cost,
    vehicle_class,
    fixed,
    open_,
    close,
    demand,
    capacity,
    depot,
    shift_start,
    shift_end,
    max_stops,
    allowed,
    sites,
    is_site,
    neighbours,
    penalty,
    average_removed,
    max_string,
    route_removal,
):
    """``count`` ruins from the current state (work is a scratch copy of it); returns (current cost, best cost)."""
    vehicles = c_length.shape[0]
    for _ in range(count):
        touched[:] = False
        n_removed = cut_strings(
            w_nodes,
            w_length,
            w_route_of,
            touched,
            removed,
            is_site,
            sites,
            neighbours,
            average_removed,
            max_string,
            route_removal,
        )
        for v in range(vehicles):
            if touched[v]:
                _refresh(
                    v,
                    w_nodes,
                    w_length,
                    w_load,
                    w_earliest,
                    w_latest,
                    w_cost,
                    travel,
                    cost,
                    vehicle_class,
                    fixed,
                    open_,
                    close,
                    demand,
                    capacity,
                    depot,
                    shift_start,
                    shift_end,
                )
        # the previously unserved get another chance with the removed ones
        waiting = w_unassigned_count[0]
        for i in range(waiting):
            removed[n_removed + i] = w_unassigned[i]
        n_removed += waiting
        w_unassigned_count[0] = 0
        _sort_removed(n_removed, removed, demand, travel, depot[0])
        _recreate(
            n_removed,
            removed,
            w_nodes,
            w_length,
            w_load,
            w_earliest,
            w_latest,
            w_cost,
            w_route_of,
            w_unassigned,
            w_unassigned_count,
            touched,
            travel,
            cost,
            vehicle_class,
            fixed,
            open_,
            close,
            demand,
            capacity,
            depot,
            shift_start,
            shift_end,
            max_stops,
            allowed,
        )
        new_cost = penalty * w_unassigned_count[0]
        for v in range(vehicles):
            new_cost += w_cost[v]
        accept = new_cost < current_cost
        if not accept and temperature > 0:
            accept = new_cost < current_cost - temperature * math.log(np.random.random())
        src_is_work = accept
        for v in range(vehicles):
            if touched[v]:
                if src_is_work:
                    _copy_route(
                        v,
                        w_nodes,
                        w_length,
                        w_load,
                        w_earliest,
                        w_latest,
                        w_cost,
                        c_nodes,
                        c_length,
                        c_load,
                        c_earliest,
                        c_latest,
                        c_cost,
                    )
                else:
                    _copy_route(
                        v,
                        c_nodes,
                        c_length,
                        c_load,
                        c_earliest,
                        c_latest,
                        c_cost,
                        w_nodes,
                        w_length,
                        w_load,
                        w_earliest,
                        w_latest,
                        w_cost,
                    )
        if src_is_work:
            c_route_of[:] = w_route_of
            c_unassigned[:] = w_unassigned
            c_unassigned_count[0] = w_unassigned_count[0]
            current_cost = new_cost
            if new_cost < best_cost:
                best_cost = new_cost
                for v in range(vehicles):
                    _copy_route(
                        v,
                        c_nodes,
                        c_length,
                        c_load,
                        c_earliest,
                        c_latest,
                        c_cost,
                        b_nodes,
                        b_length,
                        b_load,
                        b_earliest,
                        b_latest,
                        b_cost,
                    )
                b_route_of[:] = c_route_of
                b_unassigned[:] = c_unassigned
                b_unassigned_count[0] = c_unassigned_count[0]
        else:
            w_route_of[:] = c_route_of
            w_unassigned[:] = c_unassigned
            w_unassigned_count[0] = c_unassigned_count[0]
    return current_cost, best_cost


def compile_now() -> None:
    """Compile (and cache on disk) the loop by running it on a three-site day.

    numba compiles on first use, which takes ~15 s on the reference machine — time a
    10-second search cannot spare — so ``make install`` runs this once
    (``python -m routing.planning.search.sisr``); later processes load the cached machine code.
    """
    from routing.planning.search.ruin import StringRemoval

    n, vehicles = 4, 2
    travel = np.array([[0, 10, 20, 30], [10, 0, 10, 20], [20, 10, 0, 10], [30, 20, 10, 0]], dtype=np.int64)
    neighbours = np.array([[-1, -1, -1], [1, 2, 3], [2, 1, 3], [3, 2, 1]], dtype=np.int64)
    arrays = RouteArrays(
        travel=travel,
        cost=travel[None, :, :].copy(),
        vehicle_class=np.zeros(vehicles, dtype=np.int64),
        fixed=np.zeros(vehicles, dtype=np.int64),
        open=np.zeros(n, dtype=np.int64),
        close=np.full(n, 1000, dtype=np.int64),
        demand=np.ones((n, 1), dtype=np.int64),
        capacity=np.full((vehicles, 1), 2, dtype=np.int64),
        max_stops=np.full(vehicles, 10, dtype=np.int64),
        allowed=np.ones((n, vehicles), dtype=np.bool_),
        depot=np.zeros(vehicles, dtype=np.int64),
        shift_start=np.zeros(vehicles, dtype=np.int64),
        shift_end=np.full(vehicles, 1000, dtype=np.int64),
        neighbours=neighbours,
        penalty=10_000,
    )
    settings = RuinParams()
    improve(arrays, [[1, 2], [3]], deadline=time.monotonic() + 60, settings=settings, seed=1, max_iterations=CHUNK)
    StringRemoval(neighbours=neighbours, settings=settings, seed=1)([[1, 2], [3]])


if __name__ == "__main__":
    began = time.monotonic()
    compile_now()
    print(f"routing.planning.search.sisr compiled and cached in {time.monotonic() - began:.1f} s")
