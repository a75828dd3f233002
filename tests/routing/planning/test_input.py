"""Bad input is named precisely, before solving starts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from routing.errors import OffRoadError, ScenarioError
from routing.planning.document import plan_json_schema, read_plan
from routing.planning.scenario import load_scenario, parse_scenario, scenario_json_schema

from .conftest import base_scenario, build, site

QINGYUN = Path(sys.executable).parent / "qingyun"


def test_every_bad_field_is_named(places):
    sites = [site(places, 3), site(places, 4), site(places, 5), site(places, 6)]
    sites[0]["stream"] = "glass"
    sites[1]["demand_kg"] = -5
    sites[2]["windows"] = [{"start": "10:00", "end": "08:00"}]
    sites[3]["windows"] = [{"start": "25:00", "end": "26:00"}]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(base_scenario(places, sites=sites))
    text = str(err.value)
    # one formatter for every validation error (routing.jsonfile.validation_messages): dotted path, then the id
    assert "sites.0.stream (id S3)" in text
    assert "sites.1.demand_kg (id S4)" in text
    assert "sites.2.windows.0 (id S5)" in text and "before it starts" in text
    assert "sites.3.windows.0.start (id S6)" in text
    assert len(err.value.problems) >= 4


def test_stream_no_truck_carries_and_no_facility_accepts(places):
    doc = base_scenario(places, sites=[site(places, 3), site(places, 4, stream="hazardous", sid="H1")])
    with pytest.raises(ScenarioError, match=r"sites\.1\.stream \(id H1\): no truck carries stream 'hazardous'"):
        parse_scenario(doc)
    doc = base_scenario(
        places,
        sites=[site(places, 3)],
        facilities=[{"id": "F", "lon": places[1].lon, "lat": places[1].lat, "streams": ["other"]}],
    )
    with pytest.raises(ScenarioError, match="no facility accepts stream 'kitchen'"):
        parse_scenario(doc)


def test_unknown_references_and_duplicates(places):
    doc = base_scenario(
        places, sites=[site(places, 3), site(places, 3)], vehicles=[{"id": "V1", "type": "NOPE", "depot": "X"}]
    )
    with pytest.raises(ScenarioError) as err:
        parse_scenario(doc)
    text = str(err.value)
    assert "duplicate id" in text and "unknown vehicle type 'NOPE'" in text and "unknown depot 'X'" in text


def test_site_too_far_from_any_road(guixi, places):
    far = site(places, 3, sid="FAR")
    far["lat"] += 0.2  # ~22 km north of the mapped area
    with pytest.raises(OffRoadError, match="FAR"):
        build(base_scenario(places, sites=[site(places, 4), far]), guixi)


def test_truck_whose_shift_reaches_no_site(guixi, places):
    doc = base_scenario(
        places,
        sites=[site(places, k, windows=[("07:00", "09:00")]) for k in range(3, 6)],
        vehicles=[
            {"id": "V1", "type": "T", "depot": "D", "shift_start": "06:00", "shift_end": "12:00"},
            {"id": "LATE", "type": "T", "depot": "D", "shift_start": "18:00", "shift_end": "23:00"},
        ],
    )
    with pytest.raises(ScenarioError, match="vehicle LATE: shift 18:00–23:00 cannot reach any site"):
        build(doc, guixi)


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text('{"name": 1,,}', encoding="utf-8")
    with pytest.raises(Exception, match=r"s.json:1:"):
        load_scenario(bad)


def test_schema_and_cli(tmp_path, places):
    schema = scenario_json_schema()
    assert {"sites", "vehicles", "facilities", "depots"} <= set(schema["properties"])
    printed = subprocess.run([str(QINGYUN), "plan", "--schema"], capture_output=True, text=True, check=True)
    assert json.loads(printed.stdout)["title"] == schema["title"]
    contract = subprocess.run([str(QINGYUN), "plan", "--plan-schema"], capture_output=True, text=True, check=True)
    assert json.loads(contract.stdout) == plan_json_schema()  # the one plan.json schema, published
    doc = base_scenario(places, sites=[site(places, k) for k in range(3, 9)])
    path = tmp_path / "day.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run(
        [str(QINGYUN), "plan", str(path), "--time-limit", "2", "--workers", "1", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out"
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["kpi"]["clearance_rate"] == 1.0
    assert read_plan(out / "plan.json").to_json() == plan  # the written file is the contract, field for field
    assert (out / "map.png").stat().st_size > 10_000
    geo = json.loads((out / "routes.geojson").read_text(encoding="utf-8"))
    assert any(f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) > 2 for f in geo["features"])
    sheet = (out / "route_sheets" / "route_V1.csv").read_text(encoding="utf-8-sig").splitlines()
    assert sheet[0].startswith("车辆 vehicle,序号 seq,类型 kind,到达 arrival")
    assert len(sheet) == 1 + len(plan["routes"][0]["stops"])
    assert [row[3] for row in csv.reader(sheet[1:])] == [
        s["arrival"][11:16] for s in plan["routes"][0]["stops"]
    ]  # local clock
    broken = subprocess.run([str(QINGYUN), "plan", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert (
        broken.returncode == 2
        and "missing.json: no such scenario file" in broken.stderr
        and "Traceback" not in broken.stderr
    )
