"""Cheapest insertion on days with trips: each site alone, or with a new unload before or after it.

Why bounds first: with a cost per hour or balance, what an insertion adds is its arcs plus what it adds to
the shift the plan evaluator writes, known only from a schedule (:func:`routing.planning.search.schedule.shift_span`).
Driving every position that way made a 30 s Shenzhen plan reach 0–96 ruins per stream. Here every position
of every candidate is first priced by a lower bound in O(1) — its arcs, plus the shift cost of its drives and
services alone (and the break where the route cannot avoid it) less the route's shift cost now — and screened
by the loads and the earliest and latest service starts of :func:`routing.planning.search.trips.refresh_trips`.
Positions are then driven cheapest bound first, and the search stops at the first bound no cheaper than the
best feasible insertion found: the same insertion as driving them all (ties aside), a few drives per site.

Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service (or unload) at ``a`` plus the
drive to ``b``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from routing.planning.search.schedule import WORK_ROWS, gap, home_leg, priced, route_work
from routing.planning.search.trips import arc_total, check_route, folded

BIG = np.iinfo(np.int64).max // 4
BLINK = 0.01  # as routing.planning.search.insertion: a position is skipped with this probability


@njit(cache=True, inline="always")
def _least_span(busy, back, end, breaks, earliest, latest, duration):
    """A lower bound of the evaluator's shift for a route ``busy`` seconds long in drives and services, back home
    at ``back`` at the earliest: with the break where every clean schedule has it (the route returns after the
    break's latest start, and a start after the break window would leave too little of the shift)."""
    if breaks and back > latest and end - busy < earliest + duration:
        return busy + duration
    return busy


@njit(cache=True, inline="always")
def _reach(t, node, win_open, win_close, win_count):
    """The service start at ``node`` of a truck ready at ``t``, as a lower bound (first window's opening); -1:
    after its last window closes."""
    if t > win_close[node, win_count[node] - 1]:
        return -1
    return max(t, win_open[node, 0])


@njit(cache=True, inline="always")
def _may_fit(t, limit, prev, nxt, site, marker, side, travel, win_open, win_close, win_count):
    """Necessary conditions on times in O(1): from the earliest service start before the position (``t``) the
    site (and the marker before (side -1) or after (side 1) it) reach ``nxt`` by its latest start (``limit``)."""
    here = prev
    if side < 0:
        t = _reach(t + travel[here, marker], marker, win_open, win_close, win_count)
        if t < 0:
            return False
        here = marker
    t = _reach(t + travel[here, site], site, win_open, win_close, win_count)
    if t < 0:
        return False
    here = site
    if side > 0:
        t = _reach(t + travel[here, marker], marker, win_open, win_close, win_count)
        if t < 0:
            return False
        here = marker
    return t + travel[here, nxt] <= limit


@njit(cache=True, inline="always")
def _over(f1, a1, f2, a2, before, old, total, limit):
    """Whether facility f1 or f2 (-1: none) goes over its daily capacity when they receive a1 and a2 of the first unit
    where facility ``before`` received ``old``: an insertion changes at most the trip it goes into."""
    for f in (f1, f2):
        if f >= 0:
            net = (a1 if f == f1 else 0) + (a2 if f == f2 else 0) - (old if f == before else 0)
            if total[f] + net > limit[f]:
                return True
    return False


@njit(cache=True)
def _facility_totals(state, day, scratch):
    """Markers in use (a facility has as many as the OR-Tools model's copies) and intake per facility over all
    routes."""
    for fi in range(day.facility_nodes.shape[0]):
        markers, intake = 0, 0
        for v in range(state.length.shape[0]):
            markers += state.markers[v, fi]
            intake += state.intake[v, fi]
        scratch.marker_total[fi] = markers
        scratch.intake_total[fi] = intake


@njit(cache=True)
def _truck_now(site, v, state, day, scratch, busy, done):
    """Once per truck and insertion: whether ``site`` may go on truck v at all (access, stops, daily weight); its
    route's shift cost now (``scratch.paid``, from its cost: no schedule) and drives and services (``busy``, and
    per position ``done``, see :func:`routing.planning.search.schedule.route_work`)."""
    scratch.fits[v] = (
        day.allowed[site, v]
        and state.stops[v] + 1 <= day.max_stops[v]
        and state.load[v, 0] + day.demand[site, 0] <= day.daily[v]
    )
    if not scratch.fits[v]:
        return
    used = state.stops[v] > 0
    scratch.paid[v] = state.route_cost[v] - arc_total(v, state, day) - day.fixed[v] if used else 0
    busy[v] = route_work(v, state.nodes[v], state.length[v], day, done[v])


@njit(cache=True)
def _screen(site, count, state, day, scratch, busy, done, found, bound, arcs):
    """Every insertion of ``site`` at the ``count`` candidates that passes the O(1) screens and the blink: its truck,
    position, marker, side and its route's work into ``found`` (rows), its arc-cost delta into ``arcs`` and a lower bound of its
    whole delta (arcs and shift cost) into ``bound``. Returns how many."""
    travel, service, cost, facility_of = day.travel, day.service, day.cost, day.facility_of
    win_open, win_close, win_count, closing = day.win_open, day.win_close, day.win_count, day.closing
    earliest, latest, duration = day.break_rule[0], day.break_rule[1], day.break_rule[2]
    scratch.stamp[0] += 1
    stamp = scratch.stamp[0]
    n = 0
    for i in range(count):
        v, p = scratch.candidate_v[i], scratch.candidate_p[i]
        if scratch.mark[v] != stamp:
            scratch.mark[v] = stamp
            _truck_now(site, v, state, day, scratch, busy, done)
        if not scratch.fits[v]:
            continue
        k, c, depot = state.length[v], day.vehicle_class[v], day.depot[v]
        prev = depot if p == 0 else state.nodes[v, p - 1]
        nxt = depot if p == k else state.nodes[v, p]
        base = day.preference[site, v] - cost[c, prev, nxt] + (day.fixed[v] if state.stops[v] == 0 else 0)
        # drives and services of the route without the arc the site goes into, and of what follows that arc
        cut = gap(prev, nxt, travel, service) if p < k else home_leg(prev, depot, travel, service, facility_of, closing)
        rest, after = busy[v] - cut, busy[v] - cut - done[v, p]
        # the earliest the truck leaves prev (refresh_trips' bound: no break, no release)
        leave = day.shift_start[v] if p == 0 else state.earliest[v, p] + service[prev]
        prev_site, next_site = p > 0 and facility_of[prev] < 0, p < k and facility_of[nxt] < 0
        before = state.trip_load[v, p - 1] if prev_site else 0  # the trip's load up to the insertion point
        whole = state.trip_total[v, p - 1] if prev_site else (state.trip_total[v, p] if next_site else 0)
        # where the trip goes in unloads now (-1: none), and where its part from the site on will
        was = state.unload_at[v, p - 1] if prev_site else (state.unload_at[v, p] if next_site else -1)
        onward = folded(site, v, day) if p == k else (state.unload_at[v, p] if next_site else facility_of[nxt])
        t, limit = state.earliest[v, p], state.latest[v, p + 1]
        for option in range(1 + 2 * day.facility_nodes.shape[0]):
            side, marker = 0, -1
            if option > 0:
                fi = (option - 1) // 2
                side = 1 if option % 2 == 1 else -1
                marker = day.facility_nodes[fi]
                if marker < 0 or not day.allowed[marker, v] or scratch.marker_total[fi] >= day.marker_limit[fi]:
                    continue
                # after the site: splits the trip (or closes the route of a truck that must come home empty);
                # before it: the site starts a new trip
                if side > 0 and not (facility_of[nxt] < 0 and (p < k or day.need_unload[v])):
                    continue
                if side < 0 and not prev_site:
                    continue
            load = day.demand[site, 0] + (whole if side == 0 else before if side > 0 else whole - before)
            if load > day.capacity[v, 0] or np.random.random() < BLINK:
                continue
            # daily capacities: a new marker takes the trip up to it, the part from the site on goes on to ``onward``
            up_to = 0 if side == 0 else before + (day.demand[site, 0] if side > 0 else 0)
            taken = -1 if side == 0 else facility_of[marker]
            onward_load = whole + day.demand[site, 0] - up_to
            if _over(taken, up_to, onward, onward_load, was, whole, scratch.intake_total, day.intake_limit):
                continue
            if not _may_fit(t, limit, prev, nxt, site, marker, side, travel, win_open, win_close, win_count):
                continue
            first, last = (marker, site) if side < 0 else (site, marker) if side > 0 else (site, site)
            chain = gap(prev, first, travel, service) + service[first]
            if last != first:
                chain += gap(first, last, travel, service) + service[last]
            chain += (
                gap(last, nxt, travel, service)
                if p < k
                else home_leg(last, depot, travel, service, facility_of, closing)
            )
            arc = base + cost[c, prev, first] + cost[c, last, nxt]
            arc += cost[c, first, last] if last != first else 0
            back = leave + chain + after
            span = _least_span(rest + chain, back, day.shift_end[v], day.break_on[v], earliest, latest, duration)
            work = rest + chain
            shift = priced(span, work, day.span_cost[v], day.balance_cost[v], day.balance_target[v], day.work_floor[v])
            found[n, 0], found[n, 1], found[n, 2], found[n, 3], found[n, 4] = v, p, marker, side, work
            arcs[n], bound[n] = arc, arc + shift - scratch.paid[v]
            n += 1
    return n


@njit(cache=True)
def _candidate_route(v, p, site, marker, side, state, seq):
    """Truck v's route with ``site`` at position p (``marker`` before it (side -1), after it (1), or none (0))
    into ``seq``; returns its length."""
    m = 0
    for q in range(p):
        seq[m] = state.nodes[v, q]
        m += 1
    if side < 0:
        seq[m] = marker
        m += 1
    seq[m] = site
    m += 1
    if side > 0:
        seq[m] = marker
        m += 1
    for q in range(p, state.length[v]):
        seq[m] = state.nodes[v, q]
        m += 1
    return m


@njit(cache=True)
def cheapest_trips(site, count, state, day, scratch):
    """(truck, position, marker, side) among the ``count`` candidates where ``site`` adds least (arcs and shift
    cost) and the route stays feasible: alone, or with a new unload before or after it (marker -1: none);
    (-1, -1, -1, 0) when none fits. Positions are driven cheapest lower bound first until no bound beats the best."""
    _facility_totals(state, day, scratch)
    vehicles = state.length.shape[0]
    options = count * (1 + 2 * day.facility_nodes.shape[0])
    found = np.empty((options, 5), dtype=np.int64)
    bound = np.empty(options, dtype=np.int64)
    arcs = np.empty(options, dtype=np.int64)
    busy = np.zeros(vehicles, dtype=np.int64)
    done = np.empty((vehicles, state.length.max() + 1), dtype=np.int64)
    n = _screen(site, count, state, day, scratch, busy, done, found, bound, arcs)
    best_delta, best_v, best_p, best_f, best_side = BIG, -1, -1, -1, 0
    if n == 0:
        return best_v, best_p, best_f, best_side
    work = np.empty((WORK_ROWS, state.length.max() + 5), dtype=np.int64)
    for i in np.argsort(bound[:n], kind="mergesort"):
        if bound[i] >= best_delta:
            break
        v, p, marker, side = found[i, 0], found[i, 1], found[i, 2], found[i, 3]
        m = _candidate_route(v, p, site, marker, side, state, scratch.seq)
        span = check_route(v, scratch.seq, m, day, scratch.units, work)
        if span < 0:
            continue
        shift = priced(
            span, found[i, 4], day.span_cost[v], day.balance_cost[v], day.balance_target[v], day.work_floor[v]
        )
        delta = arcs[i] + shift - scratch.paid[v]
        if delta < best_delta:
            best_delta, best_v, best_p, best_f, best_side = delta, v, p, marker, side
    return best_v, best_p, best_f, best_side
