"""fleet sits below api: it never imports it, and its settings import no heavy library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

FLEET = Path(__file__).resolve().parents[2] / "fleet"
HEAVY = ("numpy", "pandas", "scipy", "shapely", "osmnx", "geopandas", "sqlalchemy", "sqlmodel")


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_fleet_never_imports_api() -> None:
    offenders = {
        str(path.relative_to(FLEET.parent)): sorted(n for n in _imported(path) if n.split(".")[0] == "api")
        for path in FLEET.rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_resolving_the_settings_loads_no_heavy_library() -> None:
    code = (
        "import sys, api.settings, fleet.settings; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
