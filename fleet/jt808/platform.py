"""Platform → terminal commands: text message (0x8300), rectangle and polygon areas (0x8602, 0x8604), route (0x8606).

The layouts are those of JT/T 808-2013 and JT/T 808-2019: 0x8300 文本信息下发 (2013 表37, flags
表38), 0x8602 设置矩形区域 and 0x8604 设置多边形区域 (with the 区域属性 bits), 0x8606 设置路线
(2013 表66 body, 表67 路线属性, 表68 路线拐点项, 表69 路段属性; 表55–58 in JT/T 808-2011, whose
route also had a 包拐点数 byte this codec does not write). 2019 adds a text type after the 0x8300
flags, a night speed limit after each speed limit and a name (length WORD + GBK) at the end of
each area and route.
Coordinates are degrees × 10⁶ as unsigned DWORDs; the hemisphere lives in attribute bits
(area attribute bits 6/7, route segment attribute bits 2/3: 1 = south / west). Times are
BCD ``YYMMDDhhmmss`` in GMT+8, present only when attribute bit 0 is set; speed fields only
when bit 1 is set. Every decoder is the exact inverse of its encoder (tested both ways).
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field
from datetime import datetime

from fleet.jt808.frame import MAX_BODY_LENGTH, Frame
from routing.errors import DecodeError, InvalidInputError
from routing.localtime import CHINA_TZ

TEXT_MESSAGE = 0x8300
SET_RECTANGLES = 0x8602
SET_POLYGON = 0x8604
SET_ROUTE = 0x8606
COMMAND_IDS = (TEXT_MESSAGE, SET_RECTANGLES, SET_POLYGON, SET_ROUTE)

# 0x8300 flag bits (JT/T 808-2013 表38 文本信息标志位含义): 0 emergency, 2 show on the terminal's
# display, 3 read aloud (TTS), 4 advertising screen (2013) / reserved (2019)
TEXT_EMERGENCY = 0x01
TEXT_DISPLAY = 0x04
TEXT_TTS = 0x08
# 2019 text type byte: 1 notice (通知), 2 service (服务)
TEXT_TYPE_NOTICE = 1

# area attribute bits (区域属性): 0 by time, 1 speed limit, 2/3 alarm the driver / the platform on
# entering, 4/5 on leaving, 6 south, 7 west
AREA_BY_TIME = 0x0001
AREA_SPEED = 0x0002
AREA_ENTER_ALARM = 0x0004 | 0x0008
AREA_LEAVE_ALARM = 0x0010 | 0x0020
AREA_SOUTH = 0x0040
AREA_WEST = 0x0080
# route attribute bits (路线属性): 0 by time, 2/3 entering alarms, 4/5 leaving alarms (driver / platform)
ROUTE_BY_TIME = 0x0001
ROUTE_LEAVE_ALARM = 0x0010 | 0x0020
# route segment attribute bits (路段属性): 0 driving-time thresholds, 1 speed limit, 2 south, 3 west
SEGMENT_TIMES = 0x01
SEGMENT_SPEED = 0x02
SEGMENT_SOUTH = 0x04
SEGMENT_WEST = 0x08

# 0x8602 action (设置属性): 0 replace the terminal's rectangles, 1 append, 2 modify
RECTANGLES_REPLACE = 0
RECTANGLES_APPEND = 1

_ROUTE_HEAD = struct.Struct(">IH")
_POINT = struct.Struct(">IIIIBB")
_AREA_HEAD = struct.Struct(">IH")
_CORNERS = struct.Struct(">IIII")
_VERTEX = struct.Struct(">II")
_WORD = struct.Struct(">H")
_SPEED = struct.Struct(">HB")


@dataclass(slots=True)
class TextMessage:
    """0x8300 文本信息下发: flags, GBK text (2019: a text type byte between them)."""

    text: str
    flags: int = TEXT_DISPLAY | TEXT_TTS
    text_type: int = TEXT_TYPE_NOTICE


@dataclass(slots=True)
class Limits:
    """The optional time window (bit 0) and speed limit (bit 1) shared by areas and routes."""

    start: datetime | None = None
    end: datetime | None = None
    max_speed_kmh: int | None = None
    overspeed_s: int | None = None
    night_speed_kmh: int | None = None  # 2019 only


@dataclass(slots=True)
class RoutePoint:
    """路线拐点项: a turning point; the segment from it to the next point is ``width_m`` wide."""

    point_id: int
    segment_id: int
    lat: float
    lon: float
    width_m: int
    long_s: int | None = None  # 路段行驶过长阈值 (attribute bit 0)
    short_s: int | None = None  # 路段行驶不足阈值
    max_speed_kmh: int | None = None  # 路段最高速度 (attribute bit 1)
    overspeed_s: int | None = None
    night_speed_kmh: int | None = None  # 2019


@dataclass(slots=True)
class SetRoute:
    """0x8606 设置路线: a route of turning points the terminal watches by itself."""

    route_id: int
    attributes: int = ROUTE_LEAVE_ALARM
    points: list[RoutePoint] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    name: str = ""  # 2019


@dataclass(slots=True)
class Rectangle:
    """矩形区域项: an area given by its north-west and south-east corners."""

    area_id: int
    attributes: int
    north: float
    west: float
    south: float
    east: float
    limits: Limits = field(default_factory=Limits)
    name: str = ""  # 2019


@dataclass(slots=True)
class SetRectangles:
    """0x8602 设置矩形区域: replace, append to or modify the terminal's rectangles."""

    areas: list[Rectangle]
    action: int = RECTANGLES_APPEND


