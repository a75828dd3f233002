"""Input bounds everywhere: every bad value gets a 4xx naming the field or the limit, never a 500."""

from __future__ import annotations

import copy
import json

import pytest


def _details(answer) -> str:
    return json.dumps(answer.json(), ensure_ascii=False)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("vehicle_types", 0, "capacity_kg"), "Infinity", "capacity_kg"),
        (("vehicle_types", 0, "capacity_kg"), "NaN", "capacity_kg"),
        (("vehicle_types", 0, "capacity_kg"), "1e300", "capacity_kg"),
        (("vehicle_types", 0, "max_stops"), str(2**63), "max_stops"),
        (("sites", 0, "demand_kg"), "1e300", "demand_kg"),
        (("sites", 0, "lat"), "4294.97", "lat"),
        (("sites", 0, "id"), '"a/b"', "id"),
        (("sites", 0, "name"), json.dumps("名" * 201), "name"),
        (("vehicles", 0, "shift_start"), '"6 o\'clock"', "shift_start"),
    ],
)
def test_a_scenario_with_an_out_of_bounds_value_is_refused_naming_the_field(
    service, small_scenario, path, value, field
):
    scenario = copy.deepcopy(small_scenario)
    *parents, last = path
    node = scenario
    for part in parents:
        node = node[part]
    node[last] = "__VALUE__"
    body = json.dumps({"scenario": scenario, "time_limit_s": 1}).replace('"__VALUE__"', value)
    with service.client("dispatcher") as client:
        answer = client.post("/plans", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text[:300]
    assert field in _details(answer)


def test_a_record_id_outside_the_safe_set_is_refused_and_a_cjk_id_round_trips(service):
    site = {"lon": 114.05, "lat": 22.55, "stream": "kitchen", "demand_kg": 10}
    with service.client("dispatcher") as client:
        for bad in ("a/b", "..", ".hidden", "x" * 65, "a b"):
            answer = client.post("/sites", json={"id": bad, **site})
            assert answer.status_code == 422 and "id" in _details(answer), (bad, answer.text)
        assert client.get("/sites/a%2Fb").status_code in (404, 422)
        created = client.post("/sites", json={"id": "福田-厨余.01", **site})
        assert created.status_code == 201, created.text
        assert client.get("/sites/福田-厨余.01").json()["id"] == "福田-厨余.01"
        assert client.delete("/sites/福田-厨余.01").status_code == 204


def test_a_position_time_or_place_out_of_range_is_rejected_by_item(service):
    good = {"device": "13900000001", "time": "2026-11-22T06:00:00+08:00", "lon": 114.05, "lat": 22.55}
    items = [
        good,
        {**good, "time": "0001-01-01T00:00:00+14:00"},
        {**good, "time": "9999-12-31T23:59:59-12:00"},
        {**good, "lat": 4294.97},
        {**good, "speed_kmh": "Infinity"},
        {**good, "mileage_km": 1e300},
    ]
    with service.client("device") as client:
        answer = client.post("/positions", json={"positions": items})
    assert answer.status_code == 200, answer.text
    rejected = {(r["index"], r["field"]) for r in answer.json()["rejected"]}
    assert rejected == {(1, "time"), (2, "time"), (3, "lat"), (4, "speed_kmh"), (5, "mileage_km")}
    assert answer.json()["accepted"] == 1


def test_a_csv_cell_over_the_limit_is_a_422_naming_the_line(service):
    header = "id,type,depot,shift_start,shift_end\n"
    content = (header + "v1,t,d,06:00,18:00\n" + "v2,t,d," + "x" * 140_000 + ",18:00\n").encode()
    with service.client("dispatcher") as client:
        answer = client.post("/vehicles/import", files={"file": ("v.csv", content, "text/csv")})
    assert answer.status_code == 422 and "line 3" in _details(answer) and "131,072" in _details(answer), answer.text
    sites = ("id,lon,lat,stream,demand_kg\nA,114,22.5,kitchen,1\nB,114,22.5,kitchen," + "x" * 140_000 + "\n").encode()
    with service.client("dispatcher") as client:
        answer = client.post("/sites/import", files={"file": ("s.csv", sites, "text/csv")})
    assert answer.status_code == 422 and "3" in _details(answer) and "131,072" in _details(answer), answer.text


def test_geojson_nested_100000_deep_is_a_422(service):
    deep = '{"type": "FeatureCollection", "features": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    with service.client("dispatcher") as client:
        answer = client.post("/facilities/import", files={"file": ("f.geojson", deep.encode(), "application/json")})
        assert answer.status_code == 422 and "nested" in _details(answer), answer.text[:300]
    zones = '{"type": "FeatureCollection", "features": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with service.client("supervisor") as client:
        answer = client.post("/zones", content=zones, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "1,000 deep" in answer.json()["detail"], answer.text[:300]


def test_vehicles_and_vehicle_types_import_from_geojson(service):
    def collection(*properties: dict) -> bytes:
        features = [{"type": "Feature", "geometry": None, "properties": p} for p in properties]
        return json.dumps({"type": "FeatureCollection", "features": features}).encode()

    types = collection({"id": "gj-small", "streams": ["kitchen"], "capacity_kg": 2000, "access": "small"})
    vehicles = collection(
        {"id": "gj-粤B00001", "type": "gj-small", "depot": "d1", "terminal": "13900000009"},
        {"id": "gj-bad", "type": "gj-small", "depot": "d1", "shift_start": "25:00"},
    )
    with service.client("dispatcher") as client:
        answer = client.post("/vehicle-types/import", files={"file": ("t.geojson", types, "application/json")})
        assert answer.status_code == 200 and answer.json()["imported"] == 1, answer.text
        answer = client.post("/vehicles/import", files={"file": ("v.geojson", vehicles, "application/json")})
        assert answer.status_code == 200, answer.text
        assert answer.json()["imported"] == 1 and answer.json()["rejected"][0]["where"] == "v.geojson:features[1]"
        assert client.get("/vehicles/gj-粤B00001").json()["terminal"] == "13900000009"
        # test_plans plans the whole stored catalogue: leave nothing behind
        assert client.delete("/vehicles/gj-粤B00001").status_code == 204
        assert client.delete("/vehicle-types/gj-small").status_code == 204


def test_times_are_answered_in_local_time_with_offset(service, small_scenario):
    with service.client("admin") as client:
        keys = client.get("/keys").json()["items"]
    assert keys and all(k["created_at"].endswith("+08:00") for k in keys)
    with service.client("dispatcher") as client:
        plan = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 1}).json()
        status = client.get(plan["url"]).json()
        listed = client.get("/plans").json()["items"]
    assert status["created_at"].endswith("+08:00")
    assert all(item["created_at"].endswith("+08:00") for item in listed)


