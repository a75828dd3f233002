"""Terminal identity over real sockets: a bound phone cannot be registered again, codes are hashed.

A second 0x0100 for a bound phone gets 0x8100 result 3 and no code, and changes nothing
stored; a wrong 0x0102 code is refused and the connection's locations are not stored; a
supervisor's unbind lets the phone register again, with a new code.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import sys

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from api.cli import app, main
from fleet.tracks.store import Terminal, count_positions, track, unbind_terminal
from routing.errors import NotFoundError
from tests.fleet.jt808.test_gateway import PHONE, Client, frame, location_body, registration_body, reply_8001, started

KEY = "13800138000"  # PHONE normalised


def other_registration_body() -> bytes:
    """An impostor's registration: another maker and plate for the same phone."""
    return registration_body(maker=b"EVIL1", model=b"FAKE-808", terminal_id=b"X999999", plate="粤B66666")


def unescaped(wire: bytes) -> bytes:
    return wire[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


async def register(client: Client, serial: int, body: bytes) -> tuple[bytes, bytes]:
    """Send a 0x0100; return the 0x8100 reply and the code it carries (empty when refused)."""
    await client.send(frame(0x0100, PHONE, serial, body))
    (reply,) = await client.frames(1)
    return reply, unescaped(reply)[15:-1]


def fix(serial: int, second: int) -> bytes:
    return frame(0x0200, PHONE, serial, location_body(lat=22.5432, lon=114.0578, time=f"2611210830{second:02d}"))


def test_second_registration_of_a_bound_phone_is_refused_and_learns_no_code(engine) -> None:
    async def scenario() -> tuple[bytes, bytes, list[bytes], object]:
        gateway = await started(engine)
        owner = await Client.connect(gateway.port)
        _, code = await register(owner, 1, registration_body())
        await owner.send(frame(0x0102, PHONE, 2, code))
        assert await owner.frames(1) == [reply_8001(PHONE, 1, 2, 0x0102, 0)]
        impostor = await Client.connect(gateway.port)
        refused, learned = await register(impostor, 7, other_registration_body())
        # the impostor cannot authenticate: neither with nothing nor with a guess; its fix is refused
        await impostor.send(frame(0x0102, PHONE, 8, learned) + frame(0x0102, PHONE, 9, b"0" * 32) + fix(10, 5))
        replies = await impostor.frames(3)
        # the owner, still connected, keeps working with its code
        await owner.send(fix(3, 15))
        assert await owner.frames(1) == [reply_8001(PHONE, 2, 3, 0x0200, 0)]
        await owner.close()
        await impostor.close()
        await gateway.stop()
        return code, refused, replies, gateway.stats

    code, refused, replies, stats = asyncio.run(scenario())
    assert refused == frame(0x8100, PHONE, 0, struct.pack(">HB", 7, 3))  # result 3, no code
    assert replies == [
        reply_8001(PHONE, 1, 8, 0x0102, 1),
        reply_8001(PHONE, 2, 9, 0x0102, 1),
        reply_8001(PHONE, 3, 10, 0x0200, 1),
    ]
    assert (stats.registrations, stats.registrations_refused) == (1, 1)
    assert [row.gps_time.second for row in track(engine, phone=KEY)] == [15]
    with Session(engine) as session:
        terminal = session.get(Terminal, KEY)
        assert (terminal.plate, terminal.maker, terminal.model) == ("粤B12345", "QY001", "SIM-808")
        assert terminal.auth_hash == hashlib.sha256(code).hexdigest()  # the code itself is not stored
    assert len(code) >= 32


def test_wrong_auth_code_is_refused_and_its_locations_are_not_stored(engine) -> None:
    async def scenario() -> list[bytes]:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        _, code = await register(client, 1, registration_body())
        wrong = bytes([code[0] ^ 1]) + code[1:]  # one character off
        await client.send(frame(0x0102, PHONE, 2, wrong) + fix(3, 5) + frame(0x0102, PHONE, 4, code) + fix(5, 15))
        replies = await client.frames(4)
        await client.close()
        await gateway.stop()
        return replies

    assert asyncio.run(scenario()) == [
        reply_8001(PHONE, 1, 2, 0x0102, 1),
        reply_8001(PHONE, 2, 3, 0x0200, 1),
        reply_8001(PHONE, 3, 4, 0x0102, 0),
        reply_8001(PHONE, 4, 5, 0x0200, 0),
    ]
    assert [row.gps_time.second for row in track(engine, phone=KEY)] == [15]


async def bound_session(engine) -> bytes:
    """Register, authenticate and store one fix; return the code."""
    gateway = await started(engine)
    client = await Client.connect(gateway.port)
    _, code = await register(client, 1, registration_body())
    await client.send(frame(0x0102, PHONE, 2, code) + fix(3, 5))
    assert await client.frames(2) == [reply_8001(PHONE, 1, 2, 0x0102, 0), reply_8001(PHONE, 2, 3, 0x0200, 0)]
    await client.close()
    await gateway.stop()
    return code


async def rebind_session(engine, old: bytes) -> tuple[bytes, list[bytes]]:
    """Register again with the impostor's details; return the new code and the auth replies (old, new)."""
    gateway = await started(engine)
    client = await Client.connect(gateway.port)
    reply, code = await register(client, 1, other_registration_body())
    assert unescaped(reply)[12:15] == struct.pack(">HB", 1, 0)
    await client.send(frame(0x0102, PHONE, 2, old) + frame(0x0102, PHONE, 3, code) + fix(4, 15))
    replies = await client.frames(3)
    await client.close()
    await gateway.stop()
    return code, replies


def test_unbind_then_register_again_gets_a_new_code_and_keeps_positions(engine) -> None:
    old = asyncio.run(bound_session(engine))
    unbind_terminal(engine, phone=KEY)
    new, replies = asyncio.run(rebind_session(engine, old))
    assert new != old and len(new) >= 32
    assert replies == [
        reply_8001(PHONE, 1, 2, 0x0102, 1),  # the old code no longer works
        reply_8001(PHONE, 2, 3, 0x0102, 0),
        reply_8001(PHONE, 3, 4, 0x0200, 0),
    ]
    assert [row.gps_time.second for row in track(engine, phone=KEY)] == [5, 15]  # the earlier fix is kept
    with Session(engine) as session:
        assert session.get(Terminal, KEY).plate == "粤B66666"  # re-bound by the supervisor's choice


def test_cli_unbind_lets_the_phone_register_again(cli_database) -> None:
    engine = cli_database
    old = asyncio.run(bound_session(engine))
    result = CliRunner().invoke(app, ["jt808", "unbind", PHONE])  # leading zero as on the wire
    assert result.exit_code == 0, result.output
    assert KEY in result.stdout
    new, replies = asyncio.run(rebind_session(engine, old))
    assert new != old
    assert replies == [
        reply_8001(PHONE, 1, 2, 0x0102, 1),
        reply_8001(PHONE, 2, 3, 0x0102, 0),
        reply_8001(PHONE, 3, 4, 0x0200, 0),
    ]
    assert count_positions(engine) == 2


def test_cli_unbind_of_an_unknown_phone_is_a_clear_error(cli_database, monkeypatch, capsys) -> None:
    result = CliRunner().invoke(app, ["jt808", "unbind", "13900000000"])
    assert isinstance(result.exception, NotFoundError)
    assert "13900000000" in str(result.exception)
    monkeypatch.setattr(sys, "argv", ["qingyun", "jt808", "unbind", "13900000000"])
    with pytest.raises(SystemExit) as exited:  # the console script: one line, exit code 2
        main()
    assert exited.value.code == 2
    assert "13900000000" in capsys.readouterr().err
