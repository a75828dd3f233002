"""The durable queue of platform → terminal commands (table ``terminal_command``, migration 0006).

A command is queued by anyone holding the database (CLI, API) and sent by the gateway process
that holds the terminal's connection: the gateway polls the table (no shared memory between
processes). States: ``queued`` → ``sent`` (serial recorded) → ``answered`` (the terminal's 0x0001
result: 0 ok, 1 failure, 2 wrong message, 3 not supported), or ``expired`` when ``expires_at``
passes first (a terminal that stays offline, or never answers), or ``failed`` when the gateway
cannot build the frame for the terminal's protocol version. A command sent on a connection that
dropped before the answer is queued again when the terminal next authenticates.
The body is stored as JSON (``fleet.jt808.platform.command_json``) and encoded for the
terminal's header version (2013 or 2019) when it is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Index, Text, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, SQLModel

from fleet.tracks.store import Terminal, UtcDateTime
from routing.errors import InvalidInputError, NotFoundError

QUEUED, SENT, ANSWERED, EXPIRED, FAILED = "queued", "sent", "answered", "expired", "failed"
STATES = (QUEUED, SENT, ANSWERED, EXPIRED, FAILED)
_NAMED_PHONES = 200
RESULTS = {0: "成功 ok", 1: "失败 failure", 2: "消息有误 wrong message", 3: "不支持 not supported"}


class TerminalCommand(SQLModel, table=True):
    """A platform → terminal command (0x8300 text, 0x8602/0x8604 areas, 0x8606 route) and its answer.

    Written by this module (the CLI, the API) and the gateway; the schema is migration 0006.
    """

    __tablename__ = "terminal_command"
    __table_args__ = (Index("ix_terminal_command_state_expires", "state", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(foreign_key="terminal.phone", max_length=20, index=True)
    msg_id: int = Field(description="the command's JT/T 808 message id, e.g. 0x8300 = 33536")
    body: str = Field(sa_column=Column(Text, nullable=False), description="the body as JSON, encoded when sent")
    summary: str = Field(sa_column=Column(Text, nullable=False), description="one line for people")
    state: str = Field(max_length=16, description="queued, sent, answered, expired or failed")
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    expires_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    serial: int | None = Field(default=None, description="the platform serial it was sent under")
    sent_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    result: int | None = Field(
        default=None, description="0x0001 result: 0 ok, 1 failure, 2 wrong message, 3 not supported"
    )
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


COMMANDS = TerminalCommand.__table__


@dataclass(frozen=True)
class Command:
    """One queued command as stored."""

    id: int
    phone: str
    msg_id: int
    body: dict
    summary: str
    state: str
    created_at: datetime
    expires_at: datetime
    serial: int | None
    sent_at: datetime | None
    answered_at: datetime | None
    result: int | None
    note: str | None

    @property
    def outcome(self) -> str:
        """The state in words, with the terminal's result when it answered."""
        if self.state == ANSWERED:
            return f"{ANSWERED}: {self.result} {RESULTS.get(self.result, '?')}"
        return self.state + (f": {self.note}" if self.note else "")


def _command(row) -> Command:
    values = dict(row._mapping)
    values["body"] = json.loads(values["body"])
    return Command(**values)


def queue_command(
    engine: Engine,
    *,
    phone: str,
    msg_id: int,
    body: dict,
    summary: str,
    expires_s: float,
    now: datetime | None = None,
) -> Command:
    """Queue a command for a terminal; the gateway holding its connection sends it within a poll interval.

    Parameters
    ----------
    engine
        The service database.
    phone
        Normalised terminal phone; must be a known terminal.
    msg_id
        The command's message id (0x8300, 0x8602, 0x8604, 0x8606).
    body
        The body as JSON data (``fleet.jt808.platform.command_json``).
    summary
        One line for people: the text, or what was pushed.
    expires_s
        Seconds after which an unsent or unanswered command is given up (state ``expired``).
    now
        The queueing time (default: now).

    Returns
    -------
    Command
        The stored command, state ``queued``.

    Raises
    ------
    NotFoundError
        When no terminal has this phone.
    InvalidInputError
        When ``expires_s`` is not positive.
    """
    if not expires_s > 0:
        raise InvalidInputError(f"有效期无效 / expires_s {expires_s:g}: must be more than 0 seconds")
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        known = connection.execute(select(Terminal.phone).where(Terminal.phone == phone)).first()
        if known is None:
            raise NotFoundError(
                f"终端不存在 / no terminal with phone {phone}: list them with `qingyun jt808 terminals`"
            )
        values = {
            "phone": phone,
            "msg_id": msg_id,
            "body": json.dumps(body, ensure_ascii=False),
            "summary": summary,
            "state": QUEUED,
            "created_at": now,
            "expires_at": now + timedelta(seconds=expires_s),
        }
        row = connection.execute(COMMANDS.insert().values(**values).returning(*COMMANDS.c)).one()
    return _command(row)