@dataclass(slots=True)
class SetPolygon:
    """0x8604 设置多边形区域: one polygon (its vertices, not closed) per message."""

    area_id: int
    attributes: int
    vertices: list[tuple[float, float]]  # (lat, lon)
    limits: Limits = field(default_factory=Limits)
    name: str = ""  # 2019


COMMAND_TYPES = {TEXT_MESSAGE: TextMessage, SET_RECTANGLES: SetRectangles, SET_POLYGON: SetPolygon, SET_ROUTE: SetRoute}


def command_id(body) -> int:
    """The message id of a command body object."""
    return next(msg_id for msg_id, kind in COMMAND_TYPES.items() if isinstance(body, kind))


def _micro(value: float) -> int:
    return round(abs(value) * 1e6)


def _bcd(moment: datetime) -> bytes:
    return bytes.fromhex(moment.astimezone(CHINA_TZ).strftime("%y%m%d%H%M%S"))


def _name(text: str, version: str) -> bytes:
    if version != "2019":
        return b""
    raw = text.encode("gbk")
    return _WORD.pack(len(raw)) + raw


def _limits(limits: Limits, attributes: int, version: str) -> tuple[bytes, bytes]:
    """(time window + speed limit, 2019 night speed) bytes as the attribute bits ask."""
    head = b""
    if attributes & 0x01:
        if limits.start is None or limits.end is None:
            raise InvalidInputError("属性第0位要求起止时间 / attribute bit 0 set: start and end times are required")
        head += _bcd(limits.start) + _bcd(limits.end)
    night = b""
    if attributes & 0x02:
        if limits.max_speed_kmh is None:
            raise InvalidInputError("属性第1位要求最高速度 / attribute bit 1 set: max_speed_kmh is required")
        head += _SPEED.pack(limits.max_speed_kmh, limits.overspeed_s or 0)
        if version == "2019":
            night = _WORD.pack(limits.night_speed_kmh or limits.max_speed_kmh)
    return head, night


def _hemisphere(lat: float, lon: float, south: int, west: int) -> int:
    return (south if lat < 0 else 0) | (west if lon < 0 else 0)


def encode_command(body, *, version: str = "2013") -> bytes:
    """The body bytes of a command for a terminal speaking ``version`` ("2013" or "2019").

    Raises
    ------
    InvalidInputError
        Text that is not GBK, a body longer than one frame holds (``MAX_BODY_LENGTH``), a field out of range.
    """
    try:
        data = _encode(body, version)
    except struct.error as error:
        raise InvalidInputError(f"命令字段超出范围 / a {type(body).__name__} field is out of range: {error}") from None
    except UnicodeEncodeError as error:
        raise InvalidInputError(
            f"文本无法以GBK编码 / {error.object[error.start : error.end]!r} has no GBK encoding"
        ) from None
    if len(data) > MAX_BODY_LENGTH:
        raise InvalidInputError(
            f"命令过长 / the 0x{command_id(body):04X} body is {len(data)} bytes, one frame holds at most "
            f"{MAX_BODY_LENGTH} ({_what_fits(body, version)})"
        )
    return data


def _what_fits(body, version: str) -> str:
    if isinstance(body, TextMessage):
        return f"text up to {MAX_BODY_LENGTH - (2 if version == '2019' else 1)} GBK bytes, a Chinese character takes 2"
    return "fewer points or vertices"


