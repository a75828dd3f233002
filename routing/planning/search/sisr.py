"""Compiled ruin-and-recreate (SISR) for days whose only constraints are windows, loads and stops.

Why: an OR-Tools greedy descent costs ~100 ms on a 100-site windowed day, so the
OR-Tools-backed loop of :mod:`routing.planning.search.ruin` makes ~100 ruins per core in 10 s where
Christiaens & Vanden Berghe's SISR (Transportation Science 54(2), 2020) makes tens of
thousands. Here the whole loop — string removal, cheapest insertion with blinks, annealing —
runs as numba-compiled code over plain arrays (~20 µs per ruin on Solomon's R1), and the
solver hands the best routes back to OR-Tools for a closing descent, which also re-checks
them against the full model.

What it models (and so when the solver may use it, see ``OrToolsModel.route_arrays``): site windows,
per-truck shifts, loads in one or more units against per-truck capacities, stops per truck, which
trucks may serve a site, arc costs per truck class and a fixed cost per used truck, a cost per site
served by another truck than its preferred one, a penalty per unserved site; and on days with
trips (:mod:`routing.planning.search.trips`) unloads at a chosen facility, facility windows and
unload times, trucks that come home empty, release dates, several windows per site, daily weight
limits, the meal break, hold limits, shift-length limits, costs per hour and balance (the shift the plan
evaluator writes, :mod:`routing.planning.search.schedule`), and facility daily capacities (intake over all routes).

Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service time at ``a`` plus
the drive to ``b``, and a truck may wait.

The compiled functions take a few bundles (named tuples of arrays) rather than the arrays
one by one: :class:`~routing.planning.search.insertion.DayArrays` (the model),
:class:`~routing.planning.search.insertion.RouteState` (routes being edited, three of them:
current, work, best), :class:`~routing.planning.search.insertion.Scratch` and :class:`RuinSizes`.
The recreate (granular cheapest insertion) lives in :mod:`routing.planning.search.insertion`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import njit

from routing.planning.search.insertion import INF, DayArrays, RouteState, Scratch, recreate, refresh
from routing.planning.search.params import RuinParams
from routing.planning.search.ruin import cooled_share, cut_strings, seed_compiled_rng
from routing.planning.search.split import split_route
from routing.planning.search.trips import evict_if_infeasible, feasible_route, refresh_trips, tidy

CHUNK = 200  # ruins per compiled call at most; the deadline and temperature are checked between calls
CHUNK_S = 0.2  # seconds a compiled call aims at (long routes with trips: 200 ruins took a minute on Kim 804)


class RuinSizes(NamedTuple):
    """The penalty per unserved site and SISR's ruin sizes (see :class:`RuinParams`)."""

    penalty: int
    average_removed: int
    max_string: int
    route_removal: float
    split_rate: float
    route_split: float  # share of ruins that also split a ruined route in two
    granular: int  # nearest sites next to which a removed site is tried (SISR's recreate, granular)


