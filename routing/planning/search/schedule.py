"""The plan evaluator's schedule of one route, compiled: hold limits, shift-length limits and shift costs as the
checker and the plan see them.

Why: a truck with a hold limit (kitchen waste on board ≤ 4 h) or a longest shift is feasible only if the
schedule that :func:`routing.planning.plan.time_route` writes — and the checker (:mod:`routing.planning.check`)
certifies — keeps it, and a truck paid per hour or balanced costs what that schedule's shift costs; the earliest
schedule that :func:`routing.planning.search.trips.simulate` drives is not that schedule (the evaluator starts
late to cut waiting, and delays a trip's first pickup so its load is on board for less time). :func:`shift_span`
replays ``time_route`` on the compiled arrays: its start candidates, its break legs, its waits for release dates
and windows, and its loop moving a held load's first pickup later (``_timed``). A route is feasible here exactly
when the evaluator finds a schedule without violations, so the compiled search never holds a route the plan
would break, and never rejects one it keeps.

Why it is fast: the evaluator tries the break on every leg until one times the route cleanly, a replay per
leg (O(route²)). Here one pass forward (the route without the break) and one backward (the latest arrival at
each visit that keeps the rest clean) tell in O(1) per leg whether the break there leaves a window, the shift
or the longest shift broken; only a leg that passes is replayed (several only where a hold limit rejects it),
so a schedule costs a few passes over the route. And the functions take the few arrays they read, never
``DayArrays``: a compiled call copies and counts every array of a bundle it is given (~0.4 µs for its 40).

Trucks with a hold limit or a shift-length limit come here for feasibility (``DayArrays.hold``,
``DayArrays.max_shift``), trucks paid per hour or balanced for their shift's cost (:func:`time_cost`);
days where a held truck carries several streams (the checker holds each stream on its own) keep the OR-Tools
loop (:func:`routing.planning.search.arrays.unmodelled`). A closing unload folded into the last arc
(``DayArrays.closing``) is replayed as the visit the plan writes.
Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service at ``a`` plus the drive to ``b``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

BIG = np.iinfo(np.int64).max // 4
WORK_ROWS = 6  # rows of a schedule's work array (see shift_span); each at least two longer than the route


class Places(NamedTuple):
    """The node arrays a schedule reads (of :class:`routing.planning.search.insertion.DayArrays`)."""

    travel: np.ndarray
    service: np.ndarray
    facility_of: np.ndarray
    release: np.ndarray
    win_open: np.ndarray
    win_close: np.ndarray
    win_count: np.ndarray
    since: np.ndarray


class Truck(NamedTuple):
    """One truck's numbers a schedule reads, and the break rule (earliest start, latest start, duration)."""

    depot: int
    shift_start: int
    shift_end: int
    max_shift: int  # -1: none
    hold: int  # -1: none
    break_on: int  # 1: the break is due on the shift
    earliest: int
    latest: int
    duration: int


@njit(cache=True)
def places(day):
    """The node arrays of ``day`` a schedule reads."""
    return Places(
        day.travel, day.service, day.facility_of, day.release, day.win_open, day.win_close, day.win_count, day.since
    )


@njit(cache=True)
def truck(v, day):
    """Truck v's numbers of ``day`` a schedule reads."""
    rule = day.break_rule
    return Truck(
        day.depot[v],
        day.shift_start[v],
        day.shift_end[v],
        day.max_shift[v],
        day.hold[v],
        1 if day.break_on[v] else 0,
        rule[0],
        rule[1],
        rule[2],
    )


@njit(cache=True, inline="always")
def _service_start(node, t, win_open, win_close, win_count):
    """(start, seconds late, close of the window it starts in; 0 when after every window) as the evaluator's."""
    for w in range(win_count[node]):
        if t <= win_close[node, w]:
            return max(t, win_open[node, w]), 0, win_close[node, w]
    return t, t - win_close[node, win_count[node] - 1], 0


@njit(cache=True, inline="always")
def _latest_arrival(node, bound, win_open, win_close, win_count):
    """The latest arrival at ``node`` whose service starts inside a window and no later than ``bound`` (-BIG: none).

    Why a bound is enough: the evaluator's service start (the first window closing at or after the arrival) and
    its lateness never decrease with the arrival, so the arrivals that keep both are all those up to one time.
    An arrival in (latest close of the earlier windows, close of window w] starts in w, at max(arrival, open).
    """
    best, earlier = -BIG, -BIG
    for w in range(win_count[node]):
        top = min(win_close[node, w], bound)
        if win_open[node, w] <= bound and top > earlier:
            best = max(best, top)
        earlier = max(earlier, win_close[node, w])
    return best


