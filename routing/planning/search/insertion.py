"""The compiled routes of :mod:`routing.planning.search.sisr`: their bundles, schedules and granular cheapest insertion.

Why granular: SISR's recreate tried every position of every route for every removed site, so
one insertion cost O(sites + trucks) — ~1,250 positions on a 1,000-site day against ~125 on
Solomon's 100. Here a site is tried only next to its nearest sites (before and after each of
its first ``granular`` neighbours that is routed) and in one empty truck of each kind, so an
insertion's work no longer grows with the day (the granular neighbourhoods of Toth & Vigo,
2003, as PyVRP's local search uses them). Only when no such position fits does it scan every
position, so a site is never left out that a full scan would have placed.

On days with trips (unloads, release dates, several windows per site, the break) the same
candidates go to :func:`routing.planning.search.trip_insert.cheapest_trips` instead, which checks a
position by driving the route (the O(1) window test below does not hold there).

Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service time at ``a`` plus
the drive to ``b``, and a truck may wait.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from routing.planning.search.trip_insert import cheapest_trips
from routing.planning.search.trips import insert_trips

INF = np.iinfo(np.int64).max // 4
BLINK = 0.01  # SISR's blink rate: a position is skipped with this probability


class DayArrays(NamedTuple):
    """The model's numbers as the compiled loop reads them (see :class:`routing.planning.search.sisr.RouteArrays`)."""

    travel: np.ndarray
    cost: np.ndarray
    vehicle_class: np.ndarray
    fixed: np.ndarray
    open: np.ndarray
    close: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    depot: np.ndarray
    shift_start: np.ndarray
    shift_end: np.ndarray
    max_stops: np.ndarray
    allowed: np.ndarray
    preference: np.ndarray  # int64 [n, V]: cost when the truck serves the node while another is preferred
    sites: np.ndarray
    is_site: np.ndarray
    neighbours: np.ndarray
    kind: np.ndarray  # int64 [V]: the first truck identical to this one (same costs, limits, depot, shift, access)
    # the trip model (routing.planning.search.trips), read only where ``trips`` is set
    trips: bool  # routes hold unload markers and are checked by driving them (trips.check_route)
    service: np.ndarray  # int64 [n]: service or unload time at the node
    release: np.ndarray  # int64 [n]: the trip serving the site leaves its depot or facility no earlier
    win_open: np.ndarray  # int64 [n, W]: service-start windows, ``win_count`` of them per node
    win_close: np.ndarray  # int64 [n, W]
    win_count: np.ndarray  # int64 [n]
    facility_of: np.ndarray  # int64 [n]: for an unload marker node its facility (index into facility_nodes), else -1
    facility_nodes: np.ndarray  # int64 [F]: the marker node of each facility (-1: no copies)
    marker_limit: np.ndarray  # int64 [F]: markers of the facility in use at once at most (the model's copies)
    need_unload: np.ndarray  # bool [V]: a route must end on a marker (comes home empty, closing unload not folded)
    daily: np.ndarray  # int64 [V]: load of the first unit collected per shift at most
    break_on: np.ndarray  # bool [V]: the meal break is due on the truck's shift
    break_rule: np.ndarray  # int64 [3]: the break's earliest start, latest start and duration
    hold: np.ndarray  # int64 [V]: longest time a load may be on board, first pickup to unload (-1: no limit)
    max_shift: np.ndarray  # int64 [V]: longest shift, depot departure to return (-1: no limit)
    since: np.ndarray  # int64 [n]: a re-plan's start site: its load on board since then (-1: not such a site)
    closing: np.ndarray  # int64 [n, depots]: marker of the unload folded into a site's arc home (-1: none)
    span_cost: np.ndarray  # int64 [V]: cost units per second of shift (cost per hour)
    balance_cost: np.ndarray  # int64 [V]: cost units per second of shift beyond balance_target
    balance_target: np.ndarray  # int64 [V]: the type's balanced shift, seconds
    work_floor: np.ndarray  # int64 [V]: work (drives, services, unloads) below which a used truck pays balance_cost
    intake_limit: np.ndarray  # int64 [F]: first unit all trucks may unload at the facility per day (daily capacity)


