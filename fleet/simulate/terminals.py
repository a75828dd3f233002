"""Terminal simulator: trucks driving real road paths, speaking JT/T 808 to a gateway.

Each simulated terminal behaves like a device: registers once (0x0100), authenticates
on every connection (0x0102), sends a location (0x0200) per fix, sometimes loses
coverage and later re-uploads the missed fixes as a blind-area batch (0x0704 type 1),
and keeps every fix until the platform acknowledges it — on a lost connection the
unacknowledged ones go back to the blind-area memory and are re-sent after
reconnecting. The report therefore says exactly which fixes the platform accepted.

Each terminal follows a :class:`Drive` (any lon/lat polyline, so the path source is
pluggable); :func:`road_drives` makes them from fastest road paths of the network
(``routing.network.graph`` + ``routing.network.matrix.road_path``).
"""

from __future__ import annotations

import asyncio
import math
import random
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from fleet.jt808.frame import FrameSplitter, decode_escaped
from fleet.jt808.location import Location
from fleet.jt808.messages import (
    BATCH,
    HEARTBEAT,
    LOCATION,
    LOGOUT,
    PLATFORM_REPLY,
    REGISTER_REPLY,
    Authentication,
    Batch,
    Registration,
    decode_body,
    encode_message,
)
from routing.errors import DecodeError
from routing.localtime import CHINA_TZ

BATCH_MAX = 20  # 20 × (2 + 40) + 3 bytes stays under the 1,023-byte body limit
EARTH_RADIUS_M = 6_371_000.0


@dataclass
class Drive:
    """A truck going back and forth along a lon/lat polyline at a steady speed."""

    coords: Sequence[tuple[float, float]]
    speed_kmh: float = 30.0
    _cumulative: list[float] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.coords) < 2:
            raise ValueError("a drive needs at least two coordinates")
        total = 0.0
        self._cumulative = [0.0]
        for (lon1, lat1), (lon2, lat2) in zip(self.coords[:-1], self.coords[1:]):
            total += _metres(lon1, lat1, lon2, lat2)
            self._cumulative.append(total)

    @property
    def length_m(self) -> float:
        return self._cumulative[-1]

    def at(self, seconds: float) -> tuple[float, float, int]:
        """(lon, lat, heading°) after driving ``seconds`` (turning round at each end)."""
        length = self.length_m
        if length <= 0:
            lon, lat = self.coords[0]
            return lon, lat, 0
        travelled = (seconds * self.speed_kmh / 3.6) % (2 * length)
        backwards = travelled > length
        distance = 2 * length - travelled if backwards else travelled
        index = min(max(1, bisect_left(self._cumulative, distance)), len(self.coords) - 1)
        (lon1, lat1), (lon2, lat2) = self.coords[index - 1], self.coords[index]
        span = self._cumulative[index] - self._cumulative[index - 1]
        share = (distance - self._cumulative[index - 1]) / span if span > 0 else 0.0
        lon, lat = lon1 + share * (lon2 - lon1), lat1 + share * (lat2 - lat1)
        heading = _bearing(lon1, lat1, lon2, lat2)
        return lon, lat, round((heading + 180) % 360 if backwards else heading) % 360


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return EARTH_RADIUS_M * math.hypot(x, math.radians(lat2 - lat1))


def _bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.degrees(math.atan2(x, math.radians(lat2 - lat1))) % 360


def road_drives(*, count: int, seed: int = 0, osm_path: Path | None = None, distinct: int = 32) -> list[Drive]:
    """``count`` drives along fastest road paths between random points of the network.

    ``distinct`` paths are computed (one shortest-path search each) and shared round-robin.

    Parameters
    ----------
    count
        Number of drives.
    seed
        Makes the points and speeds reproducible.
    osm_path
        Road network file; None for the default network.
    distinct
        Number of distinct paths to compute.

    Returns
    -------
    list[Drive]
        Drives with lon/lat coordinates and a speed of 15–50 km/h.

    Raises
    ------
    InputFileError
        ``osm_path`` (or the default network file) is missing or holds no drivable roads.
    ValueError
        No usable path (at least 50 m) between the random points.
    """
    from routing.network.graph import load_network
    from routing.network.matrix import road_path

    network = load_network(path=osm_path) if osm_path is not None else load_network()
    rng = random.Random(seed)
    points = network.random_points(n=2 * min(count, distinct), seed=seed)
    paths = []
    for origin, destination in zip(points[0::2], points[1::2]):
        path = road_path(network, origin=origin, destination=destination)
        if len(path.geometry.coords) >= 2 and path.distance_m > 50:
            paths.append(list(path.geometry.coords))
    if not paths:
        raise ValueError("no usable road path found between the random points")
    return [Drive(coords=paths[i % len(paths)], speed_kmh=rng.uniform(15, 50)) for i in range(count)]


