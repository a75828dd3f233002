"""Terminals and positions in the database (SQLModel; SQLite by default, PostgreSQL too).

A position's identity is (terminal phone, GPS time): inserting it again — a blind-area
re-upload, a frame re-sent because its reply was lost, a gateway restart — changes
nothing, so ingest can be at-least-once and the table still holds each fix once. The
same pair is the primary key, which keeps every terminal's track ordered by GPS time
whatever order the points arrived in. ``phone`` is the terminal's BCD phone without
leading zeros, so a SIM seen in 2013 (12-digit) and 2019 (20-digit) headers is one
terminal. Times are stored in UTC and always read back timezone-aware.
A terminal's auth code is a random token sent once in its 0x8100 reply; only its SHA-256
is stored, and a phone bound to a code is not handed another until a supervisor unbinds it.
The tables themselves come from the service's Alembic migrations (``api/alembic``) only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, String, func, select, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine

from routing.errors import ConflictError, InvalidInputError, NotFoundError


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
    auth_hash: str = Field(
        sa_column=Column(String(64), nullable=False),
        description="SHA-256 hex of the auth code; empty: not bound, the phone may register",
    )
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


def new_auth_code() -> str:
    """A fresh auth code: 128 random bits as 32 hex digits (sent once, never stored)."""
    return secrets.token_hex(16)


def hash_auth_code(code: str) -> str:
    """The stored form of an auth code: its SHA-256 in hex."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def register_terminal(
    engine: Engine,
    *,
    phone: str,
    registration: dict[str, object],
    new_phones: bool = True,
    listed_only: bool = False,
) -> str:
    """Bind a phone that is not bound yet to a new auth code; return the code (its hash is stored).

    A phone already bound keeps its terminal row untouched: re-binding is a supervisor's
    :func:`unbind_terminal` first, so nobody learns or replaces another terminal's code.

    Parameters
    ----------
    engine
        The track database.
    phone
        Terminal phone (primary key).
    registration
        ``Terminal`` column values to set (province, maker, plate …).
    new_phones
        Whether a phone without a terminal row may create one (open registration); False only
        re-binds known, unbound phones (the gateway's rate limit on never-seen phones).
    listed_only
        Allow-list mode: only a phone a supervisor listed (:func:`bind_terminal`; any unbound row
        with a plate) registers, the listed plate is kept and a different plate is refused.

    Returns
    -------
    str
        The new auth code, in plain text only here.

    Raises
    ------
    ConflictError
        When ``phone`` is already bound to an auth code.
    NotFoundError
        When ``phone`` has no row and may not create one (``new_phones`` False), or is not listed.
    InvalidInputError
        In allow-list mode, a registration whose plate is not the one the phone was listed with.
    """
    code = new_auth_code()
    values = {**registration, "auth_hash": hash_auth_code(code), "registered_at": datetime.now(UTC)}
    taken = ConflictError(f"terminal {phone} is already registered; unbind it first (qingyun jt808 unbind {phone})")
    with Session(engine) as session:
        terminal = session.get(Terminal, phone)
        if terminal is None and new_phones and not listed_only:
            session.add(Terminal(phone=phone, **values))
            try:
                session.commit()
            except IntegrityError:  # registered concurrently
                raise taken from None
            return code
        if terminal is None or (listed_only and not terminal.plate):
            where = "listed by a supervisor (qingyun jt808 bind)" if listed_only else "known"
            raise NotFoundError(f"终端未登记 / terminal {phone} is not {where}")
        if listed_only:
            claimed = str(registration.get("plate") or "")
            if registration.get("plate_color") and claimed and claimed != terminal.plate:
                raise InvalidInputError(
                    f"车牌不符 / terminal {phone} is bound to plate {terminal.plate}, its registration says {claimed}"
                )
            values["plate"] = terminal.plate
        rebound = session.execute(
            update(Terminal).where(Terminal.phone == phone, Terminal.auth_hash == "").values(**values)
        )
        if rebound.rowcount != 1:
            raise taken
        session.commit()
    return code


def ensure_terminals(engine: Engine, *, phones: Iterable[str], protocol: str) -> None:
    """Create a row for each phone not seen before, unbound, so its device may still register over JT/T 808.

    Parameters
    ----------
    engine
        The track database (SQLite or PostgreSQL).
    phones
        Normalised phones (:func:`normalise_phone`) of the positions about to be stored.
    protocol
        How these terminals reached the platform (``"http"`` for ``POST /positions``).
    """
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = datetime.now(UTC)
    blank = {"plate": "", "plate_color": 0, "province": 0, "city": 0, "maker": "", "model": "", "terminal_id": ""}
    unbound = [
        {**blank, "phone": p, "auth_hash": "", "registered_at": now, "protocol": protocol} for p in sorted(set(phones))
    ]
    if unbound:
        with engine.begin() as connection:
            statement = insert(Terminal.__table__).on_conflict_do_nothing(index_elements=["phone"])
            connection.execute(statement, unbound)


