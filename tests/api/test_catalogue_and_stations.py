"""Catalogue CRUD and CSV/GeoJSON import; transfer-station studies — over real HTTP."""

from __future__ import annotations

import csv
import io
import json

from tests.api.conftest import wait_for_job


def test_site_crud_round_trip(service, small_scenario):
    site = dict(small_scenario["sites"][0], id="CRUD-1", name="测试餐厅 / test restaurant")
    with service.client("dispatcher") as client:
        assert client.post("/sites", json=site).status_code == 201
        assert client.post("/sites", json=site).status_code == 409
        assert client.get("/sites/CRUD-1").json()["name"] == site["name"]
        changed = dict(site, demand_kg=321.0)
        assert client.put("/sites/CRUD-1", json=changed).json()["demand_kg"] == 321.0
        assert client.put("/sites/OTHER", json=changed).status_code == 422  # body id differs from path id
        page = client.get("/sites", params={"limit": 1000}).json()
        assert any(s["id"] == "CRUD-1" and s["demand_kg"] == 321.0 for s in page["items"]) and page["total"] >= 1
        assert client.delete("/sites/CRUD-1").status_code == 204
        assert client.get("/sites/CRUD-1").status_code == 404
        assert client.delete("/sites/CRUD-1").status_code == 404
        bad = client.post("/sites", json=dict(site, id="CRUD-2", windows=[{"start": "10:00", "end": "09:00"}]))
    assert bad.status_code == 422 and "ends (09:00) before it starts (10:00)" in bad.text


def test_sites_import_from_csv_keeps_good_rows_and_names_bad_ones(service):
    text = (
        "id,name,lon,lat,stream,demand_kg,windows,access\n"
        "IMP-1,东门餐厅,114.05,22.54,kitchen,120,06:00-10:00;19:00-21:00,small\n"
        "IMP-2,西门小区,114.06,22.55,other,300,,\n"
        "IMP-3,坏行,114.06,22.55,plutonium,-5,,\n"
        "IMP-4,坏窗,114.06,22.55,other,10,0600,\n"
    )
    with service.client("dispatcher") as client:
        answer = client.post("/sites/import", files={"file": ("sites.csv", text.encode("utf-8"), "text/csv")})
        stored = client.get("/sites/IMP-1").json()
    body = answer.json()
    assert answer.status_code == 200 and body["imported"] == 2
    where = {(r["where"], r["field"]) for r in body["rejected"]}
    assert {("sites.csv:line 4", "stream"), ("sites.csv:line 4", "demand_kg"), ("sites.csv:line 5", "windows")} <= where
    assert stored["windows"] == [{"start": "06:00", "end": "10:00"}, {"start": "19:00", "end": "21:00"}]
    assert stored["access"] == "small" and stored["name"] == "东门餐厅"
    _forget(service, [("sites", "IMP-1"), ("sites", "IMP-2")])


def test_facilities_import_from_geojson_and_vehicles_from_csv(service):
    facilities = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [114.0, 22.53]},
                "properties": {
                    "id": "F-IMP",
                    "name": "厨余处理厂",
                    "kind": "treatment_plant",
                    "streams": ["kitchen"],
                    "opening_hours": [{"start": "05:00", "end": "23:00"}],
                    "daily_capacity_t": 500,
                },
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "properties": {"id": "F-BAD"},
            },
        ],
    }
    vehicles = "id,type,depot,shift_start,shift_end,terminal\nV-IMP,kitchen-8t,DEPOT,05:30,15:30,013912345678\nV-BAD,kitchen-8t,DEPOT,15:30,05:30,\n"
    with service.client("dispatcher") as client:
        f = client.post(
            "/facilities/import", files={"file": ("f.geojson", json.dumps(facilities).encode(), "application/geo+json")}
        )
        v = client.post("/vehicles/import", files={"file": ("v.csv", vehicles.encode(), "text/csv")})
        facility = client.get("/facilities/F-IMP").json()
        vehicle = client.get("/vehicles/V-IMP").json()
        unknown = client.post("/sites/import", files={"file": ("sites.xlsx", b"PK..", "application/octet-stream")})
        nothing = client.post("/sites/import", files={"file": ("s.csv", b"id,lon\nX,abc\n", "text/csv")})
    assert f.json()["imported"] == 1 and f.json()["rejected"][0]["where"] == "f.geojson:features[1]"
    assert facility["streams"] == ["kitchen"] and facility["lon"] == 114.0 and facility["daily_capacity_t"] == 500
    assert v.json()["imported"] == 1 and v.json()["rejected"][0]["where"] == "v.csv:line 3"
    assert vehicle["terminal"] == "013912345678"
    assert unknown.status_code == 422 and ".csv or .geojson" in unknown.text
    assert nothing.status_code == 422  # no good row at all
    _forget(service, [("facilities", "F-IMP"), ("vehicles", "V-IMP")])


