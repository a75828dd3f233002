"""0x0200 location bodies: base fields, named status/alarm flags and additional items.

Decoding is on the ingest hot path, so it is one precompiled ``struct`` unpack plus a
tight item loop; named flags and item meanings are computed only when asked for
(``status_flags``, ``alarm_names``, ``interpret_items``). Items are kept generically
by id and length because devices reuse ids with vendor layouts; the standard ones are
interpreted only when their length matches the standard.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime

from routing.errors import DecodeError
from routing.localtime import CHINA_TZ

BASE_LENGTH = 28
_BASE = struct.Struct(">IIIIhHH6s")
_TIMES: dict[bytes, datetime] = {}  # BCD stamp → datetime (bounded; cleared when full)
_TIMES_KEPT = 8192
# byte → its BCD value, -1 for bytes with a nibble above 9
_BCD = tuple((b >> 4) * 10 + (b & 15) if b >> 4 < 10 and b & 15 < 10 else -1 for b in range(256))

SOUTH_BIT = 0x04
WEST_BIT = 0x08

LOAD_STATES = ("empty", "half", "reserved", "full")  # status bits 8–9
ALARM_BITS = (
    "emergency",
    "overspeed",
    "fatigue_driving",
    "danger_warning",
    "gnss_fault",
    "gnss_antenna_disconnected",
    "gnss_antenna_short",
    "undervoltage",
    "power_off",
    "display_fault",
    "tts_fault",
    "camera_fault",
    "ic_card_fault",
    "overspeed_warning",
    "fatigue_warning",
    "bit15",
    "bit16",
    "bit17",
    "daily_driving_overtime",
    "overtime_parking",
    "area_in_out",
    "route_in_out",
    "route_time_abnormal",
    "route_deviation",
    "vss_fault",
    "fuel_abnormal",
    "vehicle_stolen",
    "illegal_ignition",
    "illegal_move",
    "collision_warning",
    "rollover_warning",
    "illegal_door_open",
)
_GNSS_BITS = ((18, "gps"), (19, "beidou"), (20, "glonass"), (21, "galileo"))


@dataclass(slots=True)
class Location:
    """A decoded 0x0200 body. ``time`` is the terminal's GPS time, aware, UTC+8."""

    alarm: int
    status: int
    lat: float
    lon: float
    altitude_m: int
    speed_kmh: float
    heading: int
    time: datetime
    items: dict[int, bytes] = field(default_factory=dict)

    def items_bytes(self) -> bytes:
        """The additional items re-serialised as id, length, value (lossless storage)."""
        return b"".join(bytes((item_id, len(value))) + value for item_id, value in self.items.items())


def decode_location(body: bytes, *, error_at=None, start: int = 0, end: int | None = None) -> Location:
    """Decode a 0x0200 body found at ``body[start:end]``.

    ``error_at(index, reason)`` builds the DecodeError for an index in ``body`` (the
    frame supplies one mapping back to the wire offset); default: the index itself.

    Parameters
    ----------
    body
        Bytes holding the location body.
    error_at
        ``(index, reason) -> DecodeError``; None to report the index in ``body`` itself.
    start, end
        Slice of ``body`` that is the location; ``end`` None means to the end.

    Returns
    -------
    Location
        Latitude/longitude in degrees (signed by the south/west bits), speed in km/h,
        UTC+8 time and the additional items by id.

    Raises
    ------
    DecodeError
        A body shorter than the base fields, an invalid BCD time or a cut-off additional item.
    """
    stop = len(body) if end is None else end
    if stop - start < BASE_LENGTH:
        raise _error(error_at, start, f"location body has {stop - start} bytes, needs at least {BASE_LENGTH}")
    alarm, status, lat_raw, lon_raw, altitude, speed, heading, stamp = _BASE.unpack_from(body, start)
    time = _TIMES.get(stamp)
    if time is None:
        time = _bcd_datetime(stamp, error_at, start + 22)
    items: dict[int, bytes] = {}
    position = start + BASE_LENGTH
    while position < stop:
        if position + 2 > stop:
            raise _error(error_at, position, "additional item header cut off (needs id and length)")
        item_id = body[position]
        following = position + 2 + body[position + 1]
        if following > stop:
            raise _error(
                error_at,
                position,
                f"additional item 0x{item_id:02X} declares {body[position + 1]} bytes, only {stop - position - 2} left",
            )
        items[item_id] = body[position + 2 : following]
        position = following
    return Location(
        alarm=alarm,
        status=status,
        lat=-lat_raw / 1e6 if status & SOUTH_BIT else lat_raw / 1e6,
        lon=-lon_raw / 1e6 if status & WEST_BIT else lon_raw / 1e6,
        altitude_m=altitude,
        speed_kmh=speed / 10,
        heading=heading,
        time=time,
        items=items,
    )


def _bcd_datetime(stamp: bytes, error_at, index: int) -> datetime:
    """YYMMDDhhmmss BCD → aware UTC+8 datetime, remembered: a fleet reports the same seconds."""
    bcd = _BCD
    yy, mo, dd, hh, mi, ss = stamp
    try:
        if bcd[yy] < 0:  # other invalid digits (-1) fail datetime's own range checks
            raise ValueError("not BCD")
        time = datetime(2000 + bcd[yy], bcd[mo], bcd[dd], bcd[hh], bcd[mi], bcd[ss], tzinfo=CHINA_TZ)
    except ValueError:
        raise _error(error_at, index, f"GPS time BCD {stamp.hex()} is not a valid YYMMDDhhmmss") from None
    if len(_TIMES) >= _TIMES_KEPT:
        _TIMES.clear()
    _TIMES[stamp] = time
    return time


