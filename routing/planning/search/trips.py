"""Compiled routes with unloading trips: exact schedules, cheapest insertion with unload markers, tidy trips.

Why: days with unloads (multi-trip days, trucks that must come home empty), release dates or sites with
several windows used to leave the compiled ruin-and-recreate (:mod:`routing.planning.search.sisr`) for
the loop around OR-Tools descents, ~100 times fewer ruins. Here a route row holds sites and *unload
markers* (the first routing node of a facility's copies, see ``RouteArrays.facility_nodes``); a
marker ends a trip and empties the truck.

Feasibility is exact and simple: :func:`simulate` drives the whole candidate route from its depot
(O(route length)), so an insertion first prices each position by its cost delta (O(1)) and drives
the route only for a position that beats the best one so far. What it checks, as the checker does
(:mod:`routing.planning.check`): per-trip loads in every unit, service and unload starts inside one
of the site's or facility's windows (waiting allowed, earliest start taken: with no shift-length
limit or time cost the earliest schedule is the best), a trip leaves its depot or facility no
earlier than the latest release of its sites (the truck waits there after unloading), stops and
weight per shift, the return inside the shift, and a truck that must come home empty ends on a
marker (unless the model folds the closing unload into the last arc, ``final_unloads``).

Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service (or unload) at ``a``
plus the drive to ``b``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from routing.planning.search.schedule import feasible_schedule, time_cost

BIG = np.iinfo(np.int64).max // 4
BLINK = 0.01  # as routing.planning.search.insertion: a position is skipped with this probability


@njit(cache=True)
def _fit_window(node, t, day):
    """The earliest service start at or after ``t`` inside one of ``node``'s windows; -1: all closed."""
    for w in range(day.win_count[node]):
        if t <= day.win_close[node, w]:
            return max(t, day.win_open[node, w])
    return -1


@njit(cache=True)
def _arrive(node, t, end, day):
    """Service start at ``node`` for a truck ready there at ``t``; the route's end (``end``): its arrival. -1: late."""
    if end >= 0:
        return t if t <= end else -1
    return _fit_window(node, t, day)


@njit(cache=True)
def _leg(v, prev, node, tn, tb, release, end, day):
    """Earliest service starts at ``node`` from those at ``prev``: without the break (tn) and with it taken (tb);
    -1 where impossible. ``release``: the trip leaves ``prev`` no earlier; ``end``: node is the depot at the end.

    The break goes where the plan evaluator puts it (``routing.planning.plan.take_break``): at ``node`` on arrival
    when it can start there in its window, else at ``prev`` before driving.
    """
    drive = 0 if prev == node else day.travel[prev, node] - day.service[prev]  # a doubled marker: no drive
    nn, nb = -1, -1
    if tb >= 0:
        nb = _arrive(node, max(tb + day.service[prev], release) + drive, end, day)
    if tn >= 0:
        leave = max(tn + day.service[prev], release)
        nn = _arrive(node, leave + drive, end, day)
        if day.break_on[v]:
            earliest, latest, duration = day.break_rule[0], day.break_rule[1], day.break_rule[2]
            begin = max(leave + drive, earliest)
            if begin > latest:  # not on arrival: before leaving prev
                begin = max(leave, earliest) + drive
                if begin - drive > latest:
                    begin = -1
            if begin >= 0:
                c = _arrive(node, begin + duration, end, day)
                if c >= 0 and (nb < 0 or c < nb):
                    nb = c
    return nn, nb


