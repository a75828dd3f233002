"""What the platform pushes to a terminal so it alarms by itself: a permit's corridor as a route, zones as areas.

A permit's approved route (``permit.document.route``, a WGS-84 LineString) becomes a 0x8606 route
of turning points: the line is simplified (Douglas–Peucker, within a tenth of the corridor's
half-width) so it fits one frame, and every segment gets the road width ``2 × corridor_m``, the
width the batch audit allows. A restricted zone becomes a 0x8602 rectangle when it is an
axis-aligned box, else one 0x8604 polygon per part, alarming on entry. Route and area ids are
the CRC-32 of the permit or zone id, so pushing the same permit again replaces it on the terminal.
``queue_text``, ``queue_route`` and ``queue_zone`` are what the CLI and the API call: they check
that the command fits one frame for the terminal's protocol version, then queue it
(``fleet.tracks.commands``) for the gateway that holds the terminal.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

from sqlalchemy import JSON, String, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Engine

from fleet.jt808.frame import MAX_BODY_LENGTH
from fleet.jt808.platform import (
    AREA_ENTER_ALARM,
    RECTANGLES_APPEND,
    ROUTE_LEAVE_ALARM,
    TEXT_DISPLAY,
    TEXT_EMERGENCY,
    TEXT_TTS,
    Rectangle,
    RoutePoint,
    SetPolygon,
    SetRectangles,
    SetRoute,
    TextMessage,
    command_id,
    command_json,
    encode_command,
)
from fleet.tracks.commands import Command, queue_command
from fleet.tracks.store import Terminal, normalise_phone
from routing.errors import InputFileError, InvalidInputError, NotFoundError

MAX_WIDTH_M = 255  # 路段宽度 is one byte (metres)
_EARTH_M = 6_371_008.8
_PERMIT = sa_table("permit", sa_column("permit_id", String), sa_column("device", String), sa_column("document", JSON))
_ZONE = sa_table(
    "zone", sa_column("id", String), sa_column("name", String), sa_column("kind", String), sa_column("document", JSON)
)


def stable_id(key: str) -> int:
    """A 32-bit id for a route or area (CRC-32 of the permit or zone id): the same key, the same id."""
    return zlib.crc32(key.encode("utf-8")) & 0xFFFFFFFF


def _simplify(points: list[tuple[float, float]], tolerance_m: float) -> list[tuple[float, float]]:
    """Douglas–Peucker on (lon, lat) in a local metric projection; keeps both ends."""
    if len(points) < 3:
        return points
    lat0 = math.radians(sum(lat for _, lat in points) / len(points))
    xy = [(math.radians(lon) * math.cos(lat0) * _EARTH_M, math.radians(lat) * _EARTH_M) for lon, lat in points]
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (ax, ay), (bx, by) = xy[first], xy[last]
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        farthest, distance = first, 0.0
        for index in range(first + 1, last):
            px, py = xy[index]
            if length == 0:
                off = math.hypot(px - ax, py - ay)
            else:
                off = abs(dx * (ay - py) - dy * (ax - px)) / length
            if off > distance:
                farthest, distance = index, off
        if distance > tolerance_m:
            keep[farthest] = True
            stack += [(first, farthest), (farthest, last)]
    return [point for point, kept in zip(points, keep, strict=True) if kept]


def route_command(
    coordinates: list[list[float]], *, corridor_m: float, route_id: int, name: str = "", version: str = "2013"
) -> SetRoute:
    """A 0x8606 route along a WGS-84 line whose segments are ``2 × corridor_m`` wide, alarming when the truck leaves it.

    Parameters
    ----------
    coordinates
        The line's [lon, lat] pairs (at least two).
    corridor_m
        Half-width of the approved corridor (the audit's ``corridor_m``).
    route_id
        The route id on the terminal (see :func:`stable_id`).
    name
        Route name (sent to 2019 terminals).
    version
        The protocol version whose frame must hold the route (2019 frames carry more bytes per point).

    Raises
    ------
    InvalidInputError
        A width beyond one byte (255 m), a line with fewer than two points, or more turning points
        after simplification than one frame holds.
    """
    width = round(2 * corridor_m)
    if not 1 <= width <= MAX_WIDTH_M:
        raise InvalidInputError(
            f"路段宽度超限 / road width 2 × corridor {corridor_m:g} m = {width} m; the 0x8606 width is one byte, "
            f"1–{MAX_WIDTH_M} m"
        )
    points = [(float(lon), float(lat)) for lon, lat, *_ in coordinates]
    if len(points) < 2:
        raise InvalidInputError(f"路线点不足 / the route line has {len(points)} point(s), needs at least 2")
    tolerance = corridor_m / 10
    turns = _simplify(points, tolerance)
    route = SetRoute(
        route_id=route_id,
        attributes=ROUTE_LEAVE_ALARM,
        points=[
            RoutePoint(point_id=index + 1, segment_id=index + 1, lat=lat, lon=lon, width_m=width)
            for index, (lon, lat) in enumerate(turns)
        ],
        name=name,
    )
    try:
        encode_command(route, version=version)
    except InvalidInputError:
        per_point = 18
        fits = (MAX_BODY_LENGTH - 8 - (2 + len(name.encode("gbk", "replace")) if version == "2019" else 0)) // per_point
        raise InvalidInputError(
            f"路线拐点过多 / the route has {len(turns)} turning points after simplifying within {tolerance:g} m; "
            f"one 0x8606 frame holds at most {fits}: split the route or widen the corridor"
        ) from None
    return route


def _rectangle(ring: list[tuple[float, float]]) -> tuple[float, float, float, float] | None:
    """(north, west, south, east) when a closed ring is an axis-aligned box, else None."""
    corners = set(ring)
    lons, lats = {lon for lon, _ in corners}, {lat for _, lat in corners}
    if len(corners) == 4 and len(lons) == 2 and len(lats) == 2:
        return max(lats), min(lons), min(lats), max(lons)
    return None


def zone_commands(geometry: dict, *, zone_id: str, name: str = "") -> list[SetRectangles | SetPolygon]:
    """The area commands of a restricted zone: one per polygon part (its outer ring), alarming on entry.

    Raises
    ------
    InvalidInputError
        A geometry that is not a Polygon or MultiPolygon with rings of at least three points.
    """
    kind = geometry.get("type")
    if kind == "Polygon":
        parts = [geometry.get("coordinates") or []]
    elif kind == "MultiPolygon":
        parts = geometry.get("coordinates") or []
    else:
        raise InvalidInputError(f"区域几何无效 / zone {zone_id}: geometry type {kind!r}, needs Polygon or MultiPolygon")
    out: list[SetRectangles | SetPolygon] = []
    for index, rings in enumerate(parts):
        ring = [(float(lon), float(lat)) for lon, lat, *_ in (rings[0] if rings else [])]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring = ring[:-1]
        if len(ring) < 3:
            raise InvalidInputError(f"区域几何无效 / zone {zone_id} part {index + 1}: fewer than 3 vertices")
        area_id = stable_id(f"{zone_id}#{index}")
        box = _rectangle(ring)
        if box is not None:
            out.append(
                SetRectangles(areas=[Rectangle(area_id, AREA_ENTER_ALARM, *box, name=name)], action=RECTANGLES_APPEND)
            )
        else:
            out.append(SetPolygon(area_id, AREA_ENTER_ALARM, [(lat, lon) for lon, lat in ring], name=name))
    return out


def permit_phone(engine: Engine, device: str) -> str:
    """The terminal phone of a permit's ``device`` (a phone, or a plate a terminal registered with).

    Raises
    ------
    NotFoundError
        When neither a terminal phone nor a registered plate matches.
    """
    text = device.strip()
    with engine.connect() as connection:
        if text.isdigit():
            phone = normalise_phone(text)
            if connection.execute(select(Terminal.phone).where(Terminal.phone == phone)).first() is not None:
                return phone
        found = connection.execute(select(Terminal.phone).where(Terminal.plate == text)).first()
    if found is None:
        raise NotFoundError(f"终端不存在 / no terminal has phone or plate {device!r} (the permit's device)")
    return found.phone


def permit_route(engine: Engine, permit_id: str) -> tuple[str, list[list[float]], float | None]:
    """A stored permit's (device, approved route coordinates, corridor_m or None).

    Raises
    ------
    NotFoundError
        No such permit.
    InvalidInputError
        The permit has no route line (only OSM node ids, or none).
    """
    with engine.connect() as connection:
        row = connection.execute(select(_PERMIT).where(_PERMIT.c.permit_id == permit_id)).first()
    if row is None:
        raise NotFoundError(f"核准证不存在 / no permit {permit_id!r} stored (import permits with POST /permits)")
    document = row.document if isinstance(row.document, dict) else json.loads(row.document)
    route = document.get("route") or {}
    if route.get("type") != "LineString":
        raise InvalidInputError(
            f"核准证无路线 / permit {permit_id} has no approved route line (route_nodes need the road network); "
            "give the line with --line FILE.geojson instead"
        )
    return row.device, route["coordinates"], document.get("corridor_m")


def stored_zone(engine: Engine, zone_id: str) -> tuple[str, dict]:
    """A stored zone's (name, GeoJSON geometry).

    Raises
    ------
    NotFoundError
        No such zone.
    """
    with engine.connect() as connection:
        row = connection.execute(select(_ZONE).where(_ZONE.c.id == zone_id)).first()
    if row is None:
        raise NotFoundError(f"区域不存在 / no zone {zone_id!r} stored")
    document = row.document if isinstance(row.document, dict) else json.loads(row.document)
    return row.name or zone_id, document.get("geometry") or {}


def read_line(path: Path) -> list[list[float]]:
    """The coordinates of the LineString in a GeoJSON file (a geometry, a Feature, or a collection of one).

    Raises
    ------
    InputFileError
        Unreadable file, or no single LineString in it.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(f"{path}: 无法读取GeoJSON / cannot read GeoJSON: {error}") from error
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features") or []
        data = features[0] if len(features) == 1 else {}
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry") or {}
    if not isinstance(data, dict) or data.get("type") != "LineString" or len(data.get("coordinates") or []) < 2:
        raise InputFileError(f"{path}: 需要一条LineString / needs one GeoJSON LineString of at least 2 points")
    return data["coordinates"]


def terminal_version(engine: Engine, phone: str) -> str:
    """The header version commands for ``phone`` are checked against: 2019 for a 2019 registration, else 2013.

    Raises
    ------
    NotFoundError
        When no terminal has this phone.
    """
    with engine.connect() as connection:
        row = connection.execute(select(Terminal.protocol).where(Terminal.phone == phone)).first()
    if row is None:
        raise NotFoundError(f"终端不存在 / no terminal with phone {phone}: list them with `qingyun jt808 terminals`")
    return "2019" if row.protocol == "2019" else "2013"


def queue_for_terminal(
    engine: Engine,
    *,
    phone: str,
    body: TextMessage | SetRoute | SetRectangles | SetPolygon,
    summary: str,
    expires_s: float,
) -> Command:
    """Check that a command fits one frame for the terminal, then queue it (see ``fleet.tracks.commands``).

    Parameters
    ----------
    engine
        The service database.
    phone
        Terminal phone (leading zeros ignored).
    body
        The command body.
    summary
        One line for people.
    expires_s
        Lifetime in seconds (the gateway's ``command_expiry_s`` by default).

    Returns
    -------
    Command
        The queued command.

    Raises
    ------
    NotFoundError
        An unknown phone (named).
    InvalidInputError
        Text without GBK encoding, or a body longer than one frame (the limit is named).
    """
    key = normalise_phone(phone.strip())
    encode_command(body, version=terminal_version(engine, key))
    return queue_command(
        engine, phone=key, msg_id=command_id(body), body=command_json(body), summary=summary, expires_s=expires_s
    )


def queue_text(engine: Engine, *, phone: str, text: str, expires_s: float, emergency: bool = False) -> Command:
    """Queue a 0x8300 text message shown on the terminal's display and read aloud (TTS).

    Raises
    ------
    NotFoundError
        An unknown phone.
    InvalidInputError
        Empty text, text without GBK encoding, or longer than one frame (the limit is named).
    """
    if not text.strip():
        raise InvalidInputError("文本为空 / the text must not be empty")
    flags = TEXT_DISPLAY | TEXT_TTS | (TEXT_EMERGENCY if emergency else 0)
    body = TextMessage(text=text, flags=flags)
    return queue_for_terminal(engine, phone=phone, body=body, summary=text, expires_s=expires_s)


def queue_route(
    engine: Engine,
    *,
    phone: str | None,
    expires_s: float,
    default_corridor_m: float,
    permit_id: str | None = None,
    line: list[list[float]] | None = None,
    line_name: str = "",
    corridor_m: float | None = None,
) -> Command:
    """Queue a 0x8606 route: a stored permit's approved route, or a given line.

    Parameters
    ----------
    engine
        The service database.
    phone
        Terminal phone; None with a permit: the permit's device.
    expires_s
        Lifetime of the command in seconds.
    default_corridor_m
        Half-width when neither ``corridor_m`` nor the permit gives one (the audit's setting).
    permit_id
        A stored permit (either this or ``line``).
    line
        [lon, lat] pairs of the route, with ``line_name`` as its key and name.
    corridor_m
        Half-width overriding the permit's.

    Raises
    ------
    NotFoundError
        Unknown permit, or a terminal (phone, or the permit's device) not found.
    InvalidInputError
        Neither or both of permit and line; no phone with a line; a route that does not fit (named limit).
    """
    if (permit_id is None) == (line is None):
        raise InvalidInputError("路线来源 / give either a permit id or a route line, not both or neither")
    stored = None
    if permit_id is not None:
        device, line, stored = permit_route(engine, permit_id)
        phone = phone or permit_phone(engine, device)
        key, what = permit_id, f"permit {permit_id}"
    elif phone is None:
        raise InvalidInputError("终端号为空 / a terminal phone is required with a route line")
    else:
        key, what = line_name or "route", f"line {line_name}"
    version = terminal_version(engine, normalise_phone(phone.strip()))
    half = corridor_m or stored or default_corridor_m
    route = route_command(line, corridor_m=half, route_id=stable_id(key), name=key[:40], version=version)
    summary = f"{what}: {len(route.points)} turning points, road width {route.points[0].width_m} m"
    return queue_for_terminal(engine, phone=phone, body=route, summary=summary, expires_s=expires_s)


def queue_zone(engine: Engine, *, phone: str, zone_id: str, expires_s: float) -> list[Command]:
    """Queue a stored restricted zone as area commands (0x8602 rectangle or 0x8604 polygon per part).

    Raises
    ------
    NotFoundError
        Unknown zone or phone.
    InvalidInputError
        A zone geometry that is not a polygon, or too many vertices for one frame (named limit).
    """
    name, geometry = stored_zone(engine, zone_id)
    bodies = zone_commands(geometry, zone_id=zone_id, name=name[:40])
    version = terminal_version(engine, normalise_phone(phone.strip()))
    for body in bodies:  # all fit before any is queued
        encode_command(body, version=version)
    summary = f"zone {zone_id} ({name})"
    return [queue_for_terminal(engine, phone=phone, body=b, summary=summary, expires_s=expires_s) for b in bodies]