@dataclass(frozen=True)
class TripArrays:
    """What a day with unloading trips adds (see :class:`routing.planning.search.insertion.DayArrays`)."""

    service: np.ndarray  # int64 [n]
    release: np.ndarray  # int64 [n]
    win_open: np.ndarray  # int64 [n, W]
    win_close: np.ndarray  # int64 [n, W]
    win_count: np.ndarray  # int64 [n]
    facility_of: np.ndarray  # int64 [n]: facility of a marker node, else -1
    facility_nodes: np.ndarray  # int64 [F]: marker node per facility (-1: none)
    marker_limit: np.ndarray  # int64 [F]
    need_unload: np.ndarray  # bool [V]
    daily: np.ndarray  # int64 [V]
    break_on: np.ndarray  # bool [V]
    break_rule: np.ndarray  # int64 [3]: earliest start, latest start, duration
    hold: np.ndarray | None = None  # int64 [V]: hold limit, first pickup to unload (-1 or None: none)
    max_shift: np.ndarray | None = None  # int64 [V]: longest shift (-1 or None: none)
    since: np.ndarray | None = None  # int64 [n]: a re-plan's start site's load on board since (-1 or None: none)
    closing: np.ndarray | None = None  # int64 [n, depots]: folded closing unload's marker (-1 or None: none)
    span_cost: np.ndarray | None = None  # int64 [V]: cost units per second of shift (None: 0)
    balance_cost: np.ndarray | None = None  # int64 [V]: per second beyond balance_target (None: 0)
    balance_target: np.ndarray | None = None  # int64 [V]: seconds (None: 0)
    work_floor: np.ndarray | None = None  # int64 [V]: work below which a used truck pays balance_cost (None: 0)
    intake_limit: np.ndarray | None = None  # int64 [F]: daily intake per facility, first unit (None: no limits)

    def __post_init__(self) -> None:
        vehicles, n = len(self.need_unload), len(self.service)
        for name, size in (("hold", vehicles), ("max_shift", vehicles), ("since", n)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(size, -1, dtype=np.int64))
        for name in ("span_cost", "balance_cost", "balance_target", "work_floor"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.zeros(vehicles, dtype=np.int64))
        if self.closing is None:
            object.__setattr__(self, "closing", np.full((n, 1), -1, dtype=np.int64))
        if self.intake_limit is None:
            object.__setattr__(self, "intake_limit", np.full(len(self.facility_nodes), INF, dtype=np.int64))


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
    preference: np.ndarray  # int64 [n, V]: cost when the truck serves the node (another truck is preferred)
    depot: np.ndarray  # int64 [V]: start and end node
    shift_start: np.ndarray  # int64 [V]
    shift_end: np.ndarray  # int64 [V]
    neighbours: np.ndarray  # int64 [n, K]: per site its nearest sites, itself first; -1 rows: not a site
    penalty: int  # per unserved site
    # trips (routing.planning.search.trips): None where the day has no unloads, release dates or multi-window sites
    trips: TripArrays | None = None

    @cached_property
    def is_site(self) -> np.ndarray:
        """Per node, whether it is a site to serve."""
        return self.neighbours[:, 0] >= 0

    @cached_property
    def sites(self) -> np.ndarray:
        """The nodes to serve."""
        return np.flatnonzero(self.is_site)

    @cached_property
    def kind(self) -> np.ndarray:
        """Per truck, the first truck identical to it: of identical empty trucks, an insertion tries one."""
        first: dict[bytes, int] = {}
        out = np.zeros(len(self.depot), dtype=np.int64)
        for v in range(len(self.depot)):
            key = b"|".join(
                np.asarray(part).tobytes()
                for part in (
                    self.vehicle_class[v],
                    self.fixed[v],
                    self.capacity[v],
                    self.max_stops[v],
                    self.allowed[:, v],
                    self.preference[:, v],
                    self.depot[v],
                    self.shift_start[v],
                    self.shift_end[v],
                    self.trip_arrays.hold[v],
                    self.trip_arrays.max_shift[v],
                    self.trip_arrays.span_cost[v],
                    self.trip_arrays.balance_cost[v],
                    self.trip_arrays.balance_target[v],
                    self.trip_arrays.work_floor[v],
                )
            )
            out[v] = first.setdefault(key, v)
        return out

    @cached_property
    def trip_arrays(self) -> TripArrays:
        """The trip part, neutral (one window per node, no markers) on a day without trips."""
        if self.trips is not None:
            return self.trips
        n, vehicles = len(self.open), len(self.depot)
        return TripArrays(
            service=np.zeros(n, dtype=np.int64),
            release=np.zeros(n, dtype=np.int64),
            win_open=self.open[:, None].copy(),
            win_close=self.close[:, None].copy(),
            win_count=np.ones(n, dtype=np.int64),
            facility_of=np.full(n, -1, dtype=np.int64),
            facility_nodes=np.full(1, -1, dtype=np.int64),
            marker_limit=np.zeros(1, dtype=np.int64),
            need_unload=np.zeros(vehicles, dtype=np.bool_),
            daily=np.full(vehicles, INF, dtype=np.int64),
            break_on=np.zeros(vehicles, dtype=np.bool_),
            break_rule=np.zeros(3, dtype=np.int64),
        )

    @cached_property
    def day(self) -> DayArrays:
        """The bundle the compiled loop takes."""
        t = self.trip_arrays
        return DayArrays(
            travel=self.travel,
            cost=self.cost,
            vehicle_class=self.vehicle_class,
            fixed=self.fixed,
            open=self.open,
            close=self.close,
            demand=self.demand,
            capacity=self.capacity,
            depot=self.depot,
            shift_start=self.shift_start,
            shift_end=self.shift_end,
            max_stops=self.max_stops,
            allowed=self.allowed,
            preference=self.preference,
            sites=self.sites,
            is_site=self.is_site,
            neighbours=self.neighbours,
            kind=self.kind,
            trips=self.trips is not None,
            service=t.service,
            release=t.release,
            win_open=t.win_open,
            win_close=t.win_close,
            win_count=t.win_count,
            facility_of=t.facility_of,
            facility_nodes=t.facility_nodes,
            marker_limit=t.marker_limit,
            need_unload=t.need_unload,
            daily=t.daily,
            break_on=t.break_on,
            break_rule=t.break_rule,
            hold=t.hold,
            max_shift=t.max_shift,
            since=t.since,
            closing=t.closing,
            span_cost=t.span_cost,
            balance_cost=t.balance_cost,
            balance_target=t.balance_target,
            work_floor=t.work_floor,
            intake_limit=t.intake_limit,
        )


