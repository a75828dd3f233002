"""The gateway over real sockets: exact reply bytes, then the rows in the database.

Expected frames are built here with an independent few-line encoder (XOR checksum,
7D/7E escaping), not with the product's encoder. Runs on SQLite always and on the
local PostgreSQL (own schema, dropped afterwards) when it is reachable.
"""

from __future__ import annotations

import asyncio
import struct
from functools import reduce

from sqlmodel import Session

from fleet.jt808.gateway import Gateway
from fleet.jt808.settings import GatewaySettings
from fleet.tracks import store
from fleet.tracks.store import Terminal, count_positions, track

PHONE = "013800138000"


def frame(msg_id: int, phone_bcd: str, serial: int, body: bytes, *, v2019: bool = False) -> bytes:
    """Independent encoder: header + body + XOR checksum, escaped, between 0x7E flags."""
    props = len(body) | (0x4000 if v2019 else 0)
    head = (
        struct.pack(">HH", msg_id, props)
        + (b"\x01" if v2019 else b"")
        + bytes.fromhex(phone_bcd)
        + struct.pack(">H", serial)
    )
    raw = head + body
    raw += bytes((reduce(lambda a, b: a ^ b, raw, 0),))
    escaped = bytearray()
    for byte in raw:
        escaped += {0x7E: b"\x7d\x02", 0x7D: b"\x7d\x01"}.get(byte, bytes((byte,)))
    return b"\x7e" + bytes(escaped) + b"\x7e"


def reply_8001(phone_bcd: str, serial: int, ack_serial: int, ack_id: int, result: int, *, v2019: bool = False) -> bytes:
    return frame(0x8001, phone_bcd, serial, struct.pack(">HHB", ack_serial, ack_id, result), v2019=v2019)


def location_body(*, lat: float, lon: float, time: str, speed_raw: int = 360, items: bytes = b"") -> bytes:
    return (
        struct.pack(">IIIIhHH", 0, 0x0303, round(lat * 1e6), round(lon * 1e6), 12, speed_raw, 90)
        + bytes.fromhex(time)
        + items
    )


MILEAGE = bytes.fromhex("0104000004d2")  # 123.4 km


