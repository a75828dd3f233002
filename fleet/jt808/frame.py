"""JT/T 808 framing: 0x7E delimiters, escaping, checksum and the message header.

A wire frame is ``7E | header | body | checksum | 7E`` with 7E/7D escaped inside.
Decoding never raises anything but :class:`routing.errors.DecodeError`, whose ``offset`` is the byte
index in the wire frame as received (0 = the opening 0x7E), so a user can find the
bad byte in the hex they pasted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from routing.errors import DecodeError

FLAG = 0x7E
ESCAPE = 0x7D
VERSION_BIT = 0x4000
SUBPACKAGE_BIT = 0x2000
ENCRYPTION_MASK = 0x1C00
LENGTH_MASK = 0x03FF
MAX_BODY_LENGTH = LENGTH_MASK
# header sizes without the optional 4-byte subpackage field
HEADER_2013 = 12
HEADER_2019 = 17

_ID_PROPS = struct.Struct(">HH")
_SERIAL = struct.Struct(">H")
_SUBPACKAGE = struct.Struct(">HH")


@dataclass(slots=True)
class Frame:
    """One decoded frame: header fields and the (unescaped, reassembly-pending) body bytes.

    ``phone`` is the BCD digits as sent (12 for 2013, 20 for 2019). ``version_quirk``
    marks a device that sets the 2019 bit but sends the 2013 header layout.
    ``body_offset`` is the body's first byte in unescaped coordinates, ``wire`` the escaped
    content (without flags) so later body errors can still name a wire offset.
    """

    msg_id: int
    version: str
    protocol_version: int | None
    phone: str
    serial: int
    body: bytes
    subpackage: tuple[int, int] | None = None
    encryption: int = 0
    version_quirk: bool = False
    body_offset: int = HEADER_2013
    wire: bytes = b""

    def error(self, body_index: int, reason: str) -> DecodeError:
        """A DecodeError for a problem at ``body_index`` within this frame's body."""
        if not self.wire:  # reassembled from subpackages: no single wire frame to point into
            return DecodeError(body_index, f"{reason} (offset in the reassembled body)")
        return DecodeError(wire_offset(self.wire, self.body_offset + body_index), reason)


def escape(raw: bytes) -> bytes:
    """Escape 7D → 7D 01 and 7E → 7D 02 (7D first, so the inserted 7D are not re-escaped)."""
    return raw.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(escaped: bytes) -> bytes:
    """Reverse :func:`escape`; raises DecodeError at a 7D not followed by 01/02 or a stray 7E."""
    if b"\x7e" in escaped:
        return _raise_at(escaped, escaped.index(b"\x7e"), "unescaped 0x7E inside the frame")
    if b"\x7d" not in escaped:
        return escaped
    escapes = escaped.count(b"\x7d")
    if escapes != escaped.count(b"\x7d\x01") + escaped.count(b"\x7d\x02"):
        index = next(
            i for i, byte in enumerate(escaped) if byte == ESCAPE and escaped[i + 1 : i + 2] not in (b"\x01", b"\x02")
        )
        return _raise_at(escaped, index, "0x7D not followed by 0x01 or 0x02 (bad escape)")
    # 7D02 first: in "7D 01 02" (an escaped 7D then 02) no 7D02 pair exists yet.
    return escaped.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def _raise_at(escaped: bytes, index: int, reason: str) -> bytes:
    raise DecodeError(1 + index, reason)


def checksum(data: bytes) -> int:
    """XOR of all bytes: fold the bytes, read as one integer, in halves down to one byte."""
    value = int.from_bytes(data, "little")
    width = len(data)
    while width > 8:
        half = (width + 1) >> 1
        value = (value & ((1 << (half << 3)) - 1)) ^ (value >> (half << 3))
        width = half
    value ^= value >> 32
    value ^= value >> 16
    value ^= value >> 8
    return value & 0xFF


def wire_offset(escaped: bytes, raw_index: int) -> int:
    """Map an index in the unescaped content to the index in the wire frame (flag = 0).

    Parameters
    ----------
    escaped
        The escaped frame content, without the two 0x7E flags.
    raw_index
        Byte index in the unescaped content.

    Returns
    -------
    int
        Byte index in the wire frame counting the leading flag; past the end when ``raw_index`` is.
    """
    raw = 0
    position = 0
    while position < len(escaped):
        if raw == raw_index:
            return 1 + position
        position += 2 if escaped[position] == ESCAPE else 1
        raw += 1
    return 1 + len(escaped)


def decode_frame(wire: bytes) -> Frame:
    """Decode one wire frame ``7E … 7E`` (flags required)."""
    if len(wire) < 2 or wire[0] != FLAG:
        raise DecodeError(0, "frame must start with 0x7E")
    if wire[-1] != FLAG:
        raise DecodeError(len(wire) - 1, "frame must end with 0x7E")
    return decode_escaped(wire[1:-1])


