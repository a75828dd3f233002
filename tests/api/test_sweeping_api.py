"""Street sweeping over real HTTP: a small Futian night planned as a job, its sheets and GeoJSON, its audit."""

from __future__ import annotations

import csv
import io

import pytest
import shapely

from tests.api.conftest import wait_for_job

BOX = (114.055, 22.525, 114.060, 22.530)  # 37 kerbs, 3.4 kerb-km of Futian: plans in about a second
SWEEPER = "13900000501"


def _scenario(**changes) -> dict:
    return {
        "name": "福田一角 / a corner of Futian",
        "area": shapely.geometry.mapping(shapely.box(*BOX)),
        "date": "2026-11-21",
        "depot": {"id": "D1", "name": "车场", "lon": 114.0575, "lat": 22.5275},
        "sweepers": 2,
        **changes,
    }


@pytest.fixture(scope="module")
def planned(service) -> dict:
    with service.client("dispatcher") as client:
        answer = client.post("/sweeping/plans", json={"scenario": _scenario(), "time_limit_s": 1, "seed": 1})
        assert answer.status_code == 202, answer.text
        body = wait_for_job(client, answer.json()["url"], timeout_s=120)
    assert body["status"] == "succeeded", body
    return body


def test_a_night_is_planned_as_a_job_and_every_kerb_in_the_area_is_served(planned):
    from routing.network.graph import load_network
    from routing.sweeping.scope import kerbs_in_area
    from routing.sweeping.settings import SweepingSettings

    plan = planned["plan"]
    kerbs = kerbs_in_area(load_network(), area=shapely.box(*BOX), settings=SweepingSettings())
    served = {kerb for v in plan["vehicles"] for row in v["rows"] if row["action"] == "serve" for kerb in row["kerbs"]}
    assert served == {k.kerb_id for k in kerbs} and plan["unserved"] == []
    assert plan["certified"] and plan["kpis"]["planned_rate"] == 1.0
    assert 0 < plan["kpis"]["deadhead_ratio"] < 1 and planned["progress"]["stage"] == "solving"


def test_geojson_and_each_vehicles_route_sheet(service, planned):
    plan_id = planned["id"]
    vehicles = [v["vehicle_id"] for v in planned["plan"]["vehicles"] if v["rows"]]  # a sweeper may stay idle
    with service.client("dispatcher") as client:
        geojson = client.get(f"/sweeping/plans/{plan_id}/routes.geojson")
        assert geojson.status_code == 200 and geojson.headers["content-type"].startswith("application/geo+json")
        lines = [f for f in geojson.json()["features"] if f["geometry"]["type"] == "LineString"]
        assert {f["properties"]["vehicle_id"] for f in lines} == set(vehicles)
        sheet = client.get(f"/sweeping/plans/{plan_id}/sheets/{vehicles[0]}.csv")
        assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
        assert rows[0][0] == "序号 seq" and any(r[3] == "清扫 / serve" for r in rows[1:])
        missing = client.get(f"/sweeping/plans/{plan_id}/sheets/NOPE.csv")
        assert (
            missing.status_code == 404
            and "NOPE" in missing.json()["detail"]
            and vehicles[0] in missing.json()["detail"]
        )


def test_bad_requests_are_refused_at_once_naming_the_field(service):
    with service.client("dispatcher") as client:
        no_sweepers = client.post("/sweeping/plans", json={"scenario": _scenario(sweepers=0)})
        assert no_sweepers.status_code == 422 and "sweepers" in no_sweepers.json()["detail"]
        line = {"type": "LineString", "coordinates": [[114.05, 22.52], [114.06, 22.53]]}
        no_area = client.post("/sweeping/plans", json={"scenario": _scenario(area=line)})
        assert no_area.status_code == 422 and "scenario.area" in no_area.json()["detail"]
        bad_setting = client.post("/sweeping/plans", json={"scenario": _scenario(settings={"working_max_kmh": -1})})
        assert bad_setting.status_code == 422 and "working_max_kmh" in bad_setting.json()["detail"]
        unknown = client.post("/sweeping/plans", json={"scenario": _scenario(), "colour": "red"})
        assert unknown.status_code == 422 and "colour" in unknown.text
        assert client.get("/sweeping/plans/no-such-plan").status_code == 404
    with service.client("supervisor") as client:  # planning is the dispatcher's
        assert client.post("/sweeping/plans", json={"scenario": _scenario()}).status_code == 403


