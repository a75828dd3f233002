"""Positions in, tracks out, audits, violations with filters and company scores — over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.api.conftest import wait_for_job


def _fixes(positions, *, device: str) -> list[dict]:
    """Simulator rows → POST /positions items; load and ignition become JT/T 808 status bits."""
    items = []
    for row in positions.to_dict("records"):
        status = 2 | (1 if row["ignition"] == 1 else 0) | (0x300 if row["load"] == 1 else 0)
        items.append(
            {
                "device": device,
                "time": row["time"],
                "lon": row["lon"],
                "lat": row["lat"],
                "speed_kmh": row["speed_kmh"],
                "heading": int(row["heading"]) % 360,
                "status": status,
            }
        )
    return items


@pytest.fixture(scope="module")
def haul(service, shenzhen):
    """A simulated speeding haul (ground truth known) posted, permitted and audited through the API."""
    import uuid

    from fleet.settings import FleetSettings
    from fleet.simulate.tracks import simulate_haul

    scenario = simulate_haul(shenzhen, violation="speeding", seed=1, interval_s=30, settings=FleetSettings())
    device = f"T{uuid.uuid4().hex[:8]}"  # the PostgreSQL and SQLite services are separate, but keep ids unique anyway
    permits = [p.model_copy(update={"device": device}).model_dump(mode="json") for p in scenario.permits]
    fixes = _fixes(scenario.positions, device=device)
    with service.client("device") as client:
        first = client.post("/positions", json={"positions": fixes[:40]})
        again = client.post("/positions", json={"positions": fixes})  # overlapping re-send: stored once
    assert first.json() == {"accepted": 40, "rejected": []} and again.json()["accepted"] == len(fixes)
    times = [datetime.fromisoformat(f["time"]) for f in fixes]
    with service.client("supervisor") as client:
        assert client.post("/permits", json={"permits": permits}).json() == {"stored": len(permits)}
        zones = {"type": "FeatureCollection", "features": [z.model_dump(mode="json") for z in scenario.zones]}
        assert client.post("/zones", json=zones).status_code == 200
        period = {
            "from": (min(times) - timedelta(hours=1)).isoformat(),
            "to": (max(times) + timedelta(hours=1)).isoformat(),
        }
        answer = client.post("/audits", json={**period, "devices": [device]})
        assert answer.status_code == 202, answer.text
        audit = wait_for_job(client, answer.json()["url"])
    assert audit["status"] == "succeeded", audit
    return {
        "scenario": scenario,
        "device": device,
        "fixes": fixes,
        "audit": audit,
        "period": period,
        "company": scenario.permits[0].company,
    }


def test_positions_are_stored_once_in_gps_time_order_and_played_back(service, haul):
    with service.client("supervisor") as client:
        track = client.get(f"/vehicles/{haul['device']}/track").json()
        window = client.get(
            f"/vehicles/{haul['device']}/track",
            params={"from": haul["fixes"][10]["time"], "to": haul["fixes"][20]["time"]},
        ).json()
    expected = sorted(datetime.fromisoformat(f["time"]) for f in haul["fixes"])
    assert [datetime.fromisoformat(p["time"]) for p in track["points"]] == expected  # re-sent fixes not duplicated
    assert all(p["time"].endswith("+08:00") for p in track["points"])
    assert len(window["points"]) == 10  # from inclusive, to exclusive
    loaded = {p["load"] for p in track["points"]}
    assert loaded <= {"empty", "full"} and "full" in loaded


def test_a_vehicle_with_a_terminal_plays_back_its_terminals_track(service, haul, small_scenario):
    vehicle = dict(small_scenario["vehicles"][0], id="TRACKED-1", terminal=haul["device"])
    with service.client("dispatcher") as client:
        assert client.put("/vehicles/TRACKED-1", json=vehicle).status_code == 200
    with service.client("supervisor") as client:
        track = client.get("/vehicles/TRACKED-1/track").json()
        assert client.get("/vehicles/NOBODY/track").status_code == 404
        naive = client.get("/vehicles/TRACKED-1/track", params={"from": "2026-11-21T06:00:00"})
    with service.client("dispatcher") as client:
        assert client.delete("/vehicles/TRACKED-1").status_code == 204  # test_plans plans the whole catalogue
    assert track["device"] == haul["device"] and len(track["points"]) == len(haul["fixes"])
    assert naive.status_code == 422 and "UTC offset" in naive.text


def test_bad_fixes_are_rejected_by_index_and_field_and_the_rest_stored(service):
    good = {"device": "13800000001", "time": "2026-11-21T08:00:00+08:00", "lon": 114.05, "lat": 22.54}
    batch = [good, {**good, "lat": 95.0}, {**good, "time": "yesterday"}, {**good, "time": "2026-11-21T08:00:10+08:00"}]
    with service.client("device") as client:
        answer = client.post("/positions", json={"positions": batch})
    body = answer.json()
    assert answer.status_code == 200 and body["accepted"] == 2
    assert {(r["index"], r["field"]) for r in body["rejected"]} == {(1, "lat"), (2, "time")}
    with service.client("supervisor") as client:
        points = client.get("/vehicles/13800000001/track").json()["points"]
    assert [p["time"] for p in points] == ["2026-11-21T08:00:00+08:00", "2026-11-21T08:00:10+08:00"]


def test_audit_finds_the_injected_speeding_once_with_its_times(service, haul):
    truth = [e for e in haul["scenario"].truth if e.type == "speeding"]
    with service.client("supervisor") as client:
        found = client.get("/violations", params={"device": haul["device"], "type": "speeding"}).json()
    assert found["total"] == len(truth) == 1
    violation = found["items"][0]
    start = datetime.fromisoformat(violation["start"]).timestamp()
    assert abs(start - truth[0].start_s) <= haul["scenario"].interval_s
    assert violation["evidence"] and violation["explanation"]["zh"] and violation["explanation"]["en"]
    assert violation["company"] == haul["company"]


def test_violation_filters(service, haul):
    with service.client("supervisor") as client:
        everything = client.get("/violations", params={"device": haul["device"]}).json()
        by_company = client.get("/violations", params={"company": haul["company"], "device": haul["device"]}).json()
        other = client.get("/violations", params={"company": "no such company"}).json()
        severity = everything["items"][0]["severity"]
        same = client.get("/violations", params={"device": haul["device"], "severity": severity}).json()
        later = client.get("/violations", params={"device": haul["device"], "from": haul["period"]["to"]}).json()
        bad_type = client.get("/violations", params={"type": "jaywalking"})
    assert everything["total"] >= 1 and by_company["total"] == everything["total"] and other["total"] == 0
    assert all(v["severity"] == severity for v in same["items"]) and same["total"] >= 1
    assert later["total"] == 0
    assert bad_type.status_code == 422 and "jaywalking" in bad_type.text


def test_reauditing_the_same_period_counts_nothing_twice(service, haul):
    with service.client("supervisor") as client:
        before = client.get("/violations", params={"device": haul["device"]}).json()["total"]
        answer = client.post("/audits", json={**haul["period"], "devices": [haul["device"]]})
        assert wait_for_job(client, answer.json()["url"])["status"] == "succeeded"
        after = client.get("/violations", params={"device": haul["device"]}).json()["total"]
    assert after == before


def test_company_score_deducts_per_violation(service, haul):
    from fleet.audit.settings import DEFAULT_DEDUCTIONS

    with service.client("supervisor") as client:
        violations = client.get("/violations", params={"company": haul["company"], "limit": 1000}).json()["items"]
        scores = client.get(f"/companies/{haul['company']}/score").json()["scores"]
        companies = client.get("/companies").json()["items"]
        assert client.get("/companies/nobody/score").status_code == 404
    month = violations[0]["start"][:7]
    score = next(s for s in scores if s["period"] == month)
    deducted = sum(DEFAULT_DEDUCTIONS[v["type"]][v["severity"]] for v in violations if v["start"][:7] == month)
    assert score["score"] == pytest.approx(100 - deducted) and score["blacklisted"] == (100 - deducted < 60)
    assert haul["company"] in [c["id"] for c in companies]


def test_audit_requests_are_validated(service):
    with service.client("supervisor") as client:
        backwards = client.post(
            "/audits", json={"from": "2026-11-22T00:00:00+08:00", "to": "2026-11-21T00:00:00+08:00"}
        )
        naive = client.post("/audits", json={"from": "2026-11-21T00:00:00", "to": "2026-11-22T00:00:00+08:00"})
        assert client.get("/audits/nope").status_code == 404
    assert backwards.status_code == 422 and "not after" in backwards.text
    assert naive.status_code == 422 and "offset" in naive.text


def test_permits_and_zones_crud(service, haul):
    with service.client("supervisor") as client:
        permits = client.get("/permits", params={"company": haul["company"]}).json()
        zones = client.get("/zones").json()
        bad = client.post("/permits", json={"permits": [{"permit_id": "X"}]})
        missing = client.delete("/permits/NOPE")
    assert any(p["device"] == haul["device"] for p in permits["items"])
    assert zones["type"] == "FeatureCollection"
    assert bad.status_code == 422 and "device" in bad.text
    assert missing.status_code == 404
