"""The plan evaluator's schedule of one route, compiled: hold limits and shift-length limits as the checker sees them.

Why: a truck with a hold limit (kitchen waste on board ≤ 4 h) or a longest shift is feasible only if the
schedule that :func:`routing.planning.plan.time_route` writes — and the checker (:mod:`routing.planning.check`)
certifies — keeps it; the earliest schedule that :func:`routing.planning.search.trips.simulate` drives is not
that schedule (the evaluator starts late to cut waiting, and delays a trip's first pickup so its load is on board
for less time). :func:`feasible_schedule` replays ``time_route`` step by step on the compiled arrays: its start
candidates, its break legs, its waits for release dates and windows, and its loop moving a held load's first
pickup later (``_timed``). A route is feasible here exactly when the evaluator finds a schedule without
violations, so the compiled search never holds a route the plan would break, and never rejects one it keeps.

Trucks with a hold limit or a shift-length limit come here for feasibility (``DayArrays.hold``,
``DayArrays.max_shift``), trucks paid per hour or balanced for their shift's cost (:func:`time_cost`);
days where a held truck carries several streams (the checker holds each stream on its own) keep the OR-Tools
loop (:func:`routing.planning.search.arrays.unmodelled`). A closing unload folded into the last arc
(``DayArrays.closing``) is replayed as the visit the plan writes.
Times follow the OR-Tools time dimension: ``travel[a, b]`` is the service at ``a`` plus the drive to ``b``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _service_start(node, t, day):
    """(start, seconds late, close of the window it starts in; 0 when after every window) as the evaluator's."""
    for w in range(day.win_count[node]):
        if t <= day.win_close[node, w]:
            return max(t, day.win_open[node, w]), 0, day.win_close[node, w]
    return t, t - day.win_close[node, day.win_count[node] - 1], 0


@njit(cache=True)
def _trip_release(seq, m, k, day):
    """The latest release of the trip that site ``seq[k]`` begins."""
    latest = 0
    while k < m and day.facility_of[seq[k]] < 0:
        latest = max(latest, day.release[seq[k]])
        k += 1
    return latest


@njit(cache=True)
def _replay(v, seq, m, day, begin, leg, not_before, starts, closes):
    """``plan._simulate``: the route from ``begin`` with the break on leg ``leg`` (-1: none).

    Returns (violation seconds, return time, waiting in all, the first entry's wait); fills each visit's service
    start (``starts``) and the close of the window it starts in (``closes``).
    """
    earliest, latest, duration = day.break_rule[0], day.break_rule[1], day.break_rule[2]
    t, here, bad, waiting, first_wait, entries = begin, day.depot[v], 0, 0, 0, 0
    for k in range(m + 1):
        node = day.depot[v] if k == m else seq[k]
        if k < m and day.facility_of[node] < 0 and (k == 0 or day.facility_of[seq[k - 1]] >= 0):
            release = _trip_release(seq, m, k, day)
            if release > t:  # the trip leaves its depot or facility once its loads are released
                waiting += release - t
                first_wait = release - t if entries == 0 else first_wait
                entries += 1
                t = release
        drive = 0 if here == node else day.travel[here, node] - day.service[here]
        if k == leg:  # plan._Timing.take_break: there after the drive when it can start in its window, else here
            first = max(t + drive, earliest) <= latest
            if first:
                t += drive
            start = max(t, earliest)
            bad += max(0, start - latest)
            if start > t:
                waiting += start - t
                entries += 1
            entries += 1
            t = start + duration
            if not first:
                t += drive
        else:
            t += drive
        here = node
        if k == m:
            bad += max(0, t - day.shift_end[v])
            break
        start, late, close = _service_start(node, max(t, not_before[k]), day)
        bad += late
        if start > t:
            waiting += start - t
            first_wait = start - t if entries == 0 else first_wait
            entries += 1
        entries += 1
        starts[k], closes[k] = start, close
        t = start + day.service[node]
    if day.max_shift[v] >= 0:
        bad += max(0, t - begin - day.max_shift[v])
    return bad, t, waiting, first_wait


