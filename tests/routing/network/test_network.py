"""Road network: filtering, connectivity, speeds, projection, cache, snapping."""

from __future__ import annotations

import bz2

import numpy as np
import pytest

from routing.errors import InputFileError, OffRoadError
from routing.network.graph import load_network
from routing.network.osm import is_drivable
from routing.network.settings import NetworkSettings
from routing.network.speeds import SpeedProfile, parse_maxspeed
from tests.conftest import GUIXI_OSM, shared_file

NOT_DRIVABLE = {"footway", "path", "pedestrian", "cycleway", "steps", "track", "service", "construction", "bridleway"}


def test_shenzhen_is_city_scale_and_strongly_connected(shenzhen):
    import networkx as nx

    assert shenzhen.graph.number_of_nodes() > 4000
    assert nx.is_strongly_connected(shenzhen.graph)
    assert 0.85 < shenzhen.report.strongly_connected_share < 1.0
    assert shenzhen.report.nodes_dropped > 0
    assert "UTM zone 50N" in shenzhen.crs.name


def test_raw_export_keeps_only_drivable_ways(guixi):
    raw = bz2.open(GUIXI_OSM, "rt", encoding="utf-8").read()
    assert 'k="highway" v="service"' in raw and 'k="building"' in raw  # the raw export has them
    classes = set(guixi.edge_highway)
    assert not classes & NOT_DRIVABLE
    assert guixi.report.ways_drivable < guixi.report.ways_read / 2


def test_raw_export_with_footways_yields_no_footway_edges():
    path = shared_file("osm/beijing_haidian_pku.osm.bz2")
    raw = bz2.open(path, "rt", encoding="utf-8").read()
    assert 'v="footway"' in raw
    network = load_network(path)
    assert not set(network.edge_highway) & NOT_DRIVABLE


def test_every_edge_has_speed_time_and_projected_geometry(guixi):
    for _, _, data in guixi.graph.edges(data=True):
        assert data["speed_kph"] > 0
        assert data["travel_time"] == pytest.approx(data["length"] / (data["speed_kph"] / 3.6))
        assert data["geometry"].length == pytest.approx(data["length"], rel=0.02, abs=1.0)
    lon, lat = guixi.to_lonlat(*guixi.to_xy([117.22], [28.30]))
    assert lon[0] == pytest.approx(117.22) and lat[0] == pytest.approx(28.30)


def test_speed_profile_uses_lower_maxspeed():
    profile = SpeedProfile()
    assert profile.speed_for(highway="primary", maxspeed=None) == profile.speeds_kph["primary"]
    assert profile.speed_for(highway="primary", maxspeed="20") == 20.0
    assert profile.speed_for(highway="primary", maxspeed="120") == profile.speeds_kph["primary"]
    assert parse_maxspeed(["60", "40;30"]) == 30.0
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("none") is None


def test_drive_filter_follows_osmnx_rules():
    assert is_drivable({"highway": "residential"})
    assert not is_drivable({"highway": "footway"})
    assert not is_drivable({"highway": "service", "service": "parking_aisle"})
    assert not is_drivable({"highway": "primary", "access": "private"})
    assert not is_drivable({"highway": "primary", "area": "yes"})
    assert not is_drivable({"building": "yes"})


def test_cache_returns_identical_network(tmp_path):
    first = load_network(GUIXI_OSM, settings=NetworkSettings(cache_dir=tmp_path))
    assert list((tmp_path / "networks").glob("*.pickle"))
    second = load_network(GUIXI_OSM, settings=NetworkSettings(cache_dir=tmp_path))
    assert first is not second
    assert first.edge_keys == second.edge_keys
    assert np.array_equal(first.edge_time_s, second.edge_time_s)
    assert np.array_equal(first.edge_length_m, second.edge_length_m)
    assert all(a.equals(b) for a, b in zip(first.edge_geometry, second.edge_geometry))
    # a different profile is a different cache entry
    slow = load_network(
        GUIXI_OSM, settings=NetworkSettings(cache_dir=tmp_path), profile=SpeedProfile(fallback_kph=5.0, speeds_kph={})
    )
    assert len(list((tmp_path / "networks").glob("*.pickle"))) == 2
    assert slow.edge_time_s.sum() > first.edge_time_s.sum()


def test_pbf_gives_the_same_network_as_xml(tmp_path, guixi):
    import osmium

    pbf = tmp_path / "guixi.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(GUIXI_OSM)):
            writer.add(obj)
    from_pbf = load_network(pbf, settings=NetworkSettings(cache_dir=tmp_path))
    assert from_pbf.graph.number_of_nodes() == guixi.graph.number_of_nodes()
    assert from_pbf.edge_length_m.sum() == pytest.approx(guixi.edge_length_m.sum())


def test_snap_places_point_on_nearest_edge(shenzhen):
    originals = shenzhen.random_points(n=50, seed=3)
    x = np.array([p.x for p in originals]) + 3.0  # 3 m off the road
    lon, lat = shenzhen.to_lonlat(x, np.array([p.y for p in originals]))
    snapped = shenzhen.snap(ids=[p.id for p in originals], lon=lon, lat=lat)
    for before, after in zip(originals, snapped):
        assert after.distance_m <= 3.0 + 1e-6
        assert 0.0 <= after.fraction <= 1.0
        assert after.offset_m == pytest.approx(after.fraction * shenzhen.edge_length_m[after.edge_index])
        assert after.edge == shenzhen.edge_keys[after.edge_index]
        assert np.hypot(after.x - before.x, after.y - before.y) < 10.0


def test_point_in_the_sea_is_an_error_naming_it(shenzhen):
    with pytest.raises(OffRoadError) as info:
        shenzhen.snap(
            ids=["ok", "shenzhen-bay", "south-china-sea"],
            lon=[114.0579, 113.9400, 114.0500],
            lat=[22.5431, 22.4700, 22.3000],
        )
    assert info.value.point_ids == ["shenzhen-bay", "south-china-sea"]
    assert "shenzhen-bay" in str(info.value) and "south-china-sea" in str(info.value)
    assert "ok" not in info.value.point_ids


def test_missing_corrupt_and_roadless_files_are_clear_errors(tmp_path):
    with pytest.raises(InputFileError, match="not found"):
        load_network(tmp_path / "nope.osm.bz2")
    corrupt = tmp_path / "corrupt.osm.bz2"
    corrupt.write_bytes(b"BZh91AY&SYgarbage")
    with pytest.raises(InputFileError, match="corrupt.osm.bz2"):
        load_network(corrupt, settings=NetworkSettings(cache_dir=tmp_path))
    roadless = tmp_path / "roadless.osm"
    roadless.write_text(
        '<osm version="0.6"><node id="1" lat="22.5" lon="114.0"/><node id="2" lat="22.51" lon="114.0"/>'
        '<way id="9"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/></way></osm>'
    )
    with pytest.raises(InputFileError, match="no drivable ways"):
        load_network(roadless, settings=NetworkSettings(cache_dir=tmp_path))
    broken_xml = tmp_path / "broken.osm"
    broken_xml.write_text('<osm version="0.6"><node id="1" lat="22.5"')
    with pytest.raises(InputFileError, match="broken.osm"):
        load_network(broken_xml, settings=NetworkSettings(cache_dir=tmp_path))
