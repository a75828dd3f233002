"""Compiled routes with unloading trips: exact feasibility, the routes' state, tidy trips.

Why: days with unloads (multi-trip days, trucks that must come home empty), release dates or sites with
several windows used to leave the compiled ruin-and-recreate (:mod:`routing.planning.search.sisr`) for
the loop around OR-Tools descents, ~100 times fewer ruins. Here a route row holds sites and *unload
markers* (the first routing node of a facility's copies, see ``RouteArrays.facility_nodes``); a
marker ends a trip and empties the truck.

Feasibility is exact: :func:`check_route` drives the whole candidate route from its depot (O(route
length)); the insertion (:mod:`routing.planning.search.trip_insert`) bounds each position first and drives
only the promising ones. What it checks, as the checker does (:mod:`routing.planning.check`): per-trip
loads in every unit, service and unload starts inside one of the site's or facility's windows (waiting
allowed), a trip leaves its depot or facility no earlier than the latest release of its sites (the truck
waits there after unloading), stops and weight per shift, the return inside the shift, and a truck that
must come home empty ends on a marker (unless the model folds the closing unload into the last arc,
``final_unloads``), no facility receiving more than its daily capacity over all routes (:func:`intake_fits`; the
insertion screens it exactly in O(1)); for a truck with a hold or shift-length limit, a cost per hour or balance,
the schedule the plan evaluator writes (:mod:`routing.planning.search.schedule`), whose shift it also returns.

Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service (or unload) at ``a``
plus the drive to ``b``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from routing.planning.search.schedule import WORK_ROWS, shift_span, time_cost


@njit(cache=True)
def _drive(v, seq, m, day, load):
    """Whether truck v can drive ``seq[:m]`` from its depot and back home in the earliest schedule: loads per trip,
    stops and weight per shift, windows, releases, the return in the shift and the break (see :func:`check_route`).

    Two schedules run side by side, the break not yet taken (tn) and taken (tb): exact, an earlier service
    start never hurts. The break goes where the plan evaluator puts it (``routing.planning.plan.take_break``):
    at the next visit on arrival when it can start there in its window, else before driving. Window tests are
    written out rather than called: a compiled helper given arrays, even inlined, made a visit cost ~300 ns
    instead of ~10 (reference counts on every call).
    """
    travel, service, facility_of, allowed = day.travel, day.service, day.facility_of, day.allowed
    win_open, win_close, win_count = day.win_open, day.win_close, day.win_count
    release_of, demand, capacity = day.release, day.demand, day.capacity
    earliest, latest, duration = day.break_rule[0], day.break_rule[1], day.break_rule[2]
    breaks, depot, shift_end = day.break_on[v], day.depot[v], day.shift_end[v]
    units = demand.shape[1]
    tn, tb, prev = day.shift_start[v], -1, depot
    stops, collected = 0, 0
    for k in range(m + 1):
        node = depot if k == m else seq[k]
        release = 0
        if k < m and facility_of[node] < 0 and (k == 0 or facility_of[seq[k - 1]] >= 0):
            load[:] = 0  # a trip begins: its loads, and it leaves once its sites are released
            j = k
            while j < m and facility_of[seq[j]] < 0:
                s = seq[j]
                release = max(release, release_of[s])
                for u in range(units):
                    load[u] += demand[s, u]
                    if load[u] > capacity[v, u]:
                        return False
                stops += 1
                collected += demand[s, 0]
                j += 1
        elif k < m and facility_of[node] >= 0 and not allowed[node, v]:
            return False
        drive = 0 if prev == node else travel[prev, node] - service[prev]  # a doubled marker: no drive
        # arrivals with the break taken before (a0), without it (a1), taken on this leg (a2); -1: none
        a0 = max(tb + service[prev], release) + drive if tb >= 0 else -1
        a1, a2 = -1, -1
        if tn >= 0:
            leave = max(tn + service[prev], release)
            a1 = leave + drive
            if breaks:
                begin = max(leave + drive, earliest)
                if begin > latest:  # not on arrival: before leaving prev
                    begin = max(leave, earliest) + drive
                    if begin - drive > latest:
                        begin = -1
                a2 = begin + duration if begin >= 0 else -1
        if k == m:  # home within the shift
            a0, a1, a2 = (
                (a0 if a0 <= shift_end else -1),
                (a1 if a1 <= shift_end else -1),
                (a2 if a2 <= shift_end else -1),
            )
        else:  # service starts: the earliest in the first window still open on arrival
            s0, s1, s2 = -1, -1, -1
            for w in range(win_count[node]):
                close, opening = win_close[node, w], win_open[node, w]
                if s0 < 0 and 0 <= a0 <= close:
                    s0 = max(a0, opening)
                if s1 < 0 and 0 <= a1 <= close:
                    s1 = max(a1, opening)
                if s2 < 0 and 0 <= a2 <= close:
                    s2 = max(a2, opening)
            a0, a1, a2 = s0, s1, s2
        tn, tb, prev = a1, (a0 if a2 < 0 or 0 <= a0 < a2 else a2), node
        if k < m and tn < 0 and tb < 0:
            return False
    if stops > day.max_stops[v] or collected > day.daily[v]:
        return False
    if stops > 0 and day.need_unload[v] and facility_of[seq[m - 1]] < 0:
        return False
    # without the break only where it is not due: the route ends before its latest start (it starts at the shift's)
    return tb >= 0 or (tn >= 0 and not (breaks and tn > latest))


@njit(cache=True)
def timed(v, day):
    """Whether truck v's routes need the plan evaluator's schedule: a hold or shift-length limit (feasibility),
    or a cost per hour or balance (the shift's cost)."""
    return day.hold[v] >= 0 or day.max_shift[v] >= 0 or day.span_cost[v] != 0 or day.balance_cost[v] != 0


@njit(cache=True)
def check_route(v, seq, m, day, load, work):
    """The shift of truck v on ``seq[:m]`` (sites and markers) where the route is feasible, -1 where not.

    Feasible: :func:`_drive`'s earliest schedule keeps loads, windows, releases, stops, the shift and the break,
    and, for a truck with a hold or shift-length limit or a cost per hour or balance, the schedule the plan
    evaluator writes has no violation (:func:`routing.planning.search.schedule.shift_span`; the earliest schedule
    need not keep a hold or a longest shift). The shift is that schedule's (0 for other trucks: not needed).
    ``load``: one entry per load unit; ``work``: :data:`WORK_ROWS` rows of at least m + 3.
    """
    if not _drive(v, seq, m, day, load):
        return -1
    if not timed(v, day):
        return 0
    return shift_span(v, seq, m, day, work)


@njit(cache=True)
def simulate(v, seq, m, day, load):
    """Whether truck v can drive ``seq[:m]`` (sites and markers) from its depot and back home
    (:func:`check_route`). ``load`` is a scratch array of one entry per load unit."""
    return check_route(v, seq, m, day, load, np.empty((WORK_ROWS, m + 3), dtype=np.int64)) >= 0


@njit(cache=True)
def arc_total(v, state, day):
    """Truck v's route's arc costs and preference costs: its cost less the fixed cost and the shift's."""
    c = day.vehicle_class[v]
    total = 0
    prev = day.depot[v]
    for p in range(state.length[v]):
        node = state.nodes[v, p]
        total += day.cost[c, prev, node]
        if day.facility_of[node] < 0:
            total += day.preference[node, v]
        prev = node
    return total + day.cost[c, prev, day.depot[v]]


@njit(cache=True)
def folded(site, v, day):
    """The facility of the closing unload folded into the arc home of truck v from ``site`` (-1: none)."""
    marker = day.closing[site, day.depot[v]]
    return day.facility_of[marker] if marker >= 0 else -1


@njit(cache=True)
def route_intake(v, seq, m, day, out):
    """The first unit truck v unloads at each facility on ``seq[:m]``, into ``out``: a trip's load where the marker
    ending it is, the last trip's at the unload folded into its arc home (as the checker counts a plan's intake)."""
    out[:] = 0
    trip = 0
    for p in range(m):
        fi = day.facility_of[seq[p]]
        if fi >= 0:
            out[fi] += trip
            trip = 0
        else:
            trip += day.demand[seq[p], 0]
    if m > 0 and day.facility_of[seq[m - 1]] < 0 and folded(seq[m - 1], v, day) >= 0:
        out[folded(seq[m - 1], v, day)] += trip


@njit(cache=True)
def intake_fits(v, seq, m, state, day, scratch):
    """Whether no facility receives more than its daily capacity with truck v on ``seq[:m]`` and the other trucks'
    routes as they stand (their ``state.intake``)."""
    got = scratch.intake
    route_intake(v, seq, m, day, got)
    for fi in range(got.shape[0]):
        if got[fi] > 0:
            total = got[fi]
            for w in range(state.length.shape[0]):
                if w != v:
                    total += state.intake[w, fi]
            if total > day.intake_limit[fi]:
                return False
    return True


@njit(cache=True)
def refresh_trips(v, state, day):
    """Recompute truck v's cost, total load (all trips), stops, markers and intake per facility, site positions, and
    the bounds an insertion prunes with: trip loads (first unit), the facility each trip unloads at and earliest /
    latest service starts (no break, no release: lower and upper bounds of any feasible schedule)."""
    k = state.length[v]
    state.load[v, :] = 0
    state.markers[v, :] = 0
    stops = 0
    prev = day.depot[v]
    t = day.shift_start[v]
    state.earliest[v, 0] = t
    trip = 0
    first = 0
    for p in range(k):
        node = state.nodes[v, p]
        t = max(t + day.travel[prev, node], day.win_open[node, 0])
        state.earliest[v, p + 1] = t
        fi = day.facility_of[node]
        if fi >= 0:
            state.markers[v, fi] += 1
            for q in range(first, p):
                state.trip_total[v, q] = trip
                state.unload_at[v, q] = fi
            trip = 0
            first = p + 1
        else:
            state.load[v, :] += day.demand[node, :]
            state.position[node] = p
            stops += 1
            trip += day.demand[node, 0]
            state.trip_load[v, p] = trip
        prev = node
    for q in range(first, k):
        state.trip_total[v, q] = trip
        state.unload_at[v, q] = folded(state.nodes[v, k - 1], v, day)
    route_intake(v, state.nodes[v], k, day, state.intake[v])
    t = day.shift_end[v]
    state.latest[v, k + 1] = t
    nxt = day.depot[v]
    for p in range(k - 1, -1, -1):
        node = state.nodes[v, p]
        t = min(t - day.travel[node, nxt], day.win_close[node, day.win_count[node] - 1])
        state.latest[v, p + 1] = t
        nxt = node
    state.stops[v] = stops
    state.route_cost[v] = (
        arc_total(v, state, day) + day.fixed[v] + time_cost(v, state.nodes[v], k, day) if stops > 0 else 0
    )
    if stops == 0:
        state.length[v] = 0
        state.markers[v, :] = 0
        state.route_cost[v] = 0


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
                if simulate(v, scratch.seq, m, day, scratch.units) and intake_fits(
                    v, scratch.seq, m, state, day, scratch
                ):
                    state.nodes[v, :m] = scratch.seq[:m]
                    state.length[v] = m
        p -= 1
    refresh_trips(v, state, day)


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
    """Whether truck v's route as it stands is feasible (a start the search was given), the facilities' daily
    capacities counted with the other routes as they stand."""
    k = state.length[v]
    scratch.seq[:k] = state.nodes[v, :k]
    return simulate(v, scratch.seq, k, day, scratch.units) and intake_fits(v, scratch.seq, k, state, day, scratch)


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
