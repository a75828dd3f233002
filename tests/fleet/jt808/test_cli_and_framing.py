"""`qingyun jt808 decode` output shape and exit code; error offsets; subpackage reassembly."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from typer.testing import CliRunner

from api.cli import app
from fleet.jt808.frame import Reassembler, decode_frame, encode_frame
from fleet.jt808.location import Location, encode_location
from fleet.jt808.messages import decode_body
from routing.errors import DecodeError
from routing.localtime import CHINA_TZ

LOCATION_HEX = (  # Traccar test frame: fixed, south bit set, Jakarta
    "7e0200002c00160128561400030000000000040007005de13c065c6cdb00160000000017011710054201040000a9002a02000030011b310104e47e"
)


def test_decode_prints_the_documented_shape() -> None:
    result = CliRunner().invoke(app, ["jt808", "decode", LOCATION_HEX])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert (out["msg_id"], out["version"], out["phone"], out["serial"]) == ("0x0200", "2013", "001601285614", 3)
    body = out["body"]
    assert (body["lat"], body["lon"], body["altitude_m"], body["speed_kmh"], body["heading"]) == (
        -6.152508,
        106.720475,
        22,
        0.0,
        0,
    )
    assert body["time"] == "2017-01-17T10:05:42+08:00"
    assert body["flags"]["acc"] and body["flags"]["fix"] and body["flags"]["south"] and body["flags"]["load"] == "empty"
    assert body["items"]["0x01"]["mileage_km"] == 4326.4 and body["items"]["0x30"]["signal"] == 27
    assert body["items"]["0x31"]["satellites"] == 4


def test_decode_file_reports_each_bad_frame_and_counts_them_in_the_exit_code(tmp_path, vectors) -> None:
    frames = tmp_path / "frames.txt"
    frames.write_text("\n".join(v["hex"] for v in vectors) + "\n\nnot-hex\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["jt808", "decode", "--file", str(frames)])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [line for line in lines if "error" in line]
    assert len(lines) == 61 and len(errors) == 4
    assert result.exit_code == 4
    assert errors[-1] == {"error": f"{frames}:62: not hexadecimal text", "offset": 0}
    assert all(e["error"].startswith(f"{frames}:") and "checksum" in e["error"] for e in errors[:3])


def test_exit_code_is_capped_at_255(tmp_path) -> None:
    frames = tmp_path / "bad.txt"
    frames.write_text("7e00\n" * 300, encoding="utf-8")
    assert CliRunner().invoke(app, ["jt808", "decode", "--file", str(frames)]).exit_code == 255


@pytest.mark.parametrize(
    ("wire_hex", "offset", "reason"),
    [
        ("7e00027d0300000000000000007e", 3, "bad escape"),
        ("7e0002000001234567890000000a7e7e", 14, "unescaped 0x7E"),
        ("0002000001234567890000000a7e", 0, "must start with 0x7E"),
        ("7e00020000012345678900000a807e", 13, "checksum mismatch"),
        ("7e00020005012345678900000a847e", 3, "body length field says 5"),
    ],
)
def test_errors_name_the_wire_offset(wire_hex: str, offset: int, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_frame(bytes.fromhex(wire_hex))
    assert caught.value.offset == offset
    assert reason in caught.value.reason


def test_subpackages_reassemble_in_any_order() -> None:
    location = Location(
        alarm=0,
        status=3,
        lat=22.5,
        lon=114.0,
        altitude_m=5,
        speed_kmh=30.0,
        heading=90,
        time=datetime(2026, 11, 21, 8, 30, 5, tzinfo=CHINA_TZ),
        items={0xE6: b"x" * 200},
    )
    body = encode_location(location)
    parts = [body[:100], body[100:200], body[200:]]
    frames = [
        decode_frame(encode_frame(msg_id=0x0200, phone="13800138000", serial=10 + i, body=part, subpackage=(3, i + 1)))
        for i, part in enumerate(parts)
    ]
    reassembler = Reassembler()
    assert reassembler.add(frames[2]) is None
    assert reassembler.add(frames[0]) is None
    complete = reassembler.add(frames[1])
    assert complete.subpackage is None and complete.body == body
    assert decode_body(complete) == location


def test_encrypted_bodies_are_refused_with_the_properties_offset() -> None:
    frame = decode_frame(encode_frame(msg_id=0x0200, phone="13800138000", serial=1, body=b"\x00" * 28))
    frame.encryption = 1  # RSA flag (bit 10) as a terminal would set it
    with pytest.raises(DecodeError) as caught:
        decode_body(frame)
    assert caught.value.offset == 3 and "encrypted" in caught.value.reason