@dataclass
class TerminalReport:
    """What one simulated terminal did; ``acked`` are the fixes the platform confirmed."""

    phone: str
    fixes: int = 0
    acked: int = 0
    frames_sent: int = 0
    batches_sent: int = 0
    connections: int = 0
    refused: int = 0


@dataclass
class TerminalSpec:
    """One simulated device."""

    phone: str
    drive: Drive
    fixes: int
    interval_s: float
    start_time: datetime
    version: str = "2013"
    blind_chance: float = 0.01  # per fix, chance to lose coverage …
    blind_fixes: tuple[int, int] = (5, 20)  # … for this many fixes
    seed: int = 0


class SimulatedTerminal:
    """Run one device against ``host:port`` until all its fixes are acknowledged."""

    def __init__(
        self,
        spec: TerminalSpec,
        *,
        host: str,
        port: int,
        window: int = 64,
        reply_timeout_s: float = 10.0,
        give_up_s: float = 300.0,
    ) -> None:
        self.spec = spec
        self.host, self.port = host, port
        self.report = TerminalReport(phone=spec.phone)
        self._rng = random.Random(spec.seed)
        self._window = window
        self._reply_timeout_s = reply_timeout_s
        self._give_up_s = give_up_s
        self._auth_code: str | None = None
        self._serial = 0
        self._memory: deque[Location] = deque()  # fixes not yet sent or sent and lost
        self._unacked: dict[int, list[Location]] = {}
        self._control: asyncio.Queue = asyncio.Queue()
        self._acked_event = asyncio.Event()
        self._next_fix = 0
        self._blind_left = 0
        self._lost = False

    def fix(self, number: int) -> Location:
        """The terminal's ``number``-th fix (GPS time one second apart, along its drive)."""
        lon, lat, heading = self.spec.drive.at(number)
        return Location(
            alarm=0,
            status=0x0C0303 if number % 2 else 0x0C0003,  # ACC on, fixed, GPS+BeiDou, load full/empty
            lat=round(lat, 6),
            lon=round(lon, 6),
            altitude_m=12,
            speed_kmh=round(self.spec.drive.speed_kmh, 1),
            heading=heading,
            time=self.spec.start_time + timedelta(seconds=number),
            items={
                0x01: int(number * self.spec.drive.speed_kmh / 360).to_bytes(4, "big"),
                0x30: b"\x19",
                0x31: b"\x0c",
            },
        )

    async def run(self) -> TerminalReport:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_s
        while self._next_fix < self.spec.fixes or self._memory or self._unacked:
            if loop.time() > deadline:
                break
            try:
                await self._session()
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                pass
            self._memory.extendleft(reversed([loc for locs in self._unacked.values() for loc in locs]))
            self._unacked.clear()
            if self._next_fix < self.spec.fixes or self._memory:
                await asyncio.sleep(0.2 + self._rng.random() * 0.5)
        return self.report

    async def _session(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.report.connections += 1
        self._control = asyncio.Queue()
        self._lost = False
        listener = asyncio.create_task(self._listen(reader))
        try:
            await self._handshake(writer)
            await self._stream(writer)
            self._send(writer, None, msg_id=LOGOUT)
            await writer.drain()
        finally:
            listener.cancel()
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, ConnectionError):
                pass

    async def _handshake(self, writer: asyncio.StreamWriter) -> None:
        if self._auth_code is None:
            registration = Registration(
                province=44,
                city=300,
                maker="QY",
                model="SIM-808",
                terminal_id=self.spec.phone[-7:],
                plate_color=2,
                plate=f"粤B{self.spec.phone[-5:]}",
                layout="2019" if self.spec.version == "2019" else "2013",
            )
            self._send(writer, registration)
            await writer.drain()
            reply = await self._await_control(REGISTER_REPLY)
            if reply.result != 0:
                raise ConnectionError(f"registration refused with result {reply.result}")
            self._auth_code = reply.auth_code
        imei = self.spec.phone[-15:].rjust(15, "0") if self.spec.version == "2019" else None
        self._send(
            writer, Authentication(auth_code=self._auth_code, imei=imei, software_version="1.0" if imei else None)
        )
        await writer.drain()
        reply = await self._await_control(PLATFORM_REPLY)
        if reply.result != 0:
            self._auth_code = None
            raise ConnectionError(f"authentication refused with result {reply.result}")

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        """Re-send the memory as batches, then live fixes; finally wait for the last acks."""
        loop = asyncio.get_running_loop()
        next_time = loop.time()
        while self._next_fix < self.spec.fixes or self._memory:
            if self._next_fix >= self.spec.fixes:
                self._blind_left = 0  # coverage is back for the final upload
            if self._blind_left == 0:
                while self._memory:
                    chunk = [self._memory.popleft() for _ in range(min(BATCH_MAX, len(self._memory)))]
                    await self._send_positions(writer, chunk)
            if self._next_fix >= self.spec.fixes:
                break
            next_time += self.spec.interval_s
            delay = next_time - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self._check_connection()
            location = self.fix(self._next_fix)
            self._next_fix += 1
            self.report.fixes += 1
            if self._blind_left == 0 and self._rng.random() < self.spec.blind_chance:
                self._blind_left = self._rng.randint(*self.spec.blind_fixes)
            if self._blind_left:
                self._blind_left -= 1
                self._memory.append(location)
            else:
                await self._send_positions(writer, [location])
        while self._unacked:
            await self._await_ack()

    async def _await_ack(self) -> None:
        self._check_connection()
        self._acked_event.clear()
        await asyncio.wait_for(self._acked_event.wait(), self._reply_timeout_s)
        self._check_connection()

    def _check_connection(self) -> None:
        if self._lost:
            raise ConnectionError("gateway closed the connection")

    async def _send_positions(self, writer: asyncio.StreamWriter, locations: list[Location]) -> None:
        while len(self._unacked) >= self._window:
            await self._await_ack()
        self._check_connection()
        serial = self._send(writer, locations[0] if len(locations) == 1 else Batch(type=1, positions=locations))
        if len(locations) > 1:
            self.report.batches_sent += 1
        self._unacked[serial] = locations
        await writer.drain()

    def _send(self, writer: asyncio.StreamWriter, body, *, msg_id: int | None = None) -> int:
        serial = self._serial
        self._serial = (serial + 1) & 0xFFFF
        writer.write(
            encode_message(body, phone=self.spec.phone, serial=serial, version=self.spec.version, msg_id=msg_id)
        )
        self.report.frames_sent += 1
        return serial

    async def _await_control(self, msg_id: int):
        while True:
            frame_id, body = await asyncio.wait_for(self._control.get(), self._reply_timeout_s)
            self._check_connection()
            if frame_id == msg_id:
                return body

    async def _listen(self, reader: asyncio.StreamReader) -> None:
        splitter = FrameSplitter()
        while True:
            try:
                data = await reader.read(65536)
            except (OSError, ConnectionError):
                data = b""
            if not data:
                self._lost = True
                self._acked_event.set()
                self._control.put_nowait((None, None))
                return
            for escaped in splitter.feed(data)[0]:
                try:
                    frame = decode_escaped(escaped)
                    body = decode_body(frame)
                except DecodeError:
                    continue
                if frame.msg_id == PLATFORM_REPLY and body.ack_msg_id in (LOCATION, BATCH):
                    locations = self._unacked.pop(body.ack_serial, None)
                    if locations is not None:
                        if body.result == 0:
                            self.report.acked += len(locations)
                        else:
                            self.report.refused += len(locations)
                            self._memory.extendleft(reversed(locations))
                    self._acked_event.set()
                elif frame.msg_id == PLATFORM_REPLY and body.ack_msg_id in (HEARTBEAT, LOGOUT):
                    continue
                else:
                    self._control.put_nowait((frame.msg_id, body))


