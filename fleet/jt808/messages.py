"""Message bodies: decode every supported body, encode terminal and platform messages.

One dataclass per body. ``decode_body(frame)`` turns a complete frame into its body
object (or raises DecodeError naming the wire offset); ``encode_message`` builds the
wire frame for any body object; ``frame_json`` gives the shape the CLI prints and
other tools read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from fleet.jt808.frame import Frame, encode_frame, wire_offset
from fleet.jt808.location import Location, decode_location, encode_location, location_json
from fleet.jt808.platform import COMMAND_IDS, COMMAND_TYPES, command_json, decode_command
from routing.errors import DecodeError

LOCATION = 0x0200
BATCH = 0x0704
REGISTER = 0x0100
AUTHENTICATE = 0x0102
HEARTBEAT = 0x0002
LOGOUT = 0x0003
TERMINAL_REPLY = 0x0001
MEDIA_EVENT = 0x0800
MEDIA_UPLOAD = 0x0801
PLATFORM_REPLY = 0x8001
REGISTER_REPLY = 0x8100

# 0x8001 results (JT/T 808-2013 8.2)
RESULT_OK = 0
RESULT_FAILED = 1
RESULT_BAD_MESSAGE = 2
RESULT_UNSUPPORTED = 3

# 0x8100 results (JT/T 808-2013 8.6): 0 success, then the refusals
REGISTER_VEHICLE_UNKNOWN = 2  # no such vehicle in the database: the plate is not the one the phone was bound to
REGISTER_ALREADY_REGISTERED = 3  # the phone is already bound to an auth code
REGISTER_TERMINAL_UNKNOWN = 4  # no such terminal in the database: allow-list mode, phone not bound by a supervisor

_REPLY = struct.Struct(">HHB")
_REGISTER_REPLY = struct.Struct(">HB")
_BATCH_HEAD = struct.Struct(">HB")
_LENGTH = struct.Struct(">H")
_MEDIA = struct.Struct(">IBBBB")

# 0x0100 fixed-part layouts: (maker, model, terminal id) widths; province+city take 4 bytes,
# plate colour 1 byte, the plate is the rest.
_REGISTER_LAYOUTS = {"2011": (5, 8, 7), "2013": (5, 20, 7), "2019": (11, 30, 30)}


def _text(value: bytes) -> str:
    """GBK text with NUL padding removed; undecodable bytes become U+FFFD (never raises)."""
    return value.strip(b"\x00").decode("gbk", "replace")


def _pad(text: str, width: int) -> bytes:
    raw = text.encode("gbk")
    if len(raw) > width:
        raise ValueError(f"{text!r} is {len(raw)} bytes in GBK, field holds {width}")
    return raw.ljust(width, b"\x00")


@dataclass(slots=True)
class Registration:
    """0x0100 terminal registration; ``layout`` is 2011, 2013 or 2019 (by version and length)."""

    province: int
    city: int
    maker: str
    model: str
    terminal_id: str
    plate_color: int
    plate: str
    layout: str = "2013"


@dataclass(slots=True)
class Authentication:
    """0x0102; the 2019 layout adds the code length, IMEI and software version."""

    auth_code: str
    imei: str | None = None
    software_version: str | None = None


@dataclass(slots=True)
class GeneralReply:
    """0x8001 platform / 0x0001 terminal general reply."""

    ack_serial: int
    ack_msg_id: int
    result: int


@dataclass(slots=True)
class RegisterReply:
    """0x8100: result 0 carries the auth code, others (1–4) none."""

    ack_serial: int
    result: int
    auth_code: str | None = None


@dataclass(slots=True)
class Batch:
    """0x0704: type 0 = normal batch, 1 = blind-area (盲区) re-upload."""

    type: int
    positions: list[Location] = field(default_factory=list)


@dataclass(slots=True)
class MediaEvent:
    """0x0800 multimedia event; 0x0801 uploads add a location and the media bytes."""

    media_id: int
    media_type: int
    media_format: int
    event: int
    channel: int
    location: Location | None = None
    data_length: int | None = None


@dataclass(slots=True)
class Raw:
    """A body this codec frames but does not interpret (heartbeat vendor TLVs, other ids)."""

    data: bytes


def decode_body(frame: Frame):
    """The body object of a complete frame (not a pending subpackage)."""
    if frame.encryption:
        raise DecodeError(wire_offset(frame.wire, 2), f"encrypted body (mode {frame.encryption}) is not supported")
    decoder = _DECODERS.get(frame.msg_id)
    if decoder is None:
        return Raw(frame.body) if frame.body else None
    return decoder(frame)


def _location(frame: Frame) -> Location:
    return decode_location(frame.body, error_at=frame.error)


def _batch(frame: Frame) -> Batch:
    body = frame.body
    if len(body) < 3:
        raise frame.error(0, f"batch body has {len(body)} bytes, needs count and type (3)")
    count, kind = _BATCH_HEAD.unpack_from(body)
    positions: list[Location] = []
    position = 3
    for number in range(1, count + 1):
        if position + 2 > len(body):
            raise frame.error(position, f"batch declares {count} positions, body ends before #{number}")
        (length,) = _LENGTH.unpack_from(body, position)
        end = position + 2 + length
        if end > len(body):
            raise frame.error(
                position, f"batch position #{number} declares {length} bytes, only {len(body) - position - 2} left"
            )
        positions.append(decode_location(body, error_at=frame.error, start=position + 2, end=end))
        position = end
    if position != len(body):
        raise frame.error(position, f"{len(body) - position} bytes after the {count} declared batch positions")
    return Batch(type=kind, positions=positions)


def _registration(frame: Frame) -> Registration:
    body = frame.body
    if frame.version == "2019":
        layout = "2019"
    elif len(body) >= 37:
        layout = "2013"
    else:
        layout = "2011"
    maker_w, model_w, id_w = _REGISTER_LAYOUTS[layout]
    fixed = 4 + maker_w + model_w + id_w + 1
    if len(body) < fixed:
        raise frame.error(len(body), f"registration body has {len(body)} bytes, the {layout} layout needs {fixed}")
    province, city = struct.unpack_from(">HH", body)
    at = 4
    maker = _text(body[at : at + maker_w])
    at += maker_w
    model = _text(body[at : at + model_w])
    at += model_w
    terminal_id = _text(body[at : at + id_w])
    at += id_w
    return Registration(
        province=province,
        city=city,
        maker=maker,
        model=model,
        terminal_id=terminal_id,
        plate_color=body[at],
        plate=_text(body[at + 1 :]),
        layout=layout,
    )


def _authentication(frame: Frame) -> Authentication:
    body = frame.body
    if frame.version != "2019":
        return Authentication(auth_code=_text(body))
    if not body or len(body) != 1 + body[0] + 15 + 20:
        raise frame.error(
            0,
            f"2019 authentication body of {len(body)} bytes does not match code length "
            f"{body[0] if body else 'missing'} + IMEI 15 + version 20",
        )
    end = 1 + body[0]
    return Authentication(
        auth_code=_text(body[1:end]), imei=_text(body[end : end + 15]), software_version=_text(body[end + 15 :])
    )


def _general_reply(frame: Frame) -> GeneralReply:
    if len(frame.body) != _REPLY.size:
        raise frame.error(0, f"general reply body has {len(frame.body)} bytes, expected 5")
    return GeneralReply(*_REPLY.unpack(frame.body))


def _register_reply(frame: Frame) -> RegisterReply:
    body = frame.body
    if len(body) < 3:
        raise frame.error(0, f"register reply body has {len(body)} bytes, needs at least 3")
    ack_serial, result = _REGISTER_REPLY.unpack_from(body)
    return RegisterReply(ack_serial=ack_serial, result=result, auth_code=_text(body[3:]) if result == 0 else None)


def _media(frame: Frame) -> MediaEvent:
    body = frame.body
    if frame.msg_id == MEDIA_EVENT and len(body) != _MEDIA.size:
        raise frame.error(0, f"multimedia event body has {len(body)} bytes, expected 8")
    if frame.msg_id == MEDIA_UPLOAD and len(body) < _MEDIA.size + 28:
        raise frame.error(0, f"multimedia upload body has {len(body)} bytes, needs at least 36")
    event = MediaEvent(*_MEDIA.unpack_from(body))
    if frame.msg_id == MEDIA_UPLOAD:
        event.location = decode_location(body, error_at=frame.error, start=8, end=36)
        event.data_length = len(body) - 36
    return event


def _empty_or_raw(frame: Frame) -> Raw | None:
    """Heartbeat/logout have empty bodies by the standard; vendors add TLVs, kept raw."""
    return Raw(frame.body) if frame.body else None


_DECODERS = {
    LOCATION: _location,
    BATCH: _batch,
    REGISTER: _registration,
    AUTHENTICATE: _authentication,
    HEARTBEAT: _empty_or_raw,
    LOGOUT: _empty_or_raw,
    TERMINAL_REPLY: _general_reply,
    PLATFORM_REPLY: _general_reply,
    REGISTER_REPLY: _register_reply,
    MEDIA_EVENT: _media,
    MEDIA_UPLOAD: _media,
    **dict.fromkeys(COMMAND_IDS, decode_command),  # platform commands (0x8300 …): fleet.jt808.platform
}


# --- encoding -----------------------------------------------------------------------


def encode_body(body, *, version: str = "2013") -> bytes:
    """Serialise a body object (the inverse of decode_body for the supported types).

    Parameters
    ----------
    body
        Location, Batch, GeneralReply, RegisterReply, Registration, Authentication, MediaEvent, Raw or None.
    version
        Header version, "2013" or "2019"; only changes the Authentication layout.

    Returns
    -------
    bytes
        The encoded body; empty for None.

    Raises
    ------
    TypeError
        A body type with no encoder.
    """
    if isinstance(body, Location):
        return encode_location(body)
    if isinstance(body, Batch):
        parts = [_BATCH_HEAD.pack(len(body.positions), body.type)]
        for location in body.positions:
            encoded = encode_location(location)
            parts.append(_LENGTH.pack(len(encoded)) + encoded)
        return b"".join(parts)
    if isinstance(body, GeneralReply):
        return _REPLY.pack(body.ack_serial, body.ack_msg_id, body.result)
    if isinstance(body, RegisterReply):
        code = body.auth_code.encode("gbk") if body.result == 0 and body.auth_code else b""
        return _REGISTER_REPLY.pack(body.ack_serial, body.result) + code
    if isinstance(body, Registration):
        maker_w, model_w, id_w = _REGISTER_LAYOUTS[body.layout]
        return (
            struct.pack(">HH", body.province, body.city)
            + _pad(body.maker, maker_w)
            + _pad(body.model, model_w)
            + _pad(body.terminal_id, id_w)
            + bytes((body.plate_color,))
            + body.plate.encode("gbk")
        )
    if isinstance(body, Authentication):
        code = body.auth_code.encode("gbk")
        if version != "2019":
            return code
        return bytes((len(code),)) + code + _pad(body.imei or "", 15) + _pad(body.software_version or "", 20)
    if isinstance(body, MediaEvent):
        head = _MEDIA.pack(body.media_id, body.media_type, body.media_format, body.event, body.channel)
        return head + (encode_location(body.location) if body.location is not None else b"")
    if isinstance(body, Raw):
        return body.data
    if body is None:
        return b""
    raise TypeError(f"no encoder for {type(body).__name__}")


def message_id(body, *, platform: bool = False) -> int:
    """The message id a body object travels under.

    Parameters
    ----------
    body
        A supported body object (not Raw or None: they carry no id of their own).
    platform
        True for a platform-sent GeneralReply (0x8001), False for a terminal's (0x0001).

    Returns
    -------
    int
        The message id.

    Raises
    ------
    KeyError
        A body type without a fixed message id.
    """
    kinds = {
        Location: LOCATION,
        Batch: BATCH,
        Registration: REGISTER,
        Authentication: AUTHENTICATE,
        RegisterReply: REGISTER_REPLY,
    }
    if isinstance(body, GeneralReply):
        return PLATFORM_REPLY if platform else TERMINAL_REPLY
    if isinstance(body, MediaEvent):
        return MEDIA_UPLOAD if body.location is not None else MEDIA_EVENT
    return kinds[type(body)]


def encode_message(
    body, *, phone: str, serial: int, version: str = "2013", protocol_version: int = 1, msg_id: int | None = None
) -> bytes:
    """Wire frame for a body object (``msg_id`` needed for Raw/None bodies, e.g. heartbeat).

    Parameters
    ----------
    body
        The body object, see :func:`encode_body`.
    phone
        Terminal phone as decimal digits.
    serial
        Message serial number (0–65535).
    version
        Header version, "2013" or "2019".
    protocol_version
        Protocol version byte of a 2019 header.
    msg_id
        Message id; None to derive it from ``body`` with :func:`message_id`.

    Returns
    -------
    bytes
        The escaped wire frame.

    Raises
    ------
    ValueError
        An oversize body, an unknown version or a bad phone (from :func:`encode_frame`).
    """
    if msg_id is None:
        msg_id = message_id(body, platform=isinstance(body, RegisterReply))
    return encode_frame(
        msg_id=msg_id,
        phone=phone,
        serial=serial,
        body=encode_body(body, version=version),
        version=version,
        protocol_version=protocol_version,
    )


def platform_reply(frame: Frame, *, serial: int, result: int = RESULT_OK) -> bytes:
    """0x8001 answering ``frame`` in the terminal's own header version and phone.

    Parameters
    ----------
    frame
        The terminal's frame being acknowledged.
    serial
        The platform's own serial number for the reply.
    result
        Result code (0 = OK).

    Returns
    -------
    bytes
        The escaped 0x8001 wire frame.
    """
    return encode_message(
        GeneralReply(ack_serial=frame.serial, ack_msg_id=frame.msg_id, result=result),
        phone=frame.phone,
        serial=serial,
        version=frame.version,
        protocol_version=frame.protocol_version or 1,
        msg_id=PLATFORM_REPLY,
    )


# --- JSON -----------------------------------------------------------------------------


def body_json(body) -> object:
    """JSON-ready form of a body object."""
    if body is None:
        return None
    if isinstance(body, Location):
        return location_json(body)
    if isinstance(body, Batch):
        return {"type": body.type, "positions": [location_json(p) for p in body.positions]}
    if isinstance(body, Raw):
        return {"hex": body.data.hex()}
    if isinstance(body, tuple(COMMAND_TYPES.values())):
        return command_json(body)
    if isinstance(body, GeneralReply):
        return {"ack_serial": body.ack_serial, "ack_msg_id": f"0x{body.ack_msg_id:04X}", "result": body.result}
    if isinstance(body, MediaEvent):
        out = {name: getattr(body, name) for name in ("media_id", "media_type", "media_format", "event", "channel")}
        if body.location is not None:
            out["location"] = location_json(body.location)
            out["data_length"] = body.data_length
        return out
    return {name: getattr(body, name) for name in body.__slots__}


def frame_json(frame: Frame, body) -> dict[str, object]:
    """The one-object-per-frame shape of ``qingyun jt808 decode``.

    Parameters
    ----------
    frame
        The decoded frame header.
    body
        Its decoded body object.

    Returns
    -------
    dict[str, object]
        JSON-ready header fields (hex msg_id, version, phone, serial, quirks, subpackage) and ``body``.
    """
    out: dict[str, object] = {
        "msg_id": f"0x{frame.msg_id:04X}",
        "version": frame.version,
        "phone": frame.phone,
        "serial": frame.serial,
    }
    if frame.protocol_version is not None:
        out["protocol_version"] = frame.protocol_version
    if frame.version_quirk:
        out["version_quirk"] = "2019 bit set on a 2013 header"
    if frame.subpackage is not None:
        out["subpackage"] = {"total": frame.subpackage[0], "index": frame.subpackage[1]}
    out["body"] = body_json(body)
    return out


def decode_json(frame: Frame) -> dict[str, object]:
    """Decode a frame's body and return the CLI shape (subpackages show their raw part)."""
    body = Raw(frame.body) if frame.subpackage is not None else decode_body(frame)
    return frame_json(frame, body)
