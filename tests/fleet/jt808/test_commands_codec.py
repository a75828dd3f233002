"""Command bodies (0x8300, 0x8602, 0x8604, 0x8606): exact 2013/2019 bytes, round trips, limits, geofence building."""

from __future__ import annotations

import struct
from datetime import datetime

import pytest

from fleet.jt808.frame import decode_frame, encode_frame
from fleet.jt808.geofence import route_command, stable_id, zone_commands
from fleet.jt808.messages import decode_body, decode_json
from fleet.jt808.platform import (
    AREA_BY_TIME,
    AREA_ENTER_ALARM,
    AREA_SPEED,
    Limits,
    Rectangle,
    RoutePoint,
    SetPolygon,
    SetRectangles,
    SetRoute,
    TextMessage,
    command_from_json,
    command_id,
    command_json,
    encode_command,
)
from routing.errors import DecodeError, InvalidInputError
from routing.localtime import CHINA_TZ

PHONE = "13800138000"
WINDOW = Limits(
    start=datetime(2026, 12, 5, 22, 0, tzinfo=CHINA_TZ),
    end=datetime(2026, 12, 6, 6, 0, tzinfo=CHINA_TZ),
    max_speed_kmh=40,
    overspeed_s=10,
    night_speed_kmh=30,
)


def through_the_wire(body, version: str):
    """Encode a command, frame it, decode the frame as a terminal would."""
    wire = encode_frame(
        msg_id=command_id(body), phone=PHONE, serial=7, body=encode_command(body, version=version), version=version
    )
    return decode_body(decode_frame(wire))


def test_text_message_bytes_2013_and_2019() -> None:
    text = TextMessage(text="请返回核准路线")
    gbk = "请返回核准路线".encode("gbk")
    assert encode_command(text) == b"\x0c" + gbk  # flags: display (bit 2) + TTS (bit 3)
    assert encode_command(text, version="2019") == b"\x0c\x01" + gbk  # 2019: text type 1 (notice) follows
    urgent = TextMessage(text="停车", flags=0x0D)
    assert through_the_wire(urgent, "2013") == urgent
    assert through_the_wire(urgent, "2019") == urgent


ROUTE = SetRoute(
    route_id=0xDEADBEEF,
    attributes=0x0031,
    points=[
        RoutePoint(1, 1, 22.54, 114.05, 100),
        RoutePoint(
            2, 2, 22.55, 114.06, 80, long_s=600, short_s=60, max_speed_kmh=40, overspeed_s=5, night_speed_kmh=30
        ),
        RoutePoint(3, 2, -33.86, -70.65, 60, max_speed_kmh=50, overspeed_s=3, night_speed_kmh=50),
    ],
    start=WINDOW.start,
    end=WINDOW.end,
    name="核准路线 P-1",
)


def test_route_bytes_follow_the_table_layout() -> None:
    data = encode_command(ROUTE)
    head = struct.pack(">IH", 0xDEADBEEF, 0x0031) + bytes.fromhex("261205220000261206060000") + struct.pack(">H", 3)
    assert data.startswith(head)
    first = struct.pack(">IIIIBB", 1, 1, 22_540_000, 114_050_000, 100, 0)
    second = struct.pack(">IIIIBB", 2, 2, 22_550_000, 114_060_000, 80, 0x03) + struct.pack(">HHHB", 600, 60, 40, 5)
    third = struct.pack(">IIIIBB", 3, 2, 33_860_000, 70_650_000, 60, 0x0E) + struct.pack(">HB", 50, 3)  # south, west
    assert data == head + first + second + third  # 2013: no night speed, no name
    assert encode_command(ROUTE, version="2019").endswith(struct.pack(">H", 12) + "核准路线 P-1".encode("gbk"))


def commands(version: str) -> list:
    """One of each command with every optional field; 2013 carries no names and no night speeds."""
    v2019 = version == "2019"
    night = {"night_speed_kmh": 30} if v2019 else {}
    window = Limits(start=WINDOW.start, end=WINDOW.end, max_speed_kmh=40, overspeed_s=10, **night)
    route = SetRoute(
        route_id=0xDEADBEEF,
        attributes=0x0031,
        points=[
            RoutePoint(1, 1, 22.54, 114.05, 100),
            RoutePoint(2, 2, 22.55, 114.06, 80, long_s=600, short_s=60, max_speed_kmh=40, overspeed_s=5, **night),
            RoutePoint(3, 2, -33.86, -70.65, 60, max_speed_kmh=50, overspeed_s=3, **night),
        ],
        start=WINDOW.start,
        end=WINDOW.end,
        name="核准路线 P-1" if v2019 else "",
    )
    school = Rectangle(5, AREA_ENTER_ALARM | AREA_BY_TIME | AREA_SPEED, 22.56, 114.04, 22.55, 114.05, window)
    south_west = Rectangle(6, AREA_ENTER_ALARM | 0x00C0, -1.5, -2.5, -1.6, -2.4)  # bits 6/7: south, west
    polygon = SetPolygon(9, AREA_ENTER_ALARM | AREA_SPEED, [(22.5, 114.0), (22.6, 114.0), (22.6, 114.1)])
    polygon.limits = Limits(max_speed_kmh=30, overspeed_s=5, **night)
    if v2019:
        school.name, south_west.name, polygon.name = "学校", "south-west", "禁区"
    return [route, SetRectangles(areas=[school, south_west], action=0), polygon]