def plain_arrays(*, travel: np.ndarray, neighbours: np.ndarray, capacity: list[int], horizon: int) -> RouteArrays:
    """The smallest model the compiled loop runs (to compile it ahead, for worked cases in tests): depot node 0,
    sites of one unit open in ``[0, horizon]``, one truck per ``capacity`` (units), arcs costing what they take."""
    n, vehicles = len(travel), len(capacity)
    return RouteArrays(
        travel=travel,
        cost=travel[None, :, :].copy(),
        vehicle_class=np.zeros(vehicles, dtype=np.int64),
        fixed=np.zeros(vehicles, dtype=np.int64),
        open=np.zeros(n, dtype=np.int64),
        close=np.full(n, horizon, dtype=np.int64),
        demand=np.ones((n, 1), dtype=np.int64),
        capacity=np.array(capacity, dtype=np.int64)[:, None],
        max_stops=np.full(vehicles, 10, dtype=np.int64),
        allowed=np.ones((n, vehicles), dtype=np.bool_),
        preference=np.zeros((n, vehicles), dtype=np.int64),
        depot=np.zeros(vehicles, dtype=np.int64),
        shift_start=np.zeros(vehicles, dtype=np.int64),
        shift_end=np.full(vehicles, horizon, dtype=np.int64),
        neighbours=neighbours,
        penalty=10_000,
    )


def _width(arrays: RouteArrays) -> int:
    """Room per route row: every site, and on a day with trips a marker before each and the closing one."""
    return (2 * len(arrays.sites) + 3) if arrays.trips is not None else len(arrays.sites) + 2


def make_scratch(arrays: RouteArrays) -> Scratch:
    """Work arrays for the compiled loop on ``arrays``."""
    vehicles = len(arrays.depot)
    limit = int(arrays.trip_arrays.marker_limit.sum())
    candidates = 2 * len(arrays.sites) + limit + 2 * vehicles + 2 * arrays.neighbours.shape[1]
    return Scratch(
        touched=np.zeros(vehicles, dtype=np.bool_),
        removed=np.zeros(len(arrays.sites), dtype=np.int64),
        mark=np.zeros(vehicles, dtype=np.int64),
        fits=np.zeros(vehicles, dtype=np.bool_),
        stamp=np.zeros(1, dtype=np.int64),
        candidate_v=np.zeros(candidates, dtype=np.int64),
        candidate_p=np.zeros(candidates, dtype=np.int64),
        seq=np.zeros(_width(arrays) + 2, dtype=np.int64),
        units=np.zeros(arrays.demand.shape[1], dtype=np.int64),
        marker_total=np.zeros(len(arrays.trip_arrays.facility_nodes), dtype=np.int64),
        paid=np.zeros(vehicles, dtype=np.int64),
        intake_total=np.zeros(len(arrays.trip_arrays.facility_nodes), dtype=np.int64),
        intake=np.zeros(len(arrays.trip_arrays.facility_nodes), dtype=np.int64),
    )


