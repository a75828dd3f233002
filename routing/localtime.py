"""Local time: the one time-zone constant and the one UTC-offset parser of the product.

Chinese municipal staff read times in China Standard Time (UTC+8, no daylight saving); data
stays timezone-aware everywhere and is printed with its offset (ISO 8601).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from routing.errors import InvalidInputError

CHINA_TZ = timezone(timedelta(hours=8), "UTC+08:00")
"""China Standard Time, the default local time of every input and output."""

CHINA_OFFSET_S = 8 * 3600
"""The same offset in seconds, for vectorised arithmetic on epoch seconds."""

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


def parse_utc_offset(text: str, *, field: str = "utc_offset") -> timezone:
    """A fixed offset from ``"+08:00"``-style text.

    Parameters
    ----------
    text
        ``±HH:MM`` with hours 00–14 and minutes 00–59.
    field
        The input field named in the error message.

    Returns
    -------
    datetime.timezone

    Raises
    ------
    InvalidInputError
        When the text is not a valid offset; the message names the field and the value.
    """
    match = _OFFSET.match(text or "")
    if not match or int(match[2]) > 14 or int(match[3]) > 59 or (int(match[2]) == 14 and int(match[3])):
        raise InvalidInputError(f"{field}: {text!r} is not a UTC offset; write e.g. +08:00")
    sign = -1 if match[1] == "-" else 1
    return timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))


def iso_local(epoch_s: float, *, tz: timezone = CHINA_TZ) -> str:
    """Epoch seconds as ISO 8601 local time with its offset (``2026-11-22T06:00:00+08:00``).

    Parameters
    ----------
    epoch_s : float
        Seconds since the Unix epoch.
    tz : datetime.timezone
        The local zone; China Standard Time (UTC+8) by default.

    Returns
    -------
    str
        The time to the second with its UTC offset.
    """
    return datetime.fromtimestamp(epoch_s, tz).isoformat(timespec="seconds")


def aware_utc(field: str, value: datetime | None) -> datetime | None:
    """A query bound checked to carry its offset and converted to UTC, the database's comparison time.

    Parameters
    ----------
    field
        The query field named in the error message.
    value
        The bound as given, or None.

    Returns
    -------
    datetime or None
        The same instant in UTC.

    Raises
    ------
    InvalidInputError
        When the value has no UTC offset or falls outside the years 1–9999 in UTC.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInputError(
            f"{field}: {value.isoformat()} 缺少时区 / needs a UTC offset, e.g. 2026-11-22T06:00:00+08:00"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInputError(f"{field}: {value.isoformat()} 超出范围 / is outside the years 1–9999 in UTC") from None
