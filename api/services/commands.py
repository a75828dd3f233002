"""Platform → terminal commands over HTTP: the request bodies, queueing through ``fleet.jt808.geofence``, the answers.

The queue itself is ``fleet.tracks.commands`` (the gateway holding the terminal's connection sends
what is queued); ``queue_text``, ``queue_route`` and ``queue_zone`` check that a command fits one
frame for the terminal's protocol version, exactly as the CLI does. Permits and zones are the
supervisor's stored ones (``POST /permits``, ``POST /zones``). The terminal is looked up first, so an
unknown phone is a 404 whatever the body says. Each answer carries the terminal's ``last_seen`` (when
its latest fix arrived) so a page can say "offline since …".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from sqlalchemy import select
from sqlalchemy.engine import Engine

from api.settings import Settings
from fleet.jt808.geofence import queue_route, queue_text, queue_zone, terminal_version
from fleet.tracks.commands import STATES, Command, get_command, list_commands
from fleet.tracks.store import Position, normalise_phone
from routing.errors import NotFoundError
from routing.localtime import CHINA_TZ

MAX_EXPIRES_S = 7 * 24 * 3600
_COMMAND_ID = re.compile(r"^[0-9]{1,10}$")
MAX_LINE_POINTS = 2000  # simplification is quadratic at worst; a frame holds far fewer turning points anyway

Expires = Annotated[
    float | None,
    Field(
        None,
        ge=1,
        le=MAX_EXPIRES_S,
        allow_inf_nan=False,
        description="seconds until an unsent or unanswered command is given up (1 s–7 days); "
        "default QINGYUN_JT808_COMMAND_EXPIRY_S",
    ),
]
State = Literal[STATES]  # queued, sent, answered, expired, failed
Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextCommand(_Body):
    """0x8300: shown on the terminal's display and read aloud."""

    kind: Literal["text"]
    text: str = Field(
        min_length=1,
        max_length=1022,
        description="GBK text; one frame holds 1022 bytes (2019 terminals 1021), a Chinese character takes 2",
    )
    emergency: bool = False
    expires_s: Expires


class PermitRouteCommand(_Body):
    """0x8606 from a stored permit's approved route line (its device's corridor)."""

    kind: Literal["route"]
    permit_id: str = Field(min_length=1, max_length=64, description="a stored permit with a route line")
    corridor_m: float | None = Field(
        None, ge=0.5, le=127.5, allow_inf_nan=False, description="half-width; default the permit's, else the audit's"
    )
    expires_s: Expires


class LineString(_Body):
    type: Literal["LineString"]
    coordinates: list[tuple[Lon, Lat]] = Field(min_length=2, max_length=MAX_LINE_POINTS, description="[lon, lat]")


class LineRouteCommand(_Body):
    """0x8606 along a given WGS-84 line."""

    kind: Literal["route"]
    line: LineString
    name: str = Field("route", min_length=1, max_length=40, description="route name and key (same name replaces)")
    corridor_m: float | None = Field(
        None, ge=0.5, le=127.5, allow_inf_nan=False, description="half-width; default the audit's corridor_m"
    )
    expires_s: Expires


class ZoneCommand(_Body):
    """0x8602 rectangle or 0x8604 polygon per part of a stored restricted zone, alarming on entry."""

    kind: Literal["zone"]
    zone_id: str = Field(min_length=1, max_length=64, description="a stored zone")
    expires_s: Expires


