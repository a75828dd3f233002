"""Stored alarms and their handling (table ``alarm``, migration 0007): the engine's events applied by key.

The engine (``fleet.supervise.engine``) raises alarm events with a stable key; :func:`apply_events`
writes them so that applying an event twice — a re-delivered position, a worker replaying a stream
after a crash — changes nothing: a ``start`` for a stored key is ignored, ``update`` and ``end``
rewrite the episode (severity, end, evidence) and ``withdrawn`` marks it. People then move the
alarm through its lifecycle: ``open`` → ``acknowledged`` (who, when) → ``handled`` (处置: who,
when, what was done, evidence) → ``closed`` once it is handled and its episode has ended (or was
withdrawn). A withdrawn alarm nobody handled is closed at once: there is nothing left to do.
Times are stored in UTC; ``raised_at`` is when the alarm was first stored, the start of the
time-to-acknowledge and time-to-handle measures.

Every change is also appended to the alarm event log (table ``alarm_event``, migration 0008) in the
same transaction: the engine's ``start``/``update``/``end``/``withdrawn`` when they change the stored
alarm (a re-applied event changes nothing, so it logs nothing) and people's ``acknowledged`` and
``handled``. ``GET /alarms/stream`` reads the log by id; ``received_at`` is when the position that
caused the event was accepted (None for people's acts), ``published_at`` when the event was stored.
Table ``live_fix`` keeps each terminal's newest fix (:func:`record_last_fixes`, called where
positions are stored) for ``GET /live``: one row per truck instead of a search of the positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Column, Float, Index, Integer, String, Text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from fleet.supervise.alarms import AlarmEvent
from fleet.tracks.store import POSITION_COLUMNS, UtcDateTime
from routing.errors import ConflictError, NotFoundError

OPEN, ACKNOWLEDGED, HANDLED, CLOSED = "open", "acknowledged", "handled", "closed"
_POSITION = {name: i for i, name in enumerate(POSITION_COLUMNS)}
STATES = (OPEN, ACKNOWLEDGED, HANDLED, CLOSED)


class AlarmRow(SQLModel, table=True):
    """One alarm as stored: the episode (from the engine) and its handling (from people)."""

    __tablename__ = "alarm"
    __table_args__ = (
        Index("ix_alarm_company_started", "company", "started_at"),
        Index("ix_alarm_state_started", "state", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(512), nullable=False, unique=True), description="engine's stable key")
    device: str = Field(max_length=64, index=True)
    company: str | None = Field(default=None, max_length=128)
    type: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    permit_id: str | None = Field(default=None, max_length=64)
    zone_id: str | None = Field(default=None, max_length=64)
    started_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    raised_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False), description="first stored")
    late: bool = Field(default=False, description="raised by a position that arrived out of GPS-time order")
    withdrawn: bool = Field(default=False, description="later fixes undid the episode before it ended")
    state: str = Field(default=OPEN, max_length=16, description="open, acknowledged, handled or closed")
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledged_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    handled_by: str | None = Field(default=None, max_length=64)
    handled_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True), description="what was done")
    handling_evidence: dict | None = Field(
        default=None, sa_column=Column(JSON, nullable=True), description="the handler's evidence"
    )
    evidence: dict = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False), description="the violation as last judged"
    )


class AlarmEventRow(SQLModel, table=True):
    """One entry of the alarm event log, read in id order by the streams.

    Ids only grow (SQLite AUTOINCREMENT never reuses one); on PostgreSQL two transactions may commit
    their ids out of order, which the readers handle (``api.services.live``).
    """

    __tablename__ = "alarm_event"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    alarm_id: int = Field(foreign_key="alarm.id", index=True)
    kind: str = Field(max_length=16, description="start, update, end, withdrawn, acknowledged or handled")
    by: str | None = Field(default=None, max_length=64, description="who acted (people's events)")
    received_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime, nullable=True), description="the causing position's arrival"
    )
    published_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False), description="when stored")


class LiveFix(SQLModel, table=True):
    """The newest fix (by GPS time) of each terminal, for ``GET /live``."""

    __tablename__ = "live_fix"

    device: str = Field(sa_column=Column(String(20), primary_key=True))
    gps_time: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    received_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
    lon: float = Field(sa_column=Column(Float, nullable=False))
    lat: float = Field(sa_column=Column(Float, nullable=False))
    speed_kmh: float = Field(default=0.0, sa_column=Column(Float, nullable=False))
    heading: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    status: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_events` did: alarms inserted, rows changed, events that changed nothing."""

    inserted: int = 0
    changed: int = 0
    unchanged: int = 0


