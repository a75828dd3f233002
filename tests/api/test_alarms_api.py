"""Alarms over HTTP (issue 19): listed with filters, acknowledged and handled by supervisors, refused by state, counted."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fleet.audit.violations import Violation
from fleet.supervise.alarms import Alarm, AlarmEvent, alarm_key
from fleet.supervise.store import apply_events

T0 = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # 07:00 China time on the 22nd


def _violation(device: str, company: str, *, kind: str = "off_route", minute: int = 0) -> Violation:
    start = T0 + timedelta(minutes=minute)
    return Violation(
        type=kind,
        type_label=kind,
        severity="medium",
        severity_label="一般 moderate",
        device=device,
        company=company,
        permit_id="P1",
        start=start.isoformat(),
        end=(start + timedelta(minutes=3)).isoformat(),
        duration_s=180.0,
        lon=114.05,
        lat=22.54,
        evidence=[{"time": start.isoformat(), "lon": 114.05, "lat": 22.54, "speed_kmh": 30.0, "load": 1}],
        explanation={"zh": "偏离核准路线", "en": "off the approved route"},
    )


def _raise(service, violations: list[Violation], *, ended: bool, raised: datetime | None = None) -> None:
    """Alarms as a rule worker stores them: a start event per violation, and its end when ``ended``."""
    from api.db import engine_for

    events = []
    for v in violations:
        events.append(AlarmEvent(kind="start", alarm=Alarm(key=alarm_key(v), violation=v)))
        if ended:
            events.append(AlarmEvent(kind="end", alarm=Alarm(key=alarm_key(v), state="ended", violation=v)))
    apply_events(engine_for(service.database_url), events, now=raised)


def _ids(client, **params) -> list[int]:
    answer = client.get("/alarms", params=params)
    assert answer.status_code == 200, answer.text
    return [a["id"] for a in answer.json()]


def test_alarms_are_listed_with_filters_and_read_in_china_time(service):
    tag = uuid.uuid4().hex[:8]
    a, b = f"co-a-{tag}", f"co-b-{tag}"
    _raise(service, [_violation(f"d1{tag}", a), _violation(f"d2{tag}", a, kind="speeding", minute=5)], ended=True)
    _raise(service, [_violation(f"d3{tag}", b, minute=10)], ended=False)
    with service.client("supervisor") as client:
        listed = client.get("/alarms", params={"company": a}).json()
        assert [x["device"] for x in listed] == [f"d2{tag}", f"d1{tag}"]  # newest first
        assert all(x["started_at"].endswith("+08:00") and x["ended_at"].endswith("+08:00") for x in listed)
        assert listed[1]["started_at"] == "2026-11-22T07:00:00+08:00" and listed[1]["state"] == "open"
        assert _ids(client, company=a, type="speeding") == [listed[0]["id"]]
        assert _ids(client, device=f"d3{tag}") == _ids(client, company=b)
        assert _ids(client, company=a, since="2026-11-22T07:01:00+08:00") == [listed[0]["id"]]
        assert _ids(client, company=a, state="closed") == [] and len(_ids(client, company=a, limit=1)) == 1
        one = client.get(f"/alarms/{listed[1]['id']}").json()
        assert one["evidence"]["evidence"][0]["lon"] == 114.05 and one["key"].startswith(f"d1{tag}|off_route|P1")
        missing = client.get("/alarms/999999999")
        assert missing.status_code == 404 and "999999999" in missing.json()["detail"]
        naive = client.get("/alarms", params={"since": "2026-11-22T07:00:00"})
        assert naive.status_code == 422 and "since" in str(naive.json()["detail"])
    with service.client("dispatcher") as client:
        assert client.get("/alarms").status_code == 403


def test_an_alarm_is_acknowledged_then_handled_and_refused_by_state(service):
    tag = uuid.uuid4().hex[:8]
    _raise(service, [_violation(f"d{tag}", f"co-{tag}")], ended=False)
    _raise(service, [_violation(f"e{tag}", f"co-{tag}", minute=1)], ended=True)
    with service.client("supervisor") as client:
        ongoing, ended = sorted(_ids(client, company=f"co-{tag}"))
        acked = client.post(f"/alarms/{ongoing}/ack")
        assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
        assert acked.json()["acknowledged_by"] and acked.json()["acknowledged_at"].endswith("+08:00")
        assert client.post(f"/alarms/{ongoing}/handle", json={}).status_code == 422  # the note is required
        body = {"note": "电话通知司机返回核准路线 / driver told to return", "evidence": {"call_at": "07:02"}}
        handled = client.post(f"/alarms/{ongoing}/handle", json=body).json()
        assert handled["state"] == "handled" and handled["note"] == body["note"] and handled["handling_evidence"]
        refused = client.post(f"/alarms/{ongoing}/ack")
        assert refused.status_code == 409 and "handled" in refused.json()["detail"]
        # the episode had ended: handling closes it, and a closed alarm cannot be handled again
        closed = client.post(f"/alarms/{ended}/handle", json={"note": "已处罚 / fined"}).json()
        assert closed["state"] == "closed" and closed["acknowledged_at"] == closed["handled_at"]
        again = client.post(f"/alarms/{ended}/handle", json={"note": "again"})
        assert again.status_code == 409 and "closed" in again.json()["detail"]
        assert client.post("/alarms/999999999/ack").status_code == 404
    with service.client("dispatcher") as client:
        assert client.post(f"/alarms/{ongoing}/ack").status_code == 403


def test_kpis_count_the_handled_rate_and_the_times_to_act_per_company(service):
    tag = uuid.uuid4().hex[:8]
    a, b = f"co-a-{tag}", f"co-b-{tag}"
    raised = datetime.now(UTC) - timedelta(minutes=10)
    _raise(service, [_violation(f"d{i}{tag}", a, minute=i) for i in range(4)], ended=True, raised=raised)
    _raise(service, [_violation(f"e{tag}", b, minute=30)], ended=False, raised=raised)
    with service.client("supervisor") as client:
        ids = sorted(_ids(client, company=a))
        for alarm_id in ids[:3]:
            assert client.post(f"/alarms/{alarm_id}/handle", json={"note": "处置 / handled"}).status_code == 200
        assert client.post(f"/alarms/{ids[3]}/ack").status_code == 200
        kpis = client.get("/alarms/kpis", params={"company": a}).json()
        total = kpis["total"]
        assert (total["raised"], total["handled"], total["handled_rate"]) == (4, 3, 0.75)
        assert total["to_handle"]["count"] == 3 and total["to_acknowledge"]["count"] == 4
        assert 590 <= total["to_handle"]["median_s"] <= 900 and total["to_handle"]["p95_s"] >= 590
        assert [c["company"] for c in kpis["companies"]] == [a]
        period = {"since": "2026-11-22T07:20:00+08:00", "until": "2026-11-22T08:00:00+08:00"}
        window = client.get("/alarms/kpis", params=period).json()
        mine = [c for c in window["companies"] if c["company"] in (a, b)]
        assert [(c["company"], c["raised"], c["handled_rate"]) for c in mine] == [(b, 1, 0.0)]
        assert window["since"] == period["since"]
        backwards = client.get("/alarms/kpis", params={"since": period["until"], "until": period["since"]})
        assert backwards.status_code == 422 and "until" in backwards.json()["detail"]
