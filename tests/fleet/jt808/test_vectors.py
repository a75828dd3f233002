"""Every published vector decodes to the values its source test asserted.

Ground truth is ``asserted``; three frames are deliberately broken (a checksum that
does not match the content; one also declares a body length it does not carry) and
must raise DecodeError. Two set the 2019 bit over a 2013 header (device quirk).
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from fleet.jt808.frame import decode_frame
from fleet.jt808.messages import decode_body, decode_json, platform_reply
from routing.errors import DecodeError
from tests.fleet.jt808.conftest import load_vectors

# checksum mismatches: the sources parse them only because they skip the check
BROKEN = {"smallchi-0200-escaped-serial", "smallchi-0200-realdev2", "traccar-0200-badlen-L329"}
QUIRKS = {"smallchi-0102-quirk-bit14-2013layout", "smallchi-0200-2019bit-2013layout"}
# assertions of the source decoders' own API (Traccar "returns no position", notes) – no field to check
NO_FIELDS = {
    "verifyNull",
    "verifyPosition",
    "verifyPositions",
    "parsed_without_error",
    "note",
    "reply_to",
    "traccar_result",
    "deserialized_with",
}


def _ids() -> list[str]:
    return [vector["id"] for vector in load_vectors()] or ["(vectors absent)"]


def _vector(vectors: list[dict], vector_id: str) -> dict:
    return next(v for v in vectors if v["id"] == vector_id)


def _time(text: str) -> str:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").isoformat() + "+08:00"


def _check_location(got: dict, want: dict) -> None:
    """Compare a decoded location with an asserted one (raw units as the sources assert them)."""
    names = {"alarm": "alarm", "status": "status", "direction": "heading", "altitude": "altitude_m"}
    for key, value in want.items():
        if key in names:
            assert got[names[key]] == value, key
        elif key == "lat_raw":
            assert round(abs(got["lat"]) * 1e6) == value
        elif key == "lon_raw":
            assert round(abs(got["lon"]) * 1e6) == value
        elif key == "speed_raw":
            assert round(got["speed_kmh"] * 10) == value
        elif key == "time_gmt8":
            assert got["time"] == _time(value)
        elif key in ("extra_0x01_mileage", "mileage"):
            assert got["items"]["0x01"]["mileage_km"] == pytest.approx(value / 10)
        elif key in ("extra_0x02_fuel", "fuel"):
            assert got["items"]["0x02"]["fuel_l"] == pytest.approx(value / 10)
        elif key == "extra_0x64_adas":
            adas = got["items"]["0x64"]
            for field in (
                "alarm_id",
                "event_type",
                "level",
                "speed_kmh",
                "lat_raw",
                "lon_raw",
                "terminal_id",
                "attachments",
            ):
                assert adas[field] == value[field], field
            assert adas["time"] == value["time"].replace(" ", "T") + "+08:00"
        elif key == "len":
            pass  # the item length prefix, checked by the batch decoder consuming exactly the body
        elif key == "extra":
            _check_all_items(got["items"], value)
        else:
            raise AssertionError(f"unmapped asserted location key {key}")


def _check_all_items(items: dict, want: dict) -> None:
    assert items["0x01"]["mileage_km"] == pytest.approx(want["0x01_mileage"] / 10)
    assert items["0x02"]["fuel_l"] == pytest.approx(want["0x02_fuel"] / 10)
    assert items["0x03"]["tachograph_speed_kmh"] == pytest.approx(want["0x03_tacho_speed"] / 10)
    assert items["0x04"]["manual_alarm_event_id"] == want["0x04_manual_alarm_id"]
    assert len(items["0x05"]["tyre_pressure_pa"]) == want["0x05_tyre_pressure_len"]
    assert items["0x06"]["cabin_temperature_c"] == want["0x06_cabin_temp"]
    assert items["0x11"]["position_type"] == want["0x11_overspeed"]["position_type"]
    assert {k: items["0x12"][k] for k in ("position_type", "area_id", "direction")} == want["0x12_area_route"]
    assert {k: items["0x13"][k] for k in ("route_id", "time_s", "result")} == want["0x13_route_time"]
    assert items["0x25"]["extended_signals"] == want["0x25_ext_signal"]
    assert items["0x2A"]["io"] == want["0x2A_io"]
    assert items["0x2B"]["analog_ad1"] << 16 | items["0x2B"]["analog_ad0"] == want["0x2B_analog"]
    assert items["0x30"]["signal"] == want["0x30_rssi"]
    assert items["0x31"]["satellites"] == want["0x31_sats"]


@pytest.mark.parametrize("vector_id", _ids())
def test_vector_decodes_to_asserted_values(vectors: list[dict], vector_id: str) -> None:
    vector = _vector(vectors, vector_id)
    wire = bytes.fromhex(vector["hex"])
    if vector_id in BROKEN:
        with pytest.raises(DecodeError) as caught:
            decode_json(decode_frame(wire))
        assert 0 < caught.value.offset < len(wire)
        assert "checksum" in caught.value.reason
        return
    frame = decode_frame(wire)
    out = decode_json(frame)
    body = out["body"]
    assert out["msg_id"] == vector["msg_id"]
    assert frame.version_quirk == (vector_id in QUIRKS)
    assert out["version"] == ("2019" if vector["header_version"] == "2019" else "2013")
    for key, value in vector["asserted"].items():
        if key in NO_FIELDS:
            continue
        if key == "msg_id":
            assert out["msg_id"] == value
        elif key in ("serial", "platform_serial"):
            assert out["serial"] == value
        elif key == "phone":
            assert out["phone"].lstrip("0") == value
        elif key == "body":
            assert body == value
        elif key == "body_len":
            assert len(frame.body) == value
        elif key == "version":
            got = body["layout"] if vector["msg_id"] == "0x0100" else out["version"]
            assert got == value
        elif key == "protocol_version":
            assert out["protocol_version"] == value
        elif key in (
            "province",
            "city",
            "maker",
            "model",
            "terminal_id",
            "plate_color",
            "plate",
            "auth_code",
            "imei",
            "ack_serial",
            "result",
        ):
            assert body[key] == value, key
        elif key == "sw_version":
            assert body["software_version"] == value
        elif key == "auth_code_len":
            assert len(body["auth_code"]) == value
        elif key == "ack_msg_id":
            assert body["ack_msg_id"] == value
        elif key == "count":
            assert len(body["positions"]) == value
        elif key == "type":
            assert body["type"] == value
        elif key == "positions":
            assert len(body["positions"]) == len(value)
            for got, want in zip(body["positions"], value):
                _check_location(got, want)
        elif key == "satellites":
            assert body["positions"][0]["items"]["0x31"]["satellites"] == value
        elif key in ("expected_reply_0x8001", "server_reply"):
            expected = bytes.fromhex(value)
            platform_serial = decode_frame(expected).serial
            assert platform_reply(frame, serial=platform_serial) == expected
        elif key == "traccar_log":
            lat, lon, course = (
                float(re.search(rf"{name} ([\d.]+)", value).group(1)) for name in ("lat", "lon", "course")
            )
            assert body["lat"] == pytest.approx(lat, abs=1e-5)
            assert body["lon"] == pytest.approx(lon, abs=1e-5)
            assert body["heading"] == course
        else:
            _check_location(body, {key: value})


def test_broken_set_is_exactly_the_checksum_failures(vectors: list[dict]) -> None:
    """Exactly three vectors fail, and they are the documented broken ones."""
    failing = set()
    for vector in vectors:
        try:
            decode_body(decode_frame(bytes.fromhex(vector["hex"])))
        except DecodeError:
            failing.add(vector["id"])
    assert failing == BROKEN
    assert len(vectors) == 60