class Client:
    """A raw TCP terminal: write bytes, read whole frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""

    @classmethod
    async def connect(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def frames(self, count: int, timeout: float = 5.0) -> list[bytes]:
        out: list[bytes] = []
        while len(out) < count:
            start = self.buffer.find(b"\x7e")
            end = self.buffer.find(b"\x7e", start + 1) if start >= 0 else -1
            if end > start >= 0:
                out.append(self.buffer[start : end + 1])
                self.buffer = self.buffer[end + 1 :]
                continue
            chunk = await asyncio.wait_for(self.reader.read(4096), timeout)
            if not chunk:
                raise ConnectionError("gateway closed the connection")
            self.buffer += chunk
        return out

    async def close(self) -> None:
        self.writer.close()


async def started(engine, **settings) -> Gateway:
    gateway = Gateway(engine, GatewaySettings(host="127.0.0.1", port=0, **settings))
    await gateway.start()
    return gateway


def registration_body(
    *, maker: bytes = b"QY001", model: bytes = b"SIM-808", terminal_id: bytes = b"T000001", plate: str = "粤B12345"
) -> bytes:
    return struct.pack(">HH", 44, 300) + maker + model.ljust(20, b"\x00") + terminal_id + b"\x02" + plate.encode("gbk")


def test_registration_auth_location_batch_flow(engine) -> None:
    async def scenario() -> tuple[Gateway, list]:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        # registration → 0x8100 (ack serial 1, result 0, auth code)
        await client.send(frame(0x0100, PHONE, 1, registration_body()))
        (reply,) = await client.frames(1)
        code = reply[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")[12 + 3 : -1]
        assert len(code) >= 8
        assert reply == frame(0x8100, PHONE, 0, struct.pack(">HB", 1, 0) + code)
        # authentication → 0x8001 result 0
        await client.send(frame(0x0102, PHONE, 2, code))
        assert await client.frames(1) == [reply_8001(PHONE, 1, 2, 0x0102, 0)]
        # a location arriving in three partial reads
        wire = frame(0x0200, PHONE, 3, location_body(lat=22.5432, lon=114.0578, time="261121083005", items=MILEAGE))
        for part in (wire[:7], wire[7:30], wire[30:]):
            await client.send(part)
            await asyncio.sleep(0.05)
        assert await client.frames(1) == [reply_8001(PHONE, 2, 3, 0x0200, 0)]
        # two locations and a heartbeat in one write
        await client.send(
            frame(0x0200, PHONE, 4, location_body(lat=22.5440, lon=114.0580, time="261121083015"))
            + frame(0x0200, PHONE, 5, location_body(lat=22.5450, lon=114.0590, time="261121083025"))
            + frame(0x0002, PHONE, 6, b"")
        )
        assert await client.frames(3) == [
            reply_8001(PHONE, 3, 4, 0x0200, 0),
            reply_8001(PHONE, 4, 5, 0x0200, 0),
            reply_8001(PHONE, 5, 6, 0x0002, 0),
        ]
        # blind-area batch with three earlier fixes, sent twice (re-upload must not duplicate)
        earlier = [location_body(lat=22.54 + i / 1000, lon=114.05, time=f"2611210829{10 * i:02d}") for i in (3, 1, 2)]
        batch = struct.pack(">HB", 3, 1) + b"".join(struct.pack(">H", len(b)) + b for b in earlier)
        await client.send(frame(0x0704, PHONE, 7, batch) + frame(0x0704, PHONE, 8, batch))
        assert await client.frames(2) == [reply_8001(PHONE, 6, 7, 0x0704, 0), reply_8001(PHONE, 7, 8, 0x0704, 0)]
        # a corrupted checksum: answered with result 2, the connection stays usable
        bad = bytearray(frame(0x0200, PHONE, 9, location_body(lat=22.6, lon=114.1, time="261121090000")))
        bad[-2] ^= 0x01
        await client.send(bytes(bad) + frame(0x0002, PHONE, 10, b""))
        assert await client.frames(2) == [reply_8001(PHONE, 8, 9, 0x0200, 2), reply_8001(PHONE, 9, 10, 0x0002, 0)]
        await client.close()
        await gateway.stop()
        return gateway, track(engine, phone="13800138000")

    gateway, rows = asyncio.run(scenario())
    assert gateway.stats.bad_frames == 1
    assert [row.gps_time.isoformat() for row in rows] == [
        "2026-11-21T00:29:10+00:00",
        "2026-11-21T00:29:20+00:00",
        "2026-11-21T00:29:30+00:00",
        "2026-11-21T00:30:05+00:00",
        "2026-11-21T00:30:15+00:00",
        "2026-11-21T00:30:25+00:00",
    ]
    assert [row.blind_area for row in rows] == [True, True, True, False, False, False]
    assert (rows[3].lat, rows[3].lon, rows[3].speed_kmh, rows[3].heading, rows[3].mileage_km) == (
        22.5432,
        114.0578,
        36.0,
        90,
        123.4,
    )
    assert rows[3].items == MILEAGE.hex()
    assert count_positions(engine) == 6
    with Session(engine) as session:
        terminal = session.get(Terminal, "13800138000")
        assert (terminal.plate, terminal.model, terminal.protocol) == ("粤B12345", "SIM-808", "2013")


def test_2019_terminal_gets_the_published_replies(engine, vectors, monkeypatch) -> None:
    """go-jt808's 2019 frames: our 0x8100 equals its published reply byte for byte."""
    hexes = {v["id"]: v["hex"] for v in vectors}
    monkeypatch.setattr(store, "new_auth_code", lambda: "17299841738")  # the code the vector expects
    phone = "00000000017299841738"

    async def scenario() -> None:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        await client.send(bytes.fromhex(hexes["golib-0100-2019"]))
        assert await client.frames(1) == [bytes.fromhex(hexes["golib-8100-2019-reply"])]
        await client.send(bytes.fromhex(hexes["golib-0102-2019"]))
        assert await client.frames(1) == [reply_8001(phone, 1, 0, 0x0102, 0, v2019=True)]
        await client.send(bytes.fromhex(hexes["golib-0200-2019-with-reply"]))
        assert await client.frames(1) == [reply_8001(phone, 2, 0xFFFF, 0x0200, 0, v2019=True)]
        await client.send(bytes.fromhex(hexes["golib-0704-2019-with-reply"]))
        assert await client.frames(1) == [reply_8001(phone, 3, 0xFFFF, 0x0704, 0, v2019=True)]
        await client.close()
        await gateway.stop()

    asyncio.run(scenario())
    # the location and the three batch entries carry the same GPS time: one row
    rows = track(engine, phone="17299841738")
    assert [(r.gps_time.isoformat(), r.lat, r.lon) for r in rows] == [
        ("2020-07-07T11:23:59+00:00", 116.307629, 40.058359)
    ]


