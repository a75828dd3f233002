"""Position ingest over HTTP (terminals that do not speak JT/T 808) and track playback.

Rows go to ``fleet.tracks.store``'s ``position`` table, the one the JT/T 808 gateway fills, with the
same idempotency: (terminal, GPS time) is the key, so a re-sent batch stores nothing twice.
A device seen for the first time gets a ``terminal`` row. Bad rows are rejected one by one,
named by index and field; the rest of the batch is stored. Stored fixes then update each truck's
newest fix (``GET /live``) and go to the live path's sink, as the gateway's do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.tables import VehicleRow
from fleet.jt808.location import LOAD_STATES
from fleet.supervise.store import record_last_fixes
from fleet.tracks.store import (
    POSITION_COLUMNS,
    Position,
    Terminal,
    ensure_terminals,
    insert_positions,
    normalise_phone,
    track,
)
from routing.errors import InvalidInputError, NotFoundError
from routing.jsonfile import field_errors
from routing.localtime import CHINA_TZ

if TYPE_CHECKING:
    from fleet.supervise.live import PositionSink


class PositionIn(BaseModel):
    """One fix. ``device`` is the terminal phone (or another id up to 20 characters); naive times are China time."""

    device: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z_\-]+$")
    time: datetime = Field(description="GPS time, ISO 8601 (without offset: UTC+8)")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    speed_kmh: float = Field(0.0, ge=0, le=400)
    heading: int = Field(0, ge=0, le=359)
    altitude_m: int = Field(0, ge=-500, le=10_000)
    alarm: int = Field(0, ge=0, lt=2**32, description="JT/T 808 alarm word")
    status: int = Field(3, ge=0, lt=2**32, description="JT/T 808 status word (default 3: ACC on, fix valid)")
    mileage_km: float | None = Field(None, ge=0, le=429_496_729.5, description="JT/T 808 odometer (DWORD of 0.1 km)")

    model_config = ConfigDict(allow_inf_nan=False)

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=CHINA_TZ)
        if not 2000 <= value.year <= 2099:  # checked before the UTC conversion, which overflows at years 1 and 9999
            raise ValueError(f"time {value.isoformat()} is outside 2000–2099")
        return value


class PositionBatch(BaseModel):
    positions: list[dict] = Field(description="items of PositionIn; bad items are rejected one by one, the rest stored")


class RejectedItem(BaseModel):
    index: int
    field: str
    error: str


class PositionsStored(BaseModel):
    accepted: int = Field(description="fixes stored (or stored before: re-sent fixes count once)")
    rejected: list[RejectedItem] = Field(description="bad items, each by index, field and reason")


_one = TypeAdapter(PositionIn)
_many = TypeAdapter(list[PositionIn])


def validate_batch(items: list[dict]) -> tuple[list[PositionIn], list[dict]]:
    """(valid fixes, rejected items with index, field and reason)."""
    try:
        return _many.validate_python(items), []
    except ValidationError:
        pass
    good, rejected = [], []
    for index, item in enumerate(items):
        try:
            good.append(_one.validate_python(item))
        except ValidationError as exc:
            for field, message in field_errors(exc):
                rejected.append({"index": index, "field": field or "(item)", "error": message})
    return good, rejected


def store_positions(engine: Engine, fixes: list[PositionIn], *, sink: PositionSink | None = None) -> None:
    """Create unseen terminals, insert the fixes (re-sent ones are skipped by the key), then hand them to the live path.

    Parameters
    ----------
    engine
        The service database (its ``terminal`` and ``position`` tables).
    fixes
        Validated fixes; each ``device`` is keyed without leading zeros, as the JT/T 808 gateway keys phones.
    sink
        The live path (``fleet.supervise.live``); it only queues, so the request does not wait for the rules.
    """
    if not fixes:
        return
    now = datetime.now(UTC)
    ensure_terminals(engine, phones={normalise_phone(f.device) for f in fixes}, protocol="http")
    rows = [
        {
            "terminal_phone": normalise_phone(f.device),
            "gps_time": f.time,
            "received_at": now,
            "lat": f.lat,
            "lon": f.lon,
            "altitude_m": f.altitude_m,
            "speed_kmh": f.speed_kmh,
            "heading": f.heading,
            "alarm": f.alarm,
            "status": f.status,
            "mileage_km": f.mileage_km,
            "blind_area": False,
            "items": "",
        }
        for f in fixes
    ]
    stored = [tuple(row[c] for c in POSITION_COLUMNS) for row in rows]
    insert_positions(engine, stored)
    record_last_fixes(engine, stored)
    if sink is not None:
        from fleet.supervise.live import fixes_of_rows

        sink.accept(fixes_of_rows(stored), received_at=now.timestamp())


def playback(engine: Engine, *, device: str, start: datetime | None, end: datetime | None, limit: int) -> list[dict]:
    """A device's fixes in GPS-time order with times in China time and decoded status flags.

    Parameters
    ----------
    engine
        The service database.
    device
        The terminal phone or id (leading zeros ignored).
    start, end
        The period [start, end) of GPS time; None = open.
    limit
        At most this many fixes, the earliest first.

    Returns
    -------
    list[dict]
        One per fix: time (ISO 8601, China time), lon, lat, speed_kmh, heading, acc, load, blind_area.
    """
    rows: list[Position] = track(engine, phone=normalise_phone(device), start=start, end=end)[:limit]
    return [
        {
            "time": p.gps_time.astimezone(CHINA_TZ).isoformat(),
            "lon": p.lon,
            "lat": p.lat,
            "speed_kmh": p.speed_kmh,
            "heading": p.heading,
            "acc": bool(p.status & 1),
            "load": LOAD_STATES[(p.status >> 8) & 0x03],
            "blind_area": p.blind_area,
        }
        for p in rows
    ]


def vehicle_track(
    session: Session, *, vehicle_id: str, start: datetime | None, end: datetime | None, limit: int
) -> dict:
    """A truck's fixes for playback: the vehicle's linked terminal, or a terminal named directly.

    Parameters
    ----------
    session
        The request's session.
    vehicle_id
        A catalogue vehicle id (its ``terminal`` is played back) or a terminal phone.
    start, end
        The period [start, end), aware datetimes; None = open.
    limit
        At most this many fixes, the earliest first.

    Returns
    -------
    dict
        ``{"vehicle_id", "device", "points"}`` (points as :func:`playback` gives them).

    Raises
    ------
    InvalidInputError
        ``start`` or ``end`` has no UTC offset.
    NotFoundError
        Neither a vehicle nor a terminal has this id.
    """
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise InvalidInputError(
                f"{name}: {value.isoformat()} has no UTC offset; write e.g. 2026-11-22T06:00:00+08:00"
            )
    vehicle = session.get(VehicleRow, vehicle_id)
    device = vehicle.terminal if vehicle is not None and vehicle.terminal else vehicle_id
    points = playback(session.get_bind(), device=device, start=start, end=end, limit=limit)
    if not points and vehicle is None and session.get(Terminal, normalise_phone(device)) is None:
        raise NotFoundError(f"no vehicle or terminal {vehicle_id!r}")
    return {"vehicle_id": vehicle_id, "device": device, "points": points}
