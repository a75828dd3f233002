"""The ``qingyun bench`` runner end to end, and the peers judged by the same checker."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from api.cli import app
from routing.bench.runner import BenchRow, judge, summarise, vrplib_routes_plan
from routing.bench.to_problem import vrplib_problem
from routing.bench.vrplib import first_customers, read_sol, read_vrp
from routing.errors import InputFileError
from tests.routing.bench.conftest import shared_file


@pytest.mark.slow
def test_bench_vrptw_cli_writes_csv_and_sol(tmp_path):
    instance_path = shared_file("solomon/C101.vrp")
    out, solutions = tmp_path / "r.csv", tmp_path / "sol"
    options = {"--instances": instance_path, "--time-limit": 2, "--out": out, "--solutions": solutions}
    result = CliRunner().invoke(app, ["bench", "vrptw", *(str(x) for pair in options.items() for x in pair)])
    assert result.exit_code == 0, result.output
    assert "平均差距 / mean gap" in result.output or "mean" in result.output
    (row,) = list(csv.DictReader(out.open()))
    assert row["instance"] == "C101" and row["solver"] == "qingyun" and row["feasible"] == "True"
    assert float(row["bks_objective"]) == 827.3
    written = read_sol(solutions / "C101.sol")
    instance = read_vrp(instance_path)
    # the .sol is independently re-costed from the instance and covers every customer once
    assert instance.routes_cost(written.routes) == pytest.approx(written.cost, abs=1e-9)
    assert written.cost == pytest.approx(float(row["objective"]), abs=1e-9)
    assert sorted(c for r in written.routes for c in r) == list(range(1, 101))
    assert float(row["gap_pct"]) == pytest.approx(100 * (written.cost - 827.3) / 827.3, abs=0.01)


def test_bench_missing_instance_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["bench", "vrptw", "--instances", str(tmp_path / "nope.vrp")])
    assert isinstance(result.exception, InputFileError)
    assert "nope.vrp: no such instance file or folder" in str(result.exception)


@pytest.mark.parametrize("peer", ["pyvrp", "vroom"])
def test_peer_solutions_pass_the_same_checker(peer):
    pytest.importorskip(peer)
    from routing.bench.peers import run_peer

    instance = first_customers(read_vrp(shared_file("solomon/R101.vrp")), 25)
    run = run_peer(peer, instance, time_limit_s=1.0)
    problem = vrplib_problem(instance)
    violations, unserved = judge(problem, vrplib_routes_plan(problem, run.routes))
    assert violations == [] and unserved == 0 and run.unassigned == []
    assert instance.routes_cost(run.routes) >= 617.1 - 1e-9  # the published optimum bounds every peer


def test_summary_gaps_only_over_feasible_rows():
    def row(solver, gap, feasible):
        return BenchRow("I", solver, 100, 1.0, 1.0, feasible, 0, "", 0, 10, 100.0, "d", 10, 100.0, gap)

    rows = [row("a", 1.0, True), row("a", 3.0, True), row("a", 50.0, False), row("b", 2.0, True)]
    a, b = summarise(rows)
    assert (a.solver, a.feasible, a.instances) == ("a", 2, 3)
    assert (a.mean_gap_pct, a.median_gap_pct, a.worst_gap_pct) == (2.0, 2.0, 3.0)
    assert b.mean_gap_pct == 2.0 and a.vehicles == 30 and a.bks_vehicles == 30
