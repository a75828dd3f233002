"""Allow-list and open registration over real sockets: who may create a terminal, and how fast.

Allow-list mode: an unlisted phone gets 0x8100 result 4 and creates no row; a phone listed
with ``qingyun jt808 bind`` registers (result 0, a code) but not with another plate (result 2).
Open mode: registrations of never-seen phones are rate-limited per client address; beyond the
limit the connection is closed (logged, naming the limit), no row is created, and what the
connection had sent before is stored and answered.
"""

from __future__ import annotations

import asyncio
import logging
import struct

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from fleet.tracks.store import Terminal, bind_terminal, count_positions, list_terminals, track, unbind_terminal
from routing.errors import ConflictError, NotFoundError
from tests.fleet.jt808.test_gateway import PHONE, Client, frame, registration_body, reply_8001, started
from tests.fleet.jt808.test_identity import KEY, fix, register, unescaped


def phones(engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(Terminal.phone).order_by(Terminal.phone)))


def test_allow_list_refuses_an_unlisted_phone_with_result_4_and_creates_no_row(engine) -> None:
    async def scenario() -> tuple[bytes, bytes, list[bytes]]:
        gateway = await started(engine, registration="allow-list")
        client = await Client.connect(gateway.port)
        refused, learned = await register(client, 1, registration_body())
        await client.send(frame(0x0102, PHONE, 2, b"0" * 32) + fix(3, 5))
        replies = await client.frames(2)
        await client.close()
        await gateway.stop()
        return refused, learned, replies

    refused, learned, replies = asyncio.run(scenario())
    assert refused == frame(0x8100, PHONE, 0, struct.pack(">HB", 1, 4)) and learned == b""  # no such terminal
    assert replies == [reply_8001(PHONE, 1, 2, 0x0102, 1), reply_8001(PHONE, 2, 3, 0x0200, 1)]
    assert phones(engine) == [] and count_positions(engine) == 0


def test_allow_list_registers_a_listed_phone_keeps_its_plate_and_refuses_another_plate(engine) -> None:
    bind_terminal(engine, phone=KEY, plate="粤B12345")
    bind_terminal(engine, phone="13900000001", plate="粤B99999")
    other = "013900000001"

    async def scenario() -> tuple[bytes, bytes, list[bytes]]:
        gateway = await started(engine, registration="allow-list")
        client = await Client.connect(gateway.port)
        _, code = await register(client, 1, registration_body())  # plate 粤B12345, as listed
        await client.send(frame(0x0102, PHONE, 2, code) + fix(3, 5))
        replies = await client.frames(2)
        await client.send(frame(0x0100, other, 4, registration_body()))  # listed with 粤B99999
        (wrong_plate,) = await client.frames(1)
        await client.close()
        await gateway.stop()
        return code, wrong_plate, replies

    code, wrong_plate, replies = asyncio.run(scenario())
    assert len(code) == 32
    assert replies == [reply_8001(PHONE, 1, 2, 0x0102, 0), reply_8001(PHONE, 2, 3, 0x0200, 0)]
    assert wrong_plate == frame(0x8100, other, 3, struct.pack(">HB", 4, 2))  # no such vehicle
    assert [row.gps_time.second for row in track(engine, phone=KEY)] == [5]
    entries = {entry.phone: entry for entry in list_terminals(engine)}
    assert (entries[KEY].bound, entries[KEY].plate, entries["13900000001"].bound) == (True, "粤B12345", False)


def test_bind_refuses_a_bound_phone_and_an_unknown_vehicle(engine) -> None:
    async def scenario() -> None:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        await register(client, 1, registration_body())
        await client.close()
        await gateway.stop()

    asyncio.run(scenario())
    with pytest.raises(ConflictError, match="unbind"):
        bind_terminal(engine, phone=KEY, plate="粤B12345")
    unbind_terminal(engine, phone=KEY)
    with pytest.raises(NotFoundError, match="no-such-truck"):
        bind_terminal(engine, phone=KEY, plate="粤B12345", vehicle="no-such-truck")
    bind_terminal(engine, phone=KEY, plate="粤B54321")
    assert [(e.phone, e.plate, e.bound, e.vehicle) for e in list_terminals(engine)] == [(KEY, "粤B54321", False, None)]


