"""The independent checker: a correct walk is certified, each kind of broken walk named."""

from __future__ import annotations

import pytest

from routing.arcs.check import check_solution
from routing.arcs.settings import ArcSettings
from routing.arcs.solution import read_solution
from routing.arcs.solve import solve_arcs
from routing.errors import InputFileError
from tests.routing.arcs.conftest import problem, square, walk


def two_routes() -> dict:
    """Optimal for the square: serve 1→2→3 and drive back, serve 1→4→3 and drive back (cost 4 each)."""
    first = walk((1, 2, True), (2, 3, True), (3, 2, False), (2, 1, False))
    second = walk((1, 4, True), (4, 3, True), (3, 4, False), (4, 1, False))
    return {"instance": "hand", "cost": 8, "routes": [first, second]}


def test_a_correct_solution_is_certified_and_costed_from_its_steps():
    report = check_solution(square(), two_routes())
    assert report.ok, report.violations
    assert (report.cost, report.routes, report.served) == (8, 2, 4)


def test_a_gap_in_the_walk_is_rejected():
    document = two_routes()
    document["routes"][0]["steps"][1] = {"from": 3, "to": 2, "serve": True}  # the truck is at 2, not 3
    report = check_solution(square(), document)
    assert any("gap in the walk: starts at 3, the truck is at 2" in v for v in report.violations)


def test_a_walk_that_does_not_return_to_the_depot_is_rejected():
    document = two_routes()
    document["routes"][1]["steps"].pop()
    document["cost"] = 7
    report = check_solution(square(), document)
    assert any("ends at 4, not at the depot 1" in v for v in report.violations)


def test_a_double_service_and_a_missed_edge_are_rejected():
    document = two_routes()
    # route 2 serves 1→4 twice (there and back) and never serves 4–3
    document["routes"][1] = walk((1, 4, True), (4, 1, True))
    document["cost"] = 6
    report = check_solution(square(), document)
    assert "required edge (4, 1) served 2 times" in " ".join(report.violations)
    assert "required edge (3, 4) served 0 times" in " ".join(report.violations)


def test_an_overload_is_rejected():
    document = {"instance": "hand", "cost": 4, "routes": [walk((1, 2, True), (2, 3, True), (3, 4, True), (4, 1, True))]}
    report = check_solution(square(), document)
    assert report.violations == ["路线 1 超载 / route 1 overloaded: serves 4 > capacity 2"]


def test_a_step_on_no_edge_and_a_false_cost_are_rejected():
    document = two_routes()
    document["routes"][0] = walk((1, 3, False), (3, 2, True), (2, 1, True))
    report = check_solution(square(), document)
    assert any("no edge may be driven 1 → 3" in v for v in report.violations)
    document = two_routes()
    document["cost"] = 7
    assert check_solution(square(), document).violations == [
        "成本不符 / cost mismatch: the document says 7, the walks cost 8"
    ]


def test_a_one_way_street_is_neither_driven_nor_served_against_its_direction():
    one_way = problem([(1, 2, 1, 1), (2, 1, 5, 0)], capacity=5, one_way=(0,))
    wrong = {"instance": "hand", "cost": 6, "routes": [walk((1, 2, False), (2, 1, True))]}
    assert any("cannot be served 2 → 1" in v for v in check_solution(one_way, wrong).violations)
    right = {"instance": "hand", "cost": 6, "routes": [walk((1, 2, True), (2, 1, False))]}
    assert check_solution(one_way, right).ok
    backwards = {"instance": "hand", "cost": 6, "routes": [walk((2, 1, False))]}
    assert any("starts at 2, the truck is at 1" in v for v in check_solution(one_way, backwards).violations)


def test_a_written_solution_is_read_back_and_a_broken_file_named(tmp_path):
    path = solve_arcs(square(), ArcSettings(max_iterations=200)).write(tmp_path / "square.json")
    assert check_solution(square(), read_solution(path)).ok
    (tmp_path / "bad.json").write_text('{"routes": [', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad.json:1: .*not valid JSON"):
        read_solution(tmp_path / "bad.json")