def _forget(service, items: list[tuple[str, str]]) -> None:
    """Leave the shared catalogue as found: test_plans plans over all of it."""
    with service.client("dispatcher") as client:
        for path, item in items:
            assert client.delete(f"/{path}/{item}").status_code == 204


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_station_study_from_files_to_catchments(service, shenzhen):
    from routing.stations.capacity import CLASS_NAMES
    from routing.stations.demo import edge_disposal_sites, generated_sites

    people = shenzhen.random_points(n=30, seed=5, prefix="C")
    communities = _csv(
        ["id", "lon", "lat", "population"], [[p.id, p.lon, p.lat, 4000 + 300 * i] for i, p in enumerate(people)]
    )
    sites = generated_sites(shenzhen, n=6, seed=5, existing=1)
    header = ["id", "lon", "lat", "land_area_m2", "max_class", "existing", "current_class"] + [
        f"cost_{c}" for c in CLASS_NAMES
    ]
    candidates = _csv(
        header,
        [
            [s.id, s.lon, s.lat, s.land_area_m2, s.max_class, int(s.existing), s.current_class or ""]
            + [s.yearly_cost_yuan.get(c, "") for c in CLASS_NAMES]
            for s in sites
        ],
    )
    params = json.dumps(
        {
            "service_radius_km": 50.0,
            "time_limit_s": 20,
            "disposal_sites": [{"id": d.id, "lon": d.lon, "lat": d.lat} for d in edge_disposal_sites(shenzhen)],
        }
    )
    with service.client("planner") as client:
        answer = client.post(
            "/stations/plans",
            files={
                "communities": ("communities.csv", communities, "text/csv"),
                "candidates": ("candidates.csv", candidates, "text/csv"),
                "params": ("params.json", params.encode(), "application/json"),
            },
        )
        assert answer.status_code == 202, answer.text
        body = wait_for_job(client, answer.json()["url"], timeout_s=240)
        assert body["status"] == "succeeded", body
        geojson = client.get(f"{answer.json()['url']}/catchments.geojson").json()
        report = client.get(f"{answer.json()['url']}/report.html")
        bad = client.post(
            "/stations/plans",
            files={
                "communities": ("c.csv", b"id,lon,lat,population\nA,abc,22.5,100\n", "text/csv"),
                "candidates": ("candidates.csv", candidates, "text/csv"),
            },
        )
    plan = body["plan"]
    assigned = [c for s in plan["stations"] for c in s["community_ids"]]
    assert sorted(assigned + [u["id"] for u in plan["unassigned"]]) == sorted(p.id for p in people)  # each once
    existing = next(s.id for s in sites if s.existing)
    assert existing in [s["site_id"] for s in plan["stations"]]  # an existing station is kept
    assert all(s["design_load_t_per_day"] <= s["capacity_t_per_day"] + 1e-6 for s in plan["stations"])
    assert plan["proven_gap"] is not None and plan["proven_gap"] <= 0.01
    assert {f["properties"]["kind"] for f in geojson["features"]} >= {"station", "community", "catchment"}
    assert report.status_code == 200 and "转运站" in report.text
    assert bad.status_code == 422 and "c.csv" in bad.text and "line 2" in bad.text and "lon" in bad.text