def _episode(event: AlarmEvent) -> dict:
    v = event.alarm.violation
    zone = v.details.get("zone_id")
    return {
        "device": v.device,
        "company": v.company,
        "type": v.type,
        "severity": v.severity,
        "permit_id": v.permit_id,
        "zone_id": None if zone is None else str(zone),
        "started_at": datetime.fromisoformat(v.start),
        "evidence": v.model_dump(mode="json"),
    }


def _apply(session: Session, event: AlarmEvent, now: datetime) -> tuple[str, AlarmRow]:
    """One event → (``inserted``, ``changed`` or ``unchanged``; the row)."""
    row = session.exec(select(AlarmRow).where(AlarmRow.key == event.alarm.key)).first()
    values = _episode(event)
    if event.kind in ("end", "update") and event.alarm.state == "ended":
        values["ended_at"] = datetime.fromisoformat(event.alarm.violation.end)
    if row is None:
        row = AlarmRow(key=event.alarm.key, raised_at=now, late=event.alarm.late, **values)
        session.add(row)
        if event.kind == "withdrawn":
            row.withdrawn, row.state = True, CLOSED
        return "inserted", row
    if event.kind == "start":
        return "unchanged", row  # a re-delivered start: the stored alarm stands
    before = {name: getattr(row, name) for name in (*values, "withdrawn", "state")}
    if event.kind == "withdrawn":
        row.withdrawn = True
        if row.state in (OPEN, ACKNOWLEDGED):
            row.state = CLOSED
    else:
        for name, value in values.items():
            setattr(row, name, value)
        if row.state == HANDLED and row.ended_at is not None:
            row.state = CLOSED
    after = {name: getattr(row, name) for name in before}
    return ("changed" if after != before else "unchanged"), row


def _log(
    session: Session,
    row: AlarmRow,
    kind: str,
    *,
    now: datetime,
    received_at: datetime | None = None,
    by: str | None = None,
) -> None:
    """Append an event of ``row`` to the log (flushing first so a new alarm has its id)."""
    session.flush()
    session.add(AlarmEventRow(alarm_id=row.id, kind=kind, by=by, received_at=received_at, published_at=now))


def apply_events(
    engine: Engine,
    events: Iterable[AlarmEvent],
    *,
    received_at: float | datetime | None = None,
    now: datetime | None = None,
) -> Applied:
    """Store the engine's alarm events, idempotently by key, and log those that changed an alarm.

    The one store function of the live path: the in-process sink, the Redis rule workers and
    ``qingyun supervise replay`` all call it. Re-applying an event (a re-delivered position, a
    worker re-reading a stream after a crash) changes nothing and logs nothing.

    Parameters
    ----------
    engine
        The service database (tables from the Alembic migrations).
    events
        Events in the order the engine raised them.
    received_at
        When the position that caused them was accepted (epoch seconds or aware datetime), logged
        with each event so a stream can show the delay; None when unknown (a replay).
    now
        The time stored as ``raised_at`` for new alarms and ``published_at`` of the log (default: now).

    Returns
    -------
    Applied
        How many alarms were inserted, rows changed and events that changed nothing.
    """
    counts = {"inserted": 0, "changed": 0, "unchanged": 0}
    now = now or datetime.now(UTC)
    if isinstance(received_at, int | float):
        received_at = datetime.fromtimestamp(received_at, UTC)
    for event in events:
        for attempt in (1, 2):  # a concurrent worker may insert the same key first: then it is an update
            try:
                with Session(engine) as session:
                    outcome, row = _apply(session, event, now)
                    if outcome != "unchanged":
                        kind = "start" if outcome == "inserted" and event.kind == "update" else event.kind
                        _log(session, row, kind, now=now, received_at=received_at)
                    session.commit()
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        counts[outcome] += 1
    return Applied(**counts)