def decode_escaped(escaped: bytes) -> Frame:
    """Decode the escaped content between the two 0x7E flags."""
    raw = unescape(escaped) if b"\x7d" in escaped or b"\x7e" in escaped else escaped
    size = len(raw)
    if size < HEADER_2013 + 1:
        raise DecodeError(1 + len(escaped), f"frame too short: {size} bytes, a header alone is {HEADER_2013}")
    if checksum(raw):
        expected = checksum(raw[:-1])
        raise DecodeError(
            wire_offset(escaped, size - 1),
            f"checksum mismatch: frame has 0x{raw[-1]:02X}, content gives 0x{expected:02X}",
        )
    msg_id, props = _ID_PROPS.unpack_from(raw)
    body_length = props & LENGTH_MASK
    extra = 4 if props & SUBPACKAGE_BIT else 0
    quirk = False
    if props & VERSION_BIT:
        if HEADER_2019 + extra + body_length + 1 == size:
            version = "2019"
        elif HEADER_2013 + extra + body_length + 1 == size:
            version, quirk = "2013", True
        else:
            raise DecodeError(
                wire_offset(escaped, 2),
                f"body length {body_length} fits neither the 2019 nor the 2013 header in a {size}-byte frame",
            )
    else:
        version = "2013"
        if HEADER_2013 + extra + body_length + 1 != size:
            raise DecodeError(
                wire_offset(escaped, 2),
                f"body length field says {body_length} bytes, frame carries {size - HEADER_2013 - extra - 1}",
            )
    if version == "2019":
        protocol_version = raw[4]
        phone = raw[5:15].hex()
        serial = _SERIAL.unpack_from(raw, 15)[0]
        offset = HEADER_2019
    else:
        protocol_version = None
        phone = raw[4:10].hex()
        serial = _SERIAL.unpack_from(raw, 10)[0]
        offset = HEADER_2013
    subpackage = None
    if extra:
        total, index = _SUBPACKAGE.unpack_from(raw, offset)
        if not 1 <= index <= total:
            raise DecodeError(wire_offset(escaped, offset), f"subpackage index {index} outside 1..{total}")
        subpackage = (total, index)
        offset += 4
    return Frame(
        msg_id,
        version,
        protocol_version,
        phone,
        serial,
        raw[offset:-1],
        subpackage,
        (props & ENCRYPTION_MASK) >> 10,
        quirk,
        offset,
        escaped,
    )


def peek_header(escaped: bytes) -> tuple[int, str, int, str] | None:
    """Best-effort (msg_id, phone, serial, version) of a frame that failed to decode.

    Used to answer a bad frame with result 2 when its header is readable; None when
    even the header cannot be trusted (too short, bad escape).
    """
    try:
        raw = unescape(escaped)
    except DecodeError:
        return None
    if len(raw) < HEADER_2013 + 1:
        return None
    msg_id, props = _ID_PROPS.unpack_from(raw)
    extra = 4 if props & SUBPACKAGE_BIT else 0
    quirk = HEADER_2013 + extra + (props & LENGTH_MASK) + 1 == len(raw)
    if props & VERSION_BIT and not quirk and len(raw) >= HEADER_2019 + 1:
        return msg_id, raw[5:15].hex(), _SERIAL.unpack_from(raw, 15)[0], "2019"
    return msg_id, raw[4:10].hex(), _SERIAL.unpack_from(raw, 10)[0], "2013"


def encode_frame(
    *,
    msg_id: int,
    phone: str,
    serial: int,
    body: bytes = b"",
    version: str = "2013",
    protocol_version: int = 1,
    subpackage: tuple[int, int] | None = None,
) -> bytes:
    """Build an escaped wire frame (with both 0x7E flags) for any message.

    Parameters
    ----------
    msg_id
        Message id, e.g. 0x0200.
    phone
        Terminal phone as decimal digits (or the device's raw hex digits echoed back).
    serial
        Message serial number (0–65535).
    body
        Encoded message body, at most ``MAX_BODY_LENGTH`` bytes.
    version
        Header version, "2013" or "2019".
    protocol_version
        Protocol version byte of a 2019 header.
    subpackage
        (total, index) when the message is one of several packages; None otherwise.

    Returns
    -------
    bytes
        The escaped frame with its checksum and both flags.

    Raises
    ------
    ValueError
        A body too long, an unknown version or a phone that is not decimal digits.
    """
    if len(body) > MAX_BODY_LENGTH:
        raise ValueError(f"body of {len(body)} bytes exceeds {MAX_BODY_LENGTH}: send it in subpackages")
    props = len(body)
    if subpackage is not None:
        props |= SUBPACKAGE_BIT
    if version == "2019":
        props |= VERSION_BIT
        head = _ID_PROPS.pack(msg_id, props) + bytes((protocol_version,)) + phone_bcd(phone, digits=20)
    elif version == "2013":
        head = _ID_PROPS.pack(msg_id, props) + phone_bcd(phone, digits=12)
    else:
        raise ValueError(f"version must be '2013' or '2019', got {version!r}")
    head += _SERIAL.pack(serial)
    if subpackage is not None:
        head += _SUBPACKAGE.pack(*subpackage)
    raw = head + body
    return b"\x7e" + escape(raw + bytes((checksum(raw),))) + b"\x7e"