def _kind(value: object) -> str | None:
    """The union member: ``kind``, and for routes whether a permit or a line is given."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if not isinstance(value, dict):
        return None
    kind = value.get("kind")
    if kind == "route":
        return "route-permit" if "permit_id" in value else "route-line"
    return kind if isinstance(kind, str) else None


CommandRequest = Annotated[
    Annotated[TextCommand, Tag("text")]
    | Annotated[PermitRouteCommand, Tag("route-permit")]
    | Annotated[LineRouteCommand, Tag("route-line")]
    | Annotated[ZoneCommand, Tag("zone")],
    Discriminator(
        _kind,
        custom_error_type="command_kind",
        custom_error_message="kind must be text, route (with permit_id or line) or zone",
    ),
]


class CommandOut(BaseModel):
    """A command as the API answers it (times China time with offset)."""

    id: int
    phone: str
    msg_id: int = Field(description="JT/T 808 message id, e.g. 33536 = 0x8300 text")
    summary: str
    state: State
    result: int | None = Field(description="the terminal's answer: 0 ok, 1 failure, 2 wrong message, 3 not supported")
    outcome: str = Field(description="the state in words, with the result when answered")
    created_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    last_seen: datetime | None = Field(description="when the terminal's latest fix arrived; null: never")


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(CHINA_TZ)


def last_seen(engine: Engine, phones: set[str]) -> dict[str, datetime]:
    """When each terminal's latest fix (by GPS time) arrived; terminals without fixes are absent.

    One indexed lookup per phone (the position key is phone, GPS time), so it stays cheap on long tracks.
    """
    seen: dict[str, datetime] = {}
    with engine.connect() as connection:
        for phone in phones:
            row = connection.execute(
                select(Position.received_at)
                .where(Position.terminal_phone == phone)
                .order_by(Position.gps_time.desc())
                .limit(1)
            ).first()
            if row is not None:
                seen[phone] = row.received_at
    return seen


def command_out(engine: Engine, commands: list[Command]) -> list[CommandOut]:
    """The commands as answered, each with its terminal's ``last_seen``."""
    seen = last_seen(engine, {c.phone for c in commands})
    return [
        CommandOut(
            id=c.id,
            phone=c.phone,
            msg_id=c.msg_id,
            summary=c.summary,
            state=c.state,
            result=c.result,
            outcome=c.outcome,
            created_at=_local(c.created_at),
            expires_at=_local(c.expires_at),
            sent_at=_local(c.sent_at),
            answered_at=_local(c.answered_at),
            last_seen=_local(seen.get(c.phone)),
        )
        for c in commands
    ]


def queue_request(engine: Engine, *, phone: str, request: CommandRequest, settings: Settings) -> list[Command]:
    """Queue what the body asks for the terminal ``phone``.

    Parameters
    ----------
    engine
        The service database.
    phone
        The path's phone (leading zeros ignored).
    request
        A text, a route (permit or line) or a zone.
    settings
        Default expiry (``QINGYUN_JT808_COMMAND_EXPIRY_S``) and corridor (the audit's ``corridor_m``).

    Returns
    -------
    list[Command]
        The queued commands: one, or one per zone part.

    Raises
    ------
    NotFoundError
        Unknown terminal, permit or zone (named).
    InvalidInputError
        Text or a route that does not fit one frame (the limit named), a permit without a route line,
        text without a GBK encoding.
    """
    key = normalise_phone(phone)
    terminal_version(engine, key)  # an unknown terminal is a 404 before anything in the body is judged
    expires_s = request.expires_s or settings.fleet.jt808.command_expiry_s
    if isinstance(request, TextCommand):
        return [queue_text(engine, phone=key, text=request.text, emergency=request.emergency, expires_s=expires_s)]
    if isinstance(request, ZoneCommand):
        return queue_zone(engine, phone=key, zone_id=request.zone_id, expires_s=expires_s)
    line = request.line if isinstance(request, LineRouteCommand) else None
    command = queue_route(
        engine,
        phone=key,
        expires_s=expires_s,
        default_corridor_m=settings.fleet.compliance.corridor_m,
        permit_id=None if line else request.permit_id,
        line=[list(point) for point in line.coordinates] if line else None,
        line_name=request.name if line else "",
        corridor_m=request.corridor_m,
    )
    return [command]


def find_commands(engine: Engine, *, phone: str | None, state: str | None, limit: int) -> list[Command]:
    """The latest commands, newest first, of one terminal and/or in one state (404 for an unknown phone)."""
    return list_commands(engine, phone=None if phone is None else normalise_phone(phone), state=state, limit=limit)


def command_by_id(engine: Engine, command_id: str) -> Command:
    """The command a path names; any text that is not a stored command's id is a 404 naming it.

    Raises
    ------
    NotFoundError
        Not a command id (the table key is a positive 32-bit integer), or no such command.
    """
    if not _COMMAND_ID.match(command_id) or not 1 <= int(command_id) < 2**31:
        raise NotFoundError(f"命令不存在 / no terminal command {command_id!r}")
    return get_command(engine, command_id=int(command_id))
