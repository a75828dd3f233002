"""The compiled arc-routing search: optimal on small instances, certified, deterministic, direction rules kept."""

from __future__ import annotations

import pytest

from routing.arcs.check import check_solution
from routing.arcs.settings import ArcSettings
from routing.arcs.solve import solve_arcs
from routing.bench.carp import read_carp
from routing.errors import InfeasibleError, InvalidInputError
from tests.routing.arcs.conftest import problem, square
from tests.routing.bench.conftest import shared_file

FIXED = ArcSettings(time_limit_s=60, max_iterations=3000, seed=3)  # a fixed amount of work: the same routes


def test_the_square_is_solved_to_its_optimum_and_certified():
    solution = solve_arcs(square(), FIXED)
    report = check_solution(square(), solution.document())
    assert report.ok, report.violations
    assert report.cost == solution.cost == solution.search_cost == 8
    assert len(solution.walks) == 2


@pytest.mark.parametrize(("name", "optimum"), [("gdb1.dat", 316), ("kshs1.dat", 14661), ("1A.dat", 173)])
def test_published_instances_reach_their_proven_optimum(name, optimum):
    instance = read_carp(shared_file(f"carp/{name}"))
    solution = solve_arcs(instance, ArcSettings(time_limit_s=60, max_iterations=20_000, seed=1))
    report = check_solution(read_carp(shared_file(f"carp/{name}")), solution.document())
    assert report.ok, report.violations[:3]
    assert report.cost == optimum


def test_same_seed_same_work_same_walks():
    instance = read_carp(shared_file("carp/2B.dat"))
    first = solve_arcs(instance, FIXED).document()
    assert solve_arcs(instance, FIXED).document() == first


def test_a_one_way_street_is_served_in_its_direction_only():
    # 1→2 one-way (cost 1, demand 1); back from 2 to 1 only by the long way 2→3→1
    one_way = problem([(1, 2, 1, 1), (2, 3, 2, 0), (3, 1, 2, 0)], capacity=5, one_way=(0,))
    document = solve_arcs(one_way, FIXED).document()
    served = [(s["from"], s["to"]) for r in document["routes"] for s in r["steps"] if s["serve"]]
    assert served == [(1, 2)]
    assert check_solution(one_way, document).ok and document["cost"] == 5


def test_a_two_way_street_is_served_in_the_cheaper_direction():
    # depot 1; one-way links 1→3 and 2→1 (cost 1): serving 2–3 as 3→2 costs 1 + 4 + 1, as 2→3 it costs 14
    graph = problem([(2, 3, 4, 1), (1, 3, 1, 0), (2, 1, 1, 0)], capacity=5, one_way=(1, 2))
    document = solve_arcs(graph, FIXED).document()
    assert document["cost"] == 6
    assert document["routes"] == [
        {
            "steps": [
                {"from": 1, "to": 3, "serve": False},
                {"from": 3, "to": 2, "serve": True},
                {"from": 2, "to": 1, "serve": False},
            ]
        }
    ]


def test_a_task_cut_off_from_the_depot_is_named_before_searching():
    islands = problem([(1, 2, 1, 1), (3, 4, 1, 1)], capacity=5)
    with pytest.raises(InfeasibleError, match=r"required edge\(s\) cut off from the depot 1: \(3, 4\)"):
        solve_arcs(islands, FIXED)


def test_a_task_heavier_than_the_capacity_is_refused():
    with pytest.raises(InvalidInputError, match="demand more than the capacity 2"):
        problem([(1, 2, 1, 3)], capacity=2)
