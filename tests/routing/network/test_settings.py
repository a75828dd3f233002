"""Where the road network and its build cache are found: settings first, then the source tree, then the install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import routing.network.settings as network_settings
from routing.errors import InputFileError
from routing.network.graph import load_network
from routing.network.settings import INSTALLED_OSM_SUBDIR, SHENZHEN_OSM, NetworkSettings, shipped_osm
from tests.conftest import GUIXI_OSM


def test_default_network_resolution_order(tmp_path, monkeypatch):
    source = tmp_path / "checkout" / "data" / "osm"
    prefix = tmp_path / "venv"
    (prefix / INSTALLED_OSM_SUBDIR).mkdir(parents=True)
    installed = prefix / INSTALLED_OSM_SUBDIR / SHENZHEN_OSM
    installed.write_bytes(b"installed")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.delenv("QINGYUN_NETWORK_OSM", raising=False)

    # 1. no source tree: the copy pip installed under <sys.prefix>/share/qingyun/osm
    monkeypatch.setattr(network_settings, "SOURCE_OSM_DIR", source)
    assert NetworkSettings().default_osm() == installed
    # 2. a source checkout wins over the installed copy
    source.mkdir(parents=True)
    (source / SHENZHEN_OSM).write_bytes(b"source")
    assert NetworkSettings().default_osm() == source / SHENZHEN_OSM
    # 3. a configured file wins over both (QINGYUN_NETWORK_OSM)
    monkeypatch.setenv("QINGYUN_NETWORK_OSM", str(GUIXI_OSM))
    assert NetworkSettings().default_osm() == GUIXI_OSM


def test_missing_shipped_network_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(network_settings, "SOURCE_OSM_DIR", tmp_path / "nowhere")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    with pytest.raises(InputFileError, match=r"share/qingyun/osm.*QINGYUN_NETWORK_OSM"):
        shipped_osm(SHENZHEN_OSM)


def test_cache_dir_comes_from_the_settings_passed_down(tmp_path, monkeypatch):
    monkeypatch.setenv("QINGYUN_CACHE_DIR", str(tmp_path / "from-env"))
    assert NetworkSettings().cache_dir == tmp_path / "from-env"  # the historical variable still works
    settings = NetworkSettings(cache_dir=tmp_path / "passed", osm=GUIXI_OSM)
    network = load_network(settings=settings)  # no path: the settings' osm
    assert network.report.source == str(GUIXI_OSM)
    assert list((tmp_path / "passed" / "networks").glob("*.pickle"))
    assert not (tmp_path / "from-env").exists()


def test_the_shipped_files_are_declared_as_installed_data():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text(encoding="utf-8"))
    files = pyproject["tool"]["setuptools"]["data-files"][str(INSTALLED_OSM_SUBDIR)]
    assert "data/osm/*.osm.bz2" in files and "data/osm/ATTRIBUTION.md" in files


def test_a_scenario_names_any_road_network_of_the_data_folder_by_file_name(tmp_path, monkeypatch):
    import shutil

    from routing.errors import InvalidInputError

    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(GUIXI_OSM, data / "guixi_jiangxi.osm.bz2")
    (data / "notes.txt").write_text("not a road network", encoding="utf-8")
    monkeypatch.setenv("QINGYUN_DATA_DIR", str(data))
    settings = NetworkSettings(osm=GUIXI_OSM)
    assert settings.data_folder() == data
    # the absolute path `scenario generate` wrote on another machine: only the file name counts
    assert settings.named_osm("/home/someone/qingyun/data/osm/guixi_jiangxi.osm.bz2") == data / "guixi_jiangxi.osm.bz2"
    assert settings.named_osm(None) == GUIXI_OSM
    for refused in ("shenzhen.osm.bz2", "../../etc/passwd", "notes.txt"):
        with pytest.raises(InvalidInputError, match=r"osm: .*QINGYUN_DATA_DIR.*available: guixi_jiangxi\.osm\.bz2"):
            settings.named_osm(refused)


def test_without_a_data_folder_the_shipped_networks_are_the_allowed_ones(monkeypatch):
    monkeypatch.delenv("QINGYUN_DATA_DIR", raising=False)
    monkeypatch.delenv("QINGYUN_NETWORK_DATA_DIR", raising=False)
    available = NetworkSettings().available_osm()
    assert {"guixi_jiangxi.osm.bz2", SHENZHEN_OSM} <= set(available)
    assert NetworkSettings().named_osm(str(GUIXI_OSM)) == GUIXI_OSM