class RouteState(NamedTuple):
    """Routes as arrays (nodes per truck, schedules, loads, costs) that the compiled loop edits."""

    nodes: np.ndarray  # int64 [V, width]: the route of each truck, ``length`` long
    length: np.ndarray  # int64 [V]
    load: np.ndarray  # int64 [V, units]
    earliest: np.ndarray  # int64 [V, width + 2]: earliest service start per position, depots at both ends
    latest: np.ndarray  # int64 [V, width + 2]: latest service start per position
    route_cost: np.ndarray  # int64 [V]
    route_of: np.ndarray  # int64 [n]: truck per node, -1 unrouted
    position: np.ndarray  # int64 [n]: index of a routed node in its truck's row of ``nodes``
    unassigned: np.ndarray  # int64 [sites]: the unserved, ``unassigned_count[0]`` of them
    unassigned_count: np.ndarray  # int64 [1]
    stops: np.ndarray  # int64 [V]: sites on the route (length less its markers)
    markers: np.ndarray  # int64 [V, F]: unload markers per facility on the route
    trip_load: np.ndarray  # int64 [V, width]: at a site, the first unit's load of its trip up to and with it
    trip_total: np.ndarray  # int64 [V, width]: at a site, the first unit's load of its whole trip
    unload_at: np.ndarray  # int64 [V, width]: at a site, the facility its trip unloads at (-1: none, goes home loaded)
    intake: np.ndarray  # int64 [V, F]: first unit the route unloads at each facility


class Scratch(NamedTuple):
    """Work arrays of one ruin: which routes it touched, which sites it removed, marks of one insertion."""

    touched: np.ndarray  # bool [V]
    removed: np.ndarray  # int64 [sites]
    mark: np.ndarray  # int64 [V]: the insertion that last looked at this truck (or kind of truck)
    fits: np.ndarray  # bool [V]: whether the site being inserted fits this truck (valid where mark is current)
    stamp: np.ndarray  # int64 [1]: the current insertion's number
    candidate_v: np.ndarray  # int64 [sites + 2 V + 2 K]: trucks of the positions an insertion tries
    candidate_p: np.ndarray  # int64, as candidate_v: the positions
    seq: np.ndarray  # int64 [width]: a candidate route being driven (trips)
    units: np.ndarray  # int64 [units]: a trip's load while driving
    marker_total: np.ndarray  # int64 [F]: markers in use per facility
    paid: np.ndarray  # int64 [V]: shift cost of the route as it stands (valid where mark is current)
    intake_total: np.ndarray  # int64 [F]: first unit unloaded per facility over all routes
    intake: np.ndarray  # int64 [F]: a candidate route's intake per facility


@njit(cache=True)
def node_at(v, p, nodes, length, depot):
    """Node at position p of truck v's route, depot at both ends (p = 0 and p = length + 1)."""
    if p == 0 or p == length[v] + 1:
        return depot[v]
    return nodes[v, p - 1]


@njit(cache=True)
def refresh(v, state, day):
    """Recompute truck v's schedule (earliest and latest service starts), load, cost and node positions."""
    nodes, length, depot, travel = state.nodes, state.length, day.depot, day.travel
    k = length[v]
    c = day.vehicle_class[v]
    state.load[v, :] = 0
    t = day.shift_start[v]
    state.earliest[v, 0] = t
    total = 0
    prev = depot[v]
    for p in range(1, k + 2):
        node = node_at(v, p, nodes, length, depot)
        t = t + travel[prev, node]
        if p <= k:
            if t < day.open[node]:
                t = day.open[node]
            state.load[v, :] += day.demand[node, :]
            state.position[node] = p - 1
            total += day.preference[node, v]
        state.earliest[v, p] = t
        total += day.cost[c, prev, node]
        prev = node
    state.route_cost[v] = total + day.fixed[v] if k > 0 else 0
    state.stops[v] = k
    t = day.shift_end[v]
    state.latest[v, k + 1] = t
    nxt = depot[v]
    for p in range(k, -1, -1):
        node = node_at(v, p, nodes, length, depot)
        t = t - travel[node, nxt]
        if p >= 1 and day.close[node] < t:
            t = day.close[node]
        state.latest[v, p] = t
        nxt = node


@njit(cache=True)
def _granular_candidates(site, granular, state, day, scratch):
    """Fill the candidate (truck, position) pairs of ``site``: before and after each of its ``granular`` nearest
    routed sites, and the start of one empty truck of each kind; returns how many."""
    count = 0
    scratch.stamp[0] += 1
    stamp = scratch.stamp[0]
    for j in range(1, min(granular, day.neighbours.shape[1])):
        w = day.neighbours[site, j]
        if w < 0:
            break
        v = state.route_of[w]
        if v >= 0:
            at = state.position[w]
            scratch.candidate_v[count] = v
            scratch.candidate_p[count] = at
            scratch.candidate_v[count + 1] = v
            scratch.candidate_p[count + 1] = at + 1
            count += 2
    for v in range(state.length.shape[0]):
        kind = day.kind[v]
        if state.length[v] == 0 and scratch.mark[kind] != stamp:
            scratch.mark[kind] = stamp
            scratch.candidate_v[count] = v
            scratch.candidate_p[count] = 0
            count += 1
    return count


