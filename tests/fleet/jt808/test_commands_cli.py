"""``qingyun jt808 send-text / push-route / push-zone / commands``: queueing, listing, and bad input named."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app, main
from api.tables import CompanyRow, PermitRow, ZoneRow
from fleet.jt808.geofence import stable_id
from fleet.tracks.commands import (
    EXPIRED,
    QUEUED,
    due_commands,
    list_commands,
    mark_sent,
    record_answer,
    requeue_unanswered,
)
from fleet.tracks.store import bind_terminal
from routing.errors import InputFileError, InvalidInputError, NotFoundError

PHONE = "13800138000"
ROUTE = [[114.05, 22.54], [114.06, 22.54], [114.06, 22.55]]


def run(*args: str):
    return CliRunner().invoke(app, ["jt808", *args])


@pytest.fixture
def terminal(cli_database):
    bind_terminal(cli_database, phone=PHONE, plate="粤B12345")
    return cli_database


def store_permit(engine, *, route: dict | None, corridor_m: float | None = 30) -> None:
    now = datetime.now(UTC)
    document = {"permit_id": "P-1", "device": PHONE, "company": "渣土公司", "route": route, "corridor_m": corridor_m}
    with Session(engine) as session:
        session.add(CompanyRow(id="渣土公司", created_at=now))
        session.add(
            PermitRow(
                permit_id="P-1",
                device=PHONE,
                company="渣土公司",
                valid_from=now,
                valid_until=now + timedelta(days=30),
                document=document,
            )
        )
        session.commit()


def test_send_text_queues_and_commands_lists_it(terminal) -> None:
    result = run("send-text", "0" + PHONE, "请返回核准路线", "--expires-s", "120")
    assert result.exit_code == 0, result.output
    assert "queued command 1 (0x8300) for terminal 13800138000" in result.stdout
    (command,) = list_commands(terminal)
    assert (command.state, command.body["text"], command.body["flags"]) == (QUEUED, "请返回核准路线", 0x0C)
    assert timedelta(seconds=119) < command.expires_at - command.created_at <= timedelta(seconds=120)
    listing = run("commands", PHONE)
    assert listing.exit_code == 0, listing.output
    assert "请返回核准路线" in listing.stdout and "queued" in listing.stdout and "0x8300" in listing.stdout


def test_a_not_supported_answer_and_an_expiry_are_shown(terminal) -> None:
    assert run("send-text", PHONE, "第一条").exit_code == 0
    assert run("send-text", PHONE, "第二条", "--expires-s", "0.001").exit_code == 0
    first, _ = sorted(list_commands(terminal), key=lambda c: c.id)
    assert mark_sent(terminal, command_id=first.id, serial=5)
    assert record_answer(terminal, phone=PHONE, serial=5, msg_id=0x8300, result=3) == first.id
    listing = run("commands")
    assert "answered: 3 不支持 not supported" in listing.stdout
    assert [c.state for c in list_commands(terminal)] == [EXPIRED, "answered"]


def test_unknown_phone_and_too_long_text_are_named(terminal, monkeypatch, capsys) -> None:
    result = run("send-text", "13900000000", "你好")
    assert isinstance(result.exception, NotFoundError)
    assert "13900000000" in str(result.exception)
    result = run("send-text", PHONE, "路" * 600)
    assert isinstance(result.exception, InvalidInputError)
    assert "1022 GBK bytes" in str(result.exception) and "1201 bytes" in str(result.exception)
    assert isinstance(run("send-text", PHONE, "hi", "--expires-s", "0").exception, InvalidInputError)
    assert isinstance(run("commands", "13900000000").exception, NotFoundError)
    assert list_commands(terminal) == []  # nothing queued by the refusals
    monkeypatch.setattr(sys, "argv", ["qingyun", "jt808", "send-text", "13900000000", "你好"])
    with pytest.raises(SystemExit) as exited:  # the console script: one line, exit code 2
        main()
    assert exited.value.code == 2
    assert "13900000000" in capsys.readouterr().err


def test_push_route_from_a_stored_permit_uses_its_device_and_corridor(terminal) -> None:
    store_permit(terminal, route={"type": "LineString", "coordinates": ROUTE}, corridor_m=30)
    result = run("push-route", "--permit", "P-1")
    assert result.exit_code == 0, result.output
    assert "0x8606" in result.stdout and "3 turning points, road width 60 m" in result.stdout
    (command,) = list_commands(terminal)
    assert command.phone == PHONE and command.body["route_id"] == stable_id("P-1")
    assert [(p["lon"], p["lat"], p["width_m"]) for p in command.body["points"]] == [(*xy, 60) for xy in ROUTE]


def test_push_route_from_a_line_file_with_the_default_corridor(terminal, tmp_path) -> None:
    path = tmp_path / "corridor.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": {"type": "LineString", "coordinates": ROUTE}}))
    result = run("push-route", PHONE, "--line", str(path))
    assert result.exit_code == 0, result.output
    assert "road width 100 m" in result.stdout  # 2 × QINGYUN_COMPLIANCE_CORRIDOR_M (50)
    path.write_text(json.dumps({"type": "Point", "coordinates": [114, 22]}))
    result = run("push-route", PHONE, "--line", str(path))
    assert isinstance(result.exception, InputFileError) and "corridor.geojson" in str(result.exception)


def test_push_route_refusals_are_named(terminal) -> None:
    result = run("push-route", "--permit", "P-9")
    assert isinstance(result.exception, NotFoundError) and "P-9" in str(result.exception)
    store_permit(terminal, route=None)
    result = run("push-route", "--permit", "P-1")
    assert isinstance(result.exception, InvalidInputError) and "P-1" in str(result.exception)
    assert run("push-route", PHONE).exit_code != 0  # neither --permit nor --line


def test_push_zone_queues_an_area_per_part(terminal) -> None:
    box = [[[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6], [114.0, 22.5]]]
    triangle = [[[114.2, 22.5], [114.3, 22.5], [114.25, 22.6], [114.2, 22.5]]]
    geometry = {"type": "MultiPolygon", "coordinates": [box, triangle]}
    feature = {"type": "Feature", "properties": {"id": "school", "kind": "restricted"}, "geometry": geometry}
    with Session(terminal) as session:
        session.add(ZoneRow(id="school", name="学校", kind="restricted", document=feature))
        session.commit()
    result = run("push-zone", PHONE, "--zone", "school")
    assert result.exit_code == 0, result.output
    assert sorted(c.msg_id for c in list_commands(terminal)) == [0x8602, 0x8604]
    assert isinstance(run("push-zone", PHONE, "--zone", "nowhere").exception, NotFoundError)


def test_due_commands_are_those_of_connected_terminals_however_many(terminal) -> None:
    bind_terminal(terminal, phone="13800000002", plate="粤B22222")
    assert run("send-text", PHONE, "一").exit_code == 0
    assert run("send-text", "13800000002", "二").exit_code == 0
    many = {f"139{n:08d}" for n in range(300)}  # beyond the phones named in SQL: filtered after reading
    for connected in ({PHONE}, {PHONE} | many):
        assert [c.body["text"] for c in due_commands(terminal, phones=connected)] == ["一"]
    assert due_commands(terminal, phones=set()) == []
    (first,) = due_commands(terminal, phones={PHONE})
    assert mark_sent(terminal, command_id=first.id, serial=9) and not mark_sent(
        terminal, command_id=first.id, serial=10
    )
    assert record_answer(terminal, phone=PHONE, serial=8, msg_id=0x8300, result=0) is None  # not its serial
    assert requeue_unanswered(terminal, phone=PHONE) == 1
    assert [c.serial for c in due_commands(terminal, phones={PHONE})] == [None]
