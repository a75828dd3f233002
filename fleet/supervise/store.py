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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import JSON, Column, Index, String, Text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, select

from fleet.supervise.alarms import AlarmEvent
from fleet.tracks.store import UtcDateTime
from routing.errors import ConflictError, NotFoundError

OPEN, ACKNOWLEDGED, HANDLED, CLOSED = "open", "acknowledged", "handled", "closed"
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


def _apply(session: Session, event: AlarmEvent, now: datetime) -> str:
    """One event → ``inserted``, ``changed`` or ``unchanged``."""
    row = session.exec(select(AlarmRow).where(AlarmRow.key == event.alarm.key)).first()
    values = _episode(event)
    if event.kind in ("end", "update") and event.alarm.state == "ended":
        values["ended_at"] = datetime.fromisoformat(event.alarm.violation.end)
    if row is None:
        row = AlarmRow(key=event.alarm.key, raised_at=now, late=event.alarm.late, **values)
        session.add(row)
        if event.kind == "withdrawn":
            row.withdrawn, row.state = True, CLOSED
        return "inserted"
    if event.kind == "start":
        return "unchanged"  # a re-delivered start: the stored alarm stands
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
    return "changed" if after != before else "unchanged"


def apply_events(engine: Engine, events: Iterable[AlarmEvent], *, now: datetime | None = None) -> Applied:
    """Store the engine's alarm events, idempotently by key.

    Parameters
    ----------
    engine
        The service database (tables from the Alembic migrations).
    events
        Events in the order the engine raised them.
    now
        The time stored as ``raised_at`` for new alarms (default: now).

    Returns
    -------
    Applied
        How many alarms were inserted, rows changed and events that changed nothing.
    """
    counts = {"inserted": 0, "changed": 0, "unchanged": 0}
    now = now or datetime.now(UTC)
    for event in events:
        for attempt in (1, 2):  # a concurrent worker may insert the same key first: then it is an update
            try:
                with Session(engine) as session:
                    outcome = _apply(session, event, now)
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
        row.state, row.acknowledged_by, row.acknowledged_at = ACKNOWLEDGED, by, now or datetime.now(UTC)
        _save(session, row)
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
    _save(session, row)
    return row


def _not_handled(session: Session, alarm_id: int | str, *, cannot: tuple[str, str]) -> AlarmRow:
    """The stored alarm, if it is still open or acknowledged; ConflictError saying what it ``cannot`` (zh, en) else."""
    row = get_alarm(session, alarm_id)
    if row.state in (HANDLED, CLOSED):
        zh, en = cannot
        raise ConflictError(f"报警 {alarm_id} 状态为 {row.state}，{zh} / alarm {alarm_id} is {row.state}: {en}")
    return row


def _save(session: Session, row: AlarmRow) -> None:
    """Commit a lifecycle step and reload the row (the caller returns it)."""
    session.add(row)
    session.commit()
    session.refresh(row)