@njit(cache=True)
def _all_candidates(state, scratch):
    """Fill every (truck, position) pair as a candidate; returns how many."""
    count = 0
    for v in range(state.length.shape[0]):
        for p in range(state.length[v] + 1):
            scratch.candidate_v[count] = v
            scratch.candidate_p[count] = p
            count += 1
    return count


@njit(cache=True)
def _cheapest(site, count, state, day, scratch):
    """(truck, position) among the ``count`` candidates where ``site`` adds least and fits (access, stops, loads,
    windows), skipping candidates at the blink rate; (-1, -1): none. One loop, no calls: a call per position
    would copy and count every bundled array (20× slower on Solomon)."""
    nodes, length, earliest, latest = state.nodes, state.length, state.earliest, state.latest
    cost, travel, depot, mark, fits = day.cost, day.travel, day.depot, scratch.mark, scratch.fits
    scratch.stamp[0] += 1
    stamp = scratch.stamp[0]
    best_delta, best_v, best_p = INF, -1, -1
    for i in range(count):
        v, p = scratch.candidate_v[i], scratch.candidate_p[i]
        if mark[v] != stamp:  # the truck's own limits, once per truck
            mark[v] = stamp
            fits[v] = day.allowed[site, v] and length[v] + 1 <= day.max_stops[v]
            for u in range(day.demand.shape[1]):
                if state.load[v, u] + day.demand[site, u] > day.capacity[v, u]:
                    fits[v] = False
        if not fits[v]:
            continue
        k = length[v]
        prev = depot[v] if p == 0 else nodes[v, p - 1]
        nxt = depot[v] if p == k else nodes[v, p]
        c = day.vehicle_class[v]
        delta = cost[c, prev, site] + cost[c, site, nxt] - cost[c, prev, nxt] + day.preference[site, v]
        if k == 0:
            delta += day.fixed[v]
        if delta >= best_delta or np.random.random() < BLINK:
            continue
        arrive = max(earliest[v, p] + travel[prev, site], day.open[site])
        if arrive <= day.close[site] and arrive + travel[site, nxt] <= latest[v, p + 1]:
            best_delta, best_v, best_p = delta, v, p
    return best_v, best_p


@njit(cache=True)
def recreate(order_count, order, granular, state, day, scratch):
    """Insert ``order[:order_count]`` one by one, each where it adds least among its granular positions
    (every position when none of those fits), skipping positions at the blink rate."""
    if day.trips:
        _recreate_trips(order_count, order, granular, state, day, scratch)
        return
    for j in range(order_count):
        site = order[j]
        v, best_p = _cheapest(site, _granular_candidates(site, granular, state, day, scratch), state, day, scratch)
        if v < 0:
            v, best_p = _cheapest(site, _all_candidates(state, scratch), state, day, scratch)
        if v < 0:
            state.unassigned[state.unassigned_count[0]] = site
            state.unassigned_count[0] += 1
            continue
        k = state.length[v]
        for i in range(k, best_p, -1):
            state.nodes[v, i] = state.nodes[v, i - 1]
        state.nodes[v, best_p] = site
        state.length[v] = k + 1
        state.route_of[site] = v
        scratch.touched[v] = True
        refresh(v, state, day)


@njit(cache=True)
def _recreate_trips(order_count, order, granular, state, day, scratch):
    """:func:`recreate` on a day with trips: a site goes in alone or with a new unload next to it."""
    for j in range(order_count):
        site = order[j]
        count = _granular_candidates(site, granular, state, day, scratch)
        v, p, marker, side = cheapest_trips(site, count, state, day, scratch)
        if v < 0:
            v, p, marker, side = cheapest_trips(site, _all_candidates(state, scratch), state, day, scratch)
        if v < 0:
            state.unassigned[state.unassigned_count[0]] = site
            state.unassigned_count[0] += 1
            continue
        insert_trips(v, p, site, marker, side, state, day)
        scratch.touched[v] = True
