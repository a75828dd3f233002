"""The exports every consumer shares (CLI files, the service's stored plan): GeoJSON built from the plan itself."""

from __future__ import annotations

from routing.planning.exports import LegGeometry, plan_geojson
from routing.planning.problem import problem_from_scenario
from routing.planning.scenario import parse_scenario
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams

from .conftest import base_scenario, site


def test_plan_geojson_has_a_route_per_truck_and_its_sites_numbered_at_the_plan_stops(guixi, places):
    doc = base_scenario(
        places,
        sites=[site(places, k, kg=900.0) for k in range(3, 11)],
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 4000, "max_stops": 4}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in (1, 2)],
    )
    problem, snapped = problem_from_scenario(parse_scenario(doc), network=guixi)
    plan = solve(problem, SolveParams(time_limit_s=2.0, workers=1))
    document = plan.to_dict(problem)
    features = plan_geojson(plan, problem, legs=LegGeometry(guixi, snapped))["features"]

    lines = [f for f in features if f["properties"]["kind"] == "route"]
    assert [f["properties"]["vehicle_id"] for f in lines] == [r["vehicle_id"] for r in document["routes"]]
    assert all(f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) > 2 for f in lines)
    assert len({f["properties"]["colour"] for f in lines}) == len(lines)
    for route in document["routes"]:
        sites = [s for s in route["stops"] if s["kind"] == "site"]
        points = [
            f
            for f in features
            if f["properties"]["kind"] == "site" and f["properties"]["vehicle_id"] == route["vehicle_id"]
        ]
        assert [p["properties"]["number"] for p in points] == list(range(1, len(sites) + 1))
        assert [p["geometry"]["coordinates"] for p in points] == [[s["lon"], s["lat"]] for s in sites]
        assert [p["properties"]["arrival"] for p in points] == [s["arrival"] for s in sites]
        assert all(
            p["properties"]["arrival"].endswith("+08:00") and p["properties"]["kind_label"].startswith("收集点")
            for p in points
        )
    assert sum(1 for f in features if f["properties"]["kind"] == "site") == len(doc["sites"])


def test_plan_out_replaces_an_earlier_plans_route_sheets_and_keeps_the_users_files(tmp_path, guixi, places):
    from routing.planning.exports import SHEET_HEADER, sheet_csv, write_all
    from routing.planning.pipeline import plan_day
    from routing.planning.territory_map import line_style

    out = tmp_path / "out"
    sheets = out / "route_sheets"
    sheets.mkdir(parents=True)
    earlier = sheets / "route_kitchen-8t-07.csv"  # a Shenzhen truck of an earlier plan into the same folder
    earlier.write_text(sheet_csv([SHEET_HEADER, ["kitchen-8t-07", "0"]]), encoding="utf-8", newline="")
    users = {
        sheets / "route_notes.csv": "my,own,columns\n",
        sheets / "readme.txt": "路线说明",
        out / "scenario.json": "{}",
    }
    for path, text in users.items():
        path.write_text(text, encoding="utf-8")
    doc = base_scenario(
        places,
        sites=[site(places, k, kg=900.0) for k in range(3, 9)],
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 4000, "max_stops": 3}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in (1, 2)],
    )
    outcome = plan_day(parse_scenario(doc), params=SolveParams(time_limit_s=2.0, workers=1), network=guixi)
    files = write_all(outcome, out=out)

    written = {f"route_{r.vehicle_id}.csv" for r in outcome.plan.routes}
    assert {p.name for p in sheets.glob("route_*.csv")} == written | {"route_notes.csv"}
    assert all(path.read_text(encoding="utf-8") == text for path, text in users.items())
    assert files["map"].stat().st_size > 10_000
    write_all(outcome, out=out)  # again: the same files, nothing doubled
    assert {p.name for p in sheets.glob("route_*.csv")} == written | {"route_notes.csv"}
    assert len({line_style(k) for k in range(33)}) == 33  # 33 trucks: no two drawn alike on the map


def test_map_falls_back_to_english_labels_without_a_chinese_font(tmp_path, guixi, places, monkeypatch):
    import routing.planning.exports as exports
    from routing.network.mapdraw import drawable

    drawn: list[str] = []
    monkeypatch.setattr(exports, "use_cjk_font", lambda: False)
    monkeypatch.setattr(exports, "drawable", lambda text, **kw: drawn.append(drawable(text, **kw)) or drawn[-1])
    doc = base_scenario(places, sites=[site(places, k) for k in range(3, 6)])
    doc["name"] = "贵溪 / Guixi"
    problem, snapped = problem_from_scenario(parse_scenario(doc), network=guixi)
    plan = solve(problem, SolveParams(time_limit_s=1.0, workers=1))
    exports.write_map_png(plan, problem, LegGeometry(guixi, snapped), tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 10_000
    assert drawn and all(not any("\u4e00" <= ch <= "\u9fff" for ch in text) for text in drawn)
    assert "Guixi" in drawn and "D" in drawn and "F" in drawn  # names without Latin letters fall back to their id


def test_sheets_show_break_and_waiting_where_the_truck_stands_and_kpis_and_timeline_are_written(
    tmp_path, guixi, places
):
    import csv

    from routing.planning.exports import KIND_LABELS, SHEET_HEADER, write_all
    from routing.planning.kpis import KPI_CSV_HEADER
    from routing.planning.pipeline import plan_day

    windows = [[("06:00", "09:00")], [("14:00", "16:00")]]
    doc = base_scenario(
        places,
        sites=[site(places, k, windows=windows[k % 2]) for k in range(3, 13)],
        break_rule={"duration_min": 60, "earliest_start": "11:00", "latest_start": "13:00"},
    )
    outcome = plan_day(parse_scenario(doc), params=SolveParams(time_limit_s=2.0, workers=1), network=guixi)
    files = write_all(outcome, out=tmp_path)

    with open(files["sheets"] / "route_V1.csv", encoding="utf-8-sig", newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == SHEET_HEADER
    kinds = [r[2] for r in rows]
    assert kinds.count(KIND_LABELS["break"]) == 1 and KIND_LABELS["wait"] == "等待 / waiting" in kinds
    for k, row in enumerate(rows):
        assert row[3] <= row[4] <= row[5]  # arrival ≤ start ≤ departure
        assert k == 0 or rows[k - 1][5] <= row[3]  # each row starts when the previous one ended, or later
        if row[2] in (KIND_LABELS["break"], KIND_LABELS["wait"]):
            place = next(r for r in rows[k:] if r[2] not in (KIND_LABELS["break"], KIND_LABELS["wait"]))
            assert (row[6], row[7], row[13], row[14]) == (place[6], place[7], place[13], place[14])  # parked there
            assert row[7] and row[9] == row[10] == ""  # the place's name; no stream or weight of its own
    sites = [r for r in rows if r[2] == KIND_LABELS["site"]]
    assert all(r[3] == r[4] for r in sites)  # reaching a site early is a waiting row, not a hidden gap

    with open(files["kpis"], encoding="utf-8-sig", newline="") as f:
        header, *kpis = list(csv.reader(f))
    assert header == KPI_CSV_HEADER
    keys = {(r[0], r[1]): r[3] for r in kpis}
    assert keys[("plan", "short_routes")] == str(outcome.plan.measures.short_routes)
    assert float(keys[("V1", "waiting_h")]) > 0
    assert files["timeline"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and files["timeline"].stat().st_size > 10_000