@njit(cache=True, inline="always")
def _trip_release(seq, m, k, facility_of, release):
    """The latest release of the trip that site ``seq[k]`` begins."""
    latest = 0
    while k < m and facility_of[seq[k]] < 0:
        latest = max(latest, release[seq[k]])
        k += 1
    return latest


@njit(cache=True, inline="always")
def _trip_start(seq, k, m, facility_of):
    """Whether visit k is a site that begins a trip (the first after the depot or an unload)."""
    return k < m and facility_of[seq[k]] < 0 and (k == 0 or facility_of[seq[k - 1]] >= 0)


@njit(cache=True)
def _replay(seq, m, pl, tr, begin, leg, not_before, starts, closes):
    """``plan._simulate``: the route from ``begin`` with the break on leg ``leg`` (-1: none).

    Returns (violation seconds, return time, waiting in all, the first entry's wait); fills each visit's service
    start (``starts``) and the close of the window it starts in (``closes``).
    """
    travel, service, facility_of = pl.travel, pl.service, pl.facility_of
    t, here, bad, waiting, first_wait, entries = begin, tr.depot, 0, 0, 0, 0
    for k in range(m + 1):
        node = tr.depot if k == m else seq[k]
        if _trip_start(seq, k, m, facility_of):
            release = _trip_release(seq, m, k, facility_of, pl.release)
            if release > t:  # the trip leaves its depot or facility once its loads are released
                waiting += release - t
                first_wait = release - t if entries == 0 else first_wait
                entries += 1
                t = release
        drive = 0 if here == node else travel[here, node] - service[here]
        if k == leg:  # plan._Timing.take_break: there after the drive when it can start in its window, else here
            first = max(t + drive, tr.earliest) <= tr.latest
            if first:
                t += drive
            start = max(t, tr.earliest)
            bad += max(0, start - tr.latest)
            if start > t:
                waiting += start - t
                entries += 1
            entries += 1
            t = start + tr.duration
            if not first:
                t += drive
        else:
            t += drive
        here = node
        if k == m:
            bad += max(0, t - tr.shift_end)
            break
        start, late, close = _service_start(node, max(t, not_before[k]), pl.win_open, pl.win_close, pl.win_count)
        bad += late
        if start > t:
            waiting += start - t
            first_wait = start - t if entries == 0 else first_wait
            entries += 1
        entries += 1
        starts[k], closes[k] = start, close
        t = start + service[node]
    if tr.max_shift >= 0:
        bad += max(0, t - begin - tr.max_shift)
    return bad, t, waiting, first_wait


@njit(cache=True)
def _hold_excess(seq, m, pl, hold, starts, closes, end):
    """``plan._hold_excess``: seconds beyond the truck's hold over its trips, and the first late load's first pickup
    (visit position, pickup time, close of its window; position -1: every load in time)."""
    excess, at, since, close = 0, -1, 0, 0
    if hold < 0:
        return excess, at, since, close
    first, pickup = -1, 0
    for k in range(m + 1):
        if k < m and pl.facility_of[seq[k]] < 0:
            on_board = pl.since[seq[k]]
            picked = starts[k] if on_board < 0 else min(starts[k], on_board)
            if first < 0 or picked < pickup:
                first, pickup = k, picked
            continue
        if first >= 0:
            over = (end if k == m else starts[k]) - pickup - hold
            if over > 0:
                excess += over
                if at < 0:
                    at, since, close = first, pickup, closes[first]
        first = -1
    return excess, at, since, close


@njit(cache=True)
def _timed(seq, m, pl, tr, begin, leg, work):
    """``plan._timed``: the replay, then a load held too long gets its first pickup later while that shortens the
    holds and breaks nothing. Returns (violation seconds with the holds' excess, return, waiting, first wait)."""
    not_before, starts, closes = work[0], work[1], work[2]
    not_before[: m + 1] = 0
    bad, end, waiting, first_wait = _replay(seq, m, pl, tr, begin, leg, not_before, starts, closes)
    excess, at, since, close = _hold_excess(seq, m, pl, tr.hold, starts, closes, end)
    for _ in range(m):
        if at < 0 or close <= since:
            break
        kept = not_before[at]
        not_before[at] = min(close, since + excess)
        new = _replay(seq, m, pl, tr, begin, leg, not_before, starts, closes)
        new_excess, new_at, new_since, new_close = _hold_excess(seq, m, pl, tr.hold, starts, closes, new[1])
        if new[0] > bad or new_excess >= excess:
            not_before[at] = kept
            break
        bad, end, waiting, first_wait = new
        excess, at, since, close = new_excess, new_at, new_since, new_close
    return bad + excess, end, waiting, first_wait