@njit(cache=True)
def simulate(v, seq, m, day, load):
    """Whether truck v can drive ``seq[:m]`` (sites and markers) from its depot and back home.

    Two schedules run side by side, the break not yet taken and taken (exact: an earlier service start never
    hurts). ``load`` is a scratch array of one entry per load unit.
    """
    units = day.demand.shape[1]
    tn = day.shift_start[v]
    tb = -1
    prev = day.depot[v]
    stops = 0
    collected = 0
    i = 0
    while i < m:
        # the trip: sites up to the next marker; its loads and its latest release first
        j = i
        release = 0
        load[:] = 0
        while j < m and day.facility_of[seq[j]] < 0:
            s = seq[j]
            release = max(release, day.release[s])
            for u in range(units):
                load[u] += day.demand[s, u]
                if load[u] > day.capacity[v, u]:
                    return False
            stops += 1
            collected += day.demand[s, 0]
            j += 1
        for q in range(i, j):  # the trip leaves its depot or facility once its loads are released
            tn, tb = _leg(v, prev, seq[q], tn, tb, release if q == i else 0, -1, day)
            if tn < 0 and tb < 0:
                return False
            prev = seq[q]
        if j < m:
            f = seq[j]
            if not day.allowed[f, v]:
                return False
            tn, tb = _leg(v, prev, f, tn, tb, 0, -1, day)
            if tn < 0 and tb < 0:
                return False
            prev = f
        i = j + 1
    if stops > day.max_stops[v] or collected > day.daily[v]:
        return False
    if stops > 0 and day.need_unload[v] and day.facility_of[seq[m - 1]] < 0:
        return False
    tn, tb = _leg(v, prev, day.depot[v], tn, tb, 0, day.shift_end[v], day)
    # without the break only where it is not due: the route ends before its latest start (it starts at the shift's)
    if tb < 0 and not (tn >= 0 and not (day.break_on[v] and tn > day.break_rule[1])):
        return False
    # a hold or shift-length limit: the schedule the plan evaluator writes must keep it (the earliest one need not)
    return (day.hold[v] < 0 and day.max_shift[v] < 0) or feasible_schedule(v, seq, m, day) >= 0


@njit(cache=True)
def refresh_trips(v, state, day):
    """Recompute truck v's cost, total load (all trips), stops, markers per facility, site positions, and the bounds
    an insertion prunes with: trip loads (first unit) and earliest / latest service starts (no break, no release:
    lower and upper bounds of any feasible schedule)."""
    k = state.length[v]
    c = day.vehicle_class[v]
    state.load[v, :] = 0
    state.markers[v, :] = 0
    total = 0
    stops = 0
    prev = day.depot[v]
    t = day.shift_start[v]
    state.earliest[v, 0] = t
    trip = 0
    first = 0
    for p in range(k):
        node = state.nodes[v, p]
        total += day.cost[c, prev, node]
        t = max(t + day.travel[prev, node], day.win_open[node, 0])
        state.earliest[v, p + 1] = t
        fi = day.facility_of[node]
        if fi >= 0:
            state.markers[v, fi] += 1
            for q in range(first, p):
                state.trip_total[v, q] = trip
            trip = 0
            first = p + 1
        else:
            state.load[v, :] += day.demand[node, :]
            state.position[node] = p
            total += day.preference[node, v]
            stops += 1
            trip += day.demand[node, 0]
            state.trip_load[v, p] = trip
        prev = node
    for q in range(first, k):
        state.trip_total[v, q] = trip
    total += day.cost[c, prev, day.depot[v]]
    t = day.shift_end[v]
    state.latest[v, k + 1] = t
    nxt = day.depot[v]
    for p in range(k - 1, -1, -1):
        node = state.nodes[v, p]
        t = min(t - day.travel[node, nxt], day.win_close[node, day.win_count[node] - 1])
        state.latest[v, p + 1] = t
        nxt = node
    state.stops[v] = stops
    state.route_cost[v] = total + day.fixed[v] + time_cost(v, state.nodes[v], k, day) if stops > 0 else 0
    if stops == 0:
        state.length[v] = 0
        state.markers[v, :] = 0
        state.route_cost[v] = 0


@njit(cache=True)
def _reach(t, node, day):
    """The service start at ``node`` of a truck ready at ``t``, as a lower bound (first window's opening); -1:
    after its last window closes."""
    if t > day.win_close[node, day.win_count[node] - 1]:
        return -1
    return max(t, day.win_open[node, 0])


@njit(cache=True)
def _may_fit(v, p, site, marker, side, state, day):
    """Necessary conditions for :func:`_try` in O(1): the first unit's trip loads and the bounds on service starts
    (earliest before, latest after). False: the insertion is certainly infeasible."""
    k = state.length[v]
    prev = day.depot[v] if p == 0 else state.nodes[v, p - 1]
    nxt = day.depot[v] if p == k else state.nodes[v, p]
    prev_site = p > 0 and day.facility_of[prev] < 0
    next_site = p < k and day.facility_of[nxt] < 0
    before = state.trip_load[v, p - 1] if prev_site else 0  # the trip's load up to the insertion point
    whole = state.trip_total[v, p - 1] if prev_site else (state.trip_total[v, p] if next_site else 0)
    load = day.demand[site, 0] + (whole if side == 0 else before if side > 0 else whole - before)
    if load > day.capacity[v, 0]:
        return False
    t = state.earliest[v, p]
    here = prev
    if side < 0:
        t = _reach(t + day.travel[here, marker], marker, day)
        if t < 0:
            return False
        here = marker
    t = _reach(t + day.travel[here, site], site, day)
    if t < 0:
        return False
    here = site
    if side > 0:
        t = _reach(t + day.travel[here, marker], marker, day)
        if t < 0:
            return False
        here = marker
    return t + day.travel[here, nxt] <= state.latest[v, p + 1]


