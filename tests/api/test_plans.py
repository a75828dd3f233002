"""Plans over real HTTP: catalogue in, solve job from submit to result, checked independently, exports."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlmodel import Session, select

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
        assert f"sites.3.demand_kg (id {broken['sites'][3]['id']})" in detail  # routing.jsonfile.validation_messages
        assert f"sites.4.stream (id {broken['sites'][4]['id']})" in detail
        assert client.post("/plans", json={"time_limit_s": 1}).status_code == 422  # no scenario and no date
        assert client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 10**6}).status_code == 422
        assert client.get("/plans/not-a-plan").status_code == 404
        assert client.get("/plans/not-a-plan/routes.geojson").status_code == 404


# --- the planning pipeline in the service: in-process app and jobs, so a test stub reaches the job thread ---
RUN_METADATA = ("search.wall_s", "search.cost_history[*][*][0]")
"""The only plan.json fields that may differ between two runs of the same scenario and settings: wall-clock seconds."""


def _guixi_day() -> dict:
    """Eight kitchen-waste sites, 900 kg each, on the shipped Guixi network: one 5 t truck needs two trips."""
    from routing.network.graph import load_network
    from routing.planning.generate import reachable_points
    from tests.conftest import GUIXI_OSM
    from tests.routing.planning.conftest import base_scenario, site

    places = reachable_points(load_network(GUIXI_OSM), n=40, seed=11)
    sites = [site(places, k, kg=900.0) for k in range(3, 11)]
    return base_scenario(places, sites=sites, vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in (1, 2)])


@contextmanager
def in_process_service(tmp_path: Path, **planning: object) -> Iterator[tuple[object, object]]:
    """The app and its in-process job threads on a fresh SQLite file, planning on Guixi; a dispatcher's client."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.settings import ServiceSettings, Settings
    from routing.network.settings import NetworkSettings
    from routing.planning.settings import PlanningSettings
    from tests.api.conftest import issue_keys
    from tests.conftest import GUIXI_OSM

    url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    settings = Settings(
        service=ServiceSettings(database_url=url),
        network=NetworkSettings(osm=GUIXI_OSM),
        planning=PlanningSettings(**planning),
    )
    app = create_app(settings)
    with TestClient(app) as client:
        client.headers["X-API-Key"] = issue_keys(url)["dispatcher"]
        yield app, client


def _finished(client, url: str, *, timeout_s: float = 180) -> dict:
    deadline = time.monotonic() + timeout_s
    while (body := client.get(url).json())["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
    return body


def test_a_plan_the_checker_rejects_is_a_failed_job_and_is_never_stored(tmp_path, monkeypatch):
    import routing.planning.pipeline as pipeline
    from api.tables import PlanRouteRow, PlanRow, PlanStopRow
    from routing.planning.plan import evaluate_routes
    from routing.planning.problem import Problem

    def overloading_solver(problem, params, *, progress=None):
        """A broken solver (this test only): every site on one 5 t truck, 7.2 t before its first unload."""
        truck = problem.vehicles[0]
        plant = next(f for f in problem.facilities if Problem.unloads_at(truck, f))
        return evaluate_routes(problem, {truck.id: [*(s.id for s in problem.sites), plant.id]})

    monkeypatch.setattr(pipeline, "solve", overloading_solver)
    with in_process_service(tmp_path, workers=1, time_limit_s=5) as (app, client):
        answer = client.post("/plans", json={"scenario": _guixi_day()})
        assert answer.status_code == 202, answer.text
        plan_id = answer.json()["id"]
        body = _finished(client, f"/plans/{plan_id}")
        geojson = client.get(f"/plans/{plan_id}/routes.geojson")
        with Session(app.state.engine) as session:
            stored = session.get(PlanRow, plan_id)
            routes = session.exec(select(PlanRouteRow).where(PlanRouteRow.plan_id == plan_id)).all()
            stops = session.exec(select(PlanStopRow)).all()
    assert body["status"] == "failed" and body["retryable"] is False, body  # the input decides: no retry helps
    assert "independent checker rejected the plan" in body["error"]
    assert "vehicle V1 stop" in body["error"] and "exceeds capacity 5000.0 kg" in body["error"]  # names the violation
    assert "Traceback" not in body["error"] and "plan" not in body
    assert routes == [] and stops == []  # no route or stop row
    assert stored.kpi == {} and stored.geojson is None and stored.sheets is None  # the plan row holds nothing solved
    assert geojson.status_code == 409


def _without_run_metadata(document: dict) -> dict:
    """The document with the wall-clock fields of RUN_METADATA removed (costs of the history are kept)."""
    document = json.loads(json.dumps(document))
    search = document["search"]
    del search["wall_s"]
    search["cost_history"] = [[cost for _, cost in piece] for piece in search["cost_history"]]
    return document


def test_the_cli_and_the_api_write_the_same_plan_json(tmp_path):
    from routing.planning.document import parse_plan

    day = _guixi_day()
    scenario = tmp_path / "day.json"
    scenario.write_text(json.dumps(day, ensure_ascii=False), encoding="utf-8")
    settings = {"time_limit_s": 120.0, "workers": 1, "max_solutions": 40}  # max_solutions: same input, same plan
    cli = subprocess.run(
        [str(Path(sys.executable).with_name("qingyun")), "plan", str(scenario), "--out", str(tmp_path / "out")]
        + ["--time-limit", "120", "--workers", "1", "--max-solutions", "40"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("QINGYUN_PLANNING_")},
    )
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads((tmp_path / "out" / "plan.json").read_text(encoding="utf-8"))
    with in_process_service(tmp_path, **settings) as (_, client):
        answer = client.post("/plans", json={"scenario": day})
        assert answer.status_code == 202, answer.text
        body = _finished(client, answer.json()["url"])
    assert body["status"] == "succeeded", body
    from_api = body["plan"]
    assert from_cli["search"]["wall_s"] < 120 and from_api["search"]["wall_s"] < 120  # stopped by max_solutions
    assert parse_plan(from_api).to_json() == from_api  # the API answers the plan.json contract as is
    assert _without_run_metadata(from_api) == _without_run_metadata(from_cli)
    assert from_api["kpi"]["clearance_rate"] == 1.0 and len(from_api["routes"]) >= 1


def test_a_scenario_naming_a_road_network_of_the_data_folder_is_planned_on_it(tmp_path, monkeypatch):
    import shutil

    from tests.conftest import GUIXI_OSM

    data = tmp_path / "osm"
    data.mkdir()
    shutil.copyfile(GUIXI_OSM, data / "my_city.osm.bz2")
    monkeypatch.setenv("QINGYUN_DATA_DIR", str(data))
    day = _guixi_day()
    day["osm"] = "/home/someone/qingyun/data/osm/my_city.osm.bz2"  # as `scenario generate` wrote it elsewhere
    with in_process_service(tmp_path, workers=1, time_limit_s=2) as (app, client):
        refused = client.post("/plans", json={"scenario": {**day, "osm": "../../etc/passwd"}})
        assert refused.status_code == 422, refused.text
        assert "osm" in refused.text and "my_city.osm.bz2" in refused.text  # names the allowed ones
        answer = client.post("/plans", json={"scenario": day})
        assert answer.status_code == 202, answer.text
        body = _finished(client, f"/plans/{answer.json()['id']}")
    assert body["status"] == "succeeded", body
