"""The compiled search's bundles (problem arrays, routes, work arrays, ruin sizes) and their plain-Python helpers.

Why apart from :mod:`routing.arcs.search`: the loop and the bundles it reads change for different
reasons — the street product added facilities, the fleet and the split's work arrays here, the
loop stayed. Also the first routes of a fleet: a giant tour cut into shifts.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from routing.arcs.paths import UNREACHABLE

INF = UNREACHABLE


class ArcArrays(NamedTuple):
    """The problem as the compiled loop reads it: T tasks, arcs 2t (forward) and 2t + 1, depot 2T."""

    dist: np.ndarray  # int64 [2T + 1, 2T + 1]: deadhead from the end of one arc to the start of another
    serve: np.ndarray  # int64 [2T]: cost of a service arc, INF when the direction is forbidden
    demand: np.ndarray  # int64 [T]
    capacity: np.ndarray  # int64 [1]
    neighbours: np.ndarray  # int64 [T, K]: nearest tasks, itself first
    tasks: np.ndarray  # int64 [T]: 0..T-1 (the seeds of a string removal)
    removable: np.ndarray  # bool [T]: all True (every task may be removed)
    to_fac: np.ndarray  # int64 [2T + 1, F]: into a facility (F = 0: the load ends the route)
    from_fac: np.ndarray  # int64 [F, 2T + 1]
    fac_cost: np.ndarray  # int64 [F]
    max_cost: np.ndarray  # int64 [1]: bound on a route's cost (INF: none)
    end_at_fac: np.ndarray  # int64 [1]: 1 when a route must visit a facility after its last service


class ArcState(NamedTuple):
    """Routes as rows of tasks (R rows: one per task, or the fleet), with loads, costs, directions, breaks."""

    nodes: np.ndarray  # int64 [R, T]: tasks per route, ``length`` long
    length: np.ndarray  # int64 [R]
    load: np.ndarray  # int64 [R]
    route_cost: np.ndarray  # int64 [R]
    orient: np.ndarray  # int64 [T]: per task, 0 forward or 1 backward
    brk: np.ndarray  # int64 [T]: per task, the facility visited right after it (-1: none)
    route_of: np.ndarray  # int64 [T]: route per task, -1 unrouted
    unassigned: np.ndarray  # int64 [T]: the unrouted, ``unassigned_count[0]`` of them
    unassigned_count: np.ndarray  # int64 [1]


class Scratch(NamedTuple):
    """Work arrays: routes a ruin touched, tasks it removed, the direction programme's back pointers."""

    touched: np.ndarray  # bool [R]
    removed: np.ndarray  # int64 [T]
    back: np.ndarray  # int64 [T, 2]
    banned: np.ndarray  # bool [R]: routes an insertion was refused by (over the shift)
    g: np.ndarray  # int64 [T, 2]: the split's cost to start a load at (position, direction)
    gj: np.ndarray  # int64 [T, 2]: … the start of the load before
    go: np.ndarray  # int64 [T, 2]: … the direction its last task was served in
    gf: np.ndarray  # int64 [T, 2]: … the facility between them
    step: np.ndarray  # int64 [T, 4]: per position and directions (o, o2), the direct cost to the next task
    hop: np.ndarray  # int64 [T, 4]: … the detour through the best facility (last row: the way home)
    hopf: np.ndarray  # int64 [T, 4]: … that facility


class Ruin(NamedTuple):
    """SISR's ruin sizes and the cost of an unrouted task."""

    penalty: int
    average_removed: int
    max_string: int
    route_removal: float


def task_neighbours(dist: np.ndarray, *, keep: int) -> np.ndarray:
    """Per task, the ``keep`` nearest tasks by deadhead in either order and direction, itself first.

    Parameters
    ----------
    dist : ndarray
        The arc matrix of :func:`routing.arcs.paths.arc_matrix`.
    keep : int
        Neighbours per task (capped at the number of tasks).

    Returns
    -------
    ndarray
        int64 ``[T, keep]``.
    """
    t = (dist.shape[0] - 1) // 2
    block = dist[: 2 * t, : 2 * t].reshape(t, 2, t, 2).min(axis=(1, 3)).astype(np.float64)
    block = np.minimum(block, block.T)
    np.fill_diagonal(block, -1.0)
    return np.argsort(block, axis=1, kind="stable")[:, : min(keep, t)].astype(np.int64)


def empty_state(tasks: int, routes: int | None = None) -> ArcState:
    """No routes yet (``routes`` rows, default one per task): every task unassigned."""
    rows = tasks if routes is None else routes
    return ArcState(
        nodes=np.zeros((rows, tasks), dtype=np.int64),
        length=np.zeros(rows, dtype=np.int64),
        load=np.zeros(rows, dtype=np.int64),
        route_cost=np.zeros(rows, dtype=np.int64),
        orient=np.zeros(tasks, dtype=np.int64),
        brk=np.full(tasks, -1, dtype=np.int64),
        route_of=np.full(tasks, -1, dtype=np.int64),
        unassigned=np.arange(tasks, dtype=np.int64),
        unassigned_count=np.array([tasks], dtype=np.int64),
    )


def state_routes(state: ArcState) -> list[list[tuple[int, int, int]]]:
    """Non-empty routes as (task, direction, facility visited after it or -1) in driving order."""
    out = []
    for v in range(len(state.length)):
        k = int(state.length[v])
        if k:
            out.append([(int(t), int(state.orient[t]), int(state.brk[t])) for t in state.nodes[v, :k]])
    return out


def new_scratch(tasks: int, rows: int) -> Scratch:
    """Work arrays for ``tasks`` tasks on ``rows`` routes."""
    return Scratch(
        touched=np.zeros(rows, dtype=np.bool_),
        removed=np.zeros(tasks, dtype=np.int64),
        back=np.zeros((tasks, 2), dtype=np.int64),
        banned=np.zeros(rows, dtype=np.bool_),
        g=np.zeros((tasks, 2), dtype=np.int64),
        gj=np.zeros((tasks, 2), dtype=np.int64),
        go=np.zeros((tasks, 2), dtype=np.int64),
        gf=np.zeros((tasks, 2), dtype=np.int64),
        step=np.zeros((tasks, 4), dtype=np.int64),
        hop=np.zeros((tasks, 4), dtype=np.int64),
        hopf=np.zeros((tasks, 4), dtype=np.int64),
    )


@njit(cache=True)
def giant_tour(dist, serve, todo):
    """The tasks of ``todo`` in nearest-neighbour order from the depot (each next: the closest start, any direction).

    Why: a fleet's first shifts cut from one tour follow the streets kerb after kerb, where cheapest
    insertion in random order would leave the annealing to untangle thousands of tasks.
    """
    depot = dist.shape[0] - 1
    left = np.ones(len(todo), dtype=np.bool_)
    order = np.empty(len(todo), dtype=np.int64)
    at = depot
    for n in range(len(todo)):
        best = INF
        pick = -1
        end = depot
        for i in range(len(todo)):
            if not left[i]:
                continue
            t = todo[i]
            for o in range(2):
                if serve[2 * t + o] < INF and dist[at, 2 * t + o] < best:
                    best = dist[at, 2 * t + o]
                    pick = i
                    end = 2 * t + o
        if pick < 0:
            return order[:n]
        left[pick] = False
        order[n] = todo[pick]
        at = end
    return order
