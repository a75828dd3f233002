"""Live supervision over HTTP (issue 19): alarms and fixes as server-sent events, within each role's fleet.

A real service (uvicorn subprocess) reads the database a real JT/T 808 gateway (in this process,
with the in-process sink) writes; streams are read with httpx the way the page reads them (a GET
with the key header). Keep-alives come every 0.5 s here so a reader can check its deadline.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import Session

from api.db import engine_for
from fleet.settings import FleetSettings
from fleet.simulate.tracks import simulate_haul
from fleet.supervise.live import InProcessSink
from tests.api.conftest import Service, running_service
from tests.fleet.supervise.test_live_path import haul_rows, store_inputs, through_gateway

FLEET = FleetSettings()
OFF_ROUTE, SPEEDING, FLEET_TRUCK = "13900000011", "13900000012", "13900000013"


class Stream(threading.Thread):
    """Reads one SSE answer in the background: its status and its events (id, event, data)."""

    def __init__(self, service: Service, role: str, path: str, **headers: str) -> None:
        super().__init__(daemon=True)
        self.client = service.client(role, timeout=httpx.Timeout(10, read=5))
        self.path, self.headers = path, headers
        self.status: int | None = None
        self.body = ""
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.opened = threading.Event()

    def run(self) -> None:
        try:
            with self.client.stream("GET", self.path, headers=self.headers) as answer:
                self.status = answer.status_code
                self.opened.set()
                if answer.status_code != 200:
                    self.body = answer.read().decode()
                    return
                event: dict = {}
                for line in answer.iter_lines():
                    if self.stop.is_set():
                        return
                    if not line and event:
                        self.events.append(event)
                        event = {}
                    elif line.startswith(("id:", "event:", "data:")):
                        name, _, value = line.partition(": ")
                        event[name] = json.loads(value) if name == "data" else value
        finally:
            self.opened.set()
            self.client.close()

    def wait(self, found: Callable[[list[dict]], bool], *, timeout_s: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while not found(self.events) and time.monotonic() < deadline and self.is_alive():
            time.sleep(0.1)
        return self.events

    def close(self) -> None:
        self.stop.set()
        self.join(10)


def opened(stream: Stream) -> Stream:
    stream.start()
    assert stream.opened.wait(20)
    return stream


@pytest.fixture
def live_service(tmp_path):
    env = {"QINGYUN_LIVE_KEEPALIVE_S": "0.5", "QINGYUN_LIVE_STREAMS_PER_KEY": "2", "QINGYUN_LIVE_RELOAD_S": "0.5"}
    with running_service("sqlite", tmp_path, **env) as service:
        yield service


def bind_vehicle(db, phone: str) -> None:
    """The dispatcher's fleet: a catalogue vehicle carrying ``phone``'s terminal."""
    from api.tables import VehicleRow

    with Session(db) as session:
        session.add(VehicleRow(id="V-13", type="compactor", depot="D1", terminal=phone))
        session.commit()


def test_a_gateway_fix_leaving_the_corridor_alarms_on_the_stream_within_each_roles_fleet(live_service, shenzhen):
    from fleet.tracks.matching import MapMatcher

    db = engine_for(live_service.database_url)
    sc = simulate_haul(
        shenzhen, violation="off_route", seed=1, matcher=MapMatcher(shenzhen, settings=FLEET.matching), settings=FLEET
    )
    store_inputs(db, [p.model_copy(update={"device": OFF_ROUTE}) for p in sc.permits], sc.zones)
    bind_vehicle(db, FLEET_TRUCK)
    supervisor = opened(Stream(live_service, "supervisor", "/alarms/stream"))
    dispatcher = opened(Stream(live_service, "dispatcher", "/alarms/stream"))
    positions = opened(Stream(live_service, "dispatcher", "/live/stream"))
    refused = opened(Stream(live_service, "dispatcher", "/live/stream"))  # the dispatcher key's third stream
    planner = live_service.client("planner").get("/live")
    try:
        assert (supervisor.status, dispatcher.status, positions.status, refused.status) == (200, 200, 200, 429)
        assert "QINGYUN_LIVE_STREAMS_PER_KEY" in refused.body and "2" in refused.body
        assert planner.status_code == 403
        sink = InProcessSink(db, settings=FLEET, network=lambda: shenzhen)
        rows = haul_rows(sc.positions, OFF_ROUTE)
        mine = haul_rows(sc.positions.iloc[:5], FLEET_TRUCK)
        sent = datetime.now(UTC)
        asyncio.run(through_gateway(db, sink, {OFF_ROUTE: rows, FLEET_TRUCK: mine}, again=True))
        assert sink.wait_idle(timeout_s=120)
        sink.close()
        events = supervisor.wait(lambda es: any(e["data"]["event"] == "end" for e in es))
        alarm = events[0]["data"]
        assert (alarm["event"], alarm["device"], alarm["type"], alarm["late"]) == (
            "start",
            OFF_ROUTE,
            "off_route",
            False,
        )
        assert sent <= datetime.fromisoformat(alarm["received_at"]) <= datetime.fromisoformat(alarm["published_at"])
        assert alarm["received_at"].endswith("+08:00") and int(events[0]["id"]) >= 1
        # every fix arrived twice: still one alarm, started once
        assert [e["data"]["event"] for e in events if e["data"]["event"] in ("start", "end")] == ["start", "end"]
        # the dispatcher's fleet is the vehicle catalogue's trucks: it sees only V-13's terminal
        seen = positions.wait(lambda es: any(e["data"]["device"] == FLEET_TRUCK for e in es), timeout_s=10)
        assert {e["data"]["device"] for e in seen} == {FLEET_TRUCK} and seen[-1]["data"]["vehicle_id"] == "V-13"
        assert dispatcher.events == []
        trucks = live_service.client("dispatcher").get("/live").json()["trucks"]
        assert [(t["device"], t["vehicle_id"], t["online"]) for t in trucks] == [(FLEET_TRUCK, "V-13", True)]
        every = {t["device"]: t for t in live_service.client("supervisor").get("/live").json()["trucks"]}
        assert set(every) == {OFF_ROUTE, FLEET_TRUCK} and every[OFF_ROUTE]["company"] == sc.permits[0].company
        newest = every[OFF_ROUTE]["time"]
        assert newest.endswith("+08:00") and datetime.fromisoformat(newest).timestamp() == pytest.approx(
            rows[-1].t, abs=1
        )
    finally:
        for stream in (supervisor, dispatcher, positions, refused):
            stream.close()
    # the closed streams gave their slots back: the dispatcher's key may open two again
    deadline, statuses = time.monotonic() + 10, []
    while time.monotonic() < deadline and statuses != [200, 200]:
        again = [opened(Stream(live_service, "dispatcher", "/live/stream")) for _ in range(2)]
        statuses = [stream.status for stream in again]
        for stream in again:
            stream.close()
    assert statuses == [200, 200]


def test_posted_positions_alarm_a_late_upload_says_so_and_people_act_on_the_stream(live_service, shenzhen):
    from fleet.tracks.matching import MapMatcher

    db = engine_for(live_service.database_url)
    sc = simulate_haul(
        shenzhen, violation="speeding", seed=0, matcher=MapMatcher(shenzhen, settings=FLEET.matching), settings=FLEET
    )
    store_inputs(db, [p.model_copy(update={"device": SPEEDING}) for p in sc.permits], sc.zones)
    rows = haul_rows(sc.positions, SPEEDING)
    fast = [r for r in rows if r.speed_kmh > 70]
    held = [r for r in rows if float(fast[0].t) - 60 <= float(r.t) <= float(fast[-1].t) + 120]
    sent = [r for r in rows if r not in held]
    later = [r._replace(t=float(r.t) + 6 * 3600) for r in sent[-20:]]

    def body(part: list) -> dict:
        return {
            "positions": [
                {
                    "device": SPEEDING,
                    "time": datetime.fromtimestamp(float(r.t), UTC).isoformat(),
                    "lon": r.lon,
                    "lat": r.lat,
                    "speed_kmh": float(r.speed_kmh),
                    "status": 2 | (1 if r.ignition == 1 else 0) | (0x300 if r.load == 1 else 0),
                }
                for r in part
            ]
        }

    path = f"/alarms/stream?device={SPEEDING}&type=speeding"
    stream = opened(Stream(live_service, "supervisor", path))
    device, supervisor = live_service.client("device"), live_service.client("supervisor")
    try:
        assert device.post("/positions", json=body(sent + later)).status_code == 200
        time.sleep(1.0)
        assert device.post("/positions", json=body(held)).status_code == 200  # six hours late
        start = stream.wait(lambda es: bool(es), timeout_s=120)[0]["data"]
        assert (start["event"], start["type"], start["late"]) == ("start", "speeding", True)
        assert datetime.fromisoformat(start["received_at"]) > datetime.now(UTC) - timedelta(minutes=5)
        assert supervisor.post(f"/alarms/{start['id']}/ack").status_code == 200
        handled = supervisor.post(f"/alarms/{start['id']}/handle", json={"note": "已电话提醒司机 / driver called"})
        assert handled.status_code == 200
        acts = stream.wait(lambda es: any(e["data"]["event"] == "handled" for e in es), timeout_s=20)
        by = {e["data"]["event"]: e["data"] for e in acts}
        assert by["acknowledged"]["received_at"] is None and by["handled"]["state"] in ("handled", "closed")
        assert int(acts[-1]["id"]) > int(acts[0]["id"])
        # acting on a handled alarm, or on one that does not exist, is refused and named
        again = supervisor.post(f"/alarms/{start['id']}/handle", json={"note": "again"})
        assert again.status_code == 409 and str(start["id"]) in again.json()["detail"]
        assert supervisor.post("/alarms/999999/ack").status_code == 404
        # resuming after the first event replays what followed it, once
        resumed = opened(Stream(live_service, "supervisor", path, **{"Last-Event-ID": acts[0]["id"]}))
        try:
            replay = resumed.wait(lambda es: len(es) >= len(acts) - 1, timeout_s=10)
            assert [e["id"] for e in replay] == [e["id"] for e in acts[1:]]
        finally:
            resumed.close()
    finally:
        stream.close()


def test_an_event_committed_after_a_later_one_is_still_sent_once():
    """PostgreSQL hands out ids at insert and commits in any order: id n may become visible after n + 1."""
    from tests.conftest import postgres_reachable, postgres_schema_engine

    if not postgres_reachable():
        pytest.skip("PostgreSQL unreachable: only it commits ids out of order")
    from api.services.live import EventCursor
    from fleet.supervise.store import AlarmEventRow, AlarmRow

    with postgres_schema_engine("live_cursor") as db:
        now = datetime.now(UTC)
        with Session(db) as session:
            session.add(AlarmRow(key="k", device="1", type="speeding", severity="low", started_at=now, raised_at=now))
            session.commit()
            cursor = EventCursor.start(session, after=None)
        slow, quick = Session(db), Session(db)
        slow.add(AlarmEventRow(alarm_id=1, kind="start", published_at=now))
        slow.flush()  # id n taken, not committed
        quick.add(AlarmEventRow(alarm_id=1, kind="acknowledged", published_at=now))
        quick.commit()  # id n + 1 visible first
        with Session(db) as session:
            first = cursor.next_ids(session)
        slow.commit()
        with Session(db) as session:
            second, third = cursor.next_ids(session), cursor.next_ids(session)
        slow.close()
        quick.close()
    assert len(first) == 1 and second == [first[0] - 1] and third == []
