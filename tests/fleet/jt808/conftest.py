"""Fixtures of the JT/T 808 tests: the published test vectors (from ../shared), gateway databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.db import engine_for
from api.settings import get_settings
from tests.conftest import SHARED, postgres_schema_engine

VECTORS = SHARED / "gps" / "jt808_vectors.json"


def load_vectors() -> list[dict]:
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]


@pytest.fixture(scope="session")
def vectors() -> list[dict]:
    if not VECTORS.exists():
        pytest.skip(f"JT/T 808 vectors not found at {VECTORS} (../shared absent)")
    return load_vectors()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request, tmp_path: Path):
    """A migrated gateway database: SQLite always, the local PostgreSQL (own schema) when reachable."""
    if request.param == "sqlite":
        yield engine_for(f"sqlite:///{tmp_path / 'ingest.db'}")  # the schema comes from the migrations
        return
    with postgres_schema_engine("jt808_test") as engine:
        yield engine


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """A SQLite file the ``qingyun`` CLI reads through QINGYUN_DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("QINGYUN_DATABASE_URL", url)
    get_settings.cache_clear()
    yield engine_for(url)
    get_settings.cache_clear()
