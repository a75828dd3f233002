"""The service's database: one engine per process, schema brought up to date by Alembic.

SQLite file by default (zero setup), PostgreSQL when ``QINGYUN_DATABASE_URL`` says so; the
engine comes from ``fleet.tracks.store.make_engine`` so the gateway and the API write the very same
``terminal``/``position`` tables the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from fleet.tracks.store import make_engine

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
_engines: dict[str, Engine] = {}


def normalised_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def alembic_config(url: str):
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.parent / "alembic"))
    config.attributes["database_url"] = normalised_url(url)
    return config


def upgrade(url: str, *, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (``qingyun db upgrade`` and every service start)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def engine_for(url: str) -> Engine:
    """The process's engine for ``url``, migrated to the latest schema on first use."""
    url = normalised_url(url)
    if url not in _engines:
        upgrade(url)
        if url.startswith("sqlite"):
            _engines[url] = make_engine(url)  # WAL, shared across threads
        else:  # room for 50 concurrent clients and the job threads
            _engines[url] = create_engine(url, pool_size=20, max_overflow=30, pool_pre_ping=True)
    return _engines[url]


def sessions(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session
