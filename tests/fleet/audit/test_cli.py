"""`qingyun audit` end to end on simulated input files, and its error messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fleet.simulate.tracks import simulate_collection, simulate_haul, write_inputs

QINGYUN = Path(sys.executable).parent / "qingyun"
FIELDS = {"type", "severity", "device", "company", "start", "end", "lon", "lat", "evidence", "explanation"}


@pytest.fixture(scope="module")
def inputs(shenzhen, matcher, tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit-in")
    hauls = [
        simulate_haul(shenzhen, violation=v, seed=20 + k, matcher=matcher)
        for k, v in enumerate([None, "speeding", "suspected_dumping", "restricted_zone", "no_permit"])
    ]
    collection, plan = simulate_collection(shenzhen, seed=5, stops=5, skip=(1,), matcher=matcher)
    truth = sorted((e.device, e.type) for s in hauls for e in s.truth)
    return write_inputs([*hauls, collection], folder, plan=plan), truth


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(QINGYUN), *args], capture_output=True, text=True, timeout=600)


def test_audit_writes_every_output(inputs, tmp_path):
    paths, truth = inputs
    out = tmp_path / "report"
    done = run(
        "audit",
        "--tracks",
        str(paths["tracks"]),
        "--permits",
        str(paths["permits"]),
        "--zones",
        str(paths["zones"]),
        "--plan",
        str(paths["plan"]),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    violations = json.loads((out / "violations.json").read_text(encoding="utf-8"))
    assert sorted((v["device"], v["type"]) for v in violations) == truth
    assert all(FIELDS <= v.keys() and v["start"].endswith("+08:00") for v in violations)
    coverage = json.loads((out / "coverage.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in coverage["routes"][0]["stops"]] == [
        "visited",
        "missed",
        "visited",
        "visited",
        "visited",
    ]
    scores = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert {s["company"] for s in scores} >= {"C0", "C1", "C2"} and all(0 <= s["score"] <= 100 for s in scores)
    matched = json.loads((out / "matched.json").read_text(encoding="utf-8"))
    assert len(matched) == 6 and all(0 < m["confidence"] <= 1 and m["edges"] for m in matched)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (
        page.count("<svg") == len(violations)
        and "清运率 / clearance rate" in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    assert "清运率 / clearance rate" in done.stdout


def test_schema_lists_every_file():
    done = run("audit", "--schema")
    assert done.returncode == 0
    schemas = json.loads(done.stdout)
    assert {
        "permits.json",
        "zones.geojson",
        "plan.json",
        "positions.csv (one row)",
        "violations.json",
    } <= schemas.keys()
    assert "destination_sites" in schemas["permits.json"]["$defs"]["Permit"]["properties"]


def test_bad_permit_is_one_line_naming_the_permit_and_field(inputs, tmp_path):
    paths, _ = inputs
    permits = json.loads(paths["permits"].read_text(encoding="utf-8"))
    permits["permits"][1]["valid_until"] = "2020-01-01T00:00:00+08:00"
    bad = tmp_path / "permits.json"
    bad.write_text(json.dumps(permits), encoding="utf-8")
    done = run("audit", "--tracks", str(paths["tracks"]), "--permits", str(bad), "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (
        "permits.1" in done.stderr
        and permits["permits"][1]["permit_id"] in done.stderr
        and "valid_until" in done.stderr
    )


def test_missing_tracks_option_is_named(tmp_path):
    done = run("audit", "--permits", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "--tracks" in done.stderr
