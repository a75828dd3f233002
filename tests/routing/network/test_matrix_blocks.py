"""The block-by-block matrix build gives exactly the matrices of a whole-matrix build, within its memory estimate.

Why: a 10,000-stop day's matrices were built whole (five float64 n×n arrays at once, 3.9 GiB) and
rounded into a Problem by another float copy; the build now runs by blocks of origins straight into
int64 seconds and metres. A plan's travel times and distances must not change by a single unit.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from routing.errors import InvalidInputError, UnreachableError
from routing.network import matrix
from routing.network.matrix import check_matrix_fits, matrix_bytes, travel_matrices
from routing.network.settings import MATRIX_MEMORY_GIB
from routing.planning.problem import Problem
from tests.routing.network.test_matrix import _point_on


def _whole_matrix_reference(network, origins, targets, *, square: bool):
    """The former build, kept straightforward: every origin's Dijkstra at once, one packed matrix, unpacked whole."""
    base = matrix._packed_graph(network).tocoo()
    n_nodes, n_o = base.shape[0], len(origins)
    ex_node, ex_cost, _, _ = matrix._exits_and_entries(network, origins)
    _, _, en_node, en_cost = matrix._exits_and_entries(network, targets)
    ok = ex_node.ravel() >= 0
    rows = np.concatenate([base.row, np.repeat(np.arange(n_o) + n_nodes, 2)[ok]])
    cols = np.concatenate([base.col, ex_node.ravel()[ok]])
    data = np.concatenate([base.data, np.maximum(ex_cost.ravel()[ok], 1e-9)])
    to_nodes = dijkstra(matrix._csr_min(rows, cols, data, size=n_nodes + n_o), indices=np.arange(n_o) + n_nodes)
    packed = to_nodes[:, en_node[:, 0]] + en_cost[:, 0][None, :]
    second = np.flatnonzero(en_node[:, 1] >= 0)
    packed[:, second] = np.minimum(packed[:, second], to_nodes[:, en_node[second, 1]] + en_cost[second, 1][None, :])
    r, c, direct = matrix._same_street_costs(network, origins, targets)
    packed[r, c] = np.minimum(packed[r, c], direct)
    if square:
        np.fill_diagonal(packed, 0.0)
    return matrix._unpack(packed)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few origins, so a small matrix is built in many blocks (the last one short)."""
    monkeypatch.setattr(matrix, "BLOCK_BYTES", 40_000)


def test_blocks_give_exactly_the_whole_matrix_square_and_rectangular(shenzhen, small_blocks):
    points = shenzhen.random_points(n=90, seed=17)
    assert matrix._block_rows(origins=90, targets=90, road_nodes=len(shenzhen.node_ids)) < 90
    built = travel_matrices(shenzhen, points=points)
    duration, distance = _whole_matrix_reference(shenzhen, points, points, square=True)
    assert np.array_equal(built.duration_s, duration) and np.array_equal(built.distance_m, distance)
    rect = travel_matrices(shenzhen, points=points[:37], destinations=points[37:])
    duration, distance = _whole_matrix_reference(shenzhen, points[:37], points[37:], square=False)
    assert np.array_equal(rect.duration_s, duration) and np.array_equal(rect.distance_m, distance)


def test_same_street_pairs_are_found_in_every_block(shenzhen, small_blocks):
    """Points on one street fall in different blocks: each keeps its direct drive along the street."""
    edge = next(i for i in range(len(shenzhen.edge_keys)) if shenzhen.edge_length_m[i] > 300)
    on_street = [_point_on(shenzhen, edge, f, f"street{k}") for k, f in enumerate((0.1, 0.3, 0.5, 0.7, 0.9))]
    points = [on_street[0], *shenzhen.random_points(n=40, seed=2), *on_street[1:]]
    rows, cols, _ = matrix._same_street_costs(shenzhen, points, points)
    street = {0, *range(len(points) - 4, len(points))}  # far apart in the order: in different blocks
    assert {(r, c) for r, c in zip(rows.tolist(), cols.tolist()) if r != c and r in street} != set()
    built = travel_matrices(shenzhen, points=points)
    duration, distance = _whole_matrix_reference(shenzhen, points, points, square=True)
    assert np.array_equal(built.duration_s, duration) and np.array_equal(built.distance_m, distance)
    assert built.duration_s[0, -1] == pytest.approx(0.8 * shenzhen.edge_time_s[edge], abs=0.01)


def test_rounded_build_is_the_problem_rounding_of_the_float_build(shenzhen, small_blocks):
    points = shenzhen.random_points(n=60, seed=23)
    exact = travel_matrices(shenzhen, points=points)
    rounded = travel_matrices(shenzhen, points=points, rounded=True)
    assert rounded.duration_s.dtype == np.int64 and rounded.distance_m.dtype == np.int64
    assert np.array_equal(rounded.duration_s, np.rint(exact.duration_s).astype(np.int64))
    assert np.array_equal(rounded.distance_m, np.rint(exact.distance_m).astype(np.int64))
    # what Problem made of the float matrices before is what it holds now, without a copy
    n = len(points)
    kwargs = dict(name="t", ids=[p.id for p in points], lon=np.zeros(n), lat=np.zeros(n), depots=[], facilities=[])
    from_float = Problem(duration_s=exact.duration_s, distance_m=exact.distance_m, sites=[], vehicles=[], **kwargs)
    from_int = Problem(duration_s=rounded.duration_s, distance_m=rounded.distance_m, sites=[], vehicles=[], **kwargs)
    assert np.array_equal(from_float.duration_s, from_int.duration_s)
    assert np.array_equal(from_float.distance_m, from_int.distance_m)
    assert from_int.duration_s is rounded.duration_s  # int64 kept as built: no 0.75 GiB copy on a 10,000-stop day


def test_problem_still_rounds_float_matrices_half_to_even():
    kwargs = dict(name="t", ids=["a", "b"], lon=np.zeros(2), lat=np.zeros(2), depots=[], facilities=[], sites=[])
    p = Problem(duration_s=[[0.0, 2.5], [3.5, 0.4]], distance_m=[[0, 7], [8, 0]], vehicles=[], **kwargs)
    assert p.duration_s.tolist() == [[0, 2], [4, 0]] and p.duration_s.dtype == np.int64
    assert p.distance_m.tolist() == [[0, 7], [8, 0]] and p.distance_m.dtype == np.int64


def test_the_build_stays_within_its_estimate(shenzhen):
    """tracemalloc sees numpy's and scipy's arrays: the measured peak is below :func:`matrix_bytes`."""
    points = shenzhen.random_points(n=400, seed=31)
    estimate = matrix_bytes(origins=400, targets=400, road_nodes=len(shenzhen.node_ids))
    matrix._packed_graph(shenzhen)  # the network's own cache is not the matrix's
    tracemalloc.start()
    try:
        travel_matrices(shenzhen, points=points, rounded=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 2 * 8 * 400 * 400 < peak <= estimate


def test_a_ten_thousand_stop_day_now_fits_the_default_limit_and_twenty_thousand_does_not():
    """The estimate is the two int64 matrices plus one block: 1.5 GiB at 10,000 stops (was 3.7)."""
    need = matrix_bytes(origins=10_020, targets=10_020, road_nodes=60_000)
    assert 2 * 8 * 10_020**2 < need <= 2 * 8 * 10_020**2 + matrix.BLOCK_BYTES
    check_matrix_fits(origins=10_020, targets=10_020, road_nodes=60_000, limit_gib=MATRIX_MEMORY_GIB)
    with pytest.raises(InvalidInputError, match="20,000 × 20,000"):
        check_matrix_fits(origins=20_000, targets=20_000, road_nodes=60_000, limit_gib=MATRIX_MEMORY_GIB)


def test_unreachable_pairs_of_every_block_are_named(shenzhen, small_blocks, monkeypatch):
    points = shenzhen.random_points(n=30, seed=5)
    real = matrix._dijkstra_between

    def cut_off_the_last_target(network, *, origins, targets):
        packed = real(network, origins=origins, targets=targets)
        packed[:, -1] = np.inf
        return packed

    monkeypatch.setattr(matrix, "_dijkstra_between", cut_off_the_last_target)
    with pytest.raises(UnreachableError) as caught:
        travel_matrices(shenzhen, points=points[:20], destinations=points[20:])
    assert set(caught.value.pairs) == {(p.id, points[-1].id) for p in points[:20]}
