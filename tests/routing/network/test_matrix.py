"""Travel matrices and road paths against networkx Dijkstra on the real network."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from routing.network.graph import SnappedPoint
from routing.network.matrix import road_path, travel_matrices


def _reference_costs(network, a: SnappedPoint, targets: list[SnappedPoint], weight: str) -> list[float]:
    """Fastest a→b by networkx over the nodes, plus the partial edges at both ends."""
    arrays = {"travel_time": network.edge_time_s, "length": network.edge_length_m}[weight]
    exits = [(a.edge[1], (1 - a.fraction) * arrays[a.edge_index])]
    if network.edge_twin[a.edge_index] >= 0:
        exits.append((a.edge[0], a.fraction * arrays[network.edge_twin[a.edge_index]]))
    from_exits = [
        (cost, nx.single_source_dijkstra_path_length(network.graph, node, weight=weight)) for node, cost in exits
    ]
    results = []
    for b in targets:
        entries = [(b.edge[0], b.fraction * arrays[b.edge_index])]
        if network.edge_twin[b.edge_index] >= 0:
            entries.append((b.edge[1], (1 - b.fraction) * arrays[network.edge_twin[b.edge_index]]))
        results.append(min(cost + lengths[t] + extra for cost, lengths in from_exits for t, extra in entries))
    return results


def _reference_cost(network, a: SnappedPoint, b: SnappedPoint, weight: str) -> float:
    return _reference_costs(network, a, [b], weight)[0]


def test_durations_equal_networkx_dijkstra(shenzhen):
    points = shenzhen.random_points(n=25, seed=11)
    m = travel_matrices(shenzhen, points=points)
    for i, origin in enumerate(points):
        expected = _reference_costs(shenzhen, origin, points, "travel_time")
        for j in range(len(points)):
            if i != j:
                assert m.duration_s[i, j] == pytest.approx(expected[j], abs=0.05), (i, j)
    assert np.all(np.diag(m.duration_s) == 0)


def test_distance_is_length_of_the_fastest_path(shenzhen):
    points = shenzhen.random_points(n=12, seed=5)
    m = travel_matrices(shenzhen, points=points)
    for i, origin in enumerate(points):
        shortest = _reference_costs(shenzhen, origin, points, "length")
        for j, destination in enumerate(points):
            if i == j:
                continue
            path = road_path(shenzhen, origin=origin, destination=destination)
            assert path.duration_s == pytest.approx(m.duration_s[i, j], abs=0.01)
            assert path.distance_m == pytest.approx(m.distance_m[i, j], abs=0.2)
            # the shortest path by length can never be longer than the fastest path
            assert shortest[j] <= m.distance_m[i, j] + 0.5


def _point_on(network, edge_index: int, fraction: float, pid: str) -> SnappedPoint:
    geom = network.edge_geometry[edge_index]
    p = geom.interpolate(fraction, normalized=True)
    lon, lat = network.to_lonlat([p.x], [p.y])
    return SnappedPoint(
        id=pid,
        lon=float(lon[0]),
        lat=float(lat[0]),
        edge=network.edge_keys[edge_index],
        edge_index=edge_index,
        offset_m=fraction * network.edge_length_m[edge_index],
        fraction=fraction,
        distance_m=0.0,
        x=p.x,
        y=p.y,
    )


def test_oneway_street_makes_a_to_b_differ_from_b_to_a(shenzhen):
    oneway = [
        i for i in range(len(shenzhen.edge_keys)) if shenzhen.edge_twin[i] < 0 and shenzhen.edge_length_m[i] > 200
    ]
    edge = oneway[0]
    a, b = _point_on(shenzhen, edge, 0.2, "A"), _point_on(shenzhen, edge, 0.8, "B")
    m = travel_matrices(shenzhen, points=[a, b])
    assert m.duration_s[0, 1] == pytest.approx(0.6 * shenzhen.edge_time_s[edge], abs=0.01)
    assert m.duration_s[1, 0] > m.duration_s[0, 1] + 1.0  # B→A must go around the block
    assert m.duration_s[1, 0] == pytest.approx(_reference_cost(shenzhen, b, a, "travel_time"), abs=0.05)


def test_two_way_street_is_driven_directly_both_ways(shenzhen):
    edge = next(
        i for i in range(len(shenzhen.edge_keys)) if shenzhen.edge_twin[i] >= 0 and shenzhen.edge_length_m[i] > 200
    )
    a, b = _point_on(shenzhen, edge, 0.2, "A"), _point_on(shenzhen, edge, 0.8, "B")
    m = travel_matrices(shenzhen, points=[a, b])
    assert m.duration_s[0, 1] == pytest.approx(0.6 * shenzhen.edge_time_s[edge], abs=0.01)
    assert m.duration_s[1, 0] == pytest.approx(0.6 * shenzhen.edge_time_s[shenzhen.edge_twin[edge]], abs=0.01)


def test_rectangular_matrix_matches_square(shenzhen):
    points = shenzhen.random_points(n=40, seed=8)
    square = travel_matrices(shenzhen, points=points)
    rect = travel_matrices(shenzhen, points=points[:10], destinations=points[10:])
    assert np.allclose(rect.duration_s, square.duration_s[:10, 10:])
    assert np.allclose(rect.distance_m, square.distance_m[:10, 10:])


def test_road_path_geometry_joins_the_two_points(shenzhen):
    a, b = shenzhen.random_points(n=2, seed=21)
    path = road_path(shenzhen, origin=a, destination=b)
    start, end = path.geometry_xy.coords[0], path.geometry_xy.coords[-1]
    assert np.hypot(start[0] - a.x, start[1] - a.y) < 1.0
    assert np.hypot(end[0] - b.x, end[1] - b.y) < 1.0
    assert path.geometry_xy.length == pytest.approx(path.distance_m, rel=0.02)
    assert len(path.nodes) >= 2
    lon0, lat0, lon1, lat1 = shenzhen.bbox
    xs, ys = np.asarray(path.geometry.coords).T
    assert (lon0 - 0.01 <= xs).all() and (xs <= lon1 + 0.01).all() and (lat0 - 0.01 <= ys).all()