@pytest.mark.parametrize("version", ["2013", "2019"])
def test_every_command_survives_the_wire(version: str) -> None:
    for body in commands(version):
        assert through_the_wire(body, version) == body


def test_json_form_round_trips_and_a_broken_document_is_named() -> None:
    assert command_from_json(0x8606, command_json(ROUTE)) == ROUTE
    with pytest.raises(DecodeError, match="0x8606"):
        command_from_json(0x8606, {"route_id": 1})
    assert decode_json(decode_frame(encode_frame(msg_id=0x8300, phone=PHONE, serial=1, body=b"\x04OK")))["body"] == {
        "text": "OK",
        "flags": 4,
        "text_type": 1,
    }


def test_text_too_long_or_not_gbk_is_refused_naming_the_limit() -> None:
    assert len(encode_command(TextMessage(text="路" * 511))) == 1023
    with pytest.raises(InvalidInputError, match="1024 bytes.*at most 1023.*1022 GBK bytes"):
        encode_command(TextMessage(text="路" * 511 + "x"))
    with pytest.raises(InvalidInputError, match="1021 GBK bytes"):
        encode_command(TextMessage(text="路" * 511), version="2019")
    with pytest.raises(InvalidInputError, match="GBK"):
        encode_command(TextMessage(text="请返回 🚚"))


def test_a_permit_line_becomes_turning_points_within_a_tenth_of_the_corridor() -> None:
    straight = [[114.05 + i * 1e-4, 22.54] for i in range(200)]  # 2 km straight: two turning points
    route = route_command(straight, corridor_m=50, route_id=stable_id("P-1"))
    assert [(p.lon, p.lat, p.width_m) for p in route.points] == [(114.05, 22.54, 100), (114.05 + 199e-4, 22.54, 100)]
    assert route.route_id == stable_id("P-1") != stable_id("P-2")
    bend = [[114.05, 22.54], [114.051, 22.54003], [114.052, 22.54]]  # 3 m off the chord: within 5 m, dropped
    assert len(route_command(bend, corridor_m=50, route_id=1).points) == 2
    assert len(route_command(bend, corridor_m=20, route_id=1).points) == 3  # 2 m tolerance: kept
    with pytest.raises(InvalidInputError, match="one byte, 1–255 m"):
        route_command(straight, corridor_m=150, route_id=1)
    zigzag = [[114.05 + i * 1e-3, 22.54 + (i % 2) * 1e-3] for i in range(80)]
    with pytest.raises(InvalidInputError, match="80 turning points.*at most 56"):
        route_command(zigzag, corridor_m=50, route_id=1)


def test_zones_become_rectangles_or_polygons() -> None:
    box = {
        "type": "Polygon",
        "coordinates": [[[114.0, 22.5], [114.1, 22.5], [114.1, 22.6], [114.0, 22.6], [114.0, 22.5]]],
    }
    (rectangles,) = zone_commands(box, zone_id="school", name="学校")
    assert rectangles.areas == [
        Rectangle(stable_id("school#0"), AREA_ENTER_ALARM, 22.6, 114.0, 22.5, 114.1, name="学校")
    ]
    triangle = [[[114.0, 22.5], [114.1, 22.5], [114.05, 22.6], [114.0, 22.5]]]
    parts = zone_commands({"type": "MultiPolygon", "coordinates": [triangle, box["coordinates"]]}, zone_id="z")
    assert isinstance(parts[0], SetPolygon) and parts[0].vertices == [(22.5, 114.0), (22.5, 114.1), (22.6, 114.05)]
    assert isinstance(parts[1], SetRectangles)
    with pytest.raises(InvalidInputError, match="zone z.*LineString"):
        zone_commands({"type": "LineString", "coordinates": []}, zone_id="z")
