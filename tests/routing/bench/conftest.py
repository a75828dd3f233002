"""Benchmark data lives in ../shared/benchmarks (read-only, never copied into the project)."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3].parent / "shared" / "benchmarks"


def shared_file(relative: str) -> Path:
    """A file under ../shared/benchmarks, or skip the test when the data set is absent."""
    path = BENCHMARKS / relative
    if not path.exists():
        pytest.skip(f"benchmark data {path} not present (../shared is provided on the team machines and CI)")
    return path
