"""Live supervision over HTTP: the alarm event log and the trucks' newest fixes as server-sent events.

``GET /alarms/stream`` reads the alarm event log (``fleet.supervise.store.AlarmEventRow``) by id
every ``QINGYUN_LIVE_POLL_S``. On PostgreSQL two transactions can commit their ids out of order
(id 7 visible after id 8), so a reader that only asked for ids above the last one it sent would skip
7 for ever: :class:`EventCursor` remembers the ids missing below its position for ``HOLE_TTL_S`` and
asks for them too, and starts (or resumes after ``Last-Event-ID``) by treating the missing ids of
the last ``TAIL_IDS`` as such holes. Every event is sent once per stream.

``GET /live`` answers each truck's newest fix (table ``live_fix``, kept where positions are stored)
with its catalogue vehicle, plate, company (its permit's, the currently valid one first) and open
alarms; ``GET /live/stream`` sends, at most every ``POSITION_POLL_S``, the trucks whose newest fix
changed, reading ``live_fix`` by ``received_at`` with a ``LAG_S`` overlap (a batch committed late
still has its earlier arrival time) and sending a truck again only when its GPS time moved on.

Who sees what: a supervisor every truck; a dispatcher the trucks of its own fleet — the terminals
of the vehicles in the vehicle catalogue (``vehicle.terminal``), which is the dispatcher's fleet
(the collection trucks it plans), not the construction-waste companies' trucks that only hold
permits; a key with both roles sees everything. Streams per key and per client address are
bounded (:class:`StreamSlots`), so one client cannot hold the server's threads and connections.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.auth import Caller
from api.services.alarms import alarm_out
from api.services.records import where_equal
from api.tables import PermitRow, VehicleRow, local_iso
from fleet.audit.violations import Severity, ViolationType
from fleet.settings import FleetSettings, LiveSettings
from fleet.supervise.live import PositionSink, position_sink
from fleet.supervise.store import ACKNOWLEDGED, OPEN, AlarmEventRow, AlarmRow, LiveFix
from fleet.tracks.store import Terminal, normalise_phone

HOLE_TTL_S = 30.0  # an id missing this long was rolled back, not committed late
TAIL_IDS = 256  # ids below the start position that may still commit
READ_MOST = 500  # events per read
LAG_S = 5.0  # /live/stream re-reads fixes received this long before the newest it saw (a slow commit)
POSITION_POLL_S = 1.0  # /live/stream reads at most this often: a truck reports every 10 s or so


class StreamQuery(BaseModel):
    """``GET /alarms/stream`` filters (as ``GET /alarms``) and where to resume."""

    company: str | None = Field(None, max_length=128)
    device: str | None = Field(None, max_length=64)
    type: ViolationType | None = None
    severity: Severity | None = None
    after: int | None = Field(None, ge=0, lt=2**63, description="send events after this id (else: from now on)")


_SINK_LOCK = threading.Lock()


def live_sink(app: object) -> PositionSink | None:
    """The app's live-path sink, made on first use (the in-process engine loads the network at the first fix).

    The mode follows the service's ``QINGYUN_REDIS_URL``; ``api.app`` closes the sink on shutdown.
    """
    state = app.state
    with _SINK_LOCK:
        if not hasattr(state, "live_sink"):
            from api.services.network import service_network

            settings = state.settings
            live = settings.fleet.live.model_copy(update={"redis_url": settings.service.redis_url})
            state.live_sink = position_sink(
                settings.fleet.model_copy(update={"live": live}),
                db=state.engine,
                network=lambda: service_network(settings.network),
            )
        return state.live_sink


# --- who sees what ---------------------------------------------------------------------
def fleet_of(session: Session, who: Caller) -> set[str] | None:
    """The terminals ``who`` may see: None = every one (supervisor), else the catalogue vehicles' terminals."""
    if "supervisor" in who.roles:
        return None
    rows = session.exec(select(VehicleRow.terminal).where(VehicleRow.terminal.is_not(None)))
    return {normalise_phone(t) for t in rows if t}


