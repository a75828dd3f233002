"""Where an audit's positions come from: a positions CSV file, or the database for a period and devices.

Both sources give the same typed positions (:func:`fleet.tracks.track.read_positions`' form), so
the audit pipeline never knows which one it read; :func:`export_positions` writes the stored
positions as exactly the CSV file :func:`csv_positions` reads back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from fleet.tracks.store import Position, normalise_phone, positions_between, unknown_terminals
from fleet.tracks.track import RejectedRow, read_positions, typed_positions
from routing.errors import InvalidInputError, NotFoundError
from routing.localtime import CHINA_TZ

EXPORT_COLUMNS = ("device", "time", "lon", "lat", "speed_kmh", "heading", "status")
"""Columns of an exported positions CSV (load and ignition come from the JT/T 808 status word)."""


@dataclass(frozen=True)
class Period:
    """A time period, ``start`` inclusive and ``end`` exclusive, both timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if value.tzinfo is None:
                raise InvalidInputError(f"period {name} {value.isoformat()} has no UTC offset")
        if self.end <= self.start:
            raise InvalidInputError(f"period: until {self.end.isoformat()} is not after since {self.start.isoformat()}")

    @classmethod
    def parse(cls, since: str, until: str) -> Period:
        """A period from ISO 8601 texts; a time without offset is China time (UTC+8).

        Parameters
        ----------
        since
            Start, inclusive (``2026-11-21T00:00:00+08:00`` or ``2026-11-21``).
        until
            End, exclusive.

        Returns
        -------
        Period

        Raises
        ------
        InvalidInputError
            A text is not an ISO 8601 time, or the period is empty or backwards.
        """
        moments = []
        for name, text in (("--since", since), ("--until", until)):
            try:
                moment = datetime.fromisoformat(text.strip())
            except ValueError:
                raise InvalidInputError(
                    f"{name}: {text!r} is not an ISO 8601 time; write e.g. 2026-11-21T06:00:00+08:00"
                ) from None
            moments.append(moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ))
        return cls(*moments)


def device_list(text: str | None) -> list[str] | None:
    """A ``--devices A,B`` option as a list of devices (None when not given).

    Parameters
    ----------
    text
        Comma-separated terminal phones.

    Returns
    -------
    list of str or None

    Raises
    ------
    InvalidInputError
        The option is given but names no device.
    """
    if text is None:
        return None
    devices = [d.strip() for d in text.split(",") if d.strip()]
    if not devices:
        raise InvalidInputError(f"--devices: {text!r} names no device; write e.g. --devices 13800000001,13800000002")
    return devices


@dataclass
class Positions:
    """Typed positions ready for tracks, with what was read and what was refused."""

    frame: pd.DataFrame  # read_positions' typed form: device, t, lon, lat, speed_kmh, heading, load, ignition, status
    rejected: list[RejectedRow]
    rows_read: int


def csv_positions(path: Path | str) -> Positions:
    """Positions from a CSV file (``device,time,lon,lat[,speed_kmh,heading,load,ignition,status]``).

    Parameters
    ----------
    path
        The positions file.

    Returns
    -------
    Positions
        Bad rows are listed in ``rejected`` (file line, field, value) and left out.

    Raises
    ------
    InputFileError
        The file is missing, not CSV, or lacks a required column.
    """
    frame, rejected = read_positions(path)
    return Positions(frame, rejected, len(frame) + len(rejected))


def _stored(engine: Engine, *, period: Period, devices: list[str] | None) -> list[Position]:
    phones = None
    if devices is not None:
        phones = sorted({normalise_phone(d.strip()) for d in devices if d.strip()})
        unknown = unknown_terminals(engine, phones)
        if unknown:
            raise NotFoundError(f"devices: no terminal {', '.join(unknown)} in the database")
    return positions_between(engine, start=period.start, end=period.end, phones=phones)


def db_positions(engine: Engine, *, period: Period, devices: list[str] | None = None) -> Positions:
    """Stored positions of a period (of the given devices, or of every device).

    Parameters
    ----------
    engine
        The positions database (``fleet.tracks.store``).
    period
        GPS times from ``period.start`` (inclusive) to ``period.end`` (exclusive).
    devices
        Terminal phones (leading zeros ignored); None: every device with positions in the period.

    Returns
    -------
    Positions
        Rows were checked at ingest, so none is rejected.

    Raises
    ------
    NotFoundError
        A named device has no terminal in the database.
    """
    rows = _stored(engine, period=period, devices=devices)
    frame = typed_positions(
        device=[r.terminal_phone for r in rows],
        time=[r.gps_time for r in rows],
        lon=[r.lon for r in rows],
        lat=[r.lat for r in rows],
        speed_kmh=[r.speed_kmh for r in rows],
        heading=[r.heading for r in rows],
        status=[r.status for r in rows],
    )
    return Positions(frame, [], len(rows))


def export_positions(engine: Engine, out: Path, *, period: Period, devices: list[str] | None = None) -> int:
    """Write the stored positions of a period as the positions CSV that ``qingyun audit --tracks`` reads.

    Parameters
    ----------
    engine
        The positions database.
    out
        The CSV file to write (its folder is created).
    period
        GPS times from ``period.start`` (inclusive) to ``period.end`` (exclusive).
    devices
        Terminal phones; None: every device with positions in the period.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    NotFoundError
        A named device has no terminal in the database.
    """
    rows = _stored(engine, period=period, devices=devices)
    frame = pd.DataFrame(
        [
            (
                r.terminal_phone,
                r.gps_time.astimezone(CHINA_TZ).isoformat(),
                r.lon,
                r.lat,
                r.speed_kmh,
                r.heading,
                r.status,
            )
            for r in rows
        ],
        columns=list(EXPORT_COLUMNS),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, encoding="utf-8")
    return len(frame)
