"""Terminals and positions in the database (SQLModel; SQLite by default, PostgreSQL too).

A position's identity is (terminal phone, GPS time): inserting it again — a blind-area
re-upload, a frame re-sent because its reply was lost, a gateway restart — changes
nothing, so ingest can be at-least-once and the table still holds each fix once. The
same pair is the primary key, which keeps every terminal's track ordered by GPS time
whatever order the points arrived in. ``phone`` is the terminal's BCD phone without
leading zeros, so a SIM seen in 2013 (12-digit) and 2019 (20-digit) headers is one
terminal. Times are stored in UTC and always read back timezone-aware.
The tables themselves come from the service's Alembic migrations (``api/alembic``) only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, String, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive UTC text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given: positions need an aware time")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Terminal(SQLModel, table=True):
    """A JT/T 808 terminal (one truck's GPS box), created by its 0x0100 registration."""

    __tablename__ = "terminal"

    phone: str = Field(sa_column=Column(String(20), primary_key=True))
    auth_code: str = Field(sa_column=Column(String(64), nullable=False))
    plate: str = ""
    plate_color: int = 0
    province: int = 0
    city: int = 0
    maker: str = ""
    model: str = ""
    terminal_id: str = ""
    protocol: str = Field(default="2013", description="registration layout: 2011, 2013 or 2019")
    registered_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class Position(SQLModel, table=True):
    """One GPS fix; primary key (terminal_phone, gps_time) makes re-uploads idempotent."""

    __tablename__ = "position"

    terminal_phone: str = Field(sa_column=Column(String(20), ForeignKey("terminal.phone"), primary_key=True))
    gps_time: datetime = Field(sa_column=Column(UtcDateTime, primary_key=True))
    received_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    lat: float
    lon: float
    altitude_m: int = 0
    speed_kmh: float = 0.0
    heading: int = 0
    alarm: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    mileage_km: float | None = None
    blind_area: bool = Field(
        default=False, description="re-uploaded from the terminal's blind-area memory (0x0704 type 1)"
    )
    items: str = Field(default="", description="additional items as sent (id, length, value …), hex")


POSITION_COLUMNS = (
    "terminal_phone",
    "gps_time",
    "received_at",
    "lat",
    "lon",
    "altitude_m",
    "speed_kmh",
    "heading",
    "alarm",
    "status",
    "mileage_km",
    "blind_area",
    "items",
)


def normalise_database_url(url: str) -> str:
    """The SQLAlchemy URL to connect with: plain ``postgresql://`` / ``postgres://`` URLs use psycopg 3.

    Parameters
    ----------
    url
        A database URL as configured.

    Returns
    -------
    str
    """
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    """An engine for the positions database, nothing more: the schema is the Alembic migrations' job.

    Whoever opens a database brings its schema up first (``api.db.engine_for`` in the service;
    the ``qingyun`` CLI hands fleet's commands that function as ``ctx.obj.engine_for``).

    Parameters
    ----------
    url
        Database URL (normalised by :func:`normalise_database_url`).

    Returns
    -------
    sqlalchemy.engine.Engine
        SQLite in WAL mode (readers never block the writer) and shared across threads.
    """
    url = normalise_database_url(url)
    args: dict[str, object] = {}
    if url.startswith("sqlite"):
        args = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, connect_args=args)
    if engine.dialect.name == "sqlite":
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    return engine


def normalise_phone(bcd_digits: str) -> str:
    """The terminal key: BCD digits without leading zeros ("0" for an all-zero phone)."""
    return bcd_digits.lstrip("0") or "0"


def register_terminal(engine: Engine, *, phone: str, registration: dict[str, object]) -> str:
    """Create or refresh a terminal and return its auth code (kept across re-registrations).

    Parameters
    ----------
    engine
        The track database.
    phone
        Terminal phone (primary key).
    registration
        ``Terminal`` column values to set (province, maker, plate …).

    Returns
    -------
    str
        The terminal's auth code, new only on first registration.
    """
    with Session(engine) as session:
        terminal = session.get(Terminal, phone)
        if terminal is None:
            terminal = Terminal(phone=phone, auth_code=secrets.token_hex(8), registered_at=datetime.now(UTC))
        for name, value in registration.items():
            setattr(terminal, name, value)
        session.add(terminal)
        session.commit()
        return terminal.auth_code


