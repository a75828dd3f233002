"""Deadhead paths: shortest paths between vertices, and the task-to-task cost matrix the search reads.

Why a matrix over service arcs rather than over vertices: the search asks "what does it cost to go
from the end of this service to the start of that one", and a matrix over arcs answers it for any
rule that depends on how a vertex is entered and left — the street product's U-turn penalty or ban
becomes a shortest path on the line graph without touching the search. Here (benchmarks) the arc
cost is the vertex distance between the service's head and the next service's tail.

Arc ``2t`` serves task t from its edge's tail to its head, arc ``2t + 1`` from head to tail; the
last row and column (index ``2T``) are the depot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.arcs.problem import ArcProblem
from routing.errors import InvalidInputError

UNREACHABLE = np.iinfo(np.int64).max // 8  # a cost no route can pay: the search treats it as forbidden


@dataclass(frozen=True)
class DeadheadPaths:
    """All-pairs shortest deadhead costs between vertices, with the paths to expand them into steps."""

    distance: np.ndarray  # int64 [n, n]
    predecessor: np.ndarray  # int32 [n, n]: scipy's predecessor matrix (-9999: none)
    edge_between: dict[tuple[int, int], int]  # (from, to) -> the cheapest edge driven that way

    def vertices(self, start: int, end: int) -> list[int]:
        """The vertices of a shortest path from ``start`` to ``end``, both included."""
        out = [end]
        while out[-1] != start:
            previous = int(self.predecessor[start, out[-1]])
            if previous < 0:
                raise InvalidInputError(f"顶点 {start} 无法到达 {end} / vertex {end} is unreachable from {start}")
            out.append(previous)
        return out[::-1]


def deadhead_paths(problem: ArcProblem) -> DeadheadPaths:
    """Shortest deadhead paths between all vertices (Dijkstra from every vertex).

    Parameters
    ----------
    problem : ArcProblem
        The graph; parallel edges keep their cheapest one per direction.

    Returns
    -------
    DeadheadPaths
        Costs (``UNREACHABLE`` where no path exists) and predecessors.
    """
    cheapest: dict[tuple[int, int], int] = {}
    for e in range(problem.n_edges):
        u, v = int(problem.tail[e]), int(problem.head[e])
        pairs = [(u, v), (v, u)] if problem.two_way[e] else [(u, v)]
        for pair in pairs:
            if pair[0] != pair[1] and (pair not in cheapest or problem.cost[e] < problem.cost[cheapest[pair]]):
                cheapest[pair] = e
    n = problem.n_vertices
    rows = np.array([pair[0] for pair in cheapest], dtype=np.int64)
    cols = np.array([pair[1] for pair in cheapest], dtype=np.int64)
    # csgraph drops explicit zeros: a zero-cost edge becomes a tiny positive one and is rounded away below
    weights = np.array([max(float(problem.cost[e]), 1e-9) for e in cheapest.values()], dtype=np.float64)
    graph = csr_matrix((weights, (rows, cols)), shape=(n, n))
    distance, predecessor = dijkstra(graph, directed=True, return_predecessors=True)
    finite = np.isfinite(distance)
    out = np.full((n, n), UNREACHABLE, dtype=np.int64)
    out[finite] = np.rint(distance[finite]).astype(np.int64)
    return DeadheadPaths(distance=out, predecessor=predecessor, edge_between=cheapest)


def arc_matrix(problem: ArcProblem, paths: DeadheadPaths) -> tuple[np.ndarray, np.ndarray]:
    """Deadhead cost between service arcs (and the depot), and the cost of each service arc.

    Parameters
    ----------
    problem : ArcProblem
        The tasks and their allowed service directions.
    paths : DeadheadPaths
        Vertex-to-vertex costs.

    Returns
    -------
    dist : ndarray
        int64 ``[2T + 1, 2T + 1]``: from the end of arc a (or the depot, index 2T) to the start of b.
    serve : ndarray
        int64 ``[2T]``: cost of serving arc a; ``UNREACHABLE`` for a direction the task forbids.
    """
    edges = problem.tasks
    start = np.empty(2 * len(edges) + 1, dtype=np.int64)
    end = np.empty_like(start)
    start[0:-1:2], end[0:-1:2] = problem.tail[edges], problem.head[edges]
    start[1:-1:2], end[1:-1:2] = problem.head[edges], problem.tail[edges]
    start[-1] = end[-1] = problem.depot
    dist = paths.distance[np.ix_(end, start)].copy()
    serve = np.full(2 * len(edges), UNREACHABLE, dtype=np.int64)
    serve[0::2] = np.where(problem.serve_forward[edges], problem.serve_cost[edges], UNREACHABLE)
    serve[1::2] = np.where(problem.serve_backward[edges], problem.serve_cost[edges], UNREACHABLE)
    return dist, serve