def authenticate_terminal(engine: Engine, *, phone: str, code: str) -> bool:
    """Whether ``code`` is the auth code ``phone`` is bound to (hashes compared in constant time).

    Parameters
    ----------
    engine
        The track database.
    phone
        Terminal phone.
    code
        The code the terminal sent in its 0x0102 authentication.

    Returns
    -------
    bool
        False for an unknown or unbound phone and for a wrong code.
    """
    with Session(engine) as session:
        terminal = session.get(Terminal, phone)
        stored = terminal.auth_hash if terminal is not None else ""
    return bool(stored) and hmac.compare_digest(hash_auth_code(code), stored)


def unbind_terminal(engine: Engine, *, phone: str) -> None:
    """Forget a terminal's auth code so the phone may register again; its stored positions stay.

    Parameters
    ----------
    engine
        The track database.
    phone
        Terminal phone (normalised, see :func:`normalise_phone`).

    Raises
    ------
    NotFoundError
        When no terminal has this phone.
    """
    with Session(engine) as session:
        found = session.execute(update(Terminal).where(Terminal.phone == phone).values(auth_hash=""))
        if found.rowcount != 1:
            raise NotFoundError(f"no terminal with phone {phone}")
        session.commit()


_VEHICLE = sa_table("vehicle", sa_column("id", String), sa_column("terminal", String))


def bind_terminal(engine: Engine, *, phone: str, plate: str, vehicle: str | None = None) -> None:
    """List a terminal by phone and plate (allow-list mode), optionally as the GPS box of a vehicle.

    The row stays unbound (no auth code) until the device registers over JT/T 808 with this
    plate; a phone already bound must be unbound first, so a listing never changes a working terminal.

    Parameters
    ----------
    engine
        The track database (the service's: it holds the vehicle catalogue too).
    phone
        Terminal phone (normalised, see :func:`normalise_phone`).
    plate
        The truck's plate as the terminal sends it (e.g. 粤B12345).
    vehicle
        A catalogue vehicle id whose ``terminal`` becomes this phone (and no other vehicle's).

    Raises
    ------
    ConflictError
        When the phone is bound to an auth code.
    NotFoundError
        When ``vehicle`` is not in the catalogue.
    """
    with Session(engine) as session:
        terminal = session.get(Terminal, phone)
        if terminal is not None and terminal.auth_hash:
            raise ConflictError(
                f"终端已绑定 / terminal {phone} is bound; unbind it first (qingyun jt808 unbind {phone})"
            )
        if terminal is None:
            session.add(
                Terminal(phone=phone, auth_hash="", plate=plate, protocol="bind", registered_at=datetime.now(UTC))
            )
        else:
            terminal.plate = plate
        if vehicle is not None:
            session.execute(update(_VEHICLE).where(_VEHICLE.c.terminal == phone).values(terminal=None))
            found = session.execute(update(_VEHICLE).where(_VEHICLE.c.id == vehicle).values(terminal=phone))
            if found.rowcount != 1:
                session.rollback()
                raise NotFoundError(f"车辆不存在 / no vehicle {vehicle!r} in the catalogue")
        session.commit()


@dataclass(frozen=True)
class TerminalEntry:
    """One line of the terminal list: who the phone is and whether it holds an auth code."""

    phone: str
    plate: str
    bound: bool
    protocol: str
    registered_at: datetime
    vehicle: str | None


def list_terminals(engine: Engine) -> list[TerminalEntry]:
    """Every terminal by phone, with the catalogue vehicle that carries it (None when none does).

    Parameters
    ----------
    engine
        The track database.

    Returns
    -------
    list of TerminalEntry
    """
    query = (
        select(
            Terminal.phone, Terminal.plate, Terminal.auth_hash, Terminal.protocol, Terminal.registered_at, _VEHICLE.c.id
        )
        .select_from(Terminal)
        .outerjoin(_VEHICLE, _VEHICLE.c.terminal == Terminal.phone)
        .order_by(Terminal.phone)
    )
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [TerminalEntry(p, plate, bool(h), proto, at, v) for p, plate, h, proto, at, v in rows]


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