@njit(cache=True)
def _ready_times(seq, m, pl, tr, begin, ready):
    """The route from ``begin`` without the break: ``ready[k]``, when the truck could leave for visit k (the depot
    at k = m) after its release wait. Returns the last leg the break may go on: the first late visit (m: none)."""
    travel, service, facility_of = pl.travel, pl.service, pl.facility_of
    t, here = begin, tr.depot
    for k in range(m + 1):
        if _trip_start(seq, k, m, facility_of):
            t = max(t, _trip_release(seq, m, k, facility_of, pl.release))
        ready[k] = t
        if k == m:
            break
        node = seq[k]
        t += 0 if here == node else travel[here, node] - service[here]
        start, late, _ = _service_start(node, t, pl.win_open, pl.win_close, pl.win_count)
        if late > 0:  # a break on a later leg leaves this visit late
            return k
        t = start + service[node]
        here = node
    return m


@njit(cache=True)
def _latest_arrivals(seq, m, pl, tr, begin, latest):
    """``latest[k]``: the latest arrival at visit k (the depot at k = m) from which the rest of the route, without
    a break, is served in its windows and home in the shift and its longest length (-BIG: never)."""
    travel, service, facility_of = pl.travel, pl.service, pl.facility_of
    home = tr.shift_end if tr.max_shift < 0 else min(tr.shift_end, begin + tr.max_shift)
    latest[m] = home
    for k in range(m - 1, -1, -1):
        node = seq[k]
        nxt = tr.depot if k + 1 == m else seq[k + 1]
        leave = latest[k + 1] - (0 if node == nxt else travel[node, nxt] - service[node])
        if _trip_start(seq, k + 1, m, facility_of) and _trip_release(seq, m, k + 1, facility_of, pl.release) > leave:
            leave = -BIG
        latest[k] = _latest_arrival(node, leave - service[node], pl.win_open, pl.win_close, pl.win_count)
    return latest


@njit(cache=True)
def _break_leg_span(seq, m, pl, tr, begin, work):
    """The shift from ``begin`` with the break on the first leg that times the route cleanly (-1: none), as the
    evaluator's loop over every leg finds it.

    A leg is replayed only when the route without the break reaches it cleanly, the break starts by its latest
    start and the visit after it is reached by its latest clean arrival (:func:`_latest_arrivals`): every other
    leg leaves a visit late, the break late or the shift too long in its first replay, and the evaluator's hold
    loop only moves visits later, which never mends those. Without a hold limit a leg that passes is clean.
    """
    ready, latest = work[3], work[4]
    last = _ready_times(seq, m, pl, tr, begin, ready)
    _latest_arrivals(seq, m, pl, tr, begin, latest)
    for k in range(last + 1):
        here = tr.depot if k == 0 else seq[k - 1]
        node = tr.depot if k == m else seq[k]
        drive = 0 if here == node else pl.travel[here, node] - pl.service[here]
        t = ready[k]
        if max(t + drive, tr.earliest) <= tr.latest:  # the break where the truck arrives
            arrive = max(t + drive, tr.earliest) + tr.duration
        elif max(t, tr.earliest) <= tr.latest:  # before driving
            arrive = max(t, tr.earliest) + tr.duration + drive
        else:  # the break starts late here, and on every later leg
            break
        if arrive > latest[k]:
            continue
        bad, end, _, _ = _timed(seq, m, pl, tr, begin, k, work)
        if bad == 0:
            return end - begin
    return -1


