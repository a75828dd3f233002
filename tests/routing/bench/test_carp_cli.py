"""``qingyun bench carp`` end to end: the issue's JSON walks, certified, and the CSV."""

from __future__ import annotations

import csv
import json

from typer.testing import CliRunner

from api.cli import app
from routing.arcs.check import check_solution
from routing.arcs.settings import ArcSettings
from routing.bench.carp import read_carp, run_carp
from tests.routing.bench.conftest import shared_file


def test_bench_carp_writes_certified_walks_and_csv(tmp_path):
    files = [shared_file("carp/gdb1.dat"), shared_file("carp/kshs2.dat")]
    out, solutions = tmp_path / "r.csv", tmp_path / "sol"
    args = ["bench", "carp", "--instances", *map(str, files), "--time-limit", "1", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--solutions", str(solutions), "--seed", "2"])
    assert result.exit_code == 0, result.output
    rows = {row["instance"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert set(rows) == {"gdb1", "kshs2"}
    for path in files:
        instance = read_carp(path)
        row = rows[instance.name]
        document = json.loads((solutions / f"{instance.name}.json").read_text(encoding="utf-8"))
        assert set(document) == {"instance", "cost", "routes"} and document["instance"] == instance.name
        for route in document["routes"]:
            steps = route["steps"]
            assert set(steps[0]) == {"from", "to", "serve"}
            assert steps[0]["from"] == steps[-1]["to"] == instance.vertex_label(instance.depot)
        report = check_solution(instance, document)
        assert report.ok, report.violations[:3]
        assert row["certified"] == "True" and int(row["cost"]) == report.cost == document["cost"]
        assert int(row["cost"]) >= int(row["bks"])  # proven optima bound every certified walk
        assert float(row["gap_pct"]) == round(100 * (report.cost - int(row["bks"])) / int(row["bks"]), 4)
        assert row["seed"] == "2" and row["optimal"] == "True"
    assert "optimal_reached" in result.output


def test_instances_are_named_as_the_bks_table_names_their_file(tmp_path):
    # the file egl-e2-A.dat calls itself "egl-e2-7" (NOMBRE): results and walks use the published name
    path = shared_file("carp/egl-e2-A.dat")
    assert read_carp(path).name == "egl-e2-7"
    row = run_carp(path, settings=ArcSettings(time_limit_s=30, max_iterations=300), solutions=tmp_path)
    assert row.instance == "egl-e2-A" and row.bks == 5018 and row.certified
    assert json.loads((tmp_path / "egl-e2-A.json").read_text(encoding="utf-8"))["instance"] == "egl-e2-A"