@njit(cache=True)
def _without(v, at, state, seq):
    """Truck v's route without position ``at`` into ``seq``; returns its length."""
    m = 0
    for p in range(state.length[v]):
        if p != at:
            seq[m] = state.nodes[v, p]
            m += 1
    return m


@njit(cache=True)
def tidy(v, state, day, scratch):
    """Drop the markers of truck v that the route no longer needs (leading, doubled, trailing, trips that fit
    together): each one whose removal costs no more and keeps the route feasible. Then refresh the route."""
    c = day.vehicle_class[v]
    p = state.length[v] - 1
    while p >= 0:
        k = state.length[v]
        node = state.nodes[v, p]
        if p < k and day.facility_of[node] >= 0:
            prev = day.depot[v] if p == 0 else state.nodes[v, p - 1]
            nxt = day.depot[v] if p == k - 1 else state.nodes[v, p + 1]
            delta = day.cost[c, prev, nxt] - day.cost[c, prev, node] - day.cost[c, node, nxt]
            # leading, doubled and needless trailing markers go even where a matrix breaks the triangle
            # inequality by a rounding: a route never holds more markers than sites (its row's width)
            needless = (
                p == 0
                or day.facility_of[prev] >= 0
                or day.facility_of[nxt] >= 0
                or (p == k - 1 and not day.need_unload[v])
            )
            if delta <= 0 or needless:
                m = _without(v, p, state, scratch.seq)
                if simulate(v, scratch.seq, m, day, scratch.units):
                    state.nodes[v, :m] = scratch.seq[:m]
                    state.length[v] = m
        p -= 1
    refresh_trips(v, state, day)


@njit(cache=True)
def _try(v, p, site, marker, side, state, day, scratch):
    """Whether ``site`` (with ``marker`` before (side -1) or after (side 1) it, or alone: side 0) fits truck v
    at position p."""
    seq = scratch.seq
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
    return simulate(v, seq, m, day, scratch.units)


@njit(cache=True)
def _marker_totals(state, day, scratch):
    """Markers in use per facility over all routes (a facility has as many as the OR-Tools model's copies)."""
    for fi in range(day.facility_nodes.shape[0]):
        total = 0
        for v in range(state.length.shape[0]):
            total += state.markers[v, fi]
        scratch.marker_total[fi] = total


@njit(cache=True)
def _shift_delta(v, m, paid, day, scratch):
    """What the candidate route just driven (``scratch.seq[:m]``) adds to truck v's shift cost (``paid`` now).

    Why after the drive: the arc-cost delta prices a position first (a lower bound where a visit more never
    shortens the shift), the shift cost needs the schedule."""
    if day.span_cost[v] == 0 and day.balance_cost[v] == 0:
        return 0
    return time_cost(v, scratch.seq, m, day) - paid


