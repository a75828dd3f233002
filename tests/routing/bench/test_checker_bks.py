"""Published best-known solutions through the product's plan evaluator and independent checker.

Every BKS must be accepted (a rejection would expose a convention bug in the reader, the
problem builder or the checker) and a hand-made infeasible solution must be rejected.
"""

from __future__ import annotations

import pytest

from routing.bench.runner import judge, vrplib_routes_plan
from routing.bench.to_problem import vrplib_problem
from routing.bench.vrplib import read_sol, read_vrp
from tests.routing.bench.conftest import BENCHMARKS, shared_file

SOLOMON = sorted(p.stem for p in (BENCHMARKS / "solomon").glob("*.vrp")) or ["C101"]
GH200_SAMPLE = [f"{c}_2_{k}" for c in ("C1", "C2", "R1", "R2", "RC1", "RC2") for k in (1, 6)]
X_SAMPLE = ["X-n101-k25", "X-n153-k22", "X-n256-k16", "X-n401-k29", "X-n573-k30", "X-n801-k40", "X-n1001-k43"]


def _accepts_bks(relative: str) -> None:
    instance = read_vrp(shared_file(f"{relative}.vrp"))
    solution = read_sol(shared_file(f"{relative}.sol"))
    problem = vrplib_problem(instance)
    plan = vrplib_routes_plan(problem, solution.routes)
    violations, unserved = judge(problem, plan)
    assert violations == [] and unserved == 0
    assert instance.routes_cost(solution.routes) == pytest.approx(solution.cost, abs=1e-9)


@pytest.mark.parametrize("name", SOLOMON)
def test_checker_accepts_solomon_bks(name):
    _accepts_bks(f"solomon/{name}")


def test_all_56_solomon_instances_present():
    shared_file("solomon")
    assert len(SOLOMON) == 56


@pytest.mark.parametrize("name", GH200_SAMPLE)
def test_checker_accepts_gehring_homberger_200_bks(name):
    _accepts_bks(f"gehring_homberger/GH200/{name}")


@pytest.mark.parametrize("name", X_SAMPLE)
def test_checker_accepts_cvrp_x_bks(name):
    _accepts_bks(f"cvrplib_X/{name}")


def _r101():
    instance = read_vrp(shared_file("solomon/R101.vrp"))
    return instance, vrplib_problem(instance), read_sol(shared_file("solomon/R101.sol")).routes


def test_checker_rejects_a_late_visit():
    # R101's BKS with two customers of one route swapped: 1637.7 is no longer reachable on time.
    instance, problem, routes = _r101()
    broken = [list(route) for route in routes]
    broken[0][0], broken[0][-1] = broken[0][-1], broken[0][0]
    violations, unserved = judge(problem, vrplib_routes_plan(problem, broken))
    assert unserved == 0
    assert any("outside its time windows" in v or "after its shift ends" in v for v in violations)


def test_checker_rejects_overload_and_missing_customer():
    instance, problem, routes = _r101()
    by_load = sorted(routes, key=lambda r: -instance.demand[r].sum())
    heavy = by_load[0] + by_load[1]
    assert instance.demand[heavy].sum() > instance.capacity
    merged = [heavy, *by_load[2:-1]]  # two routes on one truck, the lightest route dropped
    violations, unserved = judge(problem, vrplib_routes_plan(problem, merged))
    assert any("exceeds capacity" in v for v in violations)
    assert unserved == len(by_load[-1])


def test_checker_rejects_a_tenth_of_a_unit_late():
    # The DIMACS data are exact in tenths; a visit 0.1 late must still fail.
    instance, problem, routes = _r101()
    plan = vrplib_routes_plan(problem, routes)
    route = plan.routes[0]
    site = next(stop for stop in route.stops if stop.kind == "site")
    close = problem.sites[problem.site_index[site.id]].windows[-1][1]
    tenth = problem.duration_s[0, 1] // instance.arc_units[0, 1]  # problem units per 0.1
    site.start = site.arrival = close + int(tenth)
    site.departure = site.start + problem.sites[problem.site_index[site.id]].service_s
    violations, _ = judge(problem, plan)
    assert any(f"({site.kind} {site.id})" in v and "outside its time windows" in v for v in violations)
