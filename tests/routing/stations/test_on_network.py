"""Planning on a real road network (Guixi, shipped): road distances, outputs and the CLI."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from routing.network.matrix import road_path
from routing.stations.records import CandidateSite, Community, DisposalSite, PlanningParams
from routing.stations.workflow import run_planning
from tests.conftest import GUIXI_OSM, ROOT


def _inputs(network):
    people = network.random_points(n=40, seed=11, prefix="c")
    places = network.random_points(n=6, seed=12, prefix="s")
    communities = [Community(p.id, p.lon, p.lat, population=float(3_000 + 500 * (i % 7))) for i, p in enumerate(people)]
    sites = [
        CandidateSite(p.id, p.lon, p.lat, 5_000.0, "IV", {"V": 0.8e6 + 1e4 * i, "IV": 1.9e6})
        for i, p in enumerate(places)
    ]
    disposal = DisposalSite("d", places[0].lon, places[0].lat)
    return people, places, communities, sites, disposal


def test_plan_on_guixi_uses_road_distances_and_writes_outputs(guixi, tmp_path: Path) -> None:
    people, places, communities, sites, disposal = _inputs(guixi)
    params = PlanningParams(
        disposal_sites=(disposal,), service_radius_km=2.0, relative_gap=0.0, sweep_q_kg_per_person_day=(0.8, 1.2)
    )
    run = run_planning(guixi, communities=communities, sites=sites, params=params, out_dir=tmp_path, sweep=True)
    plan = run.plan
    assert plan.assignment, "someone must be served"
    snapped_people = guixi.snap(
        ids=[c.id for c in communities], lon=[c.lon for c in communities], lat=[c.lat for c in communities]
    )
    snapped_sites = {
        p.id: p for p in guixi.snap(ids=[s.id for s in sites], lon=[s.lon for s in sites], lat=[s.lat for s in sites])
    }
    by_id = {p.id: p for p in snapped_people}
    for cid, sid in list(plan.assignment.items())[:15]:
        path = road_path(guixi, origin=by_id[cid], destination=snapped_sites[sid])
        assert plan.haul_km[cid] == pytest.approx(path.distance_m / 1000.0, abs=1e-3)
        assert plan.haul_km[cid] <= 2.0
    for u in plan.unassigned:
        assert u.reason == "beyond_radius" and u.nearest_site_km > 2.0
    assert len(plan.assignment) + len(plan.unassigned) == len(communities)

    geo = json.loads(run.files["geojson"].read_text(encoding="utf-8"))
    kinds = [f["properties"]["kind"] for f in geo["features"]]
    assert kinds.count("station") == len(plan.stations) == kinds.count("catchment")
    assert kinds.count("community") == len(communities) and kinds.count("disposal") == 1
    assert run.files["map"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = run.files["html"].read_text(encoding="utf-8")
    assert "转运站 / Stations" in page and "未分配社区 / Unassigned communities" in page
    assert "情景分析 / Scenario sweep" in page and "data:image/png;base64," in page
    rows = list(csv.DictReader(run.files["stations"].open(encoding="utf-8-sig")))
    assert sorted(r["site_id"] for r in rows) == sorted(s.site_id for s in plan.stations)
    assert [p.scenario.q_kg_per_person_day for p in run.sweep] == [0.8, 1.2]
    assert run.sweep[0].total_cost_yuan <= run.sweep[1].total_cost_yuan


def _write_csvs(tmp_path: Path, communities, sites) -> tuple[Path, Path]:
    c_path, s_path = tmp_path / "communities.csv", tmp_path / "sites.csv"
    with c_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "lon", "lat", "population"])
        for c in communities:
            w.writerow([c.id, c.lon, c.lat, c.population])
    with s_path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "lon", "lat", "land_area_m2", "max_class", "cost_V", "cost_IV"])
        for s in sites:
            w.writerow(
                [s.id, s.lon, s.lat, s.land_area_m2, s.max_class, s.yearly_cost_yuan["V"], s.yearly_cost_yuan["IV"]]
            )
    return c_path, s_path


def test_cli_plan_and_one_line_error(guixi, tmp_path: Path) -> None:
    _, _, communities, sites, disposal = _inputs(guixi)
    c_path, s_path = _write_csvs(tmp_path, communities, sites)
    p_path = tmp_path / "params.json"
    p_path.write_text(
        json.dumps(
            {"disposal_sites": [{"id": "d", "lon": disposal.lon, "lat": disposal.lat}], "service_radius_km": 2.5}
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    files = ["--communities", str(c_path), "--candidates", str(s_path), "--out", str(out), "--osm", str(GUIXI_OSM)]
    result = CliRunner().invoke(app, ["stations", "plan", *files, "--params", str(p_path)])
    assert result.exit_code == 0, result.output
    assert "proven gap" in result.output and "年度总费用" in result.output
    assert {p.name for p in out.iterdir()} >= {
        "stations.csv",
        "assignments.csv",
        "unassigned.csv",
        "plan.geojson",
        "catchments.png",
        "summary.html",
    }
    c_path.write_text("id,lon,lat,population\nA,117.2,28.3,1000\nB,117.2,north,1000\n", encoding="utf-8")
    failed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from api.cli import main; main()",
            "stations",
            "plan",
            *files,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert failed.returncode == 2
    assert "line 3 (id B): field 'lat' = 'north' is not a number" in failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.parametrize("cjk", [True, False])
def test_catchment_map_is_bilingual_when_a_chinese_font_exists(guixi, tmp_path: Path, monkeypatch, cjk) -> None:
    import routing.stations.catchment_map as catchment_map
    from routing.network.mapdraw import label

    labels: list[str] = []
    monkeypatch.setattr(catchment_map, "use_cjk_font", lambda: cjk)
    monkeypatch.setattr(catchment_map, "label", lambda zh, en, **kw: labels.append(label(zh, en, **kw)) or labels[-1])
    _, _, communities, sites, disposal = _inputs(guixi)
    params = PlanningParams(disposal_sites=(disposal,), service_radius_km=2.0)
    run_planning(guixi, communities=communities, sites=sites, params=params, out_dir=tmp_path, sweep=False)
    assert (tmp_path / "catchments.png").stat().st_size > 20_000
    assert "经度 / longitude (WGS-84)" in labels if cjk else "longitude (WGS-84)" in labels
    assert all(("/" in text) == cjk for text in labels)
