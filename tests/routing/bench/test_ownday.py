"""``qingyun bench ownday``: the product and PyVRP on one relaxed Shenzhen day, judged by one evaluator and checker."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

pytest.importorskip("pyvrp")

from routing.bench.ownday import TOTAL, day_pieces, relax, run_ownday  # noqa: E402
from routing.bench.ownday_pyvrp import pyvrp_day, run_pyvrp_day  # noqa: E402
from routing.errors import InputFileError, InvalidInputError, ScenarioError  # noqa: E402
from routing.planning.check import check_plan  # noqa: E402
from routing.planning.plan import evaluate_routes  # noqa: E402
from routing.planning.problem import Problem  # noqa: E402


@pytest.fixture(scope="module")
def small_day(shenzhen):
    """A generated Shenzhen day of about 40 sites, as the product plans it (break, holds, balance, territories)."""
    from routing.planning.generate import generate_scenario
    from routing.planning.problem import problem_from_scenario

    scenario = generate_scenario(shenzhen, restaurants=20, communities=6, seed=3)
    problem, _ = problem_from_scenario(scenario, network=shenzhen)
    return scenario, problem


def _kitchen(problem: Problem) -> Problem:
    return next(piece for name, piece in day_pieces(relax(problem)) if name == "kitchen")


def _needs_reloads(piece: Problem) -> Problem:
    """The piece with trucks so small that all of them together need at least twice as many trips as there are trucks."""
    total = sum(s.demand_kg for s in piece.sites)
    capacity = math.ceil(max(max(s.demand_kg for s in piece.sites), total / (2 * len(piece.vehicles)) + 1))
    vehicles = [replace(v, capacity_kg=float(capacity), capacity_l=None) for v in piece.vehicles]
    return replace(piece, vehicles=vehicles)


def test_pyvrp_routes_with_reloads_cost_in_the_product_evaluator_what_pyvrp_says(small_day):
    """The relaxation is one problem: PyVRP's own objective equals the product evaluator's cost of its routes."""
    _, problem = small_day
    piece = _needs_reloads(_kitchen(problem))
    run = run_pyvrp_day(piece, time_limit_s=2.0)
    assert run.feasible
    mid_route_unloads = [
        k for visits in run.routes.values() for k, vid in enumerate(visits[:-1]) if vid in piece.facility_index
    ]
    assert mid_route_unloads, "the test needs a reload inside a route"
    assert all(visits[-1] in piece.facility_index for visits in run.routes.values())  # ends empty
    plan = evaluate_routes(piece, run.routes, start_times=run.start_times)
    assert check_plan(piece, plan).ok
    assert plan.objective["total_cost"] == pytest.approx(run.objective, abs=0.01)
    # the comparison can fail: with unloads one minute longer the same routes cost more than PyVRP's figure
    slower = replace(piece, facilities=[replace(f, unload_s=f.unload_s + 60) for f in piece.facilities])
    repriced = evaluate_routes(slower, run.routes, start_times=run.start_times)
    assert repriced.objective["total_cost"] > run.objective + 0.5


def test_both_solvers_plans_pass_the_checker_on_the_relaxed_day(small_day, tmp_path):
    from routing.planning.generate import write_scenario

    scenario, _ = small_day
    path = tmp_path / "day.json"
    write_scenario(scenario, path)
    rows = run_ownday(path, time_limit_s=4.0)
    pieces = {r.piece for r in rows if r.piece != TOTAL}
    assert {"kitchen", "other", "recyclable"} <= pieces
    for row in rows:
        assert row.violations == 0, (row.solver, row.piece, row.first_violation)
        assert row.unserved == 0, (row.solver, row.piece)
        assert row.trucks >= 1 and row.cost > 0
    for solver in ("qingyun", "pyvrp"):
        total = next(r for r in rows if r.piece == TOTAL and r.solver == solver)
        parts = [r for r in rows if r.piece != TOTAL and r.solver == solver]
        assert total.cost == pytest.approx(sum(r.cost for r in parts), abs=0.01)
        assert total.sites == len(scenario.sites)
    for row in rows:
        if row.solver == "pyvrp":
            assert row.cost == pytest.approx(row.own_objective, abs=0.01)
        else:  # the other direction: the product's routes are feasible in PyVRP's model, priced no higher there
            assert row.in_pyvrp_feasible, row.piece
            assert row.in_pyvrp_cost <= row.cost + 0.01


def test_a_day_not_relaxed_is_refused_by_name(small_day):
    _, problem = small_day
    with pytest.raises(InvalidInputError, match="not relaxed for PyVRP: a break rule; hold limits"):
        pyvrp_day(problem)


def test_a_missing_or_malformed_scenario_is_named(tmp_path):
    missing = tmp_path / "absent.json"
    with pytest.raises(InputFileError, match="absent.json: no such scenario file"):
        run_ownday(missing, time_limit_s=1.0)
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": ', encoding="utf-8")
    with pytest.raises(InputFileError, match="broken.json"):
        run_ownday(broken, time_limit_s=1.0)
    empty = tmp_path / "empty.json"
    empty.write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(ScenarioError, match="empty.json"):
        run_ownday(empty, time_limit_s=1.0)
