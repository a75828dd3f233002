"""Balance targets: taken from a plan's own routes, and priced by both engines exactly as given."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.search.balance import WORK_FLOOR, ShiftTarget, routes_targets
from routing.planning.search.ortools_model import OrToolsModel
from routing.planning.search.params import SolveParams
from routing.planning.search.searcher import search
from tests.routing.planning.search.test_trips import multitrip_day


def balanced_day(seed: int):
    base = multitrip_day(seed=seed, sites=16, trucks=4, ends_empty=True)
    vehicles = [replace(v, cost_per_hour=36.0, type_id="t") for v in base.vehicles]
    return replace(base, vehicles=vehicles, balance_per_h=72.0)


def work_of(problem, visits: list[str]) -> int:
    """Drives (depot, visits, depot) and services and unloads of a route, from the problem's own numbers."""
    nodes, busy = [problem.depots[0].node], 0
    for x in visits:
        if x in problem.site_index:
            site = problem.sites[problem.site_index[x]]
            nodes.append(site.node)
            busy += site.service_s
        else:
            facility = problem.facilities[problem.facility_index[x]]
            nodes.append(facility.node)
            busy += facility.unload_s
    nodes.append(problem.depots[0].node)
    return busy + sum(int(problem.duration_s[a, b]) for a, b in zip(nodes, nodes[1:]))


def test_targets_are_the_mean_shift_and_the_floor_of_the_mean_work_of_the_routes():
    problem = balanced_day(1)
    routes = {"V0": ["S0", "S1", "F1"], "V2": ["S2", "F2", "S3", "S4", "F1"]}
    plan = evaluate_routes(problem, routes)
    spans = [r.end - r.start for r in plan.routes]
    works = [work_of(problem, visits) for visits in routes.values()]
    target = routes_targets(problem, routes)["t"]
    assert target.shift == round(sum(spans) / 2)
    assert target.work == round(sum(works) / 2)
    assert target.work_floor == round(WORK_FLOOR * sum(works) / 2)
    assert routes_targets(problem, {"V1": []}) == {}


def test_given_targets_are_the_ones_both_engines_price():
    problem = balanced_day(2)
    given = {"t": ShiftTarget(shift=1234, work=3456, work_floor=2345)}
    model = OrToolsModel(problem, SolveParams(), balance_targets=given)
    arrays = model.route_arrays()
    assert arrays is not None and model.balance_targets == given
    assert (arrays.trips.balance_target == 3456).all() and (arrays.trips.work_floor == 2345).all()
    # an empty day in OR-Tools pays no balance: only the drop penalties
    empty = model.routing.ReadAssignmentFromRoutes([[] for _ in problem.vehicles], True)
    assert empty.ObjectiveValue() == len(model.site_ids) * model.drop_penalty


def test_a_balanced_search_plans_a_day_the_checker_certifies():
    problem = balanced_day(3)
    result = search(problem, SolveParams(max_solutions=40), strategy="CONSTRUCT_URGENT+ruin", time_limit_s=20)
    assert result.routes and not result.dropped
    times = [t for t, _ in result.history]
    assert times == sorted(times)  # the cost-only phase's time counted before the balanced phase's improvements
    plan = evaluate_routes(problem, result.routes, start_times=result.start_times)
    report = check_plan(problem, plan)
    assert report.ok, report.violations
    assert np.isfinite(result.cost)
