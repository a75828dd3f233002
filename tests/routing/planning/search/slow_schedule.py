"""The reference the fast schedule and drive must equal: the code as it was at commit c18be01 (with the start
choice of ``time_route`` since: the shortest clean shift, starts after the break window too), one replay per start
candidate and break leg (O(route²)), one compiled call per visit.

:func:`feasible_schedule` replays ``routing.planning.plan.time_route`` step by step (its start candidates, every
break leg until one times the route cleanly, its hold loop); :func:`simulate` is the earliest-schedule drive
with that schedule for trucks with a hold or shift-length limit. Slow, kept only for the tests.
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

    It takes the shortest clean shift over every start candidate (later by all the waiting, by the first wait, the
    base; from the shift start and, where the break is due on the shift, from the end of its earliest window) and,
    where the break is due, the first break leg that times the route cleanly, with the holds' first pickups moved
    later as it moves them. Loads, streams and stop limits are :func:`routing.planning.search.trips.simulate`'s.
    """
    if m > 0 and day.facility_of[seq[m - 1]] < 0 and day.closing[seq[m - 1], day.depot[v]] >= 0:
        # the closing unload folded into the last arc: the evaluator times it as a visit of its own
        unfolded = np.empty(m + 1, dtype=np.int64)
        unfolded[:m] = seq[:m]
        unfolded[m] = day.closing[seq[m - 1], day.depot[v]]
        seq, m = unfolded, m + 1
    work = np.zeros((3, m + 1), dtype=np.int64)
    bases = [day.shift_start[v]]
    if day.break_on[v]:  # a route wholly after the break's earliest window needs none
        bases.append(day.break_rule[0] + day.break_rule[2])
    best = -1
    for first in bases:
        _, _, waiting, first_wait = _timed(v, seq, m, day, first, -1, work)
        count = 3 if waiting > 0 else 1
        candidates = (first + waiting, first + first_wait, first)
        for c in range(count):
            begin = candidates[3 - count + c]
            bad, end, _, _ = _timed(v, seq, m, day, begin, -1, work)
            if day.break_on[v] and end > day.break_rule[1] and begin < day.break_rule[0] + day.break_rule[2]:
                for leg in range(m + 1):
                    bad, end, _, _ = _timed(v, seq, m, day, begin, leg, work)
                    if bad == 0:
                        break
            if bad == 0 and (best < 0 or end - begin < best):
                best = end - begin
    return best


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