def test_positions_before_authentication_are_refused_and_not_stored(engine) -> None:
    async def scenario() -> None:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        await client.send(frame(0x0200, PHONE, 1, location_body(lat=22.5, lon=114.0, time="261121083005")))
        assert await client.frames(1) == [reply_8001(PHONE, 0, 1, 0x0200, 1)]
        await client.send(frame(0x0102, PHONE, 2, b"guessed-code"))
        assert await client.frames(1) == [reply_8001(PHONE, 1, 2, 0x0102, 1)]
        await client.close()
        await gateway.stop()

    asyncio.run(scenario())
    assert count_positions(engine) == 0


def test_idle_connection_is_closed(engine) -> None:
    async def scenario() -> int:
        gateway = await started(engine, idle_timeout_s=0.3)
        client = await Client.connect(gateway.port)
        closed = await asyncio.wait_for(client.reader.read(10), 5)
        await gateway.stop()
        return closed, gateway.stats.idle_closed

    assert asyncio.run(scenario()) == (b"", 1)


def test_shutdown_flushes_every_accepted_position(engine) -> None:
    """300 locations in one write; stop as soon as they are decoded: all 300 are stored."""

    async def scenario() -> None:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        await client.send(frame(0x0100, PHONE, 1, registration_body()))
        (reply,) = await client.frames(1)
        code = reply[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")[15:-1]
        await client.send(frame(0x0102, PHONE, 2, code))
        await client.frames(1)
        await client.send(
            b"".join(
                frame(
                    0x0200,
                    PHONE,
                    3 + i,
                    location_body(
                        lat=22.5, lon=114.0 + i / 1e4, time=f"2611210{9 + i // 3600:01d}{i // 60 % 60:02d}{i % 60:02d}"
                    ),
                )
                for i in range(300)
            )
        )
        while gateway.stats.frames < 302:
            await asyncio.sleep(0.001)
        await gateway.stop()

    asyncio.run(scenario())
    assert count_positions(engine) == 300


def test_subpackaged_batch_is_reassembled_and_stored(engine) -> None:
    """A blind-area batch split into two subpackages: parts acknowledged, rows stored once complete."""
    entries = [
        location_body(lat=22.5, lon=114.0 + i / 1e4, time=f"26112107{i:02d}00", items=bytes(40)) for i in range(20)
    ]
    batch = struct.pack(">HB", 20, 1) + b"".join(struct.pack(">H", len(e)) + e for e in entries)
    first, second = batch[:700], batch[700:]

    def part(serial: int, index: int, data: bytes) -> bytes:
        props = len(data) | 0x2000
        raw = struct.pack(">HH", 0x0704, props) + bytes.fromhex(PHONE) + struct.pack(">HHH", serial, 2, index) + data
        raw += bytes((reduce(lambda a, b: a ^ b, raw, 0),))
        escaped = raw.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")
        return b"\x7e" + escaped + b"\x7e"

    async def scenario() -> None:
        gateway = await started(engine)
        client = await Client.connect(gateway.port)
        await client.send(frame(0x0100, PHONE, 1, registration_body()))
        (reply,) = await client.frames(1)
        code = reply[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")[15:-1]
        await client.send(frame(0x0102, PHONE, 2, code))
        await client.frames(1)
        await client.send(part(3, 1, first))
        assert await client.frames(1) == [reply_8001(PHONE, 2, 3, 0x0704, 0)]
        assert count_positions(engine) == 0
        await client.send(part(4, 2, second))
        assert await client.frames(1) == [reply_8001(PHONE, 3, 4, 0x0704, 0)]
        await client.close()
        await gateway.stop()

    asyncio.run(scenario())
    rows = track(engine, phone="13800138000")
    assert len(rows) == 20 and all(row.blind_area for row in rows)