def _encode(body, version: str) -> bytes:
    if isinstance(body, TextMessage):
        head = bytes((body.flags, body.text_type)) if version == "2019" else bytes((body.flags,))
        return head + body.text.encode("gbk")
    if isinstance(body, SetRoute):
        return _encode_route(body, version)
    if isinstance(body, SetRectangles):
        parts = [bytes((body.action, len(body.areas)))]
        for area in body.areas:
            attributes = area.attributes | _hemisphere(area.north, area.west, AREA_SOUTH, AREA_WEST)
            head, night = _limits(area.limits, attributes, version)
            corners = _CORNERS.pack(_micro(area.north), _micro(area.west), _micro(area.south), _micro(area.east))
            parts.append(_AREA_HEAD.pack(area.area_id, attributes) + corners + head + night + _name(area.name, version))
        return b"".join(parts)
    if isinstance(body, SetPolygon):
        lat, lon = body.vertices[0] if body.vertices else (0.0, 0.0)
        attributes = body.attributes | _hemisphere(lat, lon, AREA_SOUTH, AREA_WEST)
        head, night = _limits(body.limits, attributes, version)
        vertices = b"".join(_VERTEX.pack(_micro(la), _micro(lo)) for la, lo in body.vertices)
        return (
            _AREA_HEAD.pack(body.area_id, attributes)
            + head
            + _WORD.pack(len(body.vertices))
            + vertices
            + night
            + _name(body.name, version)
        )
    raise TypeError(f"no command encoder for {type(body).__name__}")


def _encode_route(body: SetRoute, version: str) -> bytes:
    head, _ = _limits(Limits(start=body.start, end=body.end), body.attributes & 0x01, version)
    parts = [_ROUTE_HEAD.pack(body.route_id, body.attributes), head, _WORD.pack(len(body.points))]
    for point in body.points:
        attributes = (
            (SEGMENT_TIMES if point.long_s is not None else 0)
            | (SEGMENT_SPEED if point.max_speed_kmh is not None else 0)
            | _hemisphere(point.lat, point.lon, SEGMENT_SOUTH, SEGMENT_WEST)
        )
        item = _POINT.pack(
            point.point_id, point.segment_id, _micro(point.lat), _micro(point.lon), point.width_m, attributes
        )
        if attributes & SEGMENT_TIMES:
            item += struct.pack(">HH", point.long_s, point.short_s or 0)
        if attributes & SEGMENT_SPEED:
            item += _SPEED.pack(point.max_speed_kmh, point.overspeed_s or 0)
            if version == "2019":
                item += _WORD.pack(point.night_speed_kmh or point.max_speed_kmh)
        parts.append(item)
    parts.append(_name(body.name, version))
    return b"".join(parts)


# --- decoding (the terminal's side; tests and ``qingyun jt808 decode``) -------------------


class _Reader:
    """Reads a body front to back; running out raises DecodeError at the wire offset."""

    def __init__(self, frame: Frame) -> None:
        self.frame, self.at = frame, 0

    def take(self, size: int, what: str) -> bytes:
        if self.at + size > len(self.frame.body):
            raise self.frame.error(self.at, f"0x{self.frame.msg_id:04X} body ends inside {what}")
        out = self.frame.body[self.at : self.at + size]
        self.at += size
        return out

    def unpack(self, layout: struct.Struct, what: str) -> tuple:
        return layout.unpack(self.take(layout.size, what))

    def time(self, what: str) -> datetime:
        digits = self.take(6, what).hex()
        try:
            return datetime.strptime(digits, "%y%m%d%H%M%S").replace(tzinfo=CHINA_TZ)
        except ValueError:
            raise self.frame.error(self.at - 6, f"{what} {digits} is not a BCD time") from None

    def name(self) -> str:
        if self.frame.version != "2019":
            return ""
        (length,) = self.unpack(_WORD, "the name length")
        return self.take(length, "the name").decode("gbk", "replace")

    def done(self) -> None:
        if self.at != len(self.frame.body):
            raise self.frame.error(self.at, f"{len(self.frame.body) - self.at} bytes after the message's fields")


def _degrees(value: int, negative: bool) -> float:
    return -value / 1e6 if negative else value / 1e6


def _read_limits(reader: _Reader, attributes: int) -> Limits:
    limits = Limits()
    if attributes & 0x01:
        limits.start, limits.end = reader.time("the start time"), reader.time("the end time")
    if attributes & 0x02:
        limits.max_speed_kmh, limits.overspeed_s = reader.unpack(_SPEED, "the speed limit")
    return limits


def _night(reader: _Reader, attributes: int, limits: Limits) -> None:
    if reader.frame.version == "2019" and attributes & 0x02:
        (limits.night_speed_kmh,) = reader.unpack(_WORD, "the night speed limit")