def expire_commands(engine: Engine, *, now: datetime | None = None) -> int:
    """Mark queued and sent commands whose expiry passed as ``expired``; the number marked."""
    now = now or datetime.now(UTC)
    with engine.begin() as connection:
        done = connection.execute(
            update(COMMANDS)
            .where(COMMANDS.c.state.in_((QUEUED, SENT)), COMMANDS.c.expires_at <= now)
            .values(state=EXPIRED, note="过期未送达 / expired before the terminal answered")
        )
    return done.rowcount


def due_commands(engine: Engine, *, phones: set[str], now: datetime | None = None) -> list[Command]:
    """Queued, unexpired commands of the given (connected) terminals, oldest first.

    Up to ``_NAMED_PHONES`` phones are named in the query; beyond that every queued command is
    read (few at any time) and filtered here, rather than sending thousands of phones as SQL parameters.
    """
    now = now or datetime.now(UTC)
    query = select(COMMANDS).where(COMMANDS.c.state == QUEUED, COMMANDS.c.expires_at > now).order_by(COMMANDS.c.id)
    if len(phones) <= _NAMED_PHONES:
        query = query.where(COMMANDS.c.phone.in_(sorted(phones)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [_command(row) for row in rows if row.phone in phones]


def mark_sent(engine: Engine, *, command_id: int, serial: int, now: datetime | None = None) -> bool:
    """Record that a queued command went out under ``serial``; False when it is no longer queued."""
    with engine.begin() as connection:
        done = connection.execute(
            update(COMMANDS)
            .where(COMMANDS.c.id == command_id, COMMANDS.c.state == QUEUED)
            .values(state=SENT, serial=serial, sent_at=now or datetime.now(UTC))
        )
    return done.rowcount == 1


def mark_failed(engine: Engine, *, command_id: int, note: str) -> None:
    """Give a queued command up because the gateway cannot send it (the reason is kept in ``note``)."""
    with engine.begin() as connection:
        connection.execute(
            update(COMMANDS)
            .where(COMMANDS.c.id == command_id, COMMANDS.c.state == QUEUED)
            .values(state=FAILED, note=note)
        )


def requeue_unanswered(engine: Engine, *, phone: str) -> int:
    """Queue again the sent, unanswered commands of a terminal that just authenticated on a new connection."""
    with engine.begin() as connection:
        done = connection.execute(
            update(COMMANDS)
            .where(COMMANDS.c.phone == phone, COMMANDS.c.state == SENT)
            .values(state=QUEUED, serial=None, sent_at=None)
        )
    return done.rowcount


def record_answer(
    engine: Engine, *, phone: str, serial: int, msg_id: int, result: int, now: datetime | None = None
) -> int | None:
    """Record a terminal's 0x0001 answer against the command it acknowledges.

    Parameters
    ----------
    engine
        The service database.
    phone
        The answering terminal (normalised phone).
    serial, msg_id
        The answer's acknowledged serial and message id.
    result
        0 ok, 1 failure, 2 wrong message, 3 not supported.
    now
        Answer time (default: now).

    Returns
    -------
    int or None
        The id of the command answered; None when no sent command matches (a late or foreign answer).
    """
    match = (
        COMMANDS.c.phone == phone,
        COMMANDS.c.serial == serial,
        COMMANDS.c.msg_id == msg_id,
        COMMANDS.c.state == SENT,
    )
    with engine.begin() as connection:
        found = connection.execute(select(COMMANDS.c.id).where(*match).order_by(COMMANDS.c.id.desc())).first()
        if found is None:
            return None
        connection.execute(
            update(COMMANDS)
            .where(COMMANDS.c.id == found.id)
            .values(state=ANSWERED, result=result, answered_at=now or datetime.now(UTC))
        )
    return found.id


def list_commands(
    engine: Engine, *, phone: str | None = None, state: str | None = None, limit: int = 200
) -> list[Command]:
    """The latest commands (of one terminal, in one state), newest first; expiries that passed are recorded first.

    Raises
    ------
    NotFoundError
        When ``phone`` is given and no terminal has it.
    """
    expire_commands(engine)
    query = select(COMMANDS).order_by(COMMANDS.c.id.desc()).limit(limit)
    with engine.connect() as connection:
        if phone is not None:
            if connection.execute(select(Terminal.phone).where(Terminal.phone == phone)).first() is None:
                raise NotFoundError(f"终端不存在 / no terminal with phone {phone}")
            query = query.where(COMMANDS.c.phone == phone)
        if state is not None:
            query = query.where(COMMANDS.c.state == state)
        rows = connection.execute(query).all()
    return [_command(row) for row in rows]


def get_command(engine: Engine, *, command_id: int) -> Command:
    """One command by id.

    Raises
    ------
    NotFoundError
        When there is no such command.
    """
    expire_commands(engine)
    with engine.connect() as connection:
        row = connection.execute(select(COMMANDS).where(COMMANDS.c.id == command_id)).first()
    if row is None:
        raise NotFoundError(f"命令不存在 / no terminal command {command_id}")
    return _command(row)
