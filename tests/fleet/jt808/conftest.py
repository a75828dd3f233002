"""Shared fixtures: the published test vectors (from ../shared) and database URLs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "gps" / "jt808_vectors.json"
POSTGRES_URL = os.environ.get("QINGYUN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def load_vectors() -> list[dict]:
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]


@pytest.fixture(scope="session")
def vectors() -> list[dict]:
    if not VECTORS.exists():
        pytest.skip(f"JT/T 808 vectors not found at {VECTORS} (../shared absent)")
    return load_vectors()


def postgres_reachable() -> bool:
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False
