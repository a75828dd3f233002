"""Deadhead paths: the costs between service arcs, the depot and the facilities, and the legs behind them.

Why a matrix over service arcs rather than over vertices: the search asks "what does it cost to go
from the end of this service to the start of that one", and a matrix over arcs answers it for any
rule on how a vertex is entered and left. Without a U-turn rule the answer is the vertex distance
(:class:`VertexPaths`, the benchmarks). With one it is a shortest path on the line graph
(:class:`TurnPaths`): its nodes are the edges driven in a direction, a line-graph arc joins an edge
entering a vertex to one leaving it, and the U-turn arc is dropped (forbidden, except at a dead end)
or costs ``uturn_cost``. The search only reads the matrices, so it never sees the rule.

Arc ``2t`` serves task t from its edge's tail to its head, arc ``2t + 1`` from head to tail; index
``2T`` is the depot. Endpoints of a leg use the same numbers, facilities ``2T + 1 + f``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.arcs.problem import ArcProblem
from routing.errors import InvalidInputError

UNREACHABLE = np.iinfo(np.int64).max // 8  # a cost no route can pay: the search treats it as forbidden
_TINY = 1e-6  # csgraph drops explicit zeros: a zero cost becomes this and is rounded away
_CHUNK = 256  # Dijkstra sources per call (memory: chunk × line-graph nodes floats)

Leg = list[tuple[int, int, int]]  # (tail, head, edge) per deadhead edge driven


@dataclass(frozen=True)
class ArcCosts:
    """What the search reads: deadhead between arcs, service costs, and the detours through facilities."""

    dist: np.ndarray  # int64 [2T + 1, 2T + 1]: from the end of arc a (or the depot) to the start of b
    serve: np.ndarray  # int64 [2T]: cost of serving arc a; UNREACHABLE for a forbidden direction
    to_fac: np.ndarray  # int64 [2T + 1, F]: from the end of arc a (or the depot) into facility f
    from_fac: np.ndarray  # int64 [F, 2T + 1]: out of facility f to the start of arc b (or the depot)
    fac_cost: np.ndarray  # int64 [F]: cost of a visit


def _endpoints(problem: ArcProblem) -> tuple[np.ndarray, np.ndarray]:
    """Start and end vertex of every arc, the depot (2T) and each facility (2T + 1 + f)."""
    edges = problem.tasks
    start = np.empty(2 * len(edges) + 1 + len(problem.facilities), dtype=np.int64)
    end = np.empty_like(start)
    start[0 : 2 * len(edges) : 2], end[0 : 2 * len(edges) : 2] = problem.tail[edges], problem.head[edges]
    start[1 : 2 * len(edges) : 2], end[1 : 2 * len(edges) : 2] = problem.head[edges], problem.tail[edges]
    start[2 * len(edges)] = end[2 * len(edges)] = problem.depot
    start[2 * len(edges) + 1 :] = end[2 * len(edges) + 1 :] = problem.facilities
    return start, end


def _serve_costs(problem: ArcProblem) -> np.ndarray:
    edges = problem.tasks
    serve = np.full(2 * len(edges), UNREACHABLE, dtype=np.int64)
    serve[0::2] = np.where(problem.serve_forward[edges], problem.serve_cost[edges], UNREACHABLE)
    serve[1::2] = np.where(problem.serve_backward[edges], problem.serve_cost[edges], UNREACHABLE)
    return serve


def _rounded(distance: np.ndarray) -> np.ndarray:
    out = np.full(distance.shape, UNREACHABLE, dtype=np.int64)
    finite = np.isfinite(distance)
    out[finite] = np.rint(distance[finite]).astype(np.int64)
    return out


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
    """Shortest deadhead paths between all vertices (Dijkstra from every vertex), parallel edges at their cheapest."""
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
    weights = np.array([max(float(problem.cost[e]), _TINY) for e in cheapest.values()], dtype=np.float64)
    graph = csr_matrix((weights, (rows, cols)), shape=(n, n))
    distance, predecessor = dijkstra(graph, directed=True, return_predecessors=True)
    return DeadheadPaths(distance=_rounded(distance), predecessor=predecessor, edge_between=cheapest)


class VertexPaths:
    """Costs and legs when a truck may leave a vertex by any edge (no U-turn rule): vertex distances."""

    def __init__(self, problem: ArcProblem) -> None:
        self.problem = problem
        self.paths = deadhead_paths(problem)
        self.start, self.end = _endpoints(problem)

    def costs(self) -> ArcCosts:
        """The matrices of :class:`ArcCosts` from the vertex distances."""
        d, a = self.paths.distance, 2 * len(self.problem.tasks) + 1
        fac = self.problem.facilities
        return ArcCosts(
            dist=d[np.ix_(self.end[:a], self.start[:a])].copy(),
            serve=_serve_costs(self.problem),
            to_fac=d[np.ix_(self.end[:a], fac)].copy(),
            from_fac=d[np.ix_(fac, self.start[:a])].copy(),
            fac_cost=np.asarray(self.problem.facility_cost, dtype=np.int64),
        )

    def legs(self, pairs: list[tuple[int, int]]) -> list[Leg]:
        """Per (from endpoint, to endpoint), the deadhead edges of a shortest path between them."""
        out = []
        for source, target in pairs:
            vertices = self.paths.vertices(int(self.end[source]), int(self.start[target]))
            out.append([(a, b, self.paths.edge_between[(a, b)]) for a, b in zip(vertices, vertices[1:])])
        return out


class TurnPaths:
    """Costs and legs on the line graph, where the U-turn arc is dropped or penalised (``problem.uturn``)."""

    def __init__(self, problem: ArcProblem) -> None:
        self.problem = problem
        p = problem
        road, way = p.streets
        two = np.flatnonzero(p.two_way)
        self.edge = np.concatenate([np.arange(p.n_edges), two])  # traversal x drives edge[x] …
        self.tail = np.concatenate([p.tail, p.head[two]])  # … from tail[x] to head[x]
        self.head = np.concatenate([p.head, p.tail[two]])
        self.road = road[self.edge]
        self.way = np.concatenate([way, -way[two]])
        self.weight = p.cost[self.edge].astype(np.float64)
        backward = np.full(p.n_edges, -1, dtype=np.int64)
        backward[two] = p.n_edges + np.arange(len(two))
        self.start, self.end = _endpoints(p)
        t = len(p.tasks)
        # line-graph node of each arc (-1: a forbidden direction), then virtual out/in nodes per depot/facility
        self.arc_node = np.full(2 * t, -1, dtype=np.int64)
        self.arc_node[0::2] = np.where(p.serve_forward[p.tasks], p.tasks, -1)
        self.arc_node[1::2] = np.where(p.serve_backward[p.tasks], backward[p.tasks], -1)
        places = self.start[2 * t :]
        x = len(self.edge)
        self.out_node = x + np.arange(len(places))
        self.in_node = x + len(places) + np.arange(len(places))
        self.graph = self._line_graph(places)

    def _line_graph(self, places: np.ndarray) -> csr_matrix:
        """Edge-to-edge arcs at every vertex (U-turn rule applied), and the depot/facility virtual nodes."""
        p, x = self.problem, len(self.edge)
        order_in, order_out = np.argsort(self.head, kind="stable"), np.argsort(self.tail, kind="stable")
        bounds_in = np.searchsorted(self.head[order_in], np.arange(p.n_vertices + 1))
        bounds_out = np.searchsorted(self.tail[order_out], np.arange(p.n_vertices + 1))
        rows, cols, weights = [], [], []
        for w in range(p.n_vertices):
            ins, outs = order_in[bounds_in[w] : bounds_in[w + 1]], order_out[bounds_out[w] : bounds_out[w + 1]]
            if not len(ins) or not len(outs):
                continue
            a, b = np.meshgrid(ins, outs, indexing="ij")
            a, b = a.ravel(), b.ravel()
            turn = (self.road[a] == self.road[b]) & (self.way[a] != self.way[b])
            keep = np.ones(len(a), dtype=np.bool_)
            if p.uturn == "forbidden":
                only_way = np.array([turn[a == i].all() for i in a])  # a dead end: the U-turn is the only way on
                keep = ~turn | only_way
            extra = p.uturn_cost if p.uturn != "allowed" else 0
            rows.append(a[keep])
            cols.append(b[keep])
            weights.append(self.weight[b[keep]] + extra * turn[keep])
        for k, w in enumerate(places):
            outs, ins = np.flatnonzero(self.tail == w), np.flatnonzero(self.head == w)
            rows += [np.full(len(outs), self.out_node[k]), ins]
            cols += [outs, np.full(len(ins), self.in_node[k])]
            weights += [self.weight[outs], np.zeros(len(ins))]
        n = x + 2 * len(places)
        data = np.maximum(np.concatenate(weights), _TINY)
        return csr_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))

    def _source(self, endpoint: int) -> int:
        a = len(self.arc_node)
        return int(self.arc_node[endpoint]) if endpoint < a else int(self.out_node[endpoint - a])

    def _target(self, endpoint: int) -> tuple[int, float]:
        """Line-graph node of an endpoint as a target, and the cost to take off (the arc's own edge)."""
        a = len(self.arc_node)
        if endpoint < a:
            node = int(self.arc_node[endpoint])
            return node, float(self.weight[node]) if node >= 0 else 0.0
        return int(self.in_node[endpoint - a]), 0.0

    def costs(self) -> ArcCosts:
        """The matrices of :class:`ArcCosts`: Dijkstra on the line graph from every arc, depot and facility."""
        a, f = len(self.arc_node) + 1, len(self.problem.facilities)
        targets = [self._target(e) for e in range(a + f)]
        target_nodes = np.array([max(n, 0) for n, _ in targets])
        take_off = np.array([c for _, c in targets])
        dead = np.array([n for n, _ in targets]) < 0  # forbidden directions: never a target
        dist = np.full((a, a), UNREACHABLE, dtype=np.int64)
        to_fac = np.full((a, f), UNREACHABLE, dtype=np.int64)
        from_fac = np.full((f, a), UNREACHABLE, dtype=np.int64)
        nodes = np.array([self._source(e) for e in range(a + f)])
        live = np.flatnonzero(nodes >= 0)
        # the predecessors are kept (int32, one row per source) so that the legs need no second Dijkstra
        self.predecessor = np.empty((len(live), self.graph.shape[0]), dtype=np.int32)
        self.row_of = {int(node): row for row, node in enumerate(nodes[live])}
        for i in range(0, len(live), _CHUNK):
            chunk = live[i : i + _CHUNK]
            found, self.predecessor[i : i + len(chunk)] = dijkstra(
                self.graph, directed=True, indices=nodes[chunk], return_predecessors=True
            )
            found = found[:, target_nodes] - take_off
            found[:, dead] = np.inf
            rows = _rounded(np.maximum(found, 0.0))
            arcs, yards = chunk[chunk < a], chunk[chunk >= a]
            dist[arcs], to_fac[arcs] = rows[chunk < a, :a], rows[chunk < a, a:]
            from_fac[yards - a] = rows[chunk >= a, :a]
        # yard to yard at one vertex costs nothing: the depot row/column against the facilities
        home = self.start[a - 1]
        to_fac[a - 1, self.problem.facilities == home] = 0
        from_fac[self.problem.facilities == home, a - 1] = 0
        dist[a - 1, a - 1] = 0
        return ArcCosts(
            dist=dist,
            serve=_serve_costs(self.problem),
            to_fac=to_fac,
            from_fac=from_fac,
            fac_cost=np.asarray(self.problem.facility_cost, dtype=np.int64),
        )

    def legs(self, pairs: list[tuple[int, int]]) -> list[Leg]:
        """Per (from endpoint, to endpoint), the deadhead edges of a shortest line-graph path between them.

        Reads the predecessors :meth:`costs` kept (call it first).
        """
        out = []
        for source, target in pairs:
            node = self._source(source)
            out.append(self._leg(self.predecessor[self.row_of[node]], node, target))
        return out

    def _leg(self, predecessor: np.ndarray, source: int, endpoint: int) -> Leg:
        target, _ = self._target(endpoint)
        a, x = len(self.arc_node), len(self.edge)
        if endpoint >= a and source >= x and self.start[a + source - x] == self.start[endpoint]:
            return []  # yard to yard at one vertex
        chain = [target]
        while chain[-1] != source:
            previous = int(predecessor[chain[-1]])
            if previous < 0:
                raise InvalidInputError(f"无法到达 / endpoint {endpoint} is unreachable from line-graph node {source}")
            chain.append(previous)
        inner = [n for n in chain[::-1][1:] if n < len(self.edge) and n != target]
        return [(int(self.tail[n]), int(self.head[n]), int(self.edge[n])) for n in inner]


def route_paths(problem: ArcProblem) -> VertexPaths | TurnPaths:
    """The path machinery the problem's U-turn rule asks for."""
    return VertexPaths(problem) if problem.uturn == "allowed" else TurnPaths(problem)
