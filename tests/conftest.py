"""Shared fixtures: the shipped road networks (built once, then from the disk cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHENZHEN_OSM = ROOT / "data" / "osm" / "shenzhen_nanshan_futian_drive.osm.bz2"
GUIXI_OSM = ROOT / "data" / "osm" / "guixi_jiangxi.osm.bz2"


def shared_file(relative: str) -> Path:
    """A file from ../shared, or skip the test with the reason."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not present (../shared reference data is read, not shipped)")
    return path


@pytest.fixture(scope="session")
def shenzhen():
    from routing.network.graph import load_network

    return load_network(SHENZHEN_OSM)


@pytest.fixture(scope="session")
def guixi():
    from routing.network.graph import load_network

    return load_network(GUIXI_OSM)
