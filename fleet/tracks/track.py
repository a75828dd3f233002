"""Tracks: cleaned, time-ordered GPS fixes per device, with trips, stops and reporting gaps.

Terminals upload blind-area batches late and out of order, repeat fixes, send fixes
without a satellite position and the odd jump of several kilometres. Every later
step (matching, compliance, coverage) reads a ``Track``, never raw rows, so those
artefacts are dealt with once, here. Positions come from a CSV file, a pandas
DataFrame or a list of dicts with at least ``device, time, lon, lat`` (optional
``speed_kmh, heading, load, ignition, status``), so the JT/T 808 store and a
plain export feed the same code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from fleet.tracks.settings import TrackSettings
from routing.errors import InputFileError
from routing.localtime import CHINA_OFFSET_S, CHINA_TZ
from routing.network.projection import UtmProjector

REQUIRED_COLUMNS = ("device", "time", "lon", "lat")
OPTIONAL_COLUMNS = ("speed_kmh", "heading", "load", "ignition", "status")
UNKNOWN = -1  # value of ``load`` / ``ignition`` when the terminal does not send it
STORE_ALIASES = {"terminal_phone": "device", "gps_time": "time"}  # column names of the JT/T 808 positions table


class Projector(Protocol):
    """Anything with WGS-84 ↔ metric conversions (``RoadNetwork`` is one)."""

    def to_xy(self, lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]: ...

    def to_lonlat(self, x: object, y: object) -> tuple[np.ndarray, np.ndarray]: ...


def epoch_s(moment: datetime) -> float:
    """A datetime → epoch seconds; a naive datetime is China local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_TZ)
    return moment.timestamp()


class PositionRow(BaseModel):
    """One row of the positions CSV (published as JSON Schema by ``qingyun audit --schema``)."""

    device: str = Field(description="terminal id (JT/T 808 phone number) or plate, as in permits.json / plan.json")
    time: datetime = Field(description="GPS time, ISO 8601; without offset it is China time (UTC+8)")
    lon: float = Field(ge=-180, le=180, description="WGS-84 longitude")
    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude")
    speed_kmh: float | None = Field(None, ge=0, description="GPS speed")
    heading: float | None = Field(None, description="degrees clockwise from north")
    load: int | None = Field(
        None, description="1 loaded (JT/T 808 status bits 8-9 = half or full), 0 empty, blank unknown"
    )
    ignition: int | None = Field(None, description="1 ACC on, 0 off (JT/T 808 status bit 0), blank unknown")
    status: int | None = Field(
        None, description="raw JT/T 808 status word; fills load/ignition/fix validity when those are blank"
    )


@dataclass
class RejectedRow:
    """A positions row that could not be used, with where and why."""

    where: str
    reason: str


@dataclass
class Stop:
    first: int  # index of the first fix of the stop
    last: int
    start_s: float
    end_s: float
    x: float
    y: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Gap:
    before: int  # index of the last fix before the silence
    after: int
    duration_s: float
    distance_m: float
    moving: bool


@dataclass
class Track:
    """One device's cleaned fixes, ordered by GPS time (arrays of equal length)."""

    device: str
    t: np.ndarray  # epoch seconds, float64, strictly increasing
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    speed_kmh: np.ndarray  # reported GPS speed, implied speed where the terminal sent none
    load: np.ndarray  # int8: 1 loaded, 0 empty, -1 unknown
    ignition: np.ndarray  # int8: 1 on, 0 off, -1 unknown
    speed_reported: np.ndarray  # bool: the terminal sent the speed (else implied from positions)
    dropped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.t)

    @property
    def has_load(self) -> bool:
        return bool(np.any(self.load >= 0))

    def moving(self, settings: TrackSettings) -> np.ndarray:
        return self.speed_kmh >= settings.moving_speed_kmh


# --- reading ------------------------------------------------------------------
_EPOCH = pd.Timestamp(0, tz="UTC")
_OFFSET_RE = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")


