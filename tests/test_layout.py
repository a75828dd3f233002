"""The layout's promises: imports point one way, modules and functions stay small, public APIs resolve."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, shared_file

PACKAGES = [
    "routing",
    "routing.network",
    "routing.planning",
    "routing.planning.search",
    "routing.bench",
    "routing.stations",
    "fleet",
    "fleet.jt808",
    "fleet.tracks",
    "fleet.audit",
    "fleet.audit.rules",
    "fleet.simulate",
    "api.jobs",
]


def test_structure_has_no_import_cycle_and_nothing_oversized():
    tool = shared_file("tools/structure.py")
    out = subprocess.run([sys.executable, str(tool)], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    summary = out.strip().splitlines()[-1]
    figures = re.match(
        r"(\d+) modules, (\d+) import cycles, (\d+) modules > 600 lines, (\d+) long definitions, "
        r"most modules directly in one package: (\d+)",
        summary,
    )
    assert figures, summary
    _, cycles, big_modules, long_definitions, per_package = map(int, figures.groups())
    assert (cycles, big_modules, long_definitions) == (0, 0, 0), out
    assert per_package <= 15, out


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_of_a_package_resolves(package):
    module = importlib.import_module(package)
    names = [n for n in dir(module) if not n.startswith("_")]
    assert names, f"{package} states no public API"
    for name in names:
        assert getattr(module, name) is not None


def test_importing_a_package_loads_no_heavy_library():
    code = (
        "import sys, routing, routing.network, routing.planning, fleet, fleet.jt808, api.jobs;"
        "print(sorted(m for m in ('osmnx', 'ortools', 'numba', 'geopandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