def _error(error_at, index: int, reason: str) -> DecodeError:
    return error_at(index, reason) if error_at is not None else DecodeError(index, reason)


def encode_location(location: Location) -> bytes:
    """Serialise a Location; the south/west status bits follow the signs of lat/lon."""
    status = (
        (location.status & ~(SOUTH_BIT | WEST_BIT))
        | (SOUTH_BIT if location.lat < 0 else 0)
        | (WEST_BIT if location.lon < 0 else 0)
    )
    local = location.time.astimezone(CHINA_TZ)
    bcd = bytes.fromhex(local.strftime("%y%m%d%H%M%S"))
    return (
        _BASE.pack(
            location.alarm,
            status,
            round(abs(location.lat) * 1e6),
            round(abs(location.lon) * 1e6),
            location.altitude_m,
            round(location.speed_kmh * 10),
            location.heading,
            bcd,
        )
        + location.items_bytes()
    )


def status_flags(status: int) -> dict[str, object]:
    """Named status bits (JT/T 808-2013 table 24): ACC, fix, hemisphere, load, circuits, GNSS."""
    return {
        "acc": bool(status & 0x01),
        "fix": bool(status & 0x02),
        "south": bool(status & SOUTH_BIT),
        "west": bool(status & WEST_BIT),
        "in_service": not status & 0x10,
        "coordinates_encrypted": bool(status & 0x20),
        "load": LOAD_STATES[(status >> 8) & 0x03],
        "oil_cut": bool(status & 0x400),
        "circuit_cut": bool(status & 0x800),
        "doors_locked": bool(status & 0x1000),
        "doors_open": [door for door in range(1, 6) if status & (1 << (12 + door))],
        "gnss": [name for bit, name in _GNSS_BITS if status & (1 << bit)],
    }


def alarm_names(alarm: int) -> list[str]:
    """Names of the set alarm bits (JT/T 808-2013 table 24)."""
    return [name for bit, name in enumerate(ALARM_BITS) if alarm & (1 << bit)]


def _u(value: bytes) -> int:
    return int.from_bytes(value, "big")


def _bcd_time(value: bytes) -> str:
    digits = value.hex()
    if not digits.isdigit():
        return digits
    return f"20{digits[0:2]}-{digits[2:4]}-{digits[4:6]}T{digits[6:8]}:{digits[8:10]}:{digits[10:12]}+08:00"


def _area(value: bytes) -> dict[str, int]:
    out = {"position_type": value[0]}
    if len(value) >= 5:
        out["area_id"] = _u(value[1:5])
    if len(value) == 6:
        out["direction"] = value[5]
    return out


def _active_safety(value: bytes) -> dict[str, object]:
    """苏标 T/JSATL12 ADAS (0x64) / DSM (0x65) alarm: the fields both layouts share."""
    return {
        "alarm_id": _u(value[0:4]),
        "flag": value[4],
        "event_type": value[5],
        "level": value[6],
        "speed_kmh": value[12],
        "altitude_m": _u(value[13:15]),
        "lat_raw": _u(value[15:19]),
        "lon_raw": _u(value[19:23]),
        "time": _bcd_time(value[23:29]),
        "vehicle_status": _u(value[29:31]),
        "terminal_id": value[31:38].rstrip(b"\x00").decode("ascii", "replace"),
        "evidence_time": _bcd_time(value[38:44]),
        "evidence_serial": value[44],
        "attachments": value[45],
    }


# (item id, standard length or None for any) -> interpretation of the value bytes
_KNOWN_ITEMS = {
    (0x01, 4): lambda v: {"mileage_km": _u(v) / 10},
    (0x02, 2): lambda v: {"fuel_l": _u(v) / 10},
    (0x03, 2): lambda v: {"tachograph_speed_kmh": _u(v) / 10},
    (0x04, 2): lambda v: {"manual_alarm_event_id": _u(v)},
    (0x05, 30): lambda v: {"tyre_pressure_pa": [None if b == 0xFF else b for b in v]},
    (0x06, 2): lambda v: {"cabin_temperature_c": int.from_bytes(v, "big", signed=True)},
    (0x11, 1): _area,
    (0x11, 5): _area,
    (0x12, 6): _area,
    (0x13, 7): lambda v: {"route_id": _u(v[0:4]), "time_s": _u(v[4:6]), "result": v[6]},
    (0x25, 4): lambda v: {"extended_signals": _u(v)},
    (0x2A, 2): lambda v: {"io": _u(v)},
    (0x2B, 4): lambda v: {"analog_ad0": _u(v[2:4]), "analog_ad1": _u(v[0:2])},
    (0x30, 1): lambda v: {"signal": v[0]},
    (0x31, 1): lambda v: {"satellites": v[0]},
    (0x64, 47): _active_safety,
    (0x65, 47): _active_safety,
}


def interpret_items(items: dict[int, bytes]) -> dict[str, dict[str, object]]:
    """JSON-ready items: known ids with their standard length interpreted, the others as raw hex."""
    out: dict[str, dict[str, object]] = {}
    for item_id, value in items.items():
        reader = _KNOWN_ITEMS.get((item_id, len(value)))
        out[f"0x{item_id:02X}"] = reader(value) if reader is not None else {"hex": value.hex()}
    return out


def location_json(location: Location) -> dict[str, object]:
    """The CLI/API shape of a location body."""
    return {
        "alarm": location.alarm,
        "status": location.status,
        "lat": location.lat,
        "lon": location.lon,
        "altitude_m": location.altitude_m,
        "speed_kmh": location.speed_kmh,
        "heading": location.heading,
        "time": location.time.isoformat(),
        "flags": status_flags(location.status),
        "alarms": alarm_names(location.alarm),
        "items": interpret_items(location.items),
    }
