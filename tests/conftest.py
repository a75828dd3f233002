"""Shared fixtures: the shipped road networks (built once, then from the disk cache), ../shared data,
and the local PostgreSQL and Redis servers (tests needing them skip with the reason when they are absent).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHENZHEN_OSM = ROOT / "data" / "osm" / "shenzhen_nanshan_futian_drive.osm.bz2"
GUIXI_OSM = ROOT / "data" / "osm" / "guixi_jiangxi.osm.bz2"
# libpq form (psycopg connects with it); SQLAlchemy engines take it through normalise_database_url
POSTGRES_URL = os.environ.get("QINGYUN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("QINGYUN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def shared_file(relative: str) -> Path:
    """A file from ../shared, or skip the test with the reason."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not present (../shared reference data is read, not shipped)")
    return path


def postgres_reachable() -> bool:
    """Whether the test PostgreSQL answers within 2 s."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=2) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.OperationalError:
        return False


def postgres_database() -> str:
    """A fresh PostgreSQL database URL (drop it with :func:`drop_postgres_database`), or skip with the reason."""
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3) as connection:
            name = f"qingyun_test_{uuid.uuid4().hex[:10]}"
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} unreachable ({str(exc).strip().splitlines()[0]}); CI runs these")
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_schema_url(schema: str) -> str:
    """The test PostgreSQL (SQLAlchemy URL) with every connection confined to ``schema``."""
    from sqlalchemy.engine import make_url

    from fleet.tracks.store import normalise_database_url

    url = make_url(normalise_database_url(POSTGRES_URL)).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


@contextmanager
def postgres_schema_engine(prefix: str) -> Iterator:
    """A migrated engine confined to a fresh PostgreSQL schema, dropped afterwards; skips when unreachable."""
    from sqlalchemy import create_engine, text

    from api.db import engine_for
    from fleet.tracks.store import normalise_database_url

    if not postgres_reachable():
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (set QINGYUN_TEST_POSTGRES_URL)")
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_database_url(POSTGRES_URL))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        engine = engine_for(postgres_schema_url(schema))  # the schema comes from the migrations
        yield engine
        engine.dispose()  # before the schema goes
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def shenzhen():
    from routing.network.graph import load_network

    return load_network(SHENZHEN_OSM)


@pytest.fixture(scope="session")
def guixi():
    from routing.network.graph import load_network

    return load_network(GUIXI_OSM)