def phone_bcd(phone: str, *, digits: int) -> bytes:
    """Phone number as BCD, left-padded with zeros to ``digits`` (12 or 20).

    Parameters
    ----------
    phone
        Decimal digits; a hex string of exactly ``digits`` characters is passed through as received.
    digits
        Field width in digits: 12 (2013 header) or 20 (2019 header).

    Returns
    -------
    bytes
        ``digits // 2`` bytes.

    Raises
    ------
    ValueError
        More than ``digits`` characters, or characters that are not decimal digits.
    """
    if len(phone) > digits or not phone.isdigit():
        if len(phone) == digits and all(c in "0123456789abcdef" for c in phone):
            return bytes.fromhex(phone)  # a device's non-BCD phone echoed back as received
        raise ValueError(f"phone {phone!r} is not up to {digits} decimal digits")
    return bytes.fromhex(phone.rjust(digits, "0"))


class FrameSplitter:
    """Cut a TCP byte stream into escaped frame contents at 0x7E flags.

    Handles partial reads (the tail waits for the next read), several frames per read
    and shared flags (``7E…7E7E…7E``). Bytes before the first flag of a connection and
    runs longer than ``max_frame`` without a flag come out as bad chunks (``overflows`` counts
    the latter, so a gateway can close a line that sends them).
    """

    def __init__(self, *, max_frame: int = 2 * (HEADER_2019 + 4 + MAX_BODY_LENGTH + 1)) -> None:
        self._pending = b""
        self._started = False
        self._max_frame = max_frame
        self.overflows = 0

    @property
    def pending(self) -> int:
        """Bytes held of a frame not finished yet."""
        return len(self._pending)

    def clear(self) -> None:
        """Drop the unfinished frame."""
        self._pending = b""

    def feed(self, data: bytes) -> tuple[list[bytes], list[bytes]]:
        """Return (frames, junk): complete escaped frame contents and discarded chunks."""
        pieces = (self._pending + data if self._pending else bytes(data)).split(b"\x7e")
        junk: list[bytes] = []
        tail = pieces.pop()
        if pieces and not self._started:
            if pieces[0]:
                junk.append(pieces[0])
            pieces[0] = b""
            self._started = True
        frames = [piece for piece in pieces if piece]
        if len(tail) > self._max_frame:
            junk.append(tail)
            self.overflows += 1
            tail = b""
            self._started = False
        self._pending = tail
        return frames, junk


# what one buffered subpackage part costs beyond its body bytes (Frame object, dict slot), for budgets
PART_OVERHEAD = 200


class Reassembler:
    """Collect the subpackages of long messages until every part has arrived.

    Parts are keyed by (phone, message id, total); at most ``max_pending`` incomplete
    messages are kept (the oldest is dropped: its terminal re-sends after no reply).
    ``pending_bytes`` is what the held parts cost, for the caller's byte budget.
    """

    def __init__(self, *, max_pending: int = 16) -> None:
        self._parts: dict[tuple[str, int, int], dict[int, Frame]] = {}
        self._max_pending = max_pending
        self.pending_bytes = 0

    def clear(self) -> None:
        """Drop every held part."""
        self._parts.clear()
        self.pending_bytes = 0

    def add(self, frame: Frame) -> Frame | None:
        """The complete message once ``frame`` was its last missing part, else None."""
        total, index = frame.subpackage
        key = (frame.phone, frame.msg_id, total)
        parts = self._parts.setdefault(key, {})
        previous = parts.get(index)
        if previous is not None:
            self.pending_bytes -= len(previous.body) + PART_OVERHEAD
        parts[index] = replace(frame, wire=b"")  # the escaped copy is not needed once decoded
        self.pending_bytes += len(frame.body) + PART_OVERHEAD
        if len(parts) < total:
            if len(self._parts) > self._max_pending:
                self._drop(next(iter(self._parts)))
            return None
        self._drop(key)
        body = b"".join(parts[number].body for number in range(1, total + 1))
        return replace(frame, body=body, subpackage=None, body_offset=0, wire=b"")

    def _drop(self, key: tuple[str, int, int]) -> None:
        parts = self._parts.pop(key)
        self.pending_bytes -= sum(len(part.body) + PART_OVERHEAD for part in parts.values())
