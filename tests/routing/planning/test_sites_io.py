"""Site import from CSV and GeoJSON."""

from __future__ import annotations

import json

import pytest

from routing.errors import ScenarioError
from routing.planning.sites import read_sites


def test_csv_with_windows_and_bom(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "id,name,lon,lat,stream,demand_kg,windows,access\n"
        "R1,老王餐馆,113.93,22.52,kitchen,120.5,06:00-10:00;19:00-21:00,small\n"
        "C1,小区,113.94,22.53,other,800,,\n",
        encoding="utf-8-sig",
    )
    sites = read_sites(path)
    assert [s.id for s in sites] == ["R1", "C1"]
    assert sites[0].name == "老王餐馆" and sites[0].access == "small"
    assert [w.seconds for w in sites[0].windows] == [(21600, 36000), (68400, 75600)]


def test_csv_bad_rows_are_all_named(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "id,lon,lat,stream,demand_kg,windows\n"
        "R1,113.93,22.52,glass,10,\n"
        "R2,113.93,abc,kitchen,10,\n"
        "R3,113.93,22.52,kitchen,-1,\n"
        "R4,113.93,22.52,kitchen,5,10:00-08:00\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as err:
        read_sites(path)
    text = str(err.value)
    assert "sites.csv:2 (id R1).stream" in text
    assert "sites.csv:3 (id R2).lat: 'abc' is not a number" in text
    assert "sites.csv:4 (id R3).demand_kg" in text
    assert "sites.csv:5 (id R4).windows.0" in text


def test_geojson_points(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.93, 22.52]},
                "properties": {"id": "R1", "stream": "kitchen", "demand_kg": 80},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "properties": {"id": "X"},
            },
        ],
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"feature 1 \(id X\)\.geometry: expected a Point"):
        read_sites(path)
    doc["features"].pop()
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_sites(path)[0].lon == 113.93