def start_state(arrays: RouteArrays, routes: list[list[int]]) -> RouteState:
    """The state of ``routes`` (nodes per truck), schedules and costs computed.

    On a day with trips, a route the trip model finds infeasible starts unassigned (its sites are
    inserted by the first ruins), and markers the routes do not need are dropped. Routes are taken in truck order,
    so where they unload more than a facility's daily capacity the later ones start unassigned.

    Parameters
    ----------
    arrays : RouteArrays
        The model.
    routes : list of list of int
        Nodes per truck (markers: a facility's marker node); sites on no route start unassigned.

    Returns
    -------
    RouteState
        New arrays.
    """
    n = arrays.travel.shape[0]
    vehicles = arrays.depot.shape[0]
    width = _width(arrays)
    state = RouteState(
        nodes=np.zeros((vehicles, width), dtype=np.int64),
        length=np.zeros(vehicles, dtype=np.int64),
        load=np.zeros((vehicles, arrays.demand.shape[1]), dtype=np.int64),
        earliest=np.zeros((vehicles, width + 2), dtype=np.int64),
        latest=np.zeros((vehicles, width + 2), dtype=np.int64),
        route_cost=np.zeros(vehicles, dtype=np.int64),
        route_of=np.full(n, -1, dtype=np.int64),
        position=np.zeros(n, dtype=np.int64),
        unassigned=np.zeros(len(arrays.sites), dtype=np.int64),
        unassigned_count=np.zeros(1, dtype=np.int64),
        stops=np.zeros(vehicles, dtype=np.int64),
        markers=np.zeros((vehicles, len(arrays.trip_arrays.facility_nodes)), dtype=np.int64),
        trip_load=np.zeros((vehicles, width), dtype=np.int64),
        trip_total=np.zeros((vehicles, width), dtype=np.int64),
        unload_at=np.full((vehicles, width), -1, dtype=np.int64),
        intake=np.zeros((vehicles, len(arrays.trip_arrays.facility_nodes)), dtype=np.int64),
    )
    scratch = make_scratch(arrays)
    for v, route in enumerate(routes):
        state.nodes[v, : len(route)] = route
        state.length[v] = len(route)
        if arrays.trips is not None:
            tidy(v, state, arrays.day, scratch)
            if not feasible_route(v, state, arrays.day, scratch):
                state.length[v] = 0
                refresh_trips(v, state, arrays.day)  # its intake no longer counts for the routes after it
        for node in state.nodes[v, : state.length[v]]:
            if arrays.is_site[node]:
                state.route_of[node] = v
    missing = [int(s) for s in arrays.sites if state.route_of[s] < 0]
    state.unassigned[: len(missing)] = missing
    state.unassigned_count[0] = len(missing)
    for v in range(vehicles):
        if arrays.trips is not None:
            tidy(v, state, arrays.day, scratch)
        else:
            refresh(v, state, arrays.day)
    return state


def _copy(state: RouteState) -> RouteState:
    return RouteState(*(part.copy() for part in state))


def _routes(state: RouteState) -> list[list[int]]:
    return [state.nodes[v, : state.length[v]].tolist() for v in range(len(state.length))]


def _cost(state: RouteState, penalty: int) -> int:
    return int(state.route_cost.sum()) + penalty * int(state.unassigned_count[0])


