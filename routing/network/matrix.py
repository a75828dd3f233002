"""Travel matrices and road paths between snapped points.

Durations follow the fastest path; distances are measured along that same
path. Both come out of ONE compiled Dijkstra run per source node
(``scipy.sparse.csgraph.dijkstra``) by packing each edge's cost into a single
exact float64: ``milliseconds * 2**21 + decimetres``. The sum of packed costs
along a path is the packed sum of its time and its length, and comparing packed
costs compares time first and length second, so the fastest path (ties broken
by the shorter one) and its length come out together. float64 holds integers
exactly up to 2**53, leaving 32 bits (≈ 1,190 hours) for time and 21 bits
(≈ 209 km) for distance: ample for a city.

Memory grows with the square of the places (10,000 places: 10⁸ entries per matrix). The
build runs by blocks of origins (Dijkstra rows, packing and unpacking in a bounded scratch), writing
straight into the two result matrices, so its peak is those two matrices plus one block; with
``rounded`` they are the int64 seconds and metres a :class:`routing.planning.problem.Problem` holds,
with no float copy (a 10,000-stop day: 1.6 GiB instead of 3.9 GiB). :func:`travel_matrices` first
estimates its peak (:func:`matrix_bytes`) and refuses a build above ``memory_limit_gib``
(``QINGYUN_NETWORK_MATRIX_MEMORY_GIB``) before allocating anything, naming the size.

A point on an edge leaves it forward (towards ``v``) or, on a two-way street,
backward over the twin edge (towards ``u``); it is reached the same two ways.
Two points on the same street are joined directly along it when that is the
legal direction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra
from shapely import ops
from shapely.geometry import LineString

from routing.errors import InvalidInputError, UnreachableError
from routing.network.graph import RoadNetwork, SnappedPoint
from routing.network.settings import MATRIX_MEMORY_GIB

_LENGTH_BITS = 21
_LENGTH_SCALE = float(1 << _LENGTH_BITS)
_MAX_DECIMETRES = (1 << _LENGTH_BITS) - 1
_GIB = float(1 << 30)
BLOCK_BYTES = 96 << 20  # scratch for one block of origin rows (Dijkstra rows, packed costs, unpacking)


@dataclass
class Matrices:
    """Travel matrices between points, in the order of ``ids`` (float64, or int64 when built ``rounded``)."""

    ids: list[str]
    duration_s: np.ndarray
    distance_m: np.ndarray

    def save(self, path: str) -> None:
        np.savez_compressed(path, ids=np.array(self.ids), duration_s=self.duration_s, distance_m=self.distance_m)


@dataclass
class RoadPath:
    """The drivable path between two snapped points, for drawing routes."""

    nodes: list[int]
    distance_m: float
    duration_s: float
    geometry_xy: LineString
    geometry: LineString  # WGS-84 lon/lat


def _pack(time_s: np.ndarray, length_m: np.ndarray) -> np.ndarray:
    ms = np.rint(np.asarray(time_s) * 1000.0)
    dm = np.rint(np.asarray(length_m) * 10.0)
    if np.any(dm > _MAX_DECIMETRES):
        raise InvalidInputError("a single road edge is longer than 209 km; the matrix packing cannot hold it")
    return ms * _LENGTH_SCALE + dm


def _unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore"):
        ms = np.floor(packed / _LENGTH_SCALE)
        dm = packed - ms * _LENGTH_SCALE
    return ms / 1000.0, dm / 10.0


def _packed_graph(network: RoadNetwork) -> sp.csr_matrix:
    """Sparse node×node matrix of packed edge costs (the best of parallel edges)."""
    cache = getattr(network, "_packed_csr", None)
    if cache is not None:
        return cache
    packed = _pack(network.edge_time_s, network.edge_length_m)
    csr = _csr_min(network.edge_u, network.edge_v, packed, size=len(network.node_ids))
    object.__setattr__(network, "_packed_csr", csr)
    return csr


def _csr_min(rows: np.ndarray, cols: np.ndarray, costs: np.ndarray, *, size: int) -> sp.csr_matrix:
    """Sparse cost matrix keeping the cheapest of parallel links (the sparse format would sum them)."""
    order = np.lexsort((costs, cols, rows))
    r, c, w = rows[order], cols[order], costs[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return sp.csr_matrix((w[first], (r[first], c[first])), shape=(size, size))


def _exits_and_entries(network: RoadNetwork, points: list[SnappedPoint]):
    """Per point, up to two (node, packed cost) ways out of and into its position."""
    n = len(points)
    exit_node = np.full((n, 2), -1, dtype=np.int64)
    exit_cost = np.full((n, 2), np.inf)
    entry_node = np.full((n, 2), -1, dtype=np.int64)
    entry_cost = np.full((n, 2), np.inf)
    e = np.array([p.edge_index for p in points], dtype=np.int64)
    f = np.array([p.fraction for p in points], dtype=float)
    t, length = network.edge_time_s[e], network.edge_length_m[e]
    exit_node[:, 0] = network.edge_v[e]
    exit_cost[:, 0] = _pack((1 - f) * t, (1 - f) * length)
    entry_node[:, 0] = network.edge_u[e]
    entry_cost[:, 0] = _pack(f * t, f * length)
    twin = network.edge_twin[e]
    has = twin >= 0
    tw = twin[has]
    exit_node[has, 1] = network.edge_u[e[has]]
    exit_cost[has, 1] = _pack(f[has] * network.edge_time_s[tw], f[has] * network.edge_length_m[tw])
    entry_node[has, 1] = network.edge_v[e[has]]
    entry_cost[has, 1] = _pack((1 - f[has]) * network.edge_time_s[tw], (1 - f[has]) * network.edge_length_m[tw])
    return exit_node, exit_cost, entry_node, entry_cost


def _same_street_costs(network: RoadNetwork, origins: list[SnappedPoint], destinations: list[SnappedPoint]):
    """Direct packed costs between points on the same street, driven the legal way along it."""

    def canonical(p: SnappedPoint) -> tuple[int, float]:
        twin = int(network.edge_twin[p.edge_index])
        if twin >= 0 and twin < p.edge_index:
            return twin, 1.0 - p.fraction
        return p.edge_index, p.fraction

    by_edge: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for j, p in enumerate(destinations):
        edge, frac = canonical(p)
        by_edge[edge].append((j, frac))
    rows, cols, costs = [], [], []
    for i, p in enumerate(origins):
        edge, fi = canonical(p)
        twin = int(network.edge_twin[edge])
        for j, fj in by_edge.get(edge, ()):
            if fj >= fi:
                cost = _pack((fj - fi) * network.edge_time_s[edge], (fj - fi) * network.edge_length_m[edge])
            elif twin >= 0:
                cost = _pack((fi - fj) * network.edge_time_s[twin], (fi - fj) * network.edge_length_m[twin])
            else:
                continue
            rows.append(i)
            cols.append(j)
            costs.append(float(cost))
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(costs)


def _block_row_bytes(*, targets: int, road_nodes: int, rows: int) -> int:
    """Scratch bytes per origin row of a block: its Dijkstra row to every road node (and the block's virtual
    sources) and six float64 rows of ``targets`` (packed costs, the fancy-index and sum temporaries, unpacking)."""
    return 8 * (road_nodes + rows) + 6 * 8 * targets


def _block_rows(*, origins: int, targets: int, road_nodes: int) -> int:
    """Origins per Dijkstra block: as many as fit in ``BLOCK_BYTES`` of scratch, at least one."""
    rows = min(origins, 1024)
    while rows > 1 and rows * _block_row_bytes(targets=targets, road_nodes=road_nodes, rows=rows) > BLOCK_BYTES:
        rows //= 2
    return max(1, rows)


def matrix_bytes(*, origins: int, targets: int, road_nodes: int) -> int:
    """Peak bytes of :func:`travel_matrices`: the two result matrices (8 bytes a cell each, float64 or int64),
    plus the scratch of one block of origin rows (:data:`BLOCK_BYTES` at most; the build runs block by block,
    so no full-size packed or temporary matrix exists).

    Parameters
    ----------
    origins, targets : int
        Rows and columns of the matrix.
    road_nodes : int
        Nodes of the road graph (each origin's Dijkstra row covers them all).

    Returns
    -------
    int
        The estimate in bytes.
    """
    rows = _block_rows(origins=origins, targets=targets, road_nodes=road_nodes)
    return 2 * 8 * origins * targets + rows * _block_row_bytes(targets=targets, road_nodes=road_nodes, rows=rows)


def check_matrix_fits(*, origins: int, targets: int, road_nodes: int, limit_gib: float) -> None:
    """Refuse a matrix whose build would need more than ``limit_gib``, before anything is allocated.

    Parameters
    ----------
    origins, targets : int
        Rows and columns of the matrix.
    road_nodes : int
        Nodes of the road graph.
    limit_gib : float
        The memory allowed (``QINGYUN_NETWORK_MATRIX_MEMORY_GIB``).

    Raises
    ------
    InvalidInputError
        Naming the matrix size, the memory it needs, the limit and the settings that split the day.
    """
    need = matrix_bytes(origins=origins, targets=targets, road_nodes=road_nodes) / _GIB
    if need > limit_gib:
        raise InvalidInputError(
            f"行程矩阵 {origins:,} × {targets:,}（{origins * targets:,} 项，路网 {road_nodes:,} 个节点）约需 "
            f"{need:.1f} GiB 内存，超过上限 {limit_gib:g} GiB：请按片区拆分这一天（每个片区一个场景），或调高 "
            f"QINGYUN_NETWORK_MATRIX_MEMORY_GIB / travel matrix {origins:,} × {targets:,} ({origins * targets:,} "
            f"entries, road network of {road_nodes:,} nodes) needs about {need:.1f} GiB, above the limit of "
            f"{limit_gib:g} GiB: split the day into districts (one scenario each) or raise "
            "QINGYUN_NETWORK_MATRIX_MEMORY_GIB"
        )


def travel_matrices(
    network: RoadNetwork,
    *,
    points: list[SnappedPoint],
    destinations: list[SnappedPoint] | None = None,
    memory_limit_gib: float = MATRIX_MEMORY_GIB,
    rounded: bool = False,
) -> Matrices:
    """Duration (s) and distance (m) from every point to every point (or to ``destinations``).

    With ``destinations`` the matrix is rectangular: rows are ``points``, columns
    ``destinations`` (``ids`` then lists the row ids; column ids are the
    destinations'). Built block by block of origins, straight into the result matrices.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    points : list of SnappedPoint
        Origins (and destinations when ``destinations`` is None).
    destinations : list of SnappedPoint, optional
        Columns of a rectangular matrix.
    memory_limit_gib : float
        Largest build allowed (:func:`matrix_bytes`); above it nothing is computed.
    rounded : bool
        int64 whole seconds and metres (``np.rint`` of the float values, as
        :class:`routing.planning.problem.Problem` rounds them) instead of float64: a day's problem is
        built without a float copy of its matrices.

    Returns
    -------
    Matrices
        ``duration_s`` (s) and ``distance_m`` (m) along the fastest path, with the row ids.

    Raises
    ------
    UnreachableError
        Naming every (origin, destination) pair without a drivable path.
    InvalidInputError
        The build would need more than ``memory_limit_gib`` (:func:`check_matrix_fits`).
    """
    origins = points
    targets = points if destinations is None else destinations
    n_nodes = len(network.node_ids)
    if origins and targets:  # refused before anything is allocated
        check_matrix_fits(origins=len(origins), targets=len(targets), road_nodes=n_nodes, limit_gib=memory_limit_gib)
    dtype = np.int64 if rounded else np.float64
    duration = np.zeros((len(origins), len(targets)), dtype=dtype)
    distance = np.zeros((len(origins), len(targets)), dtype=dtype)
    if not origins or not targets:
        return Matrices(ids=[p.id for p in origins], duration_s=duration, distance_m=distance)
    rows, cols, direct = _same_street_costs(network, origins, targets)
    step = _block_rows(origins=len(origins), targets=len(targets), road_nodes=n_nodes)
    unreachable: list[tuple[str, str]] = []
    for first in range(0, len(origins), step):
        last = min(first + step, len(origins))
        packed = _dijkstra_between(network, origins=origins[first:last], targets=targets)
        here = (rows >= first) & (rows < last)
        if here.any():
            r, c = rows[here] - first, cols[here]
            packed[r, c] = np.minimum(packed[r, c], direct[here])
        if destinations is None:
            packed[np.arange(last - first), np.arange(first, last)] = 0.0
        bad = np.argwhere(~np.isfinite(packed))
        unreachable += [(origins[first + i].id, targets[j].id) for i, j in bad]
        if not unreachable:
            _unpack_into(packed, duration[first:last], distance[first:last], rounded=rounded)
    if unreachable:
        raise UnreachableError(unreachable)
    return Matrices(ids=[p.id for p in origins], duration_s=duration, distance_m=distance)


def _unpack_into(packed: np.ndarray, duration: np.ndarray, distance: np.ndarray, *, rounded: bool) -> None:
    """Write a block of packed costs as seconds and metres (the same arithmetic as :func:`_unpack`, reusing
    the block's buffers; ``rounded``: then ``np.rint``)."""
    ms = np.floor(packed / _LENGTH_SCALE)
    np.subtract(packed, ms * _LENGTH_SCALE, out=packed)  # decimetres
    np.divide(ms, 1000.0, out=ms)
    np.divide(packed, 10.0, out=packed)
    if rounded:
        np.rint(ms, out=ms)
        np.rint(packed, out=packed)
    duration[...] = ms
    distance[...] = packed


def _dijkstra_between(network: RoadNetwork, *, origins: list[SnappedPoint], targets: list[SnappedPoint]) -> np.ndarray:
    """Packed costs origin→target through the road graph (not along a shared street).

    Each origin becomes a virtual source node joined to its (up to two) exit
    nodes, so ONE Dijkstra per origin yields its whole row; each target then
    takes the better of its (up to two) entry nodes.
    """
    base = _packed_graph(network).tocoo()
    n_nodes, n_o = base.shape[0], len(origins)
    ex_node, ex_cost, _, _ = _exits_and_entries(network, origins)
    _, _, en_node, en_cost = _exits_and_entries(network, targets)
    src = np.repeat(np.arange(n_o) + n_nodes, 2)
    ok = ex_node.ravel() >= 0
    rows = np.concatenate([base.row, src[ok]])
    cols = np.concatenate([base.col, ex_node.ravel()[ok]])
    # a zero-cost link would read as "no edge" in the sparse format: floor it at 1e-9
    data = np.concatenate([base.data, np.maximum(ex_cost.ravel()[ok], 1e-9)])
    augmented = _csr_min(rows, cols, data, size=n_nodes + n_o)
    to_nodes = dijkstra(augmented, directed=True, indices=np.arange(n_o) + n_nodes)
    packed = to_nodes[:, en_node[:, 0]]
    packed += en_cost[:, 0][None, :]
    second = np.flatnonzero(en_node[:, 1] >= 0)
    if second.size:
        packed[:, second] = np.minimum(packed[:, second], to_nodes[:, en_node[second, 1]] + en_cost[second, 1][None, :])
    return packed


def road_path(network: RoadNetwork, *, origin: SnappedPoint, destination: SnappedPoint) -> RoadPath:
    """The fastest drivable path between two snapped points, with its geometry.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    origin, destination : SnappedPoint
        Where the path starts and ends (on their snapped edges).

    Returns
    -------
    RoadPath
        Graph nodes passed, distance (m), duration (s), and the geometry in projected metres and WGS-84.

    Raises
    ------
    UnreachableError
        If no drivable path leads from ``origin`` to ``destination``.
    """
    ex_node, ex_cost, _, _ = _exits_and_entries(network, [origin])
    _, _, en_node, en_cost = _exits_and_entries(network, [destination])
    rows, _, direct = _same_street_costs(network, [origin], [destination])
    best_cost, best_choice = (float(direct[0]), None) if rows.size else (np.inf, None)
    graph = _packed_graph(network)
    for a in range(2):
        if ex_node[0, a] < 0:
            continue
        dist, pred = dijkstra(graph, directed=True, indices=int(ex_node[0, a]), return_predecessors=True)
        for b in range(2):
            if en_node[0, b] < 0:
                continue
            cost = ex_cost[0, a] + dist[en_node[0, b]] + en_cost[0, b]
            if cost < best_cost:
                best_cost, best_choice = cost, (a, b, pred)
    if not np.isfinite(best_cost):
        raise UnreachableError([(origin.id, destination.id)])
    duration, distance = _unpack(np.array(best_cost))
    if best_choice is None:
        geometry_xy = _along_edge_between(network, origin, destination)
        nodes: list[int] = []
    else:
        a, b, pred = best_choice
        node_path = [int(en_node[0, b])]
        while node_path[-1] != ex_node[0, a]:
            node_path.append(int(pred[node_path[-1]]))
        node_path.reverse()
        nodes = [int(network.node_ids[i]) for i in node_path]
        coords = list(_partial_edge(network, origin, leaving=True, forward=(a == 0)).coords)
        for u, v in zip(node_path[:-1], node_path[1:]):
            coords.extend(_edge_geometry(network, u, v).coords[1:])
        coords.extend(_partial_edge(network, destination, leaving=False, forward=(b == 0)).coords[1:])
        geometry_xy = LineString(coords if len(coords) >= 2 else coords * 2)
    lon, lat = network.to_lonlat(*np.asarray(geometry_xy.coords).T)
    return RoadPath(
        nodes=nodes,
        distance_m=float(distance),
        duration_s=float(duration),
        geometry_xy=geometry_xy,
        geometry=LineString(np.column_stack([lon, lat])),
    )


def _edge_geometry(network: RoadNetwork, u: int, v: int) -> LineString:
    """Geometry of the fastest edge from node index ``u`` to ``v``."""
    graph = network.graph
    candidates = graph.get_edge_data(int(network.node_ids[u]), int(network.node_ids[v]))
    best = min(candidates.values(), key=lambda d: d["travel_time"])
    return best["geometry"]


def _partial_edge(network: RoadNetwork, point: SnappedPoint, *, leaving: bool, forward: bool) -> LineString:
    """The piece of the point's street driven to leave it (or to reach it)."""
    geom = network.edge_geometry[point.edge_index]
    at = point.fraction * geom.length
    if forward:  # along u→v
        piece = ops.substring(geom, at, geom.length) if leaving else ops.substring(geom, 0, at)
    else:  # along the twin v→u
        piece = ops.substring(geom, at, 0) if leaving else ops.substring(geom, geom.length, at)
    if piece.geom_type != "LineString" or len(piece.coords) < 2:
        xy = (point.x, point.y)
        return LineString([xy, xy])
    return piece


def _along_edge_between(network: RoadNetwork, origin: SnappedPoint, destination: SnappedPoint) -> LineString:
    geom = network.edge_geometry[origin.edge_index]
    start = origin.fraction * geom.length
    end_point = network.edge_geometry[destination.edge_index].interpolate(destination.fraction, normalized=True)
    end = geom.project(end_point)
    piece = ops.substring(geom, start, end)
    if piece.geom_type != "LineString" or len(piece.coords) < 2:
        return LineString([(origin.x, origin.y), (destination.x, destination.y)])
    return piece
