"""Facility visits inside a route (CARPIF): where to dump or refill, chosen exactly for a route's order.

Why a split: a sweeper's route is a shift, not one hopper load, and whether to empty the hopper
after this kerb or the next changes both the load and the detour. Given the order of a route's
tasks, the cheapest choice of (direction of every task, the places where the route leaves for a
facility, which facility) is a shortest path over (position, direction) states in which a
*segment* — tasks between two facility visits — may not carry more than the capacity: Beullens et
al.'s / Ghiani et al.'s route-first split, with the two-state direction programme of
:mod:`routing.arcs.search` inside each segment. It costs O(k · L) per route for k tasks and L per
load, and the search (ruin, recreate) stays as it is: it only reads a route's cost and its breaks.

``brk[t]`` is the facility visited right after serving task t (-1: none).
"""

from __future__ import annotations

from numba import njit

from routing.arcs.paths import UNREACHABLE

INF = UNREACHABLE


@njit(cache=True)
def via(a, b, arrays):
    """(cost, facility) of the cheapest detour from the end of arc a through a facility to the start of b."""
    best = INF
    best_f = -1
    for f in range(arrays.fac_cost.shape[0]):
        into = arrays.to_fac[a, f]
        out = arrays.from_fac[f, b]
        if into >= INF or out >= INF:
            continue
        cost = into + arrays.fac_cost[f] + out
        if cost < best:
            best = cost
            best_f = f
    return best, best_f


@njit(cache=True)
def _closing(a, arrays):
    """Cost (and facility, -1 for none) from the end of arc a back to the depot at the end of a route."""
    depot = arrays.dist.shape[0] - 1
    if arrays.end_at_fac[0]:
        return via(a, depot, arrays)
    return arrays.dist[a, depot], -1


@njit(cache=True)
def _transitions(v, k, state, arrays, scratch):
    """Per position i and directions (o, o2): the direct cost to task i + 1 and the detour through a facility.

    Read once per route so that the split's O(k · L) loop touches only these rows, not the big matrix.
    """
    nodes, dist = state.nodes, arrays.dist
    step, hop, hopf = scratch.step, scratch.hop, scratch.hopf
    for i in range(k - 1):
        p = nodes[v, i]
        t = nodes[v, i + 1]
        for o in range(2):
            for o2 in range(2):
                step[i, 2 * o + o2] = dist[2 * p + o, 2 * t + o2]
                cost, f = via(2 * p + o, 2 * t + o2, arrays)
                hop[i, 2 * o + o2] = cost
                hopf[i, 2 * o + o2] = f
    for o in range(2):
        cost, f = _closing(2 * nodes[v, k - 1] + o, arrays)
        hop[k - 1, 2 * o] = cost
        hopf[k - 1, 2 * o] = f


@njit(cache=True)
def _segment(v, j, stop, state, arrays, start0, start1, back, step):
    """Direction programme over tasks j..stop of route v from start costs; back pointers in ``back``; ends."""
    nodes, serve = state.nodes, arrays.serve
    t = nodes[v, j]
    c0 = start0 + serve[2 * t] if start0 < INF and serve[2 * t] < INF else INF
    c1 = start1 + serve[2 * t + 1] if start1 < INF and serve[2 * t + 1] < INF else INF
    for i in range(j + 1, stop + 1):
        t = nodes[v, i]
        n0 = INF
        n1 = INF
        for o in range(2):
            arc = 2 * t + o
            if serve[arc] >= INF:
                continue
            from0 = c0 + step[i - 1, o] if c0 < INF else INF
            from1 = c1 + step[i - 1, 2 + o] if c1 < INF else INF
            back[i, o] = 0 if from0 <= from1 else 1
            value = min(from0, from1)
            value = value + serve[arc] if value < INF else INF
            if o == 0:
                n0 = value
            else:
                n1 = value
        c0 = n0
        c1 = n1
    return c0, c1


@njit(cache=True)
def split_refresh(v, state, arrays, scratch):
    """Route v's directions, facility visits and cost by the exact split over its order; load = total served."""
    k = state.length[v]
    nodes, dist, serve, demand = state.nodes, arrays.dist, arrays.serve, arrays.demand
    depot = dist.shape[0] - 1
    cap = arrays.capacity[0]
    g, gj, go, gf = scratch.g, scratch.gj, scratch.go, scratch.gf
    step, hop, hopf = scratch.step, scratch.hop, scratch.hopf
    _transitions(v, k, state, arrays, scratch)
    total = 0
    for i in range(k):
        total += demand[nodes[v, i]]
        state.brk[nodes[v, i]] = -1
        g[i, 0] = INF
        g[i, 1] = INF
    state.load[v] = total
    t = nodes[v, 0]
    g[0, 0] = dist[depot, 2 * t]
    g[0, 1] = dist[depot, 2 * t + 1]
    best, best_j, best_o, best_f = INF, -1, -1, -1
    for j in range(k):
        if g[j, 0] >= INF and g[j, 1] >= INF:
            continue
        t = nodes[v, j]
        c0 = g[j, 0] + serve[2 * t] if g[j, 0] < INF and serve[2 * t] < INF else INF
        c1 = g[j, 1] + serve[2 * t + 1] if g[j, 1] < INF and serve[2 * t + 1] < INF else INF
        load = demand[t]
        i = j
        while True:
            for o in range(2):  # close the segment j..i here: home, or a facility before task i + 1
                c = c0 if o == 0 else c1
                if c >= INF:
                    continue
                if i == k - 1:
                    cost = hop[i, 2 * o]
                    if cost < INF and c + cost < best:
                        best, best_j, best_o, best_f = c + cost, j, o, hopf[i, 2 * o]
                    continue
                for o2 in range(2):
                    cost = hop[i, 2 * o + o2]
                    if cost < INF and c + cost < g[i + 1, o2]:
                        g[i + 1, o2] = c + cost
                        gj[i + 1, o2] = j
                        go[i + 1, o2] = o
                        gf[i + 1, o2] = hopf[i, 2 * o + o2]
            if i + 1 >= k or load + demand[nodes[v, i + 1]] > cap:
                break
            t = nodes[v, i + 1]
            n0 = INF
            n1 = INF
            for o2 in range(2):
                arc = 2 * t + o2
                if serve[arc] >= INF:
                    continue
                from0 = c0 + step[i, o2] if c0 < INF else INF
                from1 = c1 + step[i, 2 + o2] if c1 < INF else INF
                value = min(from0, from1)
                value = value + serve[arc] if value < INF else INF
                if o2 == 0:
                    n0 = value
                else:
                    n1 = value
            c0 = n0
            c1 = n1
            load += demand[t]
            i += 1
    state.route_cost[v] = best
    if best >= INF:
        return
    _trace(v, k, best_j, best_o, best_f, state, arrays, scratch)


@njit(cache=True)
def _trace(v, k, j, o, f, state, arrays, scratch):
    """Write the directions and breaks of the best split, segment by segment from the last."""
    nodes, g, back = state.nodes, scratch.g, scratch.back
    stop = k - 1
    while True:
        state.brk[nodes[v, stop]] = f
        _segment(v, j, stop, state, arrays, g[j, 0], g[j, 1], back, scratch.step)
        for i in range(stop, j - 1, -1):
            state.orient[nodes[v, i]] = o
            if i > j:
                o = back[i, o]
        if j == 0:
            return
        stop = j - 1
        nj, no, nf = scratch.gj[j, o], scratch.go[j, o], scratch.gf[j, o]
        j, o, f = nj, no, nf
