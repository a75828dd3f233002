"""Kim, Kim & Sahoo (2006) waste-collection VRPTW instances (``NNN_stop.txt``).

Format (``../shared/benchmarks/waste_kim2006/kim_benchmark_description.html``): five
header lines — vehicle capacity [yd³], route yardage allowed per vehicle per day [yd³],
regular stops allowed per vehicle per day, lunch duration [s], speed [mph] — a column
header, then one row per stop: id, x [ft], y [ft], earliest and latest service start
(HHMM), service time [s], load [yd³], type (0 depot, 1 regular stop, 2 disposal site).

The authors recommend Manhattan distance and the header speed for the travel matrix; the
lunch (header duration) starts between 11:00 and 12:00. Every route ends with a disposal
visit and returns to the depot empty. The files are read from ../shared, never copied
into the project (research use with citation of Kim, Kim & Sahoo, C&OR 33(12) 2006).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from routing.errors import InputFileError

FEET_PER_MILE = 5280.0
LUNCH_EARLIEST_START_S = 11 * 3600
LUNCH_LATEST_START_S = 12 * 3600

DEPOT, STOP, DISPOSAL = 0, 1, 2


@dataclass(frozen=True)
class KimInstance:
    """One Kim 2006 instance; arrays are in file row order (times in seconds after midnight)."""

    name: str
    source: Path
    vehicle_capacity_yd3: float
    route_capacity_yd3: float
    max_stops_per_route: int
    lunch_duration_s: float
    speed_mph: float
    ids: list[str]
    kind: np.ndarray  # DEPOT / STOP / DISPOSAL per row
    x_ft: np.ndarray
    y_ft: np.ndarray
    earliest_s: np.ndarray
    latest_s: np.ndarray
    service_s: np.ndarray
    load_yd3: np.ndarray  # 0 for the depot and disposal rows (the file's 9999 placeholder)
    anomalies: list[str] = field(default_factory=list)  # oddities read leniently, with file:line

    @property
    def depot(self) -> int:
        return int(np.flatnonzero(self.kind == DEPOT)[0])

    @property
    def stops(self) -> np.ndarray:
        return np.flatnonzero(self.kind == STOP)

    @property
    def disposals(self) -> np.ndarray:
        return np.flatnonzero(self.kind == DISPOSAL)

    def distance_ft(self) -> np.ndarray:
        """Manhattan distance matrix in feet, as the authors recommend."""
        return np.abs(self.x_ft[:, None] - self.x_ft[None, :]) + np.abs(self.y_ft[:, None] - self.y_ft[None, :])

    def travel_s(self, distance_ft: np.ndarray) -> np.ndarray:
        """Travel time at the header speed (102_stop rows 0→1: 15,387 ft → 262.3 s at 40 mph)."""
        return distance_ft / FEET_PER_MILE / self.speed_mph * 3600.0


def hhmm_to_seconds(value: str, *, where: str, anomalies: list[str]) -> float:
    """HHMM (e.g. ``0730``, ``730``, ``2400``) to seconds after midnight.

    A few published rows carry minutes ≥ 60 (``1675`` in 2100_stop.txt); they are read as
    hours·3600 + minutes·60 (16:75 → 17:15) and listed in ``anomalies``.

    Parameters
    ----------
    value : str
        The time as written in the file (HHMM, leading zero optional).
    where : str
        ``file:line`` for messages.
    anomalies : list of str
        Receives a note for each time read leniently (minutes ≥ 60); changed in place.

    Returns
    -------
    float
        Seconds after midnight.

    Raises
    ------
    InputFileError
        If the value is not a number or is negative or past 24 hours.
    """
    try:
        number = int(float(value))
    except ValueError:
        raise InputFileError(f"{where}: time {value!r} is not HHMM") from None
    hours, minutes = divmod(number, 100)
    if number < 0 or hours > 24:
        raise InputFileError(f"{where}: time {value!r} is not HHMM")
    if minutes >= 60:
        anomalies.append(f"{where}: time {value} has {minutes} minutes, read as {hours}:00 + {minutes} min")
    return float(hours * 3600 + minutes * 60)


def read_kim(path: Path | str) -> KimInstance:
    """Read a Kim 2006 instance file.

    Parameters
    ----------
    path : Path or str
        A ``*_stop.txt`` file.

    Returns
    -------
    KimInstance
        The header, stops and disposal sites.

    Raises
    ------
    InputFileError
        If the file cannot be read or a value is malformed (named with file:line).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="latin-1").splitlines()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc
    if len(lines) < 7:
        raise InputFileError(f"{path}: expected 5 header lines, a column header and stop rows")

    header: list[float] = []
    labels = ["vehicle capacity", "route yardage per day", "stops per day", "lunch duration", "speed"]
    for number, label in enumerate(labels, start=1):
        token = (lines[number - 1].split() or [""])[0]
        try:
            header.append(float(token))
        except ValueError:
            raise InputFileError(f"{path}:{number}: {label} {token!r} is not a number") from None
        if header[-1] <= 0:
            raise InputFileError(f"{path}:{number}: {label} must be positive, got {token}")

    anomalies: list[str] = []
    ids: list[str] = []
    columns: list[list[float]] = [[] for _ in range(7)]
    for number, raw in enumerate(lines[6:], start=7):
        parts = raw.split()
        if not parts:
            continue
        where = f"{path}:{number}"
        if len(parts) < 8:
            raise InputFileError(f"{where}: a stop row needs 8 fields, got {len(parts)}: {raw.strip()!r}")
        ids.append(parts[0])
        try:
            x, y = float(parts[1]), float(parts[2])
            service, load, kind = float(parts[5]), float(parts[6]), int(parts[7])
        except ValueError:
            raise InputFileError(f"{where}: stop {parts[0]} has a non-numeric field: {raw.strip()!r}") from None
        if kind not in (DEPOT, STOP, DISPOSAL):
            raise InputFileError(f"{where}: stop {parts[0]} has type {kind}, expected 0, 1 or 2")
        earliest = hhmm_to_seconds(parts[3], where=where, anomalies=anomalies)
        latest = hhmm_to_seconds(parts[4], where=where, anomalies=anomalies)
        if latest < earliest:
            raise InputFileError(f"{where}: stop {parts[0]} window {parts[3]}–{parts[4]} ends before it starts")
        if service < 0 or (kind == STOP and load < 0):
            raise InputFileError(f"{where}: stop {parts[0]} has a negative service time or load")
        for target, value in zip(columns, (x, y, earliest, latest, service, load if kind == STOP else 0.0, kind)):
            target.append(value)

    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(i for i in ids if i in seen or seen.add(i))
        raise InputFileError(f"{path}: stop id {duplicate} appears more than once")
    kind_array = np.asarray(columns[6], dtype=np.int64)
    if int((kind_array == DEPOT).sum()) != 1:
        raise InputFileError(f"{path}: expected exactly one depot row (type 0), found {(kind_array == DEPOT).sum()}")
    if not (kind_array == DISPOSAL).any():
        raise InputFileError(f"{path}: no disposal site (type 2)")
    loads = np.asarray(columns[5])
    too_big = np.flatnonzero(loads > header[0])
    if too_big.size:
        raise InputFileError(f"{path}: stop {ids[too_big[0]]} load {loads[too_big[0]]} exceeds the vehicle capacity")

    return KimInstance(
        name=path.name,
        source=path,
        vehicle_capacity_yd3=header[0],
        route_capacity_yd3=header[1],
        max_stops_per_route=int(header[2]),
        lunch_duration_s=header[3],
        speed_mph=header[4],
        ids=ids,
        kind=kind_array,
        x_ft=np.asarray(columns[0]),
        y_ft=np.asarray(columns[1]),
        earliest_s=np.asarray(columns[2]),
        latest_s=np.asarray(columns[3]),
        service_s=np.asarray(columns[4]),
        load_yd3=loads,
        anomalies=anomalies,
    )
