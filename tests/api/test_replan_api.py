"""POST /plans/{id}/replan: a linked plan job, bad events refused at once naming each, change sheets served."""

from __future__ import annotations

from tests.api.test_plans import _finished, _guixi_day, in_process_service


def test_replan_job_is_a_new_linked_plan_and_bad_events_are_named(tmp_path):
    with in_process_service(tmp_path, time_limit_s=2.0, workers=1) as (_, client):
        answer = client.post("/plans", json={"scenario": _guixi_day(), "time_limit_s": 2})
        old = _finished(client, answer.json()["url"])
        assert old["status"] == "succeeded", old
        route = old["plan"]["routes"][0]
        at = route["stops"][2]["departure"][11:16]
        bad = client.post(
            f"/plans/{old['id']}/replan",
            json={"at": at, "events": {"breakdowns": [{"vehicle": "NO-SUCH", "at": at}], "cancelled": ["GHOST"]}},
        )
        assert bad.status_code == 422
        assert "breakdowns.0.vehicle" in bad.json()["detail"] and "cancelled.0" in bad.json()["detail"]
        assert client.post(f"/plans/{old['id']}/replan", json={"at": "23:59"}).status_code == 422
        assert client.post("/plans/not-a-plan/replan", json={"at": at}).status_code == 404
        answer = client.post(
            f"/plans/{old['id']}/replan",
            json={"at": at, "events": {"breakdowns": [{"vehicle": route["vehicle_id"], "at": at}]}, "time_limit_s": 2},
        )
        assert answer.status_code == 202 and answer.json()["replans"] == old["id"]
        new = _finished(client, answer.json()["url"])
        assert new["status"] == "succeeded", new
        link = new["plan"]["replans"]
        assert link["from_plan"] == old["id"] and link["out_of_service"] == [route["vehicle_id"]]
        assert route["vehicle_id"] not in {r["vehicle_id"] for r in new["plan"]["routes"]}
        changes = client.get(f"/plans/{new['id']}/changes.csv")
        assert changes.status_code == 200 and "停运 out of service" in changes.text
        assert client.get(f"/plans/{old['id']}/changes.csv").status_code == 409  # not a re-plan


def test_a_truck_with_a_fresh_fix_starts_where_the_fix_puts_it(tmp_path):
    import httpx
    from sqlmodel import Session

    from api.db import engine_for
    from api.tables import ScenarioRow
    from tests.api.conftest import issue_keys

    day = _guixi_day()
    with in_process_service(tmp_path, time_limit_s=2.0, workers=1) as (_, client):
        old = _finished(client, client.post("/plans", json={"scenario": day, "time_limit_s": 2}).json()["url"])
        route = old["plan"]["routes"][0]
        vid, at = route["vehicle_id"], route["stops"][2]["departure"][11:16]
        vehicle = next(v for v in day["vehicles"] if v["id"] == vid)
        assert client.put(f"/vehicles/{vid}", json={**vehicle, "terminal": "13900000077"}).status_code == 200
        spot = day["sites"][-1]  # a road point of the day, not where the plan has the truck
        fix = {"device": "13900000077", "time": f"{day['date']}T{at}:00+08:00", "lon": spot["lon"], "lat": spot["lat"]}
        device = httpx.Client(transport=client._transport, base_url=str(client.base_url))
        device.headers["X-API-Key"] = issue_keys(f"sqlite:///{tmp_path / 'qingyun.db'}")["device"]
        assert device.post("/positions", json={"positions": [fix]}).json()["accepted"] == 1
        answer = client.post(f"/plans/{old['id']}/replan", json={"at": at, "time_limit_s": 2})
        new = _finished(client, answer.json()["url"])
    assert new["status"] == "succeeded", new
    assert new["plan"]["replans"]["positions"][vid] == "fix"
    with Session(engine_for(f"sqlite:///{tmp_path / 'qingyun.db'}")) as session:  # the rest of the day as solved
        rest = session.get(ScenarioRow, new["id"]).document
    start = next(s for s in rest["sites"] if s["id"] == f"_at-{vid}")
    assert new["plan"]["replans"]["starts"][vid] == [start["id"]] and start["vehicles"] == [vid]
    assert (start["lon"], start["lat"]) == (spot["lon"], spot["lat"])