def terminal_specs(
    *,
    drives: Sequence[Drive],
    fixes: int,
    rate_per_s: float,
    start_time: datetime | None = None,
    version: str = "2013",
    blind_chance: float = 0.01,
    seed: int = 0,
    phone_base: int = 13_900_000_000,
) -> list[TerminalSpec]:
    """One spec per drive; ``rate_per_s`` is the total fix rate of all terminals together.

    Parameters
    ----------
    drives
        One drive per terminal.
    fixes
        Fixes each terminal sends.
    rate_per_s
        Total fixes per second of all terminals; each reports every ``len(drives) / rate_per_s`` s.
    start_time
        Time of the first fix; None for 2026-11-21 08:00 UTC+8.
    version
        Header version, "2013" or "2019".
    blind_chance
        Probability per fix of entering a blind area (reported late in a batch).
    seed
        Base seed; terminal i uses ``seed + i``.
    phone_base
        Terminal i gets phone ``phone_base + i``.

    Returns
    -------
    list[TerminalSpec]
    """
    count = len(drives)
    start = start_time or datetime(2026, 11, 21, 8, 0, tzinfo=CHINA_TZ)
    return [
        TerminalSpec(
            phone=str(phone_base + i),
            drive=drive,
            fixes=fixes,
            interval_s=count / rate_per_s,
            start_time=start,
            version=version,
            blind_chance=blind_chance,
            seed=seed + i,
        )
        for i, drive in enumerate(drives)
    ]


async def simulate(
    specs: Sequence[TerminalSpec], *, host: str, port: int, give_up_s: float = 300.0
) -> list[TerminalReport]:
    """Run all terminals concurrently (start times spread over one interval)."""

    async def one(spec: TerminalSpec, delay: float) -> TerminalReport:
        await asyncio.sleep(delay)
        return await SimulatedTerminal(spec, host=host, port=port, give_up_s=give_up_s).run()

    rng = random.Random(0)
    return list(await asyncio.gather(*(one(spec, rng.random() * spec.interval_s) for spec in specs)))