def decode_command(frame: Frame):
    """The command body object of a 0x8300/0x8602/0x8604/0x8606 frame (raises DecodeError naming the offset)."""
    reader = _Reader(frame)
    if frame.msg_id == TEXT_MESSAGE:
        flags = reader.take(1, "the flags")[0]
        text_type = reader.take(1, "the text type")[0] if frame.version == "2019" else TEXT_TYPE_NOTICE
        text = reader.take(len(frame.body) - reader.at, "the text").decode("gbk", "replace")
        return TextMessage(text=text, flags=flags, text_type=text_type)
    if frame.msg_id == SET_ROUTE:
        body = _decode_route(reader)
    elif frame.msg_id == SET_POLYGON:
        area_id, attributes = reader.unpack(_AREA_HEAD, "the area id and attributes")
        limits = _read_limits(reader, attributes)
        (count,) = reader.unpack(_WORD, "the vertex count")
        south, west = bool(attributes & AREA_SOUTH), bool(attributes & AREA_WEST)
        vertices = []
        for number in range(count):
            lat, lon = reader.unpack(_VERTEX, f"vertex #{number + 1}")
            vertices.append((_degrees(lat, south), _degrees(lon, west)))
        _night(reader, attributes, limits)
        body = SetPolygon(area_id, attributes, vertices, limits, reader.name())
    else:
        action, count = reader.take(2, "the action and area count")
        areas = []
        for number in range(count):
            area_id, attributes = reader.unpack(_AREA_HEAD, f"area #{number + 1}")
            north, west_, south_, east = reader.unpack(_CORNERS, f"the corners of area #{number + 1}")
            south, west = bool(attributes & AREA_SOUTH), bool(attributes & AREA_WEST)
            limits = _read_limits(reader, attributes)
            _night(reader, attributes, limits)
            corners = (_degrees(north, south), _degrees(west_, west), _degrees(south_, south), _degrees(east, west))
            areas.append(Rectangle(area_id, attributes, *corners, limits=limits, name=reader.name()))
        body = SetRectangles(areas=areas, action=action)
    reader.done()
    return body


def _decode_route(reader: _Reader) -> SetRoute:
    route_id, attributes = reader.unpack(_ROUTE_HEAD, "the route id and attributes")
    window = _read_limits(reader, attributes & 0x01)
    (count,) = reader.unpack(_WORD, "the turning point count")
    points = []
    for number in range(count):
        point_id, segment_id, lat, lon, width, bits = reader.unpack(_POINT, f"turning point #{number + 1}")
        lat_, lon_ = _degrees(lat, bool(bits & SEGMENT_SOUTH)), _degrees(lon, bool(bits & SEGMENT_WEST))
        point = RoutePoint(point_id, segment_id, lat_, lon_, width)
        if bits & SEGMENT_TIMES:
            point.long_s, point.short_s = struct.unpack(">HH", reader.take(4, f"the times of point #{number + 1}"))
        if bits & SEGMENT_SPEED:
            point.max_speed_kmh, point.overspeed_s = reader.unpack(_SPEED, f"the speed of point #{number + 1}")
            if reader.frame.version == "2019":
                (point.night_speed_kmh,) = reader.unpack(_WORD, f"the night speed of point #{number + 1}")
        points.append(point)
    return SetRoute(route_id, attributes, points, window.start, window.end, reader.name())


# --- JSON (what the command queue stores) --------------------------------------------------


def command_json(body) -> dict:
    """A command body as JSON-ready data (times ISO 8601), the inverse of :func:`command_from_json`."""

    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    return plain(asdict(body))


def command_from_json(msg_id: int, data: dict):
    """The body object stored by :func:`command_json` for message ``msg_id``.

    Raises
    ------
    DecodeError
        An unknown message id or a document that does not fit its body type.
    """

    def limits(raw: dict) -> Limits:
        times = {key: datetime.fromisoformat(raw[key]) if raw.get(key) else None for key in ("start", "end")}
        return Limits(**{**raw, **times})

    try:
        if msg_id == TEXT_MESSAGE:
            return TextMessage(**data)
        if msg_id == SET_ROUTE:
            times = {key: datetime.fromisoformat(data[key]) if data.get(key) else None for key in ("start", "end")}
            points = [RoutePoint(**point) for point in data["points"]]
            return SetRoute(**{**data, **times, "points": points})
        if msg_id == SET_POLYGON:
            vertices = [tuple(vertex) for vertex in data["vertices"]]
            return SetPolygon(**{**data, "vertices": vertices, "limits": limits(data["limits"])})
        if msg_id == SET_RECTANGLES:
            areas = [Rectangle(**{**area, "limits": limits(area["limits"])}) for area in data["areas"]]
            return SetRectangles(areas=areas, action=data["action"])
    except (KeyError, TypeError, ValueError) as error:
        raise DecodeError(0, f"stored 0x{msg_id:04X} command does not fit its body: {error}") from None
    raise DecodeError(0, f"0x{msg_id:04X} is not a platform command this gateway sends")