def auth_code_of(engine: Engine, *, phone: str) -> str | None:
    """The terminal's auth code, None when it never registered.

    Parameters
    ----------
    engine
        The track database.
    phone
        Terminal phone.

    Returns
    -------
    str or None
    """
    with Session(engine) as session:
        terminal = session.get(Terminal, phone)
        return terminal.auth_code if terminal is not None else None


def insert_positions(engine: Engine, rows: Sequence[tuple]) -> None:
    """Insert rows (tuples in ``POSITION_COLUMNS`` order) in one transaction, skipping stored ones.

    The bulk path bypasses the ORM: PostgreSQL gets COPY into a per-session temporary
    table then one INSERT … SELECT … ON CONFLICT DO NOTHING; SQLite one executemany of
    INSERT … ON CONFLICT DO NOTHING with times in the text form SQLAlchemy itself stores.

    Parameters
    ----------
    engine
        The track database (SQLite or PostgreSQL).
    rows
        Position rows, e.g. from ``fleet.jt808.gateway.position_row``.

    Raises
    ------
    ValueError
        A database other than SQLite or PostgreSQL.
    """
    if not rows:
        return
    columns = ", ".join(POSITION_COLUMNS)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS position_incoming "
                "(LIKE position INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY position_incoming ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO position ({columns}) SELECT {columns} FROM position_incoming ON CONFLICT DO NOTHING"
            )
        elif engine.dialect.name == "sqlite":
            marks = ", ".join("?" * len(POSITION_COLUMNS))
            cursor.executemany(
                f"INSERT INTO position ({columns}) VALUES ({marks}) ON CONFLICT DO NOTHING",
                [(row[0], _sqlite_time(row[1]), _sqlite_time(row[2]), *row[3:]) for row in rows],
            )
        else:
            raise ValueError(f"database {engine.dialect.name!r} not supported: use SQLite or PostgreSQL")
        cursor.close()
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def _sqlite_time(value: datetime) -> str:
    """UTC text exactly as SQLAlchemy's SQLite DateTime stores it (so keys compare equal)."""
    utc = value.astimezone(UTC)
    return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond:06d}"


def track(engine: Engine, *, phone: str, start: datetime | None = None, end: datetime | None = None) -> list[Position]:
    """A terminal's positions in GPS-time order (``start`` ≤ time < ``end`` when given).

    Parameters
    ----------
    engine, phone
        The track database and the terminal's phone number.
    start, end
        Half-open GPS-time window (aware datetimes); None leaves that side open.

    Returns
    -------
    list[Position]
    """
    query = select(Position).where(Position.terminal_phone == phone)
    if start is not None:
        query = query.where(Position.gps_time >= start)
    if end is not None:
        query = query.where(Position.gps_time < end)
    with Session(engine) as session:
        return list(session.scalars(query.order_by(Position.gps_time)))


def count_positions(engine: Engine, *, phones: Iterable[str] | None = None) -> int:
    """Number of stored positions (of the given terminals).

    Parameters
    ----------
    engine
        The track database.
    phones
        Terminal phones to count; None counts all.

    Returns
    -------
    int
    """
    query = select(func.count()).select_from(Position)
    if phones is not None:
        query = query.where(Position.terminal_phone.in_(list(phones)))
    with Session(engine) as session:
        return session.scalar(query) or 0


def positions_between(
    engine: Engine, *, start: datetime, end: datetime, phones: Sequence[str] | None = None
) -> list[Position]:
    """Stored positions with ``start`` ≤ GPS time < ``end``, by terminal then GPS time.

    Parameters
    ----------
    engine
        The positions database.
    start, end
        Timezone-aware bounds.
    phones
        Terminals to read (normalised phones); None reads every terminal.

    Returns
    -------
    list of Position
    """
    query = select(Position).where(Position.gps_time >= start, Position.gps_time < end)
    if phones is not None:
        query = query.where(Position.terminal_phone.in_(list(phones)))
    with Session(engine) as session:
        return list(session.scalars(query.order_by(Position.terminal_phone, Position.gps_time)))


def unknown_terminals(engine: Engine, phones: Iterable[str]) -> list[str]:
    """The phones among ``phones`` that no terminal registered under.

    Parameters
    ----------
    engine
        The positions database.
    phones
        Normalised terminal phones.

    Returns
    -------
    list of str
        Sorted.
    """
    wanted = sorted(set(phones))
    with Session(engine) as session:
        known = set(session.scalars(select(Terminal.phone).where(Terminal.phone.in_(wanted))))
    return [p for p in wanted if p not in known]