@njit(cache=True)
def shift_span(v, seq, m, day, work):
    """The shift (return less start) of the schedule ``plan.time_route`` writes for truck v's route ``seq[:m]``
    (sites and unload markers), or -1 where it finds none without a violation.

    It takes the shortest clean shift over its start candidates (later by all the waiting, by the first wait, the
    base; from the shift's start and, where the break is due on the shift, from the end of its earliest window)
    and, where the break is due, the first break leg that times the route cleanly, with the holds' first pickups
    moved later as it moves them. Loads, streams and stop limits are :func:`routing.planning.search.trips.simulate`'s.
    ``work``: int64 [WORK_ROWS, ≥ m + 2] scratch.
    """
    pl, tr = places(day), truck(v, day)
    if m > 0 and day.facility_of[seq[m - 1]] < 0 and day.closing[seq[m - 1], tr.depot] >= 0:
        # the closing unload folded into the last arc: the evaluator times it as a visit of its own
        unfolded = work[5]
        unfolded[:m] = seq[:m]
        unfolded[m] = day.closing[seq[m - 1], tr.depot]
        seq, m = unfolded, m + 1
    best = -1
    bases = (tr.shift_start, tr.earliest + tr.duration)
    for b in range(2 if tr.break_on else 1):
        base_bad, base_end, waiting, first_wait = _timed(seq, m, pl, tr, bases[b], -1, work)
        count = 3 if waiting > 0 else 1
        candidates = (bases[b] + waiting, bases[b] + first_wait, bases[b])
        for c in range(3 - count, 3):
            begin = candidates[c]
            if c > 3 - count and begin == candidates[c - 1]:  # the same start times the same schedule
                continue
            if begin == bases[b]:  # timed above
                bad, end, waited = base_bad, base_end, waiting
            else:
                bad, end, waited, _ = _timed(seq, m, pl, tr, begin, -1, work)
            if tr.break_on and end > tr.latest and begin < tr.earliest + tr.duration:  # the break is due
                span = _break_leg_span(seq, m, pl, tr, begin, work)
            elif bad == 0 and waited == 0:  # only drives and services: no start makes a shorter shift
                return end - begin
            else:
                span = end - begin if bad == 0 else -1
            if span >= 0 and (best < 0 or span < best):
                best = span
    return best


@njit(cache=True)
def feasible_schedule(v, seq, m, day):
    """:func:`shift_span` with its own work array (for callers outside the search's loops)."""
    return shift_span(v, seq, m, day, np.empty((WORK_ROWS, m + 3), dtype=np.int64))


@njit(cache=True, inline="always")
def priced(span, work, per_second, beyond, target, floor):
    """Cost units of a shift of ``span`` seconds that works (drives, serves, unloads) ``work`` of them:
    ``per_second`` of the span (``span_cost``, OR-Tools' span cost), and ``beyond`` per second of work over the
    type's balance ``target`` or under its ``floor`` (``balance_cost``; the soft bounds of the work dimension of
    ``dispatch.add_balance``). Never decreasing with the span: a lower bound of the span (at the exact work) prices
    a lower bound."""
    return per_second * span + beyond * (max(0, work - target) + max(0, floor - work))


@njit(cache=True, inline="always")
def gap(a, b, travel, service):
    """The drive from ``a`` to ``b`` as the schedules count it (a doubled marker: none)."""
    return 0 if a == b else travel[a, b] - service[a]


@njit(cache=True, inline="always")
def home_leg(last, depot, travel, service, facility_of, closing):
    """Drives and services from a route's last visit home, with the closing unload folded into that arc."""
    if facility_of[last] < 0 and closing[last, depot] >= 0:
        f = closing[last, depot]
        return gap(last, f, travel, service) + service[f] + gap(f, depot, travel, service)
    return gap(last, depot, travel, service)


@njit(cache=True)
def route_work(v, seq, m, day, done):
    """Seconds truck v drives, serves and unloads on route ``seq[:m]``: its shift less waiting and the break (the
    span of OR-Tools' ``work`` dimension), a lower bound of the shift :func:`shift_span` finds. Where ``done`` has
    room, ``done[p]``: those up to the end of the service at position p - 1 (0 at p = 0)."""
    travel, service = day.travel, day.service
    here = day.depot[v]
    total = 0
    for p in range(m):
        if p < done.shape[0]:
            done[p] = total
        node = seq[p]
        total += gap(here, node, travel, service) + service[node]
        here = node
    if m < done.shape[0]:
        done[m] = total
    return total + home_leg(here, day.depot[v], travel, service, day.facility_of, day.closing)


@njit(cache=True)
def time_cost(v, seq, m, day):
    """Cost units of truck v's shift on route ``seq[:m]`` (:func:`priced`) on the shift the plan evaluator
    writes. 0 for an infeasible route (it is never kept)."""
    if m == 0 or (day.span_cost[v] == 0 and day.balance_cost[v] == 0):
        return 0
    span = feasible_schedule(v, seq, m, day)
    if span < 0:
        return 0
    work = route_work(v, seq, m, day, np.empty(0, dtype=np.int64)) if day.balance_cost[v] > 0 else 0
    return priced(span, work, day.span_cost[v], day.balance_cost[v], day.balance_target[v], day.work_floor[v])
