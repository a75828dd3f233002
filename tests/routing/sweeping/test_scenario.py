"""Sweep scenario files: read with every bad field named, the shipped nights valid, the CLI plans one."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from routing.errors import InputFileError, InvalidInputError
from routing.sweeping.scenario import read_scenario
from tests.conftest import ROOT, SHENZHEN_OSM

SMALL = {
    "name": "small-night",
    "area": {
        "type": "Polygon",
        "coordinates": [
            [[114.035, 22.525], [114.041, 22.525], [114.041, 22.531], [114.035, 22.531], [114.035, 22.525]]
        ],
    },
    "date": "2026-12-07",
    "depot": {"id": "depot", "lon": 114.038, "lat": 22.528},
    "stations": [{"id": "ST", "name": "station", "lon": 114.0369, "lat": 22.5271}],
    "water_points": [{"id": "W", "name": "water", "lon": 114.0395, "lat": 22.5295}],
    "sweepers": 2,
    "washers": 1,
    "settings": {"hopper_kg": 100, "tank_l": 2000},
}


def _write(tmp_path, **changes):
    path = tmp_path / "night.json"
    path.write_text(json.dumps({**SMALL, **changes}), encoding="utf-8")
    return path


def test_a_bad_field_is_named_with_the_file(tmp_path):
    with pytest.raises(InputFileError, match=r"night.json: .*sweepers"):
        read_scenario(_write(tmp_path, sweepers=0))
    with pytest.raises(InputFileError, match=r"night.json: settings: .*uturn"):
        read_scenario(_write(tmp_path, settings={"uturn": "sometimes"}))


@pytest.mark.parametrize("name", ["futian_night.json", "dalian_night.json"])
def test_the_shipped_nights_are_valid(name):
    night = read_scenario(ROOT / "data" / "sweep" / name)
    assert night.sweepers >= 1 and night.washers >= 1 and night.stations and night.water_points


def test_the_cli_plans_sweepers_and_washers_from_a_scenario(tmp_path):
    from api.cli import app

    out = tmp_path / "out"
    args = ["sweep", "plan", "--scenario", str(_write(tmp_path)), "--osm", str(SHENZHEN_OSM), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--time-limit", "5", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "2 sweepers, 1 washers" in result.output and "deadhead ratio" in result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["certified"] and plan["wash_kpis"]["planned_rate"] == 1.0
    assert {v["kind"] for v in plan["vehicles"]} == {"sweeper", "washer"}
    assert (out / "route_W1.csv").exists() and (out / "route_S2.csv").exists()
    kinds = {
        f["properties"].get("kind")
        for f in json.loads((out / "routes.geojson").read_text(encoding="utf-8"))["features"]
    }
    assert {"depot", "station", "water"} <= kinds


def test_a_water_point_off_the_network_is_named_before_solving(tmp_path):
    from api.cli import app

    far = [{"id": "W-sea", "lon": 114.0205, "lat": 22.5195}]
    args = ["sweep", "plan", "--scenario", str(_write(tmp_path, water_points=far)), "--osm", str(SHENZHEN_OSM)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, InvalidInputError)
    assert "W-sea is off the road network" in str(result.exception) and not (tmp_path / "out").exists()
