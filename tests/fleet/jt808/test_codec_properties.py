"""Property tests: encode→decode round trips, fuzzing (only DecodeError), stream splitting."""

from __future__ import annotations

from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.jt808.frame import (
    FrameSplitter,
    checksum,
    decode_escaped,
    decode_frame,
    encode_frame,
    escape,
    unescape,
)
from fleet.jt808.location import Location
from fleet.jt808.messages import (
    Authentication,
    Batch,
    GeneralReply,
    MediaEvent,
    RegisterReply,
    Registration,
    decode_body,
    decode_json,
    encode_message,
)
from routing.errors import DecodeError
from routing.localtime import CHINA_TZ

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
ascii_text = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", max_size=5)
plate = st.builds(
    lambda p, rest: p + rest, st.sampled_from("粤京沪苏浙赣辽测"), st.text("ABCDEFG0123456789", max_size=6)
)


@st.composite
def locations(draw) -> Location:
    lat_raw = draw(st.integers(0, 90_000_000))
    lon_raw = draw(st.integers(0, 180_000_000))
    south = lat_raw > 0 and draw(st.booleans())
    west = lon_raw > 0 and draw(st.booleans())
    status = draw(u32) & ~0x0C | (0x04 if south else 0) | (0x08 if west else 0)
    items: dict[int, bytes] = {}
    for item_id in draw(st.lists(u8, max_size=6, unique=True)):
        items[item_id] = draw(st.binary(max_size=40))
    return Location(
        alarm=draw(u32),
        status=status,
        lat=(-lat_raw if south else lat_raw) / 1e6,
        lon=(-lon_raw if west else lon_raw) / 1e6,
        altitude_m=draw(st.integers(-32768, 32767)),
        speed_kmh=draw(u16) / 10,
        heading=draw(u16),
        time=draw(st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59))).replace(
            microsecond=0, tzinfo=CHINA_TZ
        ),
        items=items,
    )


@st.composite
def registrations(draw) -> Registration:
    layout = draw(st.sampled_from(["2011", "2013", "2019"]))
    return Registration(
        province=draw(u16),
        city=draw(u16),
        maker=draw(ascii_text),
        model=draw(ascii_text),
        terminal_id=draw(ascii_text),
        plate_color=draw(u8),
        plate=draw(plate),
        layout=layout,
    )


bodies = st.one_of(
    locations(),
    st.builds(Batch, type=st.integers(0, 1), positions=st.lists(locations(), max_size=4)),
    st.builds(GeneralReply, ack_serial=u16, ack_msg_id=u16, result=st.integers(0, 4)),
    st.builds(
        RegisterReply, ack_serial=u16, result=st.just(0), auth_code=st.text("0123456789abcdef", min_size=1, max_size=20)
    ),
    st.builds(RegisterReply, ack_serial=u16, result=st.integers(1, 4), auth_code=st.none()),
    st.builds(Authentication, auth_code=st.text("0123456789ABC", min_size=1, max_size=20)),
    st.builds(MediaEvent, media_id=u32, media_type=u8, media_format=u8, event=u8, channel=u8),
    registrations(),
)


@SETTINGS
@given(
    body=bodies,
    phone=st.text("0123456789", min_size=1, max_size=12),
    serial=u16,
    version=st.sampled_from(["2013", "2019"]),
)
def test_encode_decode_round_trip(body, phone: str, serial: int, version: str) -> None:
    if isinstance(body, Registration):
        body.layout = "2019" if version == "2019" else ("2011" if body.layout == "2011" else "2013")
    if isinstance(body, Authentication) and version == "2019":
        body.imei, body.software_version = "123456789012345", "1.0.2"
    if len(_encoded_body_length(body, version)) > 1023:
        return
    wire = encode_message(body, phone=phone, serial=serial, version=version)
    assert wire[0] == wire[-1] == 0x7E and 0x7E not in wire[1:-1]
    frame = decode_frame(wire)
    assert (frame.phone.lstrip("0"), frame.serial, frame.version) == (phone.lstrip("0"), serial, version)
    # (2011 and 2013 registrations differ only by length; plates here stay under 12 bytes)
    assert decode_body(frame) == body


def _encoded_body_length(body, version: str) -> bytes:
    from fleet.jt808.messages import encode_body

    return encode_body(body, version=version)


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        decode_json(decode_frame(b"\x7e" + data + b"\x7e"))
    except DecodeError as error:
        assert 0 <= error.offset <= len(data) + 2


@SETTINGS
@given(
    msg_id=st.sampled_from([0x0200, 0x0704, 0x0100, 0x0102, 0x0002, 0x0003, 0x0001, 0x8001, 0x8100, 0x0800, 0x0801]),
    body=st.binary(max_size=200),
    version=st.sampled_from(["2013", "2019"]),
)
def test_random_bodies_behind_valid_headers_only_raise_decode_error(msg_id: int, body: bytes, version: str) -> None:
    """Checksum and length are right, so every body decoder sees the garbage."""
    wire = encode_frame(msg_id=msg_id, phone="13800138000", serial=1, body=body, version=version)
    try:
        decode_json(decode_frame(wire))
    except DecodeError as error:
        assert 0 < error.offset < len(wire)


@SETTINGS
@given(location=locations(), flips=st.lists(st.tuples(st.integers(0, 400), u8), min_size=1, max_size=4))
def test_mutated_valid_frames_only_raise_decode_error(location: Location, flips) -> None:
    wire = bytearray(encode_message(location, phone="13800138000", serial=7))
    for index, value in flips:
        wire[1 + index % (len(wire) - 2)] = value
    try:
        decode_json(decode_frame(bytes(wire)))
    except DecodeError:
        pass


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_escape_unescape_and_checksum(raw: bytes) -> None:
    escaped = escape(raw)
    assert b"\x7e" not in escaped
    assert unescape(escaped) == raw
    expected = 0
    for byte in raw:
        expected ^= byte
    assert checksum(raw) == expected


@SETTINGS
@given(
    locations_=st.lists(locations(), min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 50), max_size=30),
    shared_flags=st.booleans(),
)
def test_splitter_recovers_frames_from_any_chunking(locations_, cuts, shared_flags: bool) -> None:
    frames = [encode_message(loc, phone="13800138000", serial=i) for i, loc in enumerate(locations_)]
    stream = b"".join(f[:-1] if shared_flags else f for f in frames) + (b"\x7e" if shared_flags else b"")
    splitter = FrameSplitter()
    got: list[bytes] = []
    position = 0
    for cut in cuts + [len(stream)]:
        found, junk = splitter.feed(stream[position : position + cut])
        assert junk == []
        got.extend(found)
        position += cut
    assert [decode_body(decode_escaped(f)) for f in got] == locations_