def get_alarm(session: Session, alarm_id: int | str) -> AlarmRow:
    """One stored alarm; NotFoundError naming the id when there is none (any text that is not a stored key)."""
    key = str(alarm_id)
    row = session.get(AlarmRow, int(key)) if key.isascii() and key.isdigit() and 1 <= int(key) < 2**31 else None
    if row is None:
        raise NotFoundError(f"报警不存在 / no alarm with id {alarm_id}")
    return row


def acknowledge(session: Session, alarm_id: int | str, *, by: str, now: datetime | None = None) -> AlarmRow:
    """Acknowledge an open alarm (acknowledging it again changes nothing).

    Raises
    ------
    NotFoundError
        Unknown id.
    ConflictError
        The alarm is already handled or closed.
    """
    row = _not_handled(session, alarm_id, cannot=("不能确认", "it cannot be acknowledged"))
    if row.state == OPEN:
        now = now or datetime.now(UTC)
        row.state, row.acknowledged_by, row.acknowledged_at = ACKNOWLEDGED, by, now
        _save(session, row, event="acknowledged", now=now)
    return row


def handle(
    session: Session, alarm_id: int | str, *, by: str, note: str, evidence: dict | None, now: datetime | None = None
) -> AlarmRow:
    """Record how an alarm was handled (处置); an unacknowledged one is acknowledged by the same act.

    Raises
    ------
    NotFoundError
        Unknown id.
    ConflictError
        The alarm is already handled or closed.
    """
    row = _not_handled(session, alarm_id, cannot=("不能再处置", "it cannot be handled again"))
    now = now or datetime.now(UTC)
    if row.acknowledged_at is None:
        row.acknowledged_by, row.acknowledged_at = by, now
    row.handled_by, row.handled_at, row.note, row.handling_evidence = by, now, note, evidence
    row.state = CLOSED if row.ended_at is not None or row.withdrawn else HANDLED
    _save(session, row, event="handled", now=now)
    return row


def _not_handled(session: Session, alarm_id: int | str, *, cannot: tuple[str, str]) -> AlarmRow:
    """The stored alarm, if it is still open or acknowledged; ConflictError saying what it ``cannot`` (zh, en) else."""
    row = get_alarm(session, alarm_id)
    if row.state in (HANDLED, CLOSED):
        zh, en = cannot
        raise ConflictError(f"报警 {alarm_id} 状态为 {row.state}，{zh} / alarm {alarm_id} is {row.state}: {en}")
    return row


def _save(session: Session, row: AlarmRow, *, event: str, now: datetime) -> None:
    """Commit a lifecycle step with its log entry (who: the row's actor) and reload the row (the caller returns it)."""
    session.add(row)
    _log(session, row, event, now=now, by=row.handled_by if event == "handled" else row.acknowledged_by)
    session.commit()
    session.refresh(row)


def record_last_fixes(engine: Engine, rows: Sequence[tuple]) -> None:
    """Keep each terminal's newest fix of ``rows`` in ``live_fix`` (an older one than stored changes nothing).

    Parameters
    ----------
    engine
        The service database.
    rows
        Stored position rows in ``POSITION_COLUMNS`` order (as ``fleet.tracks.store.insert_positions`` takes).
    """
    newest: dict[str, tuple] = {}
    for row in rows:
        held = newest.get(row[0])
        if held is None or row[1] > held[1]:
            newest[row[0]] = row
    if not newest:
        return
    values = [
        {
            "device": r[0],
            "gps_time": r[_POSITION["gps_time"]],
            "received_at": r[_POSITION["received_at"]],
            "lon": r[_POSITION["lon"]],
            "lat": r[_POSITION["lat"]],
            "speed_kmh": r[_POSITION["speed_kmh"]] or 0.0,
            "heading": r[_POSITION["heading"]] or 0,
            "status": r[_POSITION["status"]],
        }
        for _, r in sorted(newest.items())  # one order for every writer: concurrent upserts cannot deadlock
    ]
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = LiveFix.__table__
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.device],
        set_={name: statement.excluded[name] for name in values[0] if name != "device"},
        where=table.c.gps_time < statement.excluded.gps_time,
    )
    with engine.begin() as connection:
        connection.execute(statement, values)  # executemany: one statement compiled, not one per row
