"""Fixtures of the JT/T 808 tests: the published test vectors (from ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[4] / "shared" / "gps" / "jt808_vectors.json"


def load_vectors() -> list[dict]:
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"]


@pytest.fixture(scope="session")
def vectors() -> list[dict]:
    if not VECTORS.exists():
        pytest.skip(f"JT/T 808 vectors not found at {VECTORS} (../shared absent)")
    return load_vectors()
