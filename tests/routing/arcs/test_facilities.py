"""Intermediate facilities, shifts, windows, fleets and U-turns on hand-made graphs (costs checkable by hand)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from routing.arcs.check import check_solution
from routing.arcs.settings import ArcSettings
from routing.arcs.solve import NO_TIME_REASON, OVER_SHIFT_REASON, solve_arcs
from routing.errors import InfeasibleError
from tests.routing.arcs.conftest import problem, square, walk

FIXED = ArcSettings(max_iterations=300, seed=3)


def one_truck(*, end_at_facility: bool, facility_cost: int = 0):
    """The square (capacity 2, four tasks of demand 1) for one truck with a facility at vertex 3."""
    return replace(
        square(),
        facilities=np.array([2]),
        facility_cost=np.array([facility_cost]),
        facility_ids=("station",),
        end_at_facility=end_at_facility,
        max_routes=1,
    )


def loads(document: dict) -> list[int]:
    """Services between facility visits, per route in order."""
    out = []
    for route in document["routes"]:
        count = 0
        for step in route["steps"]:
            if "facility" in step:
                out.append(count)
                count = 0
            count += step["serve"]
        out.append(count)
    return out


def test_the_hopper_forces_a_dump_trip_and_the_truck_comes_home_empty():
    p = one_truck(end_at_facility=True, facility_cost=5)
    solution = solve_arcs(p, FIXED)
    document = solution.document()
    assert check_solution(p, document).ok
    visits = [s for s in document["routes"][0]["steps"] if "facility" in s]
    assert len(document["routes"]) == 1 and len(visits) == 2  # once when full, once before going home
    assert all(s["from"] == s["to"] == 3 and s["facility"] == "station" for s in visits)
    assert loads(document) == [2, 2, 0]
    # 1→2→3 served, dump, 3→4→1 served, back to 3 (2) to dump, home (2): 4 + 4 + 2 × 5
    assert solution.cost == 18


def test_the_tank_forces_a_refill_where_it_costs_least():
    p = one_truck(end_at_facility=False, facility_cost=5)
    solution = solve_arcs(p, FIXED)
    document = solution.document()
    assert check_solution(p, document).ok
    assert loads(document) == [2, 2] and solution.cost == 4 + 5  # refill at 3 on the way: no detour


def test_the_checker_rejects_an_overloaded_leg_and_a_visit_away_from_the_facility():
    p = one_truck(end_at_facility=False)
    full = walk((1, 2, True), (2, 3, True), (3, 4, True), (4, 1, True))
    report = check_solution(p, {"routes": [full]})
    assert "route 1 load 1 overloaded: serves 4 > capacity 2" in " ".join(report.violations)
    wrong = walk((1, 2, True))["steps"] + [{"from": 2, "to": 2, "serve": False, "facility": "station"}]
    wrong += walk((2, 3, True), (3, 4, True), (4, 1, True))["steps"]
    report = check_solution(p, {"routes": [{"steps": wrong}]})
    assert "the truck at 2 is not at facility station" in " ".join(report.violations)


def test_a_walk_that_comes_home_loaded_is_rejected_when_it_must_empty():
    p = one_truck(end_at_facility=True)
    steps = walk((1, 2, True), (2, 3, True))["steps"] + [{"from": 3, "to": 3, "serve": False, "facility": "station"}]
    steps += walk((3, 4, True), (4, 1, True))["steps"]
    report = check_solution(p, {"routes": [{"steps": steps}]})
    assert report.violations == ["路线 1 未卸空返回 / route 1 returns to the depot with load 2 on board"]


def test_the_checker_rejects_a_walk_outside_its_window_or_longer_than_the_shift():
    document = {"routes": [walk((1, 2, True), (2, 3, True), (3, 2, False), (2, 1, False))]}  # cost 4
    assert (
        check_solution(replace(square(), window_start=10, window_end=14), document)
        .violations[-1]
        .startswith("必服务边")
    )  # in its window: only the tasks this one route leaves out are reported
    late = check_solution(replace(square(), window_start=10, window_end=13), document)
    assert any("route 1 runs 10..14 outside the window 10..13" in v for v in late.violations)
    early = {"routes": [{**document["routes"][0], "start": 8}]}
    window = replace(square(), window_start=10, window_end=14)
    assert any("runs 8..12 outside the window 10..14" in v for v in check_solution(window, early).violations)
    short = check_solution(replace(square(), max_route_cost=3), document)
    assert any("route 1 lasts 4 > the shift's 3" in v for v in short.violations)


def test_a_shift_too_short_for_all_is_planned_in_part_and_the_rest_named():
    # one truck, 3 units of shift: a task next to the depot, out and back, is all that fits (the tour costs 4)
    p = replace(square(), capacity=4, max_routes=1, max_route_cost=3)
    with pytest.raises(InfeasibleError, match="within its shift and fleet"):
        solve_arcs(p, FIXED)
    solution = solve_arcs(p, FIXED, allow_unserved=True)
    document = solution.document()
    report = check_solution(p, document)
    assert report.ok and report.served == 1 and report.unserved == 3 and report.route_costs == [2]
    # the two far sides cannot be done even alone (out, serve, back: 4); one near side finds no time left
    assert sorted(solution.unserved.values()) == [NO_TIME_REASON, OVER_SHIFT_REASON, OVER_SHIFT_REASON]
    assert {"from": 3, "to": 4, "reason": OVER_SHIFT_REASON} in document["unserved"]


def test_a_task_longer_than_the_shift_alone_is_named_before_searching():
    far = problem([(1, 2, 1, 1), (2, 3, 9, 1)], capacity=5)
    solution = solve_arcs(replace(far, max_route_cost=10), FIXED, allow_unserved=True)
    assert solution.unserved == {1: OVER_SHIFT_REASON}


def line_with_a_loop(uturn: str, uturn_cost: int = 0):
    """1–2–3 then 3–4–1 back: serving 2→3 and returning by 3→2 is a U-turn; the way round costs 11."""
    p = problem([(1, 2, 1, 0), (2, 3, 1, 1), (3, 4, 1, 0), (4, 1, 10, 0)], capacity=5)
    return replace(p, serve_backward=np.zeros(4, dtype=np.bool_), uturn=uturn, uturn_cost=uturn_cost)


def test_a_u_turn_is_never_used_when_forbidden():
    allowed = solve_arcs(line_with_a_loop("allowed"), FIXED)
    assert allowed.cost == 4  # 1→2, serve 2→3, turn back 3→2→1
    p = line_with_a_loop("forbidden")
    solution = solve_arcs(p, FIXED)
    report = check_solution(p, solution.document())
    assert report.ok and report.uturns == 0 and solution.cost == 13  # 1→2, 2→3, 3→4, 4→1
    penalised = line_with_a_loop("penalty", uturn_cost=20)
    assert solve_arcs(penalised, FIXED).cost == 13  # 4 + 20 for the U-turn is dearer
    cheap = line_with_a_loop("penalty", uturn_cost=3)
    assert solve_arcs(cheap, FIXED).cost == 7


def test_the_checker_rejects_a_forbidden_u_turn_but_not_at_a_dead_end():
    p = line_with_a_loop("forbidden")
    turned = {"routes": [walk((1, 2, False), (2, 3, True), (3, 2, False), (2, 1, False))]}
    assert "route 1 step 3: 禁止掉头 / a forbidden U-turn at 3" in " ".join(check_solution(p, turned).violations)
    dead_end = replace(problem([(1, 2, 1, 0), (2, 3, 1, 1)], capacity=5), uturn="forbidden")
    back = {"routes": [walk((1, 2, False), (2, 3, True), (3, 2, False), (2, 1, False))]}
    report = check_solution(dead_end, back)
    assert report.ok and report.uturns == 1  # at 3, a dead end: the only way on
    assert check_solution(dead_end, solve_arcs(dead_end, FIXED).document()).ok