def test_stored_sweeper_tracks_are_audited_against_the_plan(service, planned):
    from fleet.simulate.sweepers import simulate_sweeper
    from fleet.tracks.matching import MapMatcher
    from fleet.tracks.settings import MatchSettings
    from routing.network.graph import load_network
    from routing.sweeping.scope import kerbs_in_area
    from routing.sweeping.settings import SweepingSettings

    net = load_network()
    kerbs = kerbs_in_area(net, area=shapely.box(*BOX), settings=SweepingSettings())
    sim, truth = simulate_sweeper(net, kerbs, matcher=MapMatcher(net, settings=MatchSettings()), seed=3, skip=2)
    fixes = sim.positions.assign(device=SWEEPER)
    items = [
        {k: r[k] for k in ("device", "time", "lon", "lat", "speed_kmh", "heading", "status")}
        for r in fixes.astype({"heading": int, "status": int}).to_dict("records")
    ]
    with service.client("device") as client:
        stored = client.post("/positions", json={"positions": items})
        assert stored.status_code == 200 and stored.json()["accepted"] == len(items), stored.text
    request = {"plan_id": planned["id"], "from": items[0]["time"], "to": "2026-11-21T23:00:00+08:00"}
    with service.client("supervisor") as client:
        answer = client.post("/sweeping/audits", json={**request, "devices": [SWEEPER]})
        assert answer.status_code == 202, answer.text
        body = wait_for_job(client, answer.json()["url"], timeout_s=120)
        assert body["status"] == "succeeded", body
        backwards = client.post("/sweeping/audits", json={**request, "to": "2026-11-20T00:00:00+08:00"})
        assert backwards.status_code == 422 and "is not after from" in backwards.json()["detail"]
        assert client.post("/sweeping/audits", json={**request, "plan_id": "nope"}).status_code == 404
        stranger = client.post("/sweeping/audits", json={**request, "devices": ["13900000999"]})
        assert stranger.status_code == 404 and "13900000999" in stranger.json()["detail"]
    audit = body["audit"]
    assert audit["positions"] == len(items) and audit["vehicles"] == [SWEEPER]
    assert truth.rate - 0.01 <= audit["achieved_rate"] <= truth.rate + 0.002
    streets = {k.kerb_id: k.name or f"way {k.way_id}" for k in kerbs}
    assert {streets[k] for k in truth.skipped} <= set(audit["streets_missed"] + audit["streets_too_fast"])
    with service.client("dispatcher") as client:  # auditing is the supervisor's
        assert client.post("/sweeping/audits", json=request).status_code == 403


def test_a_depot_off_the_network_fails_the_job_naming_it_and_is_not_retryable(service):
    with service.client("dispatcher") as client:
        depot = {"id": "海上车场", "lon": 114.2, "lat": 22.3}  # in the sea, kilometres from any road
        answer = client.post("/sweeping/plans", json={"scenario": _scenario(depot=depot), "time_limit_s": 1})
        assert answer.status_code == 202, answer.text
        body = wait_for_job(client, answer.json()["url"], timeout_s=60)
        assert body["status"] == "failed" and "depot" in body["error"] and not body["retryable"], body
        assert "plan" not in body
        early = client.get(f"{answer.json()['url']}/routes.geojson")
        assert early.status_code == 409 and "failed" in early.json()["detail"]
        assert client.post(f"{answer.json()['url']}/retry").status_code == 409