def test_cli_bind_lists_a_phone_on_a_vehicle_and_the_table_prints_whole_ids(cli_database) -> None:
    engine = cli_database
    truck = "kitchen-compactor-futian-0042"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO vehicle (id, type, depot, shift_start, shift_end) "
                "VALUES (:id, 't9', 'depot', '06:00', '18:00')"
            ),
            {"id": truck},
        )
    runner = CliRunner()
    bound = runner.invoke(app, ["jt808", "bind", PHONE, "--plate", "粤B12345", "--vehicle", truck])
    assert bound.exit_code == 0, bound.output
    assert KEY in bound.stdout
    listed = runner.invoke(app, ["jt808", "terminals"], env={"COLUMNS": "80"})
    assert listed.exit_code == 0, listed.output
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    (row,) = [line for line in listed.stdout.splitlines() if KEY in line]
    assert truck in row and "粤B12345" in row  # whole, on one line at 80 columns: never cut to "kitchen-…"
    assert "…" not in listed.stdout
    with engine.connect() as connection:
        assert connection.execute(text("SELECT terminal FROM vehicle WHERE id = :id"), {"id": truck}).scalar() == KEY


def test_open_mode_rate_limits_never_seen_phones_per_address(engine, caplog) -> None:
    """5 new phones a minute: the 6th connection is closed unanswered, no row; known phones still register."""
    caplog.set_level(logging.WARNING, logger="fleet.jt808")
    new_phones = [f"0139000000{i:02d}" for i in range(8)]

    async def scenario() -> list[bytes]:
        gateway = await started(engine, new_phone_registrations_per_min=5, trusted_addresses=[])
        owner = await Client.connect(gateway.port)
        _, code = await register(owner, 1, registration_body())  # token 1 of 5
        await owner.send(frame(0x0102, PHONE, 2, code))
        await owner.frames(1)
        got = []
        for phone in new_phones[:4]:  # tokens 2..5
            client = await Client.connect(gateway.port)
            await client.send(frame(0x0100, phone, 1, registration_body()))
            got.append(unescaped((await client.frames(1))[0])[12:15])
            await client.close()
        for phone in new_phones[4:]:  # refused: closed without a reply
            client = await Client.connect(gateway.port)
            await client.send(frame(0x0100, phone, 1, registration_body()))
            assert await asyncio.wait_for(client.reader.read(100), 5) == b""
        # an authenticated line: its fix is stored and answered, then the new phone closes it
        await owner.send(fix(3, 5) + frame(0x0100, new_phones[0][:-2] + "99", 4, registration_body()))
        replies = await owner.frames(1)
        assert await asyncio.wait_for(owner.reader.read(100), 5) == b""
        # a phone the platform knows (unbound by a supervisor) is not a new one: it registers
        unbind_terminal(engine, phone=KEY)
        again = await Client.connect(gateway.port)
        reply, _ = await register(again, 1, registration_body())
        got.append(unescaped(reply)[12:15])
        await again.close()
        await gateway.stop()
        return got, replies

    got, replies = asyncio.run(scenario())
    assert got == [struct.pack(">HB", 1, 0)] * 5
    assert replies == [reply_8001(PHONE, 2, 3, 0x0200, 0)]
    assert count_positions(engine) == 1
    assert phones(engine) == sorted([KEY, *(p.lstrip("0") for p in new_phones[:4])])
    assert "new_phone_registrations_per_min 5" in caplog.text


def test_trusted_addresses_are_exempt_from_the_per_address_limits(engine) -> None:
    """This host's simulator (127.0.0.1, trusted by default) registers 12 trucks at once past a limit of 5."""

    async def scenario() -> list[bytes]:
        gateway = await started(engine, new_phone_registrations_per_min=5, max_connections_per_address=2)
        clients = [await Client.connect(gateway.port) for _ in range(12)]
        results = []
        for i, client in enumerate(clients):
            await client.send(frame(0x0100, f"0139000001{i:02d}", 1, registration_body()))
            results.append(unescaped((await client.frames(1))[0])[12:15])
        for client in clients:
            await client.close()
        await gateway.stop()
        return results

    assert asyncio.run(scenario()) == [struct.pack(">HB", 1, 0)] * 12
    assert len(phones(engine)) == 12
