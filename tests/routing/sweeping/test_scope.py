"""Required kerbs from the shipped Shenzhen network: one kerb per direction, wide one-ways twice, bad input named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from routing.errors import InputFileError, InvalidInputError
from routing.sweeping.scope import kerb_summary, kerbs_in_area, kerbs_of_ways, read_area, read_way_ids
from routing.sweeping.settings import SweepingSettings

FUTIAN = (114.055, 22.525, 114.065, 22.535)  # lon/lat box in Futian centre


def _way(net, *, oneway: bool, wide: bool | None = None) -> int:
    """The first OSM way whose every edge is one-way (or two-way), and wide (≥ 3 lanes) or narrow as asked."""
    edges_of: dict[int, list[dict]] = {}
    for key in net.edge_keys:
        data = net.graph.edges[key]
        if isinstance(data.get("osmid"), int) and data["highway"] in ("primary", "secondary", "tertiary"):
            edges_of.setdefault(data["osmid"], []).append(data)
    for way, edges in sorted(edges_of.items()):
        lanes = [
            int(str(e.get("lanes", "0")).split(";")[0]) if str(e.get("lanes", "0")).isdigit() else 0 for e in edges
        ]
        if all(bool(e["oneway"]) == oneway for e in edges) and (
            wide is None or all((n >= 3) == wide for n in lanes) and (wide or all(0 < n < 3 for n in lanes))
        ):
            return way
    raise AssertionError("no such way in the network")


def _write(tmp_path, name: str, doc) -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


def test_a_narrow_one_way_street_has_one_kerb(shenzhen):
    way = _way(shenzhen, oneway=True, wide=False)
    kerbs = kerbs_of_ways(shenzhen, ways={way: 0}, settings=SweepingSettings())
    edges = [k.edge for k in kerbs]
    assert len(edges) == len(set(edges)) >= 1
    assert all(k.oneway and k.side == "right" and k.way_id == way and k.frequency == 1 for k in kerbs)


def test_a_two_way_street_has_one_kerb_per_direction(shenzhen):
    way = _way(shenzhen, oneway=False)
    kerbs = kerbs_of_ways(shenzhen, ways={way: 2}, settings=SweepingSettings())
    edges = {k.edge for k in kerbs}
    assert len(kerbs) == len(edges) and len(edges) % 2 == 0
    assert {int(shenzhen.edge_twin[e]) for e in edges} == edges  # each kerb's opposite direction is the other kerb
    assert all(not k.oneway and k.frequency == 2 for k in kerbs)


def test_a_wide_one_way_street_has_both_kerbs_on_its_one_direction(shenzhen):
    way = _way(shenzhen, oneway=True, wide=True)
    kerbs = kerbs_of_ways(shenzhen, ways={way: 0}, settings=SweepingSettings())
    by_edge: dict[int, list[str]] = {}
    for k in kerbs:
        by_edge.setdefault(k.edge, []).append(k.side)
    assert by_edge and all(sorted(sides) == ["left", "right"] for sides in by_edge.values())
    # not wide when the threshold says so: one kerb again
    narrow = kerbs_of_ways(shenzhen, ways={way: 0}, settings=SweepingSettings(wide_oneway_min_lanes=99))
    assert len(narrow) == len(by_edge)


def test_area_keeps_the_chosen_classes_whose_midpoint_is_inside(shenzhen, tmp_path):
    box = shapely.box(*FUTIAN)
    area = read_area(_write(tmp_path, "a.geojson", {"type": "Feature", "geometry": shapely.geometry.mapping(box)}))
    kerbs = kerbs_in_area(shenzhen, area=area, settings=SweepingSettings())
    assert {k.highway for k in kerbs} == {"primary", "secondary", "tertiary"}
    mids = shapely.line_interpolate_point(shenzhen.edge_geometry[[k.edge for k in kerbs]], 0.5, normalized=True)
    lon, lat = shenzhen.to_lonlat(shapely.get_x(mids), shapely.get_y(mids))
    assert shapely.contains_xy(box, lon, lat).all()
    half = shapely.box(FUTIAN[0], FUTIAN[1], (FUTIAN[0] + FUTIAN[2]) / 2, FUTIAN[3])
    part = kerbs_in_area(shenzhen, area=half, settings=SweepingSettings())
    assert 0 < len(part) < len(kerbs) and {k.kerb_id for k in part} <= {k.kerb_id for k in kerbs}
    only = kerbs_in_area(shenzhen, area=box, settings=SweepingSettings(classes=["tertiary"]))
    assert {k.highway for k in only} == {"tertiary"}
    summary = {s.highway: s for s in kerb_summary(kerbs)}
    assert summary["primary"].label == "主干路 / primary"
    assert sum(s.kerb_km for s in summary.values()) == pytest.approx(sum(k.length_m for k in kerbs) / 1000, abs=0.01)


def test_bad_areas_are_named_before_solving(shenzhen, tmp_path):
    settings = SweepingSettings(classes=["motorway"])
    with pytest.raises(InvalidInputError, match="no street of the classes motorway.*it has: .*primary"):
        kerbs_in_area(shenzhen, area=shapely.box(*FUTIAN), settings=settings)
    with pytest.raises(InvalidInputError, match="outside the road network"):
        kerbs_in_area(shenzhen, area=shapely.box(116.3, 39.9, 116.4, 40.0), settings=SweepingSettings())
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[114.0, 22.5], [114.1, 22.6], [114.1, 22.5], [114.0, 22.6], [114.0, 22.5]]],
    }
    with pytest.raises(InputFileError, match=r"invalid polygon in .*bow\.geojson.*Self-intersection"):
        read_area(_write(tmp_path, "bow.geojson", bowtie))
    with pytest.raises(InputFileError, match="no Polygon"):
        read_area(_write(tmp_path, "line.geojson", {"type": "LineString", "coordinates": [[114, 22], [114.1, 22.1]]}))
    with pytest.raises(InputFileError, match="unreadable: .*broken.geojson"):
        read_area(_write(tmp_path, "broken.geojson", "{not json"))
    with pytest.raises(InputFileError, match="malformed polygon"):
        read_area(_write(tmp_path, "short.geojson", {"type": "Polygon", "coordinates": [[[114.0, 22.5]]]}))
    with pytest.raises(InputFileError, match="not WGS-84"):
        read_area(
            _write(tmp_path, "utm.geojson", shapely.geometry.mapping(shapely.box(800000, 2500000, 801000, 2501000)))
        )


def test_way_lists_from_csv_and_geojson_and_unknown_ids(shenzhen, tmp_path):
    way = _way(shenzhen, oneway=False)
    csv_ways = read_way_ids(_write(tmp_path, "w.csv", f"way_id,frequency\n{way},2\n"))
    assert csv_ways == {way: 2}
    features = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "id": f"way/{way}"}]}
    assert read_way_ids(_write(tmp_path, "w.geojson", features)) == {way: 0}
    with pytest.raises(InvalidInputError, match=r"way ids not in the road network \(2\): 1, 2"):
        kerbs_of_ways(shenzhen, ways={way: 0, 1: 0, 2: 0}, settings=SweepingSettings())
    with pytest.raises(InputFileError, match=r"bad\.csv: line 3: .*'x'"):
        read_way_ids(_write(tmp_path, "bad.csv", f"way_id\n{way}\nx\n"))
    with pytest.raises(InputFileError, match="missing column way_id"):
        read_way_ids(_write(tmp_path, "nocol.csv", "id\n1\n"))
    with pytest.raises(InputFileError, match="must be 1 or 2"):
        read_way_ids(_write(tmp_path, "freq.csv", f"way_id,frequency\n{way},3\n"))
    assert np.isfinite([k.length_m for k in kerbs_of_ways(shenzhen, ways=csv_ways, settings=SweepingSettings())]).all()