class _Scope:
    """A stream's visible terminals, looked up again every ``refresh_s`` (vehicles may be re-bound)."""

    def __init__(self, who: Caller, *, refresh_s: float) -> None:
        self.who, self.refresh_s = who, refresh_s
        self.devices: set[str] | None = None
        self.at = -float("inf")

    def get(self, session: Session) -> set[str] | None:
        if time.monotonic() - self.at >= self.refresh_s:
            self.devices, self.at = fleet_of(session, self.who), time.monotonic()
        return self.devices


# --- bounded streams -------------------------------------------------------------------
class StreamSlots:
    """Open streams counted per API key, per client address and in total; a stream over any limit is refused."""

    def __init__(self, settings: LiveSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._keys: Counter[str] = Counter()
        self._addresses: Counter[str] = Counter()

    def take(self, *, key_id: str, address: str) -> str | None:
        """Hold a slot; None when taken, else the refusal naming the limit (zh / en)."""
        s = self.settings
        with self._lock:
            if sum(self._keys.values()) >= s.streams_total:
                return (
                    f"服务的实时流已达上限 {s.streams_total} / the service already holds {s.streams_total} open "
                    "streams (QINGYUN_LIVE_STREAMS_TOTAL); retry later"
                )
            if self._keys[key_id] >= s.streams_per_key:
                return (
                    f"密钥 {key_id} 的实时流已达上限 {s.streams_per_key} / key {key_id} already holds "
                    f"{s.streams_per_key} open streams (QINGYUN_LIVE_STREAMS_PER_KEY); close one first"
                )
            if self._addresses[address] >= s.streams_per_address:
                return (
                    f"地址 {address} 的实时流已达上限 {s.streams_per_address} / address {address} already holds "
                    f"{s.streams_per_address} open streams (QINGYUN_LIVE_STREAMS_PER_ADDRESS); close one first"
                )
            self._keys[key_id] += 1
            self._addresses[address] += 1
            return None

    def give_back(self, *, key_id: str, address: str) -> None:
        with self._lock:
            self._keys[key_id] -= 1
            self._addresses[address] -= 1


# --- the alarm event log ---------------------------------------------------------------
@dataclass
class EventCursor:
    """A stream's position in the event log: the highest id sent and the ids below it not seen yet."""

    last: int = 0
    holes: dict[int, float] = field(default_factory=dict)  # id → when it was found missing

    @classmethod
    def start(cls, session: Session, *, after: int | None) -> EventCursor:
        """At ``after`` (or the newest event), the missing ids of the last ``TAIL_IDS`` below it held as holes."""
        newest = session.exec(select(func.max(AlarmEventRow.id))).one() or 0
        last = newest if after is None else min(after, newest)
        tail = select(AlarmEventRow.id).where(AlarmEventRow.id > last - TAIL_IDS, AlarmEventRow.id <= last)
        present = set(session.exec(tail))
        now = time.monotonic()
        return cls(last=last, holes={i: now for i in range(max(1, last - TAIL_IDS + 1), last + 1) if i not in present})

    def next_ids(self, session: Session) -> list[int]:
        """Ids committed since the last read (new ones and late holes), in order; the cursor moves past them."""
        now = time.monotonic()
        self.holes = {i: at for i, at in self.holes.items() if now - at < HOLE_TTL_S}
        query = select(AlarmEventRow.id).where(
            or_(AlarmEventRow.id > self.last, AlarmEventRow.id.in_(list(self.holes)))
            if self.holes
            else AlarmEventRow.id > self.last
        )
        ids = sorted(session.exec(query.order_by(AlarmEventRow.id).limit(READ_MOST)))
        fresh = [i for i in ids if i > self.last]
        for i in ids:
            self.holes.pop(i, None)
        if fresh:
            seen = set(fresh)
            self.holes.update({i: now for i in range(self.last + 1, fresh[-1]) if i not in seen})
            self.last = fresh[-1]
        return ids


def alarm_events(session: Session, ids: list[int], *, query: StreamQuery, devices: set[str] | None) -> list[dict]:
    """The events ``ids`` that pass the filters and the caller's fleet, each as the stream sends it."""
    if not ids:
        return []
    rows = select(AlarmEventRow, AlarmRow).join(AlarmRow, AlarmRow.id == AlarmEventRow.alarm_id)
    rows = where_equal(
        rows.where(AlarmEventRow.id.in_(ids)),
        (
            (AlarmRow.company, query.company),
            (AlarmRow.device, query.device),
            (AlarmRow.type, query.type),
            (AlarmRow.severity, query.severity),
        ),
    )
    if devices is not None:
        rows = rows.where(AlarmRow.device.in_(devices))
    out = []
    for event, alarm in session.exec(rows.order_by(AlarmEventRow.id)):
        data = alarm_out(alarm).model_dump(mode="json")
        data.update(
            event=event.kind, received_at=local_iso(event.received_at), published_at=local_iso(event.published_at)
        )
        out.append({"id": event.id, "data": data})
    return out


def sse(event: str, data: dict, *, event_id: int | None = None) -> str:
    """One server-sent event: ``id:``, ``event:``, ``data:`` (one JSON line), blank line."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def polled(
    read: Callable[[], list[str]], *, settings: LiveSettings, release: Callable[[], None], every_s: float
) -> AsyncIterator[str]:
    """The body of a stream: ``read()`` (in a worker thread) every ``every_s``, a keep-alive when idle.

    Ends when the client disconnects (Starlette cancels the body); ``release`` always runs.
    """
    try:
        yield "retry: 2000\n\n"
        quiet_since = time.monotonic()
        while True:
            chunks = await anyio.to_thread.run_sync(read)
            if chunks:
                yield "".join(chunks)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settings.keepalive_s:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await anyio.sleep(every_s)
    finally:
        release()


def alarm_reader(
    engine: Engine, who: Caller, *, query: StreamQuery, settings: FleetSettings
) -> Callable[[], list[str]]:
    """What ``GET /alarms/stream`` reads at each poll: the new events the caller may see, as SSE text."""
    with Session(engine) as session:
        cursor = EventCursor.start(session, after=query.after)
    scope = _Scope(who, refresh_s=settings.live.reload_s)

    def read() -> list[str]:
        with Session(engine) as session:
            ids = cursor.next_ids(session)
            events = alarm_events(session, ids, query=query, devices=scope.get(session))
        return [sse("alarm", e["data"], event_id=e["id"]) for e in events]

    return read


# --- the trucks' newest fixes --------------------------------------------------------------
class LiveTruck(BaseModel):
    """One truck on the live map: its newest fix (WGS-84, China time) and who it is."""

    device: str
    vehicle_id: str | None
    plate: str | None
    company: str | None
    lon: float
    lat: float
    speed_kmh: float
    heading: int
    time: str
    received_at: str
    online: bool = Field(description="its newest fix was received within QINGYUN_LIVE_ONLINE_S")
    open_alarms: int = Field(description="alarms open or acknowledged")


class LiveOut(BaseModel):
    trucks: list[LiveTruck]


_TRUCKS = TypeAdapter(list[LiveTruck])


def _companies(session: Session, devices: set[str] | None, now: datetime) -> dict[str, str]:
    """Each device's company: of the permit valid now, else of its latest permit."""
    permit = PermitRow.__table__.c
    rows = select(permit.device, permit.company, permit.valid_from, permit.valid_until)
    if devices is not None:
        rows = rows.where(permit.device.in_(devices))
    ranked = sorted(session.connection().execute(rows), key=lambda r: (r[2] <= now <= r[3], r[3]))
    return {normalise_phone(device): company for device, company, _, _ in ranked}  # the best ranked comes last


_FIX = LiveFix.__table__.c


def _fixes(session: Session, *, devices: set[str] | None, received_after: datetime | None) -> list:
    """``live_fix`` rows as plain tuples (no ORM objects: 5,000 trucks are read in milliseconds)."""
    fixes = select(_FIX.device, _FIX.gps_time, _FIX.received_at, _FIX.lon, _FIX.lat, _FIX.speed_kmh, _FIX.heading)
    if devices is not None:
        fixes = fixes.where(_FIX.device.in_(devices))
    if received_after is not None:
        fixes = fixes.where(_FIX.received_at > received_after)
    return list(session.connection().execute(fixes.order_by(_FIX.device)))


def _describe(session: Session, rows: list, *, every: bool, settings: LiveSettings) -> list[LiveTruck]:
    """Fix rows → trucks: four indexed reads (terminals, vehicles, permits, open alarms), for ``rows`` only unless ``every``."""
    if not rows:
        return []
    subset = None if every else {r.device for r in rows}
    terminal, vehicle_table, alarm = Terminal.__table__.c, VehicleRow.__table__.c, AlarmRow.__table__.c
    plates = select(terminal.phone, terminal.plate)
    alarms = select(alarm.device, func.count()).where(alarm.state.in_((OPEN, ACKNOWLEDGED)))
    if subset is not None:
        plates, alarms = plates.where(terminal.phone.in_(subset)), alarms.where(alarm.device.in_(subset))
    connection = session.connection()
    plate = dict(connection.execute(plates).all())
    count = dict(connection.execute(alarms.group_by(alarm.device)).all())
    vehicles = select(vehicle_table.id, vehicle_table.terminal).where(vehicle_table.terminal.is_not(None))
    vehicle = {normalise_phone(t): v for v, t in connection.execute(vehicles)}
    now = datetime.now(UTC)
    company = _companies(session, subset, now)
    online = now - timedelta(seconds=settings.online_s)
    trucks = [
        {
            "device": r.device,
            "vehicle_id": vehicle.get(r.device),
            "plate": plate.get(r.device) or None,
            "company": company.get(r.device),
            "lon": r.lon,
            "lat": r.lat,
            "speed_kmh": r.speed_kmh,
            "heading": r.heading,
            "time": local_iso(r.gps_time),
            "received_at": local_iso(r.received_at),
            "online": r.received_at >= online,
            "open_alarms": count.get(r.device, 0),
        }
        for r in rows
    ]
    return _TRUCKS.validate_python(trucks)  # one call into pydantic-core for the whole list


def live_trucks(session: Session, who: Caller, *, settings: LiveSettings) -> LiveOut:
    """``GET /live``: the newest fix of every truck the caller may see, one row each, whatever the fleet's size."""
    devices = fleet_of(session, who)
    rows = _fixes(session, devices=devices, received_after=None)
    return LiveOut(trucks=_describe(session, rows, every=devices is None, settings=settings))


def live_reader(engine: Engine, who: Caller, *, settings: FleetSettings) -> Callable[[], list[str]]:
    """What ``GET /live/stream`` reads at each poll: the trucks whose newest fix moved on since the last read."""
    scope = _Scope(who, refresh_s=settings.live.reload_s)
    sent: dict[str, datetime] = {}  # device → GPS time last sent
    newest = [datetime.now(UTC)]

    def read() -> list[str]:
        with Session(engine) as session:
            rows = _fixes(session, devices=scope.get(session), received_after=newest[0] - timedelta(seconds=LAG_S))
            changed = [r for r in rows if sent.get(r.device) != r.gps_time]
            trucks = _describe(session, changed, every=False, settings=settings.live)
        for r in rows:
            newest[0] = max(newest[0], r.received_at)
        for r in changed:
            sent[r.device] = r.gps_time
        return [sse("position", truck.model_dump()) for truck in trucks]

    return read
