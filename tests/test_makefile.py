"""The README's two commands: `make demo` installs the runtime only, `make test` adds the extras, stamps stay right."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _plan(folder: Path, target: str) -> list[str]:
    """The pip commands ``make -n target`` would run with the virtual environment in ``folder/v``."""
    out = subprocess.run(
        ["make", "-n", "-f", str(ROOT / "Makefile"), target, "VENV=v"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split("pip install --quiet ", 1)[1] for line in out.splitlines() if "pip install --quiet " in line]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_demo_installs_the_runtime_only_and_test_adds_the_extras_after_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    assert _plan(tmp_path, "demo") == ["--upgrade pip", "-e ."]  # fresh machine: runtime dependencies only
    (tmp_path / "v").mkdir()
    later = time.time() + 5
    os.utime(tmp_path / "pyproject.toml", (later - 10, later - 10))
    (tmp_path / "v" / ".qingyun-installed").touch()  # `make demo` has run
    assert _plan(tmp_path, "demo") == []
    assert _plan(tmp_path, "test") == ["-e '.[test,bench]'"]  # `make test` after `make demo`: only the extras
    (tmp_path / "v" / ".qingyun-test-installed").touch()
    assert _plan(tmp_path, "test") == []
    os.utime(tmp_path / "pyproject.toml", (later, later))  # pyproject.toml changed: both installs again
    assert _plan(tmp_path, "test") == ["--upgrade pip", "-e .", "-e '.[test,bench]'"]