def read_positions(source: Path | str | pd.DataFrame | Iterable[dict]) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Positions from a CSV path, DataFrame or list of dicts → a typed frame and the rejected rows.

    Bad rows are reported (file line, field, value) and left out; the rest is kept.
    """
    where_prefix = ""
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputFileError(f"positions file not found: {path}") from None
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputFileError(f"{path}: not a readable CSV file ({exc})") from None
        where_prefix = f"{path}:"
        line_of = lambda i: f"{where_prefix}line {i + 2}"  # noqa: E731  header is line 1
    else:
        if isinstance(source, pd.DataFrame):
            frame = source.copy()
        else:  # dicts, or stored rows (pydantic / SQLModel objects such as fleet.tracks.store.Position)
            frame = pd.DataFrame([r if isinstance(r, dict) else r.model_dump() for r in source])
        frame = frame.rename(
            columns={k: v for k, v in STORE_ALIASES.items() if k in frame.columns and v not in frame.columns}
        )
        line_of = lambda i: f"row {i}"  # noqa: E731
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InputFileError(
            f"{where_prefix or 'positions'} missing column(s) {', '.join(missing)}; need {', '.join(REQUIRED_COLUMNS)}"
        )
    frame = frame.reset_index(drop=True)
    rejected: list[RejectedRow] = []
    bad = np.zeros(len(frame), dtype=bool)

    out = pd.DataFrame({"device": frame["device"].astype(str).str.strip()})
    bad_device = out["device"].eq("").to_numpy()
    for i in np.flatnonzero(bad_device):
        rejected.append(RejectedRow(line_of(i), "device: empty"))
    bad |= bad_device

    out["t"] = _parse_times(frame["time"])
    for i in np.flatnonzero(out["t"].isna().to_numpy() & ~bad):
        rejected.append(RejectedRow(line_of(i), f"time: not an ISO 8601 time: {frame['time'].iloc[i]!r}"))
    bad |= out["t"].isna().to_numpy()

    for name, low, high in (("lon", -180.0, 180.0), ("lat", -90.0, 90.0)):
        values = pd.to_numeric(frame[name], errors="coerce")
        wrong = (values.isna() | (values < low) | (values > high)).to_numpy() & ~bad
        for i in np.flatnonzero(wrong):
            rejected.append(
                RejectedRow(line_of(i), f"{name}: {frame[name].iloc[i]!r} is not a number in [{low:g}, {high:g}]")
            )
        bad |= wrong
        out[name] = values
    for name in OPTIONAL_COLUMNS:
        if name not in frame.columns:
            out[name] = np.nan
            continue
        raw = frame[name]
        if not pd.api.types.is_numeric_dtype(raw):
            raw = raw.astype(str).str.strip().replace({"": np.nan, "nan": np.nan, "None": np.nan})
        values = pd.to_numeric(raw, errors="coerce")
        wrong = (values.isna() & raw.notna()).to_numpy() & ~bad
        for i in np.flatnonzero(wrong):
            rejected.append(RejectedRow(line_of(i), f"{name}: {frame[name].iloc[i]!r} is not a number"))
        bad |= wrong
        out[name] = values
    out["row"] = np.arange(len(frame))
    return out[~bad].reset_index(drop=True), rejected


def typed_positions(
    *,
    device: Sequence[str],
    time: Sequence[datetime],
    lon: Sequence[float],
    lat: Sequence[float],
    speed_kmh: Sequence[float | None],
    heading: Sequence[float | None],
    status: Sequence[int | None],
) -> pd.DataFrame:
    """Positions already checked at ingest (the database's) in the typed form of :func:`read_positions`.

    No text is parsed: times are converted exactly as :func:`read_positions` converts parsed
    ISO times, so a database audit and an audit of the same rows exported to CSV agree.

    Parameters
    ----------
    device, time, lon, lat, speed_kmh, heading, status
        Equal-length columns; times timezone-aware.

    Returns
    -------
    pandas.DataFrame
        Columns ``device, t, lon, lat, speed_kmh, heading, load, ignition, status, row``.
    """
    stamps = pd.Series(pd.to_datetime(list(time), utc=True), dtype="datetime64[ns, UTC]")
    frame = pd.DataFrame(
        {
            "device": pd.Series(list(device), dtype=object).astype(str),
            "t": _parse_times(stamps),
            "lon": pd.to_numeric(pd.Series(list(lon), dtype=object)),
            "lat": pd.to_numeric(pd.Series(list(lat), dtype=object)),
        }
    )
    for name, values in (("speed_kmh", speed_kmh), ("heading", heading), ("status", status)):
        frame[name] = pd.to_numeric(pd.Series(list(values), dtype=object))
    frame["load"] = np.nan
    frame["ignition"] = np.nan
    frame["row"] = np.arange(len(frame))
    return frame[["device", "t", "lon", "lat", *OPTIONAL_COLUMNS, "row"]]


def _parse_times(raw: pd.Series) -> pd.Series:
    """ISO 8601 strings or datetimes → epoch seconds (float); naive values are China time."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(float)
    if pd.api.types.is_datetime64_any_dtype(raw):
        stamps = raw if raw.dt.tz is not None else raw.dt.tz_localize(CHINA_TZ)
        return (stamps - _EPOCH).dt.total_seconds()
    text = raw.astype(str)
    try:  # fast path: one format throughout (all with the same offset, or all naive)
        stamps = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if isinstance(stamps.dtype, pd.DatetimeTZDtype) or stamps.notna().all():
            return _parse_times(stamps)
    except (ValueError, TypeError):
        pass
    text = text.str.strip()
    aware = text.str.contains(_OFFSET_RE)
    result = pd.Series(np.nan, index=raw.index, dtype=float)
    for mask, shift in ((aware, 0.0), (~aware, -CHINA_OFFSET_S)):
        if mask.any():
            stamps = pd.to_datetime(text[mask], format="ISO8601", utc=True, errors="coerce")
            result[mask] = (stamps - _EPOCH).dt.total_seconds() + shift
    return result


# --- cleaning -----------------------------------------------------------------
def build_tracks(
    positions: pd.DataFrame,
    *,
    projector: Projector | None = None,
    settings: TrackSettings,
) -> list[Track]:
    """Typed positions → one cleaned ``Track`` per device, sorted by device.

    Parameters
    ----------
    positions
        Typed positions (:func:`read_positions`, :func:`typed_positions`).
    projector
        WGS-84 ↔ metric conversions; None: a UTM zone around the positions.
    settings
        Jump filter and moving thresholds.

    Returns
    -------
    list of Track
        Duplicates, invalid fixes and jumps dropped (counted in ``Track.dropped``), whatever the arrival order.
    """
    if positions.empty:
        return []
    if projector is None:
        projector = UtmProjector.around(lon=float(positions["lon"].median()), lat=float(positions["lat"].median()))
    frame = positions.copy()
    load, ignition, no_fix = decode_status(
        status=frame["status"].to_numpy(dtype=float),
        load=frame["load"].to_numpy(dtype=float),
        ignition=frame["ignition"].to_numpy(dtype=float),
        lon=frame["lon"].to_numpy(dtype=float),
        lat=frame["lat"].to_numpy(dtype=float),
    )
    frame["load"], frame["ignition"] = load, ignition

    # deterministic whatever the arrival order: GPS time, then content
    frame["_nofix"] = no_fix
    frame = frame.sort_values(["device", "t", "lon", "lat", "speed_kmh", "load"], kind="mergesort", na_position="last")
    tracks = []
    for device, rows in frame.groupby("device", sort=True):
        tracks.append(_clean_device(str(device), rows, projector=projector, settings=settings))
    return tracks


def decode_status(
    *, status: np.ndarray, load: np.ndarray, ignition: np.ndarray, lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load and ignition filled from the JT/T 808 status word where not given, and which fixes have no position.

    Parameters
    ----------
    status, load, ignition, lon, lat
        Floats, NaN where not sent (status bit 0 ACC, bit 1 positioned, bits 8-9 load); (0, 0) has no fix.

    Returns
    -------
    tuple of numpy.ndarray
        ``load`` and ``ignition`` (floats, NaN unknown) and ``no_fix`` (bool).
    """
    has_status = ~np.isnan(status)
    st = np.where(has_status, status, 0).astype(np.int64)
    ignition = np.where(np.isnan(ignition) & has_status, st & 1, ignition).astype(float)
    load = np.where(np.isnan(load) & has_status, ((st >> 8) & 3) != 0, load).astype(float)  # bits 8-9: 00 empty
    no_fix = (has_status & ((st & 2) == 0)) | ((lon == 0) & (lat == 0))
    return load, ignition, no_fix


def _clean_device(device: str, rows: pd.DataFrame, *, projector: Projector, settings: TrackSettings) -> Track:
    invalid = rows["_nofix"].to_numpy()
    rows = rows[~invalid]
    lon = rows["lon"].to_numpy(dtype=float)
    lat = rows["lat"].to_numpy(dtype=float)
    x, y = projector.to_xy(lon, lat)
    track = clean_fixes(
        device,
        t=rows["t"].to_numpy(dtype=float),
        lon=lon,
        lat=lat,
        x=np.atleast_1d(x).astype(float),
        y=np.atleast_1d(y).astype(float),
        speed=rows["speed_kmh"].to_numpy(dtype=float),
        load=rows["load"].to_numpy(dtype=float),
        ignition=rows["ignition"].to_numpy(dtype=float),
        settings=settings,
    )
    track.dropped = {k: v for k, v in {"invalid_fix": int(invalid.sum()), **track.dropped}.items() if v}
    return track


def clean_fixes(
    device: str,
    *,
    t: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    speed: np.ndarray,
    load: np.ndarray,
    ignition: np.ndarray,
    settings: TrackSettings,
) -> Track:
    """One device's positioned fixes, in GPS-time order, → a cleaned ``Track`` (the batch audit and the live engine alike).

    Parameters
    ----------
    device, t, lon, lat, x, y
        Device id; times (epoch s, ascending; a repeated time keeps its first fix), WGS-84 and metres.
    speed, load, ignition
        Floats, NaN where the terminal sent nothing.
    settings
        Jump filter thresholds.

    Returns
    -------
    Track
        Duplicates and jumps dropped (counted), speeds implied where not reported.
    """
    duplicate = np.zeros(len(t), dtype=bool)
    duplicate[1:] = t[1:] == t[:-1]
    keep = ~duplicate
    keep[keep] = _jump_filter(t[keep], x[keep], y[keep], settings=settings)
    dropped = {"duplicate": int(duplicate.sum()), "jump": int((~keep).sum() - duplicate.sum())}
    t, lon, lat, x, y, speed, load, ignition = (a[keep] for a in (t, lon, lat, x, y, speed, load, ignition))
    reported = ~np.isnan(speed)
    speed = np.where(reported, speed, _implied_speed_kmh(t, x, y))
    load, ignition = (np.where(np.isnan(a), UNKNOWN, a > 0).astype(np.int8) for a in (load, ignition))
    dropped = {k: v for k, v in dropped.items() if v}
    return Track(device, t, lon, lat, x, y, speed, load, ignition, reported, dropped)


def _jump_filter(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, settings: TrackSettings) -> np.ndarray:
    """Drop fixes whose implied speed from the last good fix exceeds the limit."""
    n = len(t)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    limit = settings.max_speed_kmh / 3.6
    step = np.hypot(np.diff(x), np.diff(y)) / np.maximum(np.diff(t), 1e-9)
    if not np.any(step > limit):
        return keep
    tl, xl, yl = t.tolist(), x.tolist(), y.tolist()
    anchor = 0
    pending: list[int] = []
    for i in range(1, n):
        dt = max(tl[i] - tl[anchor], 1e-9)
        if ((xl[i] - xl[anchor]) ** 2 + (yl[i] - yl[anchor]) ** 2) ** 0.5 / dt <= limit:
            for j in pending:
                keep[j] = False
            pending = []
            anchor = i
            continue
        if pending:
            j = pending[-1]
            dtj = max(tl[i] - tl[j], 1e-9)
            if ((xl[i] - xl[j]) ** 2 + (yl[i] - yl[j]) ** 2) ** 0.5 / dtj > limit:
                for k in pending:
                    keep[k] = False
                pending = []
        pending.append(i)
        if len(pending) >= settings.jump_reset_fixes:
            # the rejected fixes agree with each other: they are real; a lone first fix was the jump
            if anchor == 0:
                keep[0] = False
            anchor = pending[-1]
            pending = []
    for j in pending:
        keep[j] = False
    return keep


def _implied_speed_kmh(t: np.ndarray, x: np.ndarray, y: np.ndarray, *, half_window_s: float = 30.0) -> np.ndarray:
    """Speed at each fix from the displacement over about a minute around it (km/h).

    A one-step estimate would read GPS noise of a parked truck as walking speed.
    """
    n = len(t)
    if n < 2:
        return np.zeros(n)
    before = np.clip(np.searchsorted(t, t - half_window_s, side="right") - 1, 0, n - 1)
    after = np.clip(np.searchsorted(t, t + half_window_s, side="left"), 0, n - 1)
    before = np.where(before == np.arange(n), np.maximum(before - 1, 0), before)
    after = np.where(after == np.arange(n), np.minimum(after + 1, n - 1), after)
    dt = np.maximum(t[after] - t[before], 1e-9)
    return np.hypot(x[after] - x[before], y[after] - y[before]) / dt * 3.6


# --- segmentation -------------------------------------------------------------
def find_stops(track: Track, *, settings: TrackSettings, min_s: float | None = None) -> list[Stop]:
    """Dwells: runs of fixes within ``stop_radius_m`` of their running centroid for ≥ ``min_s``.

    One stray fix outside the radius does not break a stop (GPS noise while parked).

    Parameters
    ----------
    track
        A cleaned track.
    settings
        Stop radius, moving speed and the default shortest stop.
    min_s
        Shortest stop reported; None: ``settings.stop_min_s``.

    Returns
    -------
    list of Stop
    """
    min_s = settings.stop_min_s if min_s is None else min_s
    radius2 = settings.stop_radius_m**2
    n = len(track)
    t, x, y = track.t.tolist(), track.x.tolist(), track.y.tolist()
    # only a speed the terminal reported is sharp enough to trim a stop's ends
    speed = np.where(track.speed_reported, track.speed_kmh, 0.0).tolist()
    moving = settings.moving_speed_kmh
    stops: list[Stop] = []
    # necessary for a stop starting at i: the fix ``min_s`` later is within 2 radii (cheap, vectorised)
    later = np.minimum(np.searchsorted(track.t, track.t + min_s), n - 1)
    candidate = (np.hypot(track.x[later] - track.x, track.y[later] - track.y) <= 2 * settings.stop_radius_m).tolist()
    i = 0
    while i < n:
        if not candidate[i]:
            i += 1
            continue
        sx, sy, count = x[i], y[i], 1
        j = i + 1
        last = i
        while j < n:
            cx, cy = sx / count, sy / count
            if (x[j] - cx) ** 2 + (y[j] - cy) ** 2 <= radius2:
                sx, sy, count, last = sx + x[j], sy + y[j], count + 1, j
                j += 1
                continue
            if j + 1 < n and (x[j + 1] - cx) ** 2 + (y[j + 1] - cy) ** 2 <= radius2:
                j += 1  # a single stray fix
                continue
            break
        if t[last] - t[i] >= min_s and last > i:
            first = i
            while first < last and speed[first] >= moving:  # arriving, not yet stopped
                first += 1
            end = last
            while end > first and speed[end] >= moving:  # already leaving
                end -= 1
            if t[end] - t[first] >= min_s:
                stops.append(Stop(first, end, t[first], t[end], sx / count, sy / count))
            i = last + 1
        else:
            i += 1
    return stops


def find_trips(track: Track, *, settings: TrackSettings) -> list[tuple[int, int]]:
    """Trips as (first, last) fix indices: split where the ignition goes off, at long silences and long parks.

    Parameters
    ----------
    track
        A cleaned track.
    settings
        ``trip_gap_s`` and ``trip_stop_s`` end a trip.

    Returns
    -------
    list of tuple
    """
    n = len(track)
    if n == 0:
        return []
    breaks = np.zeros(n, dtype=bool)  # breaks[i]: a new trip starts at fix i
    breaks[1:] |= np.diff(track.t) > settings.trip_gap_s
    ign = track.ignition
    on = ign != 0
    for stop in find_stops(track, settings=settings, min_s=settings.trip_stop_s):
        breaks[stop.last] = True
        on[stop.first + 1 : stop.last] = False
    segments: list[tuple[int, int]] = []
    start = None
    for i in range(n):
        if breaks[i] and start is not None:
            segments.append((start, i - 1))
            start = None
        if on[i] and start is None:
            start = i
        elif not on[i] and start is not None:
            segments.append((start, i - 1 if i > start else i))
            start = None
    if start is not None:
        segments.append((start, n - 1))
    return [(a, b) for a, b in segments if b > a]


def find_gaps(track: Track, *, settings: TrackSettings, jump_min_s: float | None = None) -> list[Gap]:
    """Silences longer than ``gap_s`` while moving, or of ``jump_min_s`` and more across a ``gap_jump_m`` jump.

    At the usual 10–30 s interval a truck that silently covered that distance had its terminal
    off on the way, however plausible the implied speed (150 s ending 1 km away is one).

    Parameters
    ----------
    track
        A cleaned track.
    settings
        ``gap_s``, ``gap_jump_m`` and the moving speed.
    jump_min_s
        Shortest silence a jump makes a gap; None: ``gap_s``.

    Returns
    -------
    list of Gap
    """
    if len(track) < 2:
        return []
    dt = np.diff(track.t)
    candidates = np.flatnonzero(dt > min(settings.gap_s, settings.gap_s if jump_min_s is None else jump_min_s))
    gaps = []
    moving = track.moving(settings)
    for i in candidates:
        distance = float(np.hypot(track.x[i + 1] - track.x[i], track.y[i + 1] - track.y[i]))
        jump = distance > settings.gap_jump_m
        if dt[i] <= settings.gap_s and not jump:
            continue
        parked = track.ignition[i] == 0
        if (not parked and (bool(moving[i]) or bool(moving[i + 1]))) or jump:
            gaps.append(Gap(int(i), int(i + 1), float(dt[i]), distance, True))
    return gaps
