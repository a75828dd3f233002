"""Plans over real HTTP: catalogue in, solve job from submit to result, checked independently, exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.api.conftest import wait_for_job


@pytest.fixture(scope="module")
def solved(service, small_scenario) -> dict:
    """One plan solved through the API from a whole scenario document."""
    with service.client("dispatcher") as client:
        answer = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 1})
        assert answer.status_code == 202, answer.text
        plan_id = answer.json()["id"]
        body = wait_for_job(client, f"/plans/{plan_id}")
    assert body["status"] == "succeeded", body
    return body


def test_plan_job_from_submit_to_result_passes_the_independent_checker(solved, small_scenario):
    from routing.network.graph import load_network
    from routing.planning.check import check_plan
    from routing.planning.problem import problem_from_scenario
    from routing.planning.scenario import parse_scenario

    problem, _ = problem_from_scenario(parse_scenario(small_scenario), network=load_network())
    report = check_plan(problem, solved["plan"])
    assert report.ok, report.violations[:10]
    assert report.served == {s["id"] for s in small_scenario["sites"]}  # every site collected
    assert solved["progress"]["best_cost"] > 0  # the search reported its best cost while running
    assert all(stop["arrival"].endswith("+08:00") for route in solved["plan"]["routes"] for stop in route["stops"])


def test_submit_answers_at_once_and_status_moves_through_the_job_states(service, small_scenario):
    import time

    with service.client("dispatcher") as client:
        started = time.monotonic()
        answer = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 1})
        assert answer.status_code == 202 and time.monotonic() - started < 2.0
        first = client.get(answer.json()["url"]).json()
        early = client.get(f"{answer.json()['url']}/routes.geojson")
        assert first["status"] in ("queued", "running") and "plan" not in first
        assert early.status_code == 409 and "not solved yet" in early.json()["detail"]
        assert wait_for_job(client, answer.json()["url"])["status"] == "succeeded"
        listed = client.get("/plans").json()
        assert answer.json()["id"] in [p["id"] for p in listed["items"]]


def test_routes_geojson_follows_the_roads_and_numbers_every_site(service, solved, small_scenario):
    with service.client("dispatcher") as client:
        answer = client.get(f"/plans/{solved['id']}/routes.geojson")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/geo+json")
    features = answer.json()["features"]
    lines = [f for f in features if f["properties"]["kind"] == "route"]
    assert len(lines) == len(solved["plan"]["routes"])
    assert len({f["properties"]["colour"] for f in lines}) == len(lines)  # one colour per truck
    for line in lines:  # a road path has many more vertices than the truck has stops
        route = next(r for r in solved["plan"]["routes"] if r["vehicle_id"] == line["properties"]["vehicle_id"])
        assert len(line["geometry"]["coordinates"]) > len(route["stops"])
    points = [f["properties"] for f in features if f["geometry"]["type"] == "Point"]
    assert all(
        {"kind_label", "id", "colour", "number", "arrival", "departure"} <= set(p) for p in points
    )  # what map.js reads
    assert all(p["arrival"].endswith("+08:00") and p["departure"].endswith("+08:00") for p in points)
    numbered = sorted(
        (f["properties"]["vehicle_id"], f["properties"]["number"])
        for f in features
        if f["properties"]["kind"] == "site"
    )
    assert len(numbered) == len(small_scenario["sites"])
    for vehicle in {v for v, _ in numbered}:
        assert [n for v, n in numbered if v == vehicle] == list(range(1, sum(v == vehicle for v, _ in numbered) + 1))


def test_route_sheets_list_every_stop_with_chinese_headers(service, solved, small_scenario):
    with service.client("dispatcher") as client:
        whole = client.get(f"/plans/{solved['id']}/sheets.csv")
        vehicle = solved["plan"]["routes"][0]["vehicle_id"]
        one = client.get(f"/plans/{solved['id']}/sheets/{vehicle}.csv")
        missing = client.get(f"/plans/{solved['id']}/sheets/NO-SUCH-TRUCK.csv")
    assert whole.status_code == 200 and one.status_code == 200 and missing.status_code == 404
    assert whole.content.startswith("\ufeff".encode()) and b"\r\n" in whole.content  # spreadsheet-friendly
    rows = list(csv.reader(io.StringIO(whole.text.lstrip("\ufeff"))))
    header = rows[0]
    assert header[:4] == ["车辆 vehicle", "序号 seq", "类型 kind", "到达 arrival"] and "名称 name" in header
    column = {name.split()[-1]: k for k, name in enumerate(header)}
    # every stop of every route, in order, at the plan's local (+08:00) clock times
    expected = [
        [r["vehicle_id"], str(k), s["id"], s["arrival"][11:16], s["departure"][11:16]]
        for r in solved["plan"]["routes"]
        for k, s in enumerate(r["stops"])
    ]
    assert all(s["arrival"].endswith("+08:00") for r in solved["plan"]["routes"] for s in r["stops"])
    assert [[r[column[c]] for c in ("vehicle", "seq", "id", "arrival", "departure")] for r in rows[1:]] == expected
    site_rows = [r for r in rows[1:] if r[column["kind"]].startswith("收集点")]
    assert {r[column["id"]] for r in site_rows} == {s["id"] for s in small_scenario["sites"]}
    demand = {s["id"]: s["demand_kg"] for s in small_scenario["sites"]}
    assert all(abs(float(r[column["expected_kg"]]) - demand[r[column["id"]]]) <= 0.05 for r in site_rows)
    one_rows = list(csv.reader(io.StringIO(one.text.lstrip("\ufeff"))))
    assert one_rows[0] == header and one_rows[1:] == [r for r in rows[1:] if r[0] == vehicle]


def test_plan_from_the_stored_catalogue(service, small_scenario):
    """Sites, vehicles, types, depots and facilities stored through CRUD, then planned for a day."""
    with service.client("dispatcher") as client:
        for path, key in (
            ("depots", "depots"),
            ("facilities", "facilities"),
            ("vehicle-types", "vehicle_types"),
            ("vehicles", "vehicles"),
            ("sites", "sites"),
        ):
            for item in small_scenario[key]:
                answer = client.put(f"/{path}/{item['id']}", json=item)
                assert answer.status_code == 200, (path, answer.text)
        answer = client.post(
            "/plans", json={"name": "catalogue day", "date": small_scenario["date"], "time_limit_s": 1}
        )
        assert answer.status_code == 202, answer.text
        body = wait_for_job(client, answer.json()["url"])
    assert body["status"] == "succeeded", body
    served = {s["id"] for r in body["plan"]["routes"] for s in r["stops"] if s["kind"] == "site"}
    assert served == {s["id"] for s in small_scenario["sites"]}


def test_bad_scenarios_are_refused_before_any_job_naming_the_field(service, small_scenario):
    broken = json.loads(json.dumps(small_scenario))
    broken["sites"][3]["demand_kg"] = -5
    broken["sites"][4]["stream"] = "plutonium"
    with service.client("dispatcher") as client:
        answer = client.post("/plans", json={"scenario": broken})
        assert answer.status_code == 422
        detail = answer.json()["detail"]
        assert f"sites[3] (id {broken['sites'][3]['id']}).demand_kg" in detail
        assert f"sites[4] (id {broken['sites'][4]['id']}).stream" in detail
        assert client.post("/plans", json={"time_limit_s": 1}).status_code == 422  # no scenario and no date
        assert client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 10**6}).status_code == 422
        assert client.get("/plans/not-a-plan").status_code == 404
        assert client.get("/plans/not-a-plan/routes.geojson").status_code == 404
