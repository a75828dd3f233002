"""Input files: every bad value is named with file, line and field; good files read completely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from routing.errors import InputFileError
from routing.stations.inputs import read_candidates, read_communities, read_params


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_communities_read_population_and_measured(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", "id,lon,lat,population,t_per_day\nA,114.0,22.5,12000,\nB,114.01,22.51,,8.5\n")
    a, b = read_communities(path)
    assert (a.id, a.population, a.measured_t_per_day) == ("A", 12000.0, None)
    assert (b.id, b.population, b.measured_t_per_day) == ("B", None, 8.5)


def test_communities_every_bad_value_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.csv",
        "id,lon,lat,population\nA,114.0,22.5,100\nB,abc,22.5,100\nA,114.0,95,100\nC,114.0,22.5,\nD,114.0,22.5,-5\n",
    )
    with pytest.raises(InputFileError) as info:
        read_communities(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3 (id B): field 'lon' = 'abc' is not a number" in message
    assert "line 4: id 'A' repeats line 2" in message
    assert "field 'lat' = 95 is outside" in message
    assert "line 5 (id C): needs 'population' or 't_per_day'" in message
    assert "line 6 (id D): field 'population' = -5 is outside" in message


def test_communities_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.csv", "id,lon,population\nA,114,5\n")
    with pytest.raises(InputFileError, match=r"line 1: missing column\(s\) lat"):
        read_communities(path)


def test_candidates_read_and_validate(tmp_path: Path) -> None:
    good = _write(
        tmp_path / "s.csv",
        "id,lon,lat,land_area_m2,max_class,cost_V,cost_IV,existing,current_class\n"
        "S1,114,22.5,3000,IV,600000,1500000,yes,V\nS2,114.01,22.5,800,V,700000,,,\n",
    )
    s1, s2 = read_candidates(good)
    assert s1.existing and s1.current_class == "V" and s1.yearly_cost_yuan == {"V": 600000.0, "IV": 1500000.0}
    assert not s2.existing and s2.max_class == "V"
    bad = _write(
        tmp_path / "bad.csv",
        "id,lon,lat,land_area_m2,max_class,cost_V,cost_IV,existing,current_class\n"
        "S1,114,22.5,3000,VI,600000,,no,\n"
        "S2,114,22.5,0,IV,,1500000,maybe,\n"
        "S3,114,22.5,3000,IV,600000,,yes,IV\n"
        "S4,114,22.5,3000,V,,x,,\n",
    )
    with pytest.raises(InputFileError) as info:
        read_candidates(bad)
    message = str(info.value)
    assert "line 2 (id S1): field 'max_class' = 'VI' is not a class" in message
    assert "line 3 (id S2): field 'land_area_m2' = 0 must be > 0" in message
    assert "line 3 (id S2): field 'existing' = 'maybe' is not yes/no" in message
    assert "line 4 (id S3): existing station of class IV needs 'cost_IV'" in message
    assert "line 5 (id S4): field 'cost_IV' = 'x' is not a number" in message
    assert "line 5 (id S4): no cost_<class> given for any class up to max_class V" in message


def test_params_defaults_and_errors(tmp_path: Path) -> None:
    assert read_params(None).peak_factor == 1.4
    good = _write(
        tmp_path / "p.json",
        json.dumps(
            {
                "q_kg_per_person_day": 1.1,
                "disposal_sites": [{"id": "D1", "lon": 114.1, "lat": 22.6}],
                "sweep_years_ahead": [0, 5],
                "min_spacing_m": 500,
            }
        ),
    )
    params = read_params(good)
    assert params.q_kg_per_person_day == 1.1 and params.disposal_sites[0].id == "D1"
    assert params.sweep_years_ahead == (0, 5) and params.min_spacing_m == 500
    bad = _write(
        tmp_path / "bad.json",
        json.dumps(
            {"q_kg": 1.0, "peak_factor": 0.5, "service_radius_km": "3", "disposal_sites": [{"id": "D1", "lon": 114.1}]}
        ),
    )
    with pytest.raises(InputFileError) as info:
        read_params(bad)
    message = str(info.value)
    assert "key 'q_kg': unknown setting" in message
    assert "key 'service_radius_km': '3' is not a number" in message
    assert "key 'disposal_sites': item 0 must have exactly id, lon, lat" in message
    broken = _write(tmp_path / "broken.json", '{"q_kg_per_person_day": 1.0,\n "peak_factor": }')
    with pytest.raises(InputFileError, match=r"broken.json:2:\d+: not valid JSON"):  # line and column
        read_params(broken)
    ranged = _write(tmp_path / "range.json", json.dumps({"peak_factor": 0.5}))
    with pytest.raises(InputFileError, match="key 'peak_factor': 0.5 must be >= 1"):
        read_params(ranged)