def improve(
    arrays: RouteArrays,
    routes: list[list[int]],
    *,
    deadline: float,
    settings: RuinParams,
    seed: int,
    max_iterations: int | None = None,
) -> tuple[list[list[int]], int, int]:
    """SISR from ``routes`` until ``deadline`` (or ``max_iterations`` ruins).

    The temperature starts at ``settings.compiled_start_temperature`` × the routes' cost per site (fixed truck costs left out) and cools
    geometrically to 1/100 of that by the deadline (SISR's T0 = 100 → Tf = 1).

    Parameters
    ----------
    arrays : RouteArrays
        The model.
    routes : list of list of int
        Nodes per truck to start from.
    deadline : float
        ``time.monotonic()`` at which to stop.
    settings : RuinParams
        Ruin sizes and the temperature.
    seed : int
        Seed of the compiled code's random numbers: the same seed and work give the same routes.
    max_iterations : int, optional
        Ruins at most.

    Returns
    -------
    tuple
        (best routes as nodes per truck, their cost in model units, ruins made).
    """
    seed_compiled_rng(seed)
    current = start_state(arrays, routes)
    best = _copy(current)
    best_cost = current_cost = _cost(current, arrays.penalty)
    work = _copy(current)
    sites = max(1, len(arrays.sites))
    # the scale is what the routes drive (fixed truck costs left out: Kim's would make it 80× too hot)
    driven = int(current.route_cost.sum()) - int(arrays.fixed[current.stops > 0].sum())
    t_start = settings.compiled_start_temperature * max(1, driven) / sites
    t_end = t_start / 100.0
    began = time.monotonic()
    made = 0
    scratch = make_scratch(arrays)
    free_fleet = not arrays.fixed.any()  # distance alone is paid: more trucks may well be the better plan
    ruin = RuinSizes(
        penalty=arrays.penalty,
        average_removed=settings.average_removed,
        max_string=settings.max_string,
        route_removal=settings.free_route_removal if free_fleet else settings.route_removal,
        split_rate=settings.split_rate,
        route_split=settings.free_route_split if free_fleet else 0.0,
        granular=settings.insert_neighbours,
    )
    chunk = CHUNK if max_iterations is not None else 4  # grows to what takes CHUNK_S (a fixed work: fixed chunks)
    while True:
        now = time.monotonic()
        if now >= deadline or (max_iterations is not None and made >= max_iterations):
            break
        fraction = cooled_share(began=began, deadline=deadline, done=made, planned=max_iterations)
        temperature = t_start * (t_end / t_start) ** fraction
        count = chunk if max_iterations is None else min(chunk, max_iterations - made)
        current_cost, found = _search(
            count, temperature, current_cost, best_cost, arrays.day, ruin, current, work, best, scratch
        )
        best_cost = min(best_cost, found)
        made += count
        if max_iterations is None:
            took = time.monotonic() - now
            chunk = max(1, min(CHUNK, chunk * 2 if took < CHUNK_S / 2 else chunk // 2 if took > CHUNK_S else chunk))
    return _routes(best), best_cost, made


@njit(cache=True)
def _copy_route(v, src, dst):
    """Truck v's route, schedule, load and cost from one state into another."""
    k = src.length[v]
    dst.nodes[v, :k] = src.nodes[v, :k]
    dst.length[v] = k
    dst.load[v, :] = src.load[v, :]
    dst.earliest[v, : k + 2] = src.earliest[v, : k + 2]
    dst.latest[v, : k + 2] = src.latest[v, : k + 2]
    dst.route_cost[v] = src.route_cost[v]
    dst.stops[v] = src.stops[v]
    dst.markers[v, :] = src.markers[v, :]
    dst.trip_load[v, :k] = src.trip_load[v, :k]
    dst.trip_total[v, :k] = src.trip_total[v, :k]
    dst.unload_at[v, :k] = src.unload_at[v, :k]
    dst.intake[v, :] = src.intake[v, :]
    for i in range(k):
        dst.position[src.nodes[v, i]] = src.position[src.nodes[v, i]]


@njit(cache=True)
def _copy_assignment(src, dst):
    """Which truck serves each node, and who is unserved, from one state into another."""
    dst.route_of[:] = src.route_of
    dst.unassigned[:] = src.unassigned
    dst.unassigned_count[0] = src.unassigned_count[0]


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
def _ruin_and_recreate(day, ruin, work, scratch):
    """One ruin of ``work`` and its recreation; returns the new cost (penalties included)."""
    touched, removed = scratch.touched, scratch.removed
    vehicles = work.length.shape[0]
    touched[:] = False
    n_removed = cut_strings(
        work.nodes,
        work.length,
        work.route_of,
        touched,
        removed,
        day.is_site,
        day.sites,
        day.neighbours,
        ruin.average_removed,
        ruin.max_string,
        ruin.route_removal,
        ruin.split_rate,
    )
    if np.random.random() < ruin.route_split:
        split_route(work, day, touched)
    for v in range(vehicles):
        if touched[v]:
            if day.trips:
                tidy(v, work, day, scratch)
                n_removed = evict_if_infeasible(v, work, day, scratch, n_removed)
            else:
                refresh(v, work, day)
    # the previously unserved get another chance with the removed ones
    waiting = work.unassigned_count[0]
    for i in range(waiting):
        removed[n_removed + i] = work.unassigned[i]
    n_removed += waiting
    work.unassigned_count[0] = 0
    _sort_removed(n_removed, removed, day.demand, day.travel, day.depot[0])
    recreate(n_removed, removed, ruin.granular, work, day, scratch)
    new_cost = ruin.penalty * work.unassigned_count[0]
    for v in range(vehicles):
        new_cost += work.route_cost[v]
    return new_cost


@njit(cache=True)
def _search(count, temperature, current_cost, best_cost, day, ruin, current, work, best, scratch):
    """``count`` ruins from the current state (work is a scratch copy of it); returns (current cost, best cost)."""
    vehicles = current.length.shape[0]
    touched = scratch.touched
    for _ in range(count):
        new_cost = _ruin_and_recreate(day, ruin, work, scratch)
        accept = new_cost < current_cost
        if not accept and temperature > 0:
            accept = new_cost < current_cost - temperature * math.log(np.random.random())
        for v in range(vehicles):
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
                for v in range(vehicles):
                    _copy_route(v, current, best)
                _copy_assignment(current, best)
        else:
            _copy_assignment(current, work)
    return current_cost, best_cost


def compile_now() -> None:
    """Compile (and cache on disk) the loop by running it on a three-site day, and on a two-site day with trips.

    numba compiles on first use, which takes ~15 s on the reference machine — time a
    10-second search cannot spare — so ``make install`` runs this once
    (``python -m routing.planning.search.sisr``); later processes load the cached machine code.
    """
    from routing.planning.search.ruin import StringRemoval

    vehicles = 2
    travel = np.array([[0, 10, 20, 30], [10, 0, 10, 20], [20, 10, 0, 10], [30, 20, 10, 0]], dtype=np.int64)
    neighbours = np.array([[-1, -1, -1], [1, 2, 3], [2, 1, 3], [3, 2, 1]], dtype=np.int64)
    arrays = plain_arrays(travel=travel, neighbours=neighbours, capacity=[2] * vehicles, horizon=1000)
    settings = RuinParams()
    improve(arrays, [[1, 2], [3]], deadline=time.monotonic() + 60, settings=settings, seed=1, max_iterations=CHUNK)
    StringRemoval(neighbours=neighbours, settings=settings, seed=1)([[1, 2], [3]])
    # the same day with trips (node 3 a facility), so the trip model is compiled too
    trip_neighbours = np.array([[-1, -1], [1, 2], [2, 1], [-1, -1]], dtype=np.int64)
    neutral = arrays.trip_arrays
    trips = replace(
        neutral,
        facility_of=np.array([-1, -1, -1, 0], dtype=np.int64),
        facility_nodes=np.array([3], dtype=np.int64),
        marker_limit=np.array([2], dtype=np.int64),
        break_on=np.ones(vehicles, dtype=np.bool_),
        break_rule=np.array([20, 500, 10], dtype=np.int64),
    )
    with_trips = replace(arrays, neighbours=trip_neighbours, trips=trips)
    improve(
        with_trips, [[1, 3, 2], []], deadline=time.monotonic() + 60, settings=settings, seed=1, max_iterations=CHUNK
    )


if __name__ == "__main__":
    # run through the importable module, not this ``__main__`` copy: the cached machine code is keyed by
    # the bundles' classes, which must be ``routing.planning.search.sisr``'s for later processes to load it
    from routing.planning.search import sisr

    began = time.monotonic()
    sisr.compile_now()
    print(f"routing.planning.search.sisr compiled and cached in {time.monotonic() - began:.1f} s")
