"""The service's database: one engine per process, its schema brought up to date by Alembic only.

SQLite file by default (zero setup), PostgreSQL when ``QINGYUN_DATABASE_URL`` says so. Every
table — the service's and the ``terminal``/``position`` tables of ``fleet.tracks.store`` that the
JT/T 808 gateway writes — is created by the migrations in ``api/alembic`` (:func:`upgrade`), never
by ``create_all``; :func:`engine_for` runs them before handing out an engine, so the API, the job
workers, the CLI and the gateway all start on the latest schema (``fleet``, which never imports
``api``, gets this function from the CLI root as ``ctx.obj.engine_for``).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from fleet.tracks.store import make_engine
from fleet.tracks.store import normalise_database_url as normalised_url

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
_engines: dict[str, Engine] = {}


def alembic_config(url: str):
    """The Alembic configuration of the service's migrations, pointed at ``url``."""
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(ALEMBIC_INI.parent / "alembic"))
    config.attributes["database_url"] = normalised_url(url)
    return config


def upgrade(url: str, *, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (``qingyun db upgrade``, and every start of the service or gateway).

    Parameters
    ----------
    url
        The database URL (``settings.service.database_url``).
    revision
        The Alembic revision to reach; "head" = the latest schema.
    """
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def engine_for(url: str) -> Engine:
    """The process's engine for ``url``, migrated to the latest schema on first use.

    Parameters
    ----------
    url
        The database URL (``settings.service.database_url``).

    Returns
    -------
    Engine
        One engine per URL and process: SQLite in WAL mode shared across threads, or a
        PostgreSQL pool with room for 50 concurrent clients and the job threads.
    """
    url = normalised_url(url)
    if url not in _engines:
        upgrade(url)
        if url.startswith("sqlite"):
            _engines[url] = make_engine(url)  # WAL, shared across threads
        else:
            _engines[url] = create_engine(url, pool_size=20, max_overflow=30, pool_pre_ping=True)
    return _engines[url]
