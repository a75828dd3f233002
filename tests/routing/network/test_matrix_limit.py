"""Bad input: a travel matrix too large for memory is refused before it is built, naming its size."""

from __future__ import annotations

import pytest

from routing.errors import InvalidInputError
from routing.network import matrix
from routing.network.matrix import check_matrix_fits, matrix_bytes, travel_matrices
from routing.network.settings import MATRIX_MEMORY_GIB, NetworkSettings


def test_a_twenty_thousand_stop_matrix_over_the_limit_is_refused_naming_size_and_setting():
    with pytest.raises(InvalidInputError) as caught:
        check_matrix_fits(origins=20_000, targets=20_000, road_nodes=60_000, limit_gib=MATRIX_MEMORY_GIB)
    message = str(caught.value)
    assert "20,000 × 20,000" in message and "400,000,000 entries" in message
    assert "QINGYUN_NETWORK_MATRIX_MEMORY_GIB" in message and "split the day" in message
    assert "GiB" in message and "行程矩阵" in message


def test_a_day_within_the_limit_passes_and_the_estimate_grows_with_the_square():
    check_matrix_fits(origins=1_500, targets=1_500, road_nodes=60_000, limit_gib=MATRIX_MEMORY_GIB)
    for n in (1_000, 2_000, 10_000, 20_000):  # two 8-byte matrices, plus one block of rows at most
        assert 16 * n * n < matrix_bytes(origins=n, targets=n, road_nodes=60_000) <= 16 * n * n + matrix.BLOCK_BYTES


def test_travel_matrices_refuses_before_any_dijkstra_runs(guixi, monkeypatch):
    points = guixi.random_points(n=30, seed=3)

    def never(*args, **kwargs):
        raise AssertionError("the matrix was built although it is over the limit")

    monkeypatch.setattr(matrix, "_dijkstra_between", never)
    with pytest.raises(InvalidInputError, match="30 × 30"):
        travel_matrices(guixi, points=points, memory_limit_gib=1e-6)


def test_travel_matrices_under_the_limit_still_builds(guixi):
    points = guixi.random_points(n=5, seed=4)
    built = travel_matrices(guixi, points=points, memory_limit_gib=1.0)
    assert built.duration_s.shape == (5, 5)


def test_the_limit_is_a_network_setting(monkeypatch):
    monkeypatch.setenv("QINGYUN_NETWORK_MATRIX_MEMORY_GIB", "0.5")
    assert NetworkSettings().matrix_memory_gib == 0.5
