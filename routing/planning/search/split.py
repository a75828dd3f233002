"""A ruined route split in two, its tail handed to a spare truck (compiled, for :mod:`routing.planning.search.sisr`).

Why: a search inserting one site at a time opens a truck only when no route has room, so where trucks are free
(distance alone is paid, as in the published VRPTW sets) it settles on fewer trucks than the best plans run: each
split that would pay off needs several sites moved at once. Measured on Solomon's R2/RC2 (19 instances × 3 seeds,
a fixed 100,000 ruins each): a split in 5 % of ruins took the mean gap from 0.69 % to 0.61 %. With unloading trips
the spare truck takes whole trips: on Yang's 24 (60 s) 1.67 % → 1.33 %, the trucks used from 5–18 to 8–20.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from routing.planning.search.insertion import INF
from routing.planning.search.trips import refresh_trips


@njit(cache=True)
def split_route(work, day, touched):
    """Hand the tail of one of the ``touched`` (ruined) routes of ``work`` to an empty truck identical to its own,
    cut where that adds least (on a day with trips, after an unload: the spare truck takes whole trips); nothing where
    no such truck is free. Marks the spare truck touched, so the recreate
    that follows fills the new route with the ruined sites."""
    vehicles = work.length.shape[0]
    count = 0
    for v in range(vehicles):
        if touched[v] and work.length[v] >= 2:
            count += 1
    if count == 0:
        return
    pick = np.random.randint(count)
    v = -1
    for u in range(vehicles):
        if touched[u] and work.length[u] >= 2:
            if pick == 0:
                v = u
                break
            pick -= 1
    spare = -1
    for u in range(vehicles):
        if work.length[u] == 0 and day.kind[u] == day.kind[v]:
            spare = u
            break
    if spare < 0:
        return
    k, home, c = work.length[v], day.depot[v], day.vehicle_class[v]
    at, least, ties = -1, INF, 0
    for p in range(1, k):
        a, b = work.nodes[v, p - 1], work.nodes[v, p]
        if day.trips and (day.facility_of[a] < 0 or day.facility_of[b] >= 0):
            continue  # with trips, whole trips move: the cut follows an unload
        added = day.cost[c, a, home] + day.cost[c, home, b] - day.cost[c, a, b]
        if added < least:
            at, least, ties = p, added, 1
        elif added == least:  # one of the cheapest at random (reloads at the depot all add nothing)
            ties += 1
            if np.random.randint(ties) == 0:
                at = p
    if at < 0:
        return
    for i in range(k - at):
        node = work.nodes[v, at + i]
        work.nodes[spare, i] = node
        if day.is_site[node]:
            work.route_of[node] = spare
    work.length[spare] = k - at
    work.length[v] = at
    touched[spare] = True
    if day.trips:  # each route's intake as it now stands, before either is checked against the others'
        refresh_trips(v, work, day)
        refresh_trips(spare, work, day)
