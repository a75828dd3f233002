"""The plan map and GeoJSON colour routes by territory (issue 18, views): one colour per grid, a legend naming each
territory with its trucks, each territory's service area filled; without grids every truck keeps its own colour."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import shape

from routing.planning.exports import LegGeometry, plan_geojson
from routing.planning.pipeline import plan_day
from routing.planning.scenario import parse_scenario
from routing.planning.search.params import SolveParams

from .conftest import base_scenario, site
from .test_dispatcher_model import halves

KS = list(range(3, 17))  # 14 sites, 7 a side of the median longitude
FOUR = [{"id": f"V{i}", "type": "T", "depot": "D"} for i in range(1, 5)]
SMALL = [{"id": "T", "streams": ["kitchen"], "capacity_kg": 5000, "capacity_m3": 10, "max_stops": 4}]


def _day(places, *, grids: bool) -> dict:
    doc = base_scenario(places, sites=[site(places, k) for k in KS], vehicle_types=SMALL, vehicles=FOUR)
    if grids:
        west, east, _ = halves(places, KS)
        doc["grids"] = [
            {"id": "G-W", "name": "西片", "streams": ["kitchen"], "vehicles": ["V1", "V2"], "geometry": west},
            {"id": "G-E", "name": "东片", "streams": ["kitchen"], "vehicles": ["V3", "V4"], "geometry": east},
        ]
    return doc


@pytest.fixture(scope="module")
def gridded(guixi, places):
    """Seven sites a grid, four stops a truck: both trucks of each grid go out."""
    scenario = parse_scenario(_day(places, grids=True))
    outcome = plan_day(scenario, params=SolveParams(time_limit_s=3.0, workers=1), network=guixi)
    assert sorted(r.vehicle_id for r in outcome.plan.routes) == ["V1", "V2", "V3", "V4"]
    return scenario, outcome


def _drawn_map(monkeypatch, tmp_path, outcome, grids):
    """write_map_png's figure, kept open (plt.close is held back) so its legend and lines can be read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from routing.planning.exports import write_map_png

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    legs = LegGeometry(outcome.network, outcome.snapped)
    write_map_png(outcome.plan, outcome.problem, legs, tmp_path / "map.png", grids=grids)
    assert (tmp_path / "map.png").stat().st_size > 10_000
    (fig,) = kept
    return fig


def test_routes_of_a_grid_share_its_colour_and_the_geojson_names_its_territory_and_area(gridded):
    scenario, outcome = gridded
    legs = LegGeometry(outcome.network, outcome.snapped)
    features = plan_geojson(outcome.plan, outcome.problem, legs=legs, grids=scenario.grids)["features"]
    routes = {f["properties"]["vehicle_id"]: f["properties"] for f in features if f["properties"]["kind"] == "route"}
    assert {v: p["territory"] for v, p in routes.items()} == {"V1": "G-W", "V2": "G-W", "V3": "G-E", "V4": "G-E"}
    assert routes["V1"]["colour"] == routes["V2"]["colour"] != routes["V3"]["colour"] == routes["V4"]["colour"]
    assert routes["V1"]["territory_label"] == "网格 G-W 西片 / grid G-W"
    stops = [f["properties"] for f in features if f["properties"]["kind"] == "site"]
    assert all(p["colour"] == routes[p["vehicle_id"]]["colour"] for p in stops)  # numbered stops in the same colour

    areas = [f for f in features if f["properties"]["kind"] == "territory"]
    assert sorted(f["properties"]["territory"] for f in areas) == ["G-E", "G-W"]
    for f in areas:
        p = f["properties"]
        trucks = sorted(v for v, r in routes.items() if r["territory"] == p["territory"])
        assert sorted(p["vehicles"]) == trucks and p["colour"] == routes[trucks[0]]["colour"] and p["sites"] == 7
        hull = shape(f["geometry"])
        sites = [
            shapely.Point(g["geometry"]["coordinates"])
            for g in features
            if g["properties"]["kind"] == "site" and g["properties"]["vehicle_id"] in trucks
        ]
        assert len(sites) == 7
        assert all(hull.buffer(1e-6).covers(point) for point in sites)  # the service area holds every site
        grid = next(shape(g.geometry) for g in scenario.grids if g.id == p["territory"])
        assert hull.area <= grid.area  # …and is the sites' hull, not the grid


def test_map_png_legend_lists_each_territory_with_its_trucks_and_colours_routes_by_it(gridded, monkeypatch, tmp_path):
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_hex
    from matplotlib.patches import Polygon

    scenario, outcome = gridded
    fig = _drawn_map(monkeypatch, tmp_path, outcome, scenario.grids)
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert sorted(t.split(" / ")[-1] for t in texts) == ["grid G-E: V3, V4", "grid G-W: V1, V2"]
    assert "片区" in legend.get_title().get_text() or "territories" in legend.get_title().get_text()
    ax = fig.axes[0]
    colours = {to_hex(line.get_color()): t for line, t in zip(legend.get_lines(), texts)}
    assert len(colours) == 2  # one colour per territory
    route_colours = [
        to_hex(c.get_edgecolor()[0]) for c in ax.collections if isinstance(c, LineCollection) and c.get_zorder() == 2
    ]
    assert len(route_colours) == 4 and sorted(route_colours) == sorted(list(colours) * 2)
    filled = [to_hex(p.get_facecolor()) for p in ax.patches if isinstance(p, Polygon) and p.get_fill()]
    assert sorted(filled) == sorted(colours)  # each territory's service area, in its colour


def test_without_grids_every_truck_is_its_own_territory_in_its_own_colour(guixi, places, monkeypatch, tmp_path):
    scenario = parse_scenario(_day(places, grids=False))
    outcome = plan_day(scenario, params=SolveParams(time_limit_s=2.0, workers=1), network=guixi)
    legs = LegGeometry(outcome.network, outcome.snapped)
    features = plan_geojson(outcome.plan, outcome.problem, legs=legs)["features"]
    routes = [f["properties"] for f in features if f["properties"]["kind"] == "route"]
    assert len(routes) >= 4 and all(p["territory"] == p["vehicle_id"] for p in routes)
    assert len({p["colour"] for p in routes}) == len(routes)
    areas = {f["properties"]["territory"]: f["properties"] for f in features if f["properties"]["kind"] == "territory"}
    assert {v: a["vehicles"] for v, a in areas.items()} == {p["vehicle_id"]: [p["vehicle_id"]] for p in routes}
    fig = _drawn_map(monkeypatch, tmp_path, outcome, None)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert sorted(t.split(" / ")[-1] for t in texts) == sorted(f"territory of {p['vehicle_id']}" for p in routes)


def test_plan_day_carries_the_grids_and_the_service_exports_colour_by_them(gridded):
    from routing.planning.exports import plan_exports

    scenario, outcome = gridded
    assert [g.id for g in outcome.grids] == [g.id for g in scenario.grids]  # plan_day hands the grids over
    geojson, _ = plan_exports(outcome)
    routes = [f["properties"] for f in geojson["features"] if f["properties"]["kind"] == "route"]
    territory = {p["vehicle_id"]: p["territory"] for p in routes}
    assert {territory[v] for v in ("V1", "V2")} == {"G-W"} and {territory[v] for v in ("V3", "V4")} == {"G-E"}