@njit(cache=True)
def _hold_excess(v, seq, m, day, starts, closes, end):
    """``plan._hold_excess``: seconds beyond the truck's hold over its trips, and the first late load's first pickup
    (visit position, pickup time, close of its window; position -1: every load in time)."""
    hold = day.hold[v]
    excess, at, since, close = 0, -1, 0, 0
    if hold < 0:
        return excess, at, since, close
    first, pickup = -1, 0
    for k in range(m + 1):
        if k < m and day.facility_of[seq[k]] < 0:
            picked = starts[k] if day.since[seq[k]] < 0 else min(starts[k], day.since[seq[k]])
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
def _timed(v, seq, m, day, begin, leg, work):
    """``plan._timed``: the replay, then a load held too long gets its first pickup later while that shortens the
    holds and breaks nothing. Returns (violation seconds with the holds' excess, return, waiting, first wait)."""
    not_before, starts, closes = work[0], work[1], work[2]
    not_before[: m + 1] = 0
    bad, end, waiting, first_wait = _replay(v, seq, m, day, begin, leg, not_before, starts, closes)
    excess, at, since, close = _hold_excess(v, seq, m, day, starts, closes, end)
    for _ in range(m):
        if at < 0 or close <= since:
            break
        kept = not_before[at]
        not_before[at] = min(close, since + excess)
        new = _replay(v, seq, m, day, begin, leg, not_before, starts, closes)
        new_excess, new_at, new_since, new_close = _hold_excess(v, seq, m, day, starts, closes, new[1])
        if new[0] > bad or new_excess >= excess:
            not_before[at] = kept
            break
        bad, end, waiting, first_wait = new
        excess, at, since, close = new_excess, new_at, new_since, new_close
    return bad + excess, end, waiting, first_wait


@njit(cache=True)
def feasible_schedule(v, seq, m, day):
    """The shift (return less start) of the schedule ``plan.time_route`` writes for truck v's route ``seq[:m]``
    (sites and unload markers), or -1 where it finds none without a violation.

    It takes the first start candidate (later by all the waiting, by the first wait, the shift start) and, where
    the break is due, the first break leg that time the route cleanly, with the holds' first pickups moved later as
    it moves them. Loads, streams and stop limits are :func:`routing.planning.search.trips.simulate`'s.
    """
    if m > 0 and day.facility_of[seq[m - 1]] < 0 and day.closing[seq[m - 1], day.depot[v]] >= 0:
        # the closing unload folded into the last arc: the evaluator times it as a visit of its own
        unfolded = np.empty(m + 1, dtype=np.int64)
        unfolded[:m] = seq[:m]
        unfolded[m] = day.closing[seq[m - 1], day.depot[v]]
        seq, m = unfolded, m + 1
    work = np.zeros((3, m + 1), dtype=np.int64)
    first = day.shift_start[v]
    _, _, waiting, first_wait = _timed(v, seq, m, day, first, -1, work)
    count = 3 if waiting > 0 else 1
    candidates = (first + waiting, first + first_wait, first)
    for c in range(count):
        begin = candidates[3 - count + c]
        bad, end, _, _ = _timed(v, seq, m, day, begin, -1, work)
        due = day.break_on[v] and end > day.break_rule[1] and begin < day.break_rule[0] + day.break_rule[2]
        if not due:
            if bad == 0:
                return end - begin
            continue
        for leg in range(m + 1):
            bad, end, _, _ = _timed(v, seq, m, day, begin, leg, work)
            if bad == 0:
                return end - begin
    return -1


@njit(cache=True)
def time_cost(v, seq, m, day):
    """Cost units of truck v's shift on route ``seq[:m]``: per second of it (``span_cost``, OR-Tools' span cost) and
    per second beyond its type's balance target (``balance_cost``, the soft span bound of ``dispatch.add_balance``),
    on the shift the plan evaluator writes. 0 for an infeasible route (it is never kept)."""
    if m == 0 or (day.span_cost[v] == 0 and day.balance_cost[v] == 0):
        return 0
    span = feasible_schedule(v, seq, m, day)
    if span < 0:
        return 0
    return day.span_cost[v] * span + day.balance_cost[v] * max(0, span - day.balance_target[v])
