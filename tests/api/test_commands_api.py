"""Terminal commands over HTTP: queued for a terminal, listed, refused with the limit named, and answered by a real gateway."""

from __future__ import annotations

import asyncio
import struct
import time
from datetime import datetime

import pytest

from tests.fleet.jt808.test_gateway import Client, frame, registration_body, reply_8001
from tests.fleet.jt808.test_identity import unescaped

TEXT = "请返回核准路线"
BOX = [[114.05, 22.54], [114.06, 22.54], [114.06, 22.55], [114.05, 22.55], [114.05, 22.54]]


def known_terminal(service, phone: str, *, at: str = "2026-11-21T08:30:00+08:00") -> None:
    """A terminal the store knows, with one fix (positions create their terminal)."""
    fix = {"device": phone, "time": at, "lon": 114.05, "lat": 22.54}
    with service.client("device") as device:
        assert device.post("/positions", json={"positions": [fix]}).json()["accepted"] == 1


def local(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset().total_seconds() == 8 * 3600, text
    return moment


def test_a_text_is_queued_listed_and_read_back_with_the_terminals_last_seen(service):
    known_terminal(service, "013900000101")
    with service.client("supervisor") as client:
        before = time.time()
        answer = client.post("/terminals/013900000101/commands", json={"kind": "text", "text": TEXT, "expires_s": 600})
        assert answer.status_code == 202, answer.text
        (command,) = answer.json()
        assert answer.headers["Location"] == f"/commands/{command['id']}"
        assert (command["phone"], command["msg_id"], command["state"], command["summary"]) == (
            "13900000101",
            0x8300,
            "queued",
            TEXT,
        )
        created, expires = local(command["created_at"]), local(command["expires_at"])
        assert abs((expires - created).total_seconds() - 600) < 1e-3 and created.timestamp() >= before - 1
        assert local(command["last_seen"]).timestamp() >= before - 5  # the fix arrived just now
        queued = client.get("/commands", params={"phone": "13900000101", "state": "queued"}).json()
        assert [c["id"] for c in queued] == [command["id"]]
        assert client.get("/commands", params={"phone": "13900000101", "state": "answered"}).json() == []
        one = client.get(answer.headers["Location"]).json()
        assert (one["state"], one["result"], one["sent_at"], one["answered_at"], one["outcome"]) == (
            "queued",
            None,
            None,
            None,
            "queued",
        )
        for missing in ("999999999", "99999999999", "no-such-command"):
            gone = client.get(f"/commands/{missing}")
            assert gone.status_code == 404 and missing in gone.json()["detail"]


def test_unknown_terminal_permit_and_zone_are_404_naming_them(service):
    known_terminal(service, "013900000102")
    with service.client("supervisor") as client:
        phone = client.post("/terminals/19999999999/commands", json={"kind": "text", "text": TEXT})
        permit = client.post("/terminals/13900000102/commands", json={"kind": "route", "permit_id": "NO-SUCH-P"})
        zone = client.post("/terminals/13900000102/commands", json={"kind": "zone", "zone_id": "no-such-zone"})
        listed = client.get("/commands", params={"phone": "19999999999"})
    assert phone.status_code == 404 and "19999999999" in phone.json()["detail"]
    assert permit.status_code == 404 and "NO-SUCH-P" in permit.json()["detail"]
    assert zone.status_code == 404 and "no-such-zone" in zone.json()["detail"]
    assert listed.status_code == 404 and "19999999999" in listed.json()["detail"]


def test_too_long_text_and_routes_that_do_not_fit_are_422_naming_the_limit(service):
    known_terminal(service, "013900000103")
    url = "/terminals/13900000103/commands"
    zigzag = [[114.0 + i * 0.001, 22.5 + (i % 2) * 0.001] for i in range(300)]
    with service.client("supervisor") as client:
        long_text = client.post(url, json={"kind": "text", "text": "路" * 600})
        too_many = client.post(url, json={"kind": "route", "line": {"type": "LineString", "coordinates": zigzag}})
        too_wide = client.post(
            url, json={"kind": "route", "line": {"type": "LineString", "coordinates": BOX[:3]}, "corridor_m": 200}
        )
        both = client.post(url, json={"kind": "route", "permit_id": "P-1", "line": {"type": "LineString"}})
        forever = client.post(url, json={"kind": "text", "text": TEXT, "expires_s": 10**9})
        listed = client.get("/commands", params={"phone": "13900000103"}).json()
    assert long_text.status_code == 422 and "1022" in long_text.json()["detail"]  # bytes one frame holds
    assert too_many.status_code == 422 and "turning points" in too_many.json()["detail"]
    assert too_wide.status_code == 422 and "corridor_m" in str(too_wide.json()["detail"])
    assert "127.5" in str(too_wide.json()["detail"])
    assert both.status_code == 422 and forever.status_code == 422 and "expires_s" in str(forever.json()["detail"])
    assert listed == []  # nothing refused was queued


def test_a_stored_zone_and_a_permits_route_are_queued_as_area_and_route_commands(service):
    known_terminal(service, "013900000104")
    zone = {
        "type": "Feature",
        "properties": {"id": "school-104", "name": "学校", "kind": "restricted"},
        "geometry": {"type": "Polygon", "coordinates": [BOX]},
    }
    permit = {
        "permit_id": "P-104",
        "device": "13900000104",
        "company": "清运104",
        "valid_from": "2026-11-01T00:00:00+08:00",
        "valid_until": "2026-12-01T00:00:00+08:00",
        "source_site": {"type": "Polygon", "coordinates": [BOX]},
        "destination_sites": [{"type": "Polygon", "coordinates": [BOX]}],
        "route": {"type": "LineString", "coordinates": [[114.05, 22.54], [114.06, 22.54], [114.06, 22.545]]},
        "corridor_m": 40,
    }
    with service.client("supervisor") as client:
        assert client.post("/zones", json={"type": "FeatureCollection", "features": [zone]}).status_code == 200
        assert client.post("/permits", json={"permits": [permit]}).status_code == 200
        area = client.post("/terminals/13900000104/commands", json={"kind": "zone", "zone_id": "school-104"})
        route = client.post("/terminals/13900000104/commands", json={"kind": "route", "permit_id": "P-104"})
    assert area.status_code == 202 and [c["msg_id"] for c in area.json()] == [0x8602]  # a box is a rectangle
    assert route.status_code == 202 and route.json()[0]["msg_id"] == 0x8606
    assert route.json()[0]["summary"] == "permit P-104: 3 turning points, road width 80 m"  # 2 × the permit's 40 m


@pytest.mark.parametrize("role", ["dispatcher", "device", "planner", None])
def test_only_a_supervisor_queues_or_reads_commands(service, role):
    with service.client(role) as client:
        answers = [
            client.post("/terminals/13900000101/commands", json={"kind": "text", "text": TEXT}),
            client.get("/commands"),
            client.get("/commands/1"),
        ]
    assert [a.status_code for a in answers] == [401 if role is None else 403] * 3


def test_a_real_gateway_sends_the_queued_text_and_the_answer_is_read_back(service):
    from api.db import engine_for
    from fleet.jt808.gateway import Gateway
    from fleet.jt808.settings import GatewaySettings

    bcd, phone = "013900139005", "13900139005"
    engine = engine_for(service.database_url)

    async def scenario() -> tuple[dict, bytes, dict]:
        gateway = Gateway(engine, GatewaySettings(host="127.0.0.1", port=0, command_poll_s=0.05))
        await gateway.start()
        terminal = await Client.connect(gateway.port)
        try:
            await terminal.send(frame(0x0100, bcd, 1, registration_body(plate="粤B39005")))
            (registered,) = await terminal.frames(1)
            code = unescaped(registered)[15:-1]
            await terminal.send(frame(0x0102, bcd, 2, code))
            assert await terminal.frames(1) == [reply_8001(bcd, 1, 2, 0x0102, 0)]
            with service.client("supervisor") as client:
                queued = await asyncio.to_thread(
                    client.post, f"/terminals/{phone}/commands", json={"kind": "text", "text": TEXT}
                )
                assert queued.status_code == 202, queued.text
                (received,) = await terminal.frames(1)
                await terminal.send(frame(0x0001, bcd, 3, struct.pack(">HHB", 2, 0x8300, 0)))
                deadline = time.monotonic() + 10
                while True:
                    one = (await asyncio.to_thread(client.get, queued.headers["Location"])).json()
                    if one["state"] == "answered" or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.05)
            return queued.json()[0], received, one
        finally:
            await terminal.close()
            await gateway.stop()

    queued, received, answered = asyncio.run(scenario())
    assert queued["state"] == "queued" and queued["last_seen"] is None  # registered, no fix yet
    assert received == frame(0x8300, bcd, 2, b"\x0c" + TEXT.encode("gbk"))  # display + TTS, GBK
    assert (answered["state"], answered["result"], answered["outcome"]) == ("answered", 0, "answered: 0 成功 ok")
    assert local(answered["answered_at"]) >= local(answered["sent_at"]) >= local(answered["created_at"])
