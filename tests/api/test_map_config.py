"""The map page's basemap setting (``QINGYUN_MAP_*``, ``GET /map/config``) and its WGS-84 → GCJ-02 shift.

The page shifts positions in JavaScript (``api/static/gcj02.js``); :func:`wgs84_to_gcj02` here is the
same published transform in Python, checked against eviltransform's test vectors, and the page's
function is checked against it in Chromium, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.test_map_page import chromium

STATIC = Path(__file__).resolve().parents[2] / "api" / "static"
# eviltransform's published vectors, (lon, lat) WGS-84 → (lon, lat) GCJ-02: Shanghai, Shenzhen, Beijing
VECTORS = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
]


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The reference transform (Krasovsky ellipsoid); positions outside China are not shifted."""
    if lon < 72.004 or lon > 137.8347 or lat < 0.8293 or lat > 55.8271:
        return lon, lat
    a, ee, x, y = 6378245.0, 0.00669342162296594323, lon - 105.0, lat - 35.0
    waves = (20 * math.sin(6 * x * math.pi) + 20 * math.sin(2 * x * math.pi)) * 2 / 3
    d_lat = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x)) + waves
    d_lat += (20 * math.sin(y * math.pi) + 40 * math.sin(y / 3 * math.pi)) * 2 / 3
    d_lat += (160 * math.sin(y / 12 * math.pi) + 320 * math.sin(y * math.pi / 30)) * 2 / 3
    d_lon = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x)) + waves
    d_lon += (20 * math.sin(x * math.pi) + 40 * math.sin(x / 3 * math.pi)) * 2 / 3
    d_lon += (150 * math.sin(x / 12 * math.pi) + 300 * math.sin(x / 30 * math.pi)) * 2 / 3
    rad = lat / 180 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    d_lat = d_lat * 180 / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * math.pi)
    d_lon = d_lon * 180 / (a / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + d_lon, lat + d_lat


@pytest.mark.parametrize("wgs,gcj", VECTORS)
def test_reference_transform_matches_the_published_vectors(wgs, gcj) -> None:
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-9)


def test_positions_outside_china_are_not_shifted() -> None:
    assert wgs84_to_gcj02(-104.9903, 39.7392) == (-104.9903, 39.7392)  # Denver


def test_the_pages_transform_agrees_with_the_reference() -> None:
    """gcj02.js, imported as the page imports it, within 1e-9° (0.1 mm) of the Python transform."""
    points = [wgs for wgs, _ in VECTORS] + [(114.0579, 22.5431), (-104.9903, 39.7392)]
    with chromium() as browser:
        page = browser.new_page()
        page.route(
            "http://qingyun.test/**",
            lambda route: route.fulfill(
                body=(STATIC / "gcj02.js").read_text() if route.request.url.endswith(".js") else "<!doctype html>",
                content_type="text/javascript" if route.request.url.endswith(".js") else "text/html",
            ),
        )
        page.goto("http://qingyun.test/")
        shifted = page.evaluate(
            "async points => { const m = await import('/gcj02.js');"
            " return points.map(([lon, lat]) => m.wgs84ToGcj02(lon, lat)); }",
            points,
        )
        page.close()
    for point, got in zip(points, shifted):
        assert tuple(got) == pytest.approx(wgs84_to_gcj02(*point), abs=1e-9), point


@pytest.fixture
def config_client(tmp_path, monkeypatch) -> Iterator[TestClient]:
    """The app in-process on a fresh SQLite file, a GCJ-02 basemap set in the environment."""
    from api.app import create_app
    from api.auth import create_key
    from api.db import _engines, normalised_url
    from api.settings import MapSettings, ServiceSettings, Settings

    monkeypatch.setenv("QINGYUN_MAP_TILE_URL", "https://tiles.example.cn/{z}/{x}/{y}.png")
    monkeypatch.setenv("QINGYUN_MAP_TILE_CRS", "gcj02")
    monkeypatch.setenv("QINGYUN_MAP_TILE_ATTRIBUTION", "© 示例 / example")
    url = f"sqlite:///{tmp_path / 'map.db'}"
    app = create_app(Settings(service=ServiceSettings(database_url=url), map=MapSettings()))
    key = create_key(app.state.engine, roles=["dispatcher"], name="map test").key
    with TestClient(app, headers={"X-API-Key": key}) as client:
        yield client
    _engines.pop(normalised_url(url)).dispose()


def test_map_config_serves_the_basemap_and_its_datum(config_client) -> None:
    body = config_client.get("/map/config").json()
    assert body["tile_url"] == "https://tiles.example.cn/{z}/{x}/{y}.png"
    assert (body["tile_crs"], body["attribution"]) == ("gcj02", "© 示例 / example")
    assert config_client.get("/map/config", headers={"X-API-Key": "wrong"}).status_code == 401


def test_no_basemap_by_default_and_a_template_without_tiles_is_refused(monkeypatch) -> None:
    from pydantic import ValidationError

    from api.settings import MapSettings

    for name in ("QINGYUN_MAP_TILE_URL", "QINGYUN_MAP_TILE_CRS"):
        monkeypatch.delenv(name, raising=False)
    assert (MapSettings().tile_url, MapSettings().tile_crs) == (None, "wgs84")
    monkeypatch.setenv("QINGYUN_MAP_TILE_URL", "")
    assert MapSettings().tile_url is None
    monkeypatch.setenv("QINGYUN_MAP_TILE_URL", "https://tiles.example.cn/tile.png")
    with pytest.raises(ValidationError, match="QINGYUN_MAP_TILE_URL"):
        MapSettings()
    monkeypatch.setenv("QINGYUN_MAP_TILE_URL", "https://tiles.example.cn/{z}/{x}/{y}.png")
    monkeypatch.setenv("QINGYUN_MAP_TILE_CRS", "bd09")
    with pytest.raises(ValidationError, match="tile_crs"):
        MapSettings()