def test_a_device_key_writes_only_for_its_own_terminals(service):
    fix = {"time": "2026-11-22T06:00:00+08:00", "lon": 114.05, "lat": 22.55}
    with service.client("admin") as admin:
        refused = admin.post("/keys", json={"roles": ["device"]})
        assert refused.status_code == 422 and "terminals" in _details(refused)
        issued = admin.post("/keys", json={"roles": ["device"], "terminals": ["013900000021"], "name": "truck 21"})
        assert issued.status_code == 201 and issued.json()["terminals"] == ["13900000021"]
    with service.client() as device:
        device.headers["X-API-Key"] = issued.json()["key"]
        own = device.post("/positions", json={"positions": [{"device": "13900000021", **fix}]})
        assert own.status_code == 200 and own.json()["accepted"] == 1
        other = device.post(
            "/positions", json={"positions": [{"device": "13900000021", **fix}, {"device": "13900000022", **fix}]}
        )
        assert other.status_code == 403 and "13900000022" in other.json()["detail"]
    with service.client("supervisor") as supervisor:
        track = supervisor.get("/vehicles/13900000022/track")
    assert track.status_code == 404  # nothing of the refused batch was stored


def test_an_admin_unbinds_a_terminal_and_an_unknown_phone_is_404(service):
    fix = {"device": "13900000031", "time": "2026-11-22T06:00:00+08:00", "lon": 114.05, "lat": 22.55}
    with service.client("device") as device:
        assert device.post("/positions", json={"positions": [fix]}).json()["accepted"] == 1
    with service.client("admin") as admin:
        unknown = admin.post("/terminals/13999999999/unbind")
        assert unknown.status_code == 404 and "13999999999" in unknown.json()["detail"]
        assert admin.post("/terminals/x1/unbind").status_code == 422
        done = admin.post("/terminals/013900000031/unbind")
        assert done.status_code == 200 and done.json() == {"phone": "13900000031", "bound": False}
    with service.client("dispatcher") as dispatcher:
        assert dispatcher.post("/terminals/13900000031/unbind").status_code == 403


def test_an_admin_cannot_revoke_the_key_signing_the_request(service):
    with service.client("admin") as admin:
        own_id = service.keys["admin"].split("_")[1]
        answer = admin.delete(f"/keys/{own_id}")
        assert answer.status_code == 409 and own_id in answer.json()["detail"]
        assert admin.get("/keys").status_code == 200
