"""Yang's multi-trip VRPTW with release dates: reader, conversion, certification and a short solve."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from routing.bench.bks import lookup_bks
from routing.bench.runner import PRODUCT, judge
from routing.bench.to_problem import RELOAD, multitrip_problem
from routing.bench.vrplib import read_sol
from routing.bench.yang import CONVENTION, multitrip_routes_plan, read_yang, run_yang, trips_of
from routing.errors import InputFileError
from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.search.params import SolveParams
from tests.routing.bench.conftest import BENCHMARKS, shared_file

# depot (0,0); client 1 at (3,4), 2 at (6,8), 3 at (0,5); a truck holds two clients; client 3 released at 50
TINY = """NAME: tiny
TYPE: MTVRPTWR
DIMENSION: 4
VEHICLES: 1
CAPACITY: 10
SERVICE_TIME: 1
NODE_COORD_SECTION
1 0 0
2 3 4
3 6 8
4 0 5
DEMAND_SECTION
1 0
2 4
3 4
4 4
TIME_WINDOW_SECTION
1 0 200
2 0 200
3 0 40
4 0 200
RELEASE_TIME_SECTION
1 0
2 0
3 0
4 50
VEHICLES_RELOAD_DEPOT_SECTION
1 1
DEPOT_SECTION
1
-1
EOF
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.vrp"
    path.write_text(TINY, encoding="utf-8")
    instance = read_yang(path)
    return instance, multitrip_problem(instance.base, release=instance.release)


def test_reader_on_a_real_file_counts_and_release_dates():
    instance = read_yang(shared_file("mtvrptwr_yang/C201R0.25.vrp"))
    base = instance.base
    assert (instance.name, base.n_customers, base.fleet_size, base.capacity) == ("C201R0.25", 100, 8, 100)
    assert int((instance.release > 0).sum()) == 48
    # file node 9 is released at 1352, node 97 at 1466; the depot at 0
    assert (instance.release[8], instance.release[96], instance.release[0]) == (1352, 1466, 0)
    assert base.service_time[0] == 0 and base.service_time[1] == 90
    assert base.time_windows[0].tolist() == [0, 3390]


def test_published_solution_is_certified_at_its_published_cost():
    path = shared_file("mtvrptwr_yang/C201R0.25.vrp")
    instance = read_yang(path)
    problem = multitrip_problem(instance.base, release=instance.release)
    assert problem.sites[7].release_s == 1352 * 100  # site "8" (file node 9), in hundredths
    solution = read_sol(path.with_suffix(".sol"))
    assert judge(problem, multitrip_routes_plan(problem, solution.routes)) == ([], 0)
    assert instance.base.routes_cost(solution.routes) == pytest.approx(1500.6)
    assert lookup_bks("C201R0.25", convention=CONVENTION, bks_dir=BENCHMARKS).cost == pytest.approx(1500.6)
    assert sum(len(trips_of(r)) for r in solution.routes) == 19


def test_release_respected_is_accepted_and_each_trip_waits_for_it(tiny):
    instance, problem = tiny
    plan = multitrip_routes_plan(problem, [[1, 2, 0, 3]])
    assert judge(problem, plan) == ([], 0)
    (route,) = plan.routes
    reload = next(stop for stop in route.stops if stop.id == RELOAD)
    third = next(stop for stop in route.stops if stop.id == "3")
    # the second trip leaves the reload at client 3's release (50, in hundredths), the drive takes 5
    assert [stop.kind for stop in route.stops if stop.id == RELOAD][-1] in ("facility", "wait")
    assert (reload.departure, third.start) == (5000, 5500)


def test_release_violated_is_rejected(tiny):
    instance, problem = tiny
    # the same trips timed as if client 3 were released at once: they leave the reload at 22, before 50
    unreleased = replace(problem, sites=[replace(s, release_s=0) for s in problem.sites])
    early = evaluate_routes(unreleased, {"v1": ["1", "2", RELOAD, "3"]})
    assert check_plan(unreleased, early).ok
    (message,) = check_plan(problem, early.document(unreleased)).violations
    assert "site 3" in message and "before the site's release" in message


def test_waiting_for_a_release_that_breaks_a_later_window_is_rejected(tiny):
    instance, problem = tiny
    # trip 1 carries client 3 (released at 50), so client 2 (window closes at 40) cannot be reached in time
    violations, _ = judge(problem, multitrip_routes_plan(problem, [[3, 1, 0, 2]]))
    assert any("(site 2)" in v and "time windows" in v for v in violations)


def test_overfull_trip_is_rejected(tiny):
    instance, problem = tiny
    violations, _ = judge(problem, multitrip_routes_plan(problem, [[1, 2, 3]]))
    assert any("exceeds capacity" in v for v in violations)


def test_reader_names_a_release_after_the_window(tmp_path):
    path = tmp_path / "late.vrp"
    path.write_text(TINY.replace("4 50\n", "4 300\n"), encoding="utf-8")
    with pytest.raises(InputFileError, match="node 4 is released after its window"):
        read_yang(path)


def test_ten_second_solve_of_the_smallest_instance_is_certified_by_the_checker(tmp_path):
    path = shared_file("mtvrptwr_yang/C201R0.25.vrp")
    (row,) = run_yang(path, time_limit_s=10, settings=replace(SolveParams(), workers=1), solutions=tmp_path)
    assert row.solver == PRODUCT and row.feasible, row.first_violation
    assert row.bks_objective == pytest.approx(1500.6) and row.gap_pct >= 0
    written = read_sol(row.solution_file)
    assert sorted(c for r in written.routes for c in r if c) == list(range(1, 101))
    instance = read_yang(path)
    problem = multitrip_problem(instance.base, release=instance.release)
    assert judge(problem, multitrip_routes_plan(problem, written.routes)) == ([], 0)
    assert np.isclose(row.objective, instance.base.routes_cost(written.routes))