@njit(cache=True)
def cheapest_trips(site, count, state, day, scratch):
    """(truck, position, marker, side) among the ``count`` candidates where ``site`` adds least and the route stays
    feasible: alone, or with a new unload before or after it (marker -1: none); (-1, -1, -1, 0) when none fits."""
    nodes, length, cost, depot = state.nodes, state.length, day.cost, day.depot
    mark, fits, paid = scratch.mark, scratch.fits, scratch.paid
    _marker_totals(state, day, scratch)
    scratch.stamp[0] += 1
    stamp = scratch.stamp[0]
    best_delta, best_v, best_p, best_f, best_side = BIG, -1, -1, -1, 0
    for i in range(count):
        v, p = scratch.candidate_v[i], scratch.candidate_p[i]
        if mark[v] != stamp:
            mark[v] = stamp
            fits[v] = (
                day.allowed[site, v]
                and state.stops[v] + 1 <= day.max_stops[v]
                and state.load[v, 0] + day.demand[site, 0] <= day.daily[v]
            )
            paid[v] = time_cost(v, nodes[v], length[v], day) if fits[v] else 0  # the route's shift cost now
        if not fits[v]:
            continue
        k = length[v]
        prev = depot[v] if p == 0 else nodes[v, p - 1]
        nxt = depot[v] if p == k else nodes[v, p]
        c = day.vehicle_class[v]
        base = day.preference[site, v] - cost[c, prev, nxt]
        if state.stops[v] == 0:
            base += day.fixed[v]
        delta = base + cost[c, prev, site] + cost[c, site, nxt]
        if (
            delta < best_delta
            and np.random.random() >= BLINK
            and _may_fit(v, p, site, -1, 0, state, day)
            and _try(v, p, site, -1, 0, state, day, scratch)
        ):
            delta += _shift_delta(v, k + 1, paid[v], day, scratch)
            if delta < best_delta:
                best_delta, best_v, best_p, best_f, best_side = delta, v, p, -1, 0
        for fi in range(day.facility_nodes.shape[0]):
            f = day.facility_nodes[fi]
            if f < 0 or not day.allowed[f, v] or scratch.marker_total[fi] >= day.marker_limit[fi]:
                continue
            # after the site: splits the trip (or closes the route of a truck that must come home empty)
            if day.facility_of[nxt] < 0 and (p < k or day.need_unload[v]):
                delta = base + cost[c, prev, site] + cost[c, site, f] + cost[c, f, nxt]
                if (
                    delta < best_delta
                    and np.random.random() >= BLINK
                    and _may_fit(v, p, site, f, 1, state, day)
                    and _try(v, p, site, f, 1, state, day, scratch)
                ):
                    delta += _shift_delta(v, k + 2, paid[v], day, scratch)
                    if delta < best_delta:
                        best_delta, best_v, best_p, best_f, best_side = delta, v, p, f, 1
            # before the site: the site starts a new trip
            if p > 0 and day.facility_of[prev] < 0:
                delta = base + cost[c, prev, f] + cost[c, f, site] + cost[c, site, nxt]
                if (
                    delta < best_delta
                    and np.random.random() >= BLINK
                    and _may_fit(v, p, site, f, -1, state, day)
                    and _try(v, p, site, f, -1, state, day, scratch)
                ):
                    delta += _shift_delta(v, k + 2, paid[v], day, scratch)
                    if delta < best_delta:
                        best_delta, best_v, best_p, best_f, best_side = delta, v, p, f, -1
    return best_v, best_p, best_f, best_side


@njit(cache=True)
def insert_trips(v, p, site, marker, side, state, day):
    """Put ``site`` (and its new marker, if any) into truck v's route at position p; refresh the route."""
    k = state.length[v]
    m = 1 if marker < 0 else 2
    for q in range(k - 1, p - 1, -1):
        state.nodes[v, q + m] = state.nodes[v, q]
    if side < 0:
        state.nodes[v, p] = marker
        state.nodes[v, p + 1] = site
    else:
        state.nodes[v, p] = site
        if side > 0:
            state.nodes[v, p + 1] = marker
    state.length[v] = k + m
    state.route_of[site] = v
    refresh_trips(v, state, day)


@njit(cache=True)
def feasible_route(v, state, day, scratch):
    """Whether truck v's route as it stands is feasible (a start the search was given)."""
    k = state.length[v]
    scratch.seq[:k] = state.nodes[v, :k]
    return simulate(v, scratch.seq, k, day, scratch.units)


@njit(cache=True)
def evict_if_infeasible(v, state, day, scratch, count):
    """Empty truck v's route into ``scratch.removed[count:]`` if it is infeasible; returns the new count.

    Why: cutting a site out can delay the rest where a matrix breaks the triangle inequality (Yang's arcs are
    truncated to tenths), and the search must never hold a route the checker would reject.
    """
    if feasible_route(v, state, day, scratch):
        return count
    for p in range(state.length[v]):
        node = state.nodes[v, p]
        if day.facility_of[node] < 0:
            scratch.removed[count] = node
            state.route_of[node] = -1
            count += 1
    state.length[v] = 0
    refresh_trips(v, state, day)
    return count
