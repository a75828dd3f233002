"""Benchmark data lives in ../shared/benchmarks (read-only, never copied into the project)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SHARED
from tests.conftest import shared_file as _shared_file

BENCHMARKS = SHARED / "benchmarks"


def shared_file(relative: str) -> Path:
    """A file under ../shared/benchmarks, or skip the test when the data set is absent."""
    return _shared_file(f"benchmarks/{relative}")
