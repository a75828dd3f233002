"""The exports every consumer shares (CLI files, the service's stored plan): GeoJSON built from the plan itself."""

from __future__ import annotations

from routing.planning.exports import LegGeometry, plan_geojson
from routing.planning.problem import problem_from_scenario
from routing.planning.scenario import parse_scenario
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams

from .conftest import base_scenario, site


def test_plan_geojson_has_a_route_per_truck_and_its_sites_numbered_at_the_plan_stops(guixi, places):
    doc = base_scenario(
        places,
        sites=[site(places, k, kg=900.0) for k in range(3, 11)],
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 4000, "max_stops": 4}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in (1, 2)],
    )
    problem, snapped = problem_from_scenario(parse_scenario(doc), network=guixi)
    plan = solve(problem, SolveParams(time_limit_s=2.0, workers=1))
    document = plan.to_dict(problem)
    features = plan_geojson(plan, problem, legs=LegGeometry(guixi, snapped))["features"]

    lines = [f for f in features if f["properties"]["kind"] == "route"]
    assert [f["properties"]["vehicle_id"] for f in lines] == [r["vehicle_id"] for r in document["routes"]]
    assert all(f["geometry"]["type"] == "LineString" and len(f["geometry"]["coordinates"]) > 2 for f in lines)
    assert len({f["properties"]["colour"] for f in lines}) == len(lines)
    for route in document["routes"]:
        sites = [s for s in route["stops"] if s["kind"] == "site"]
        points = [
            f
            for f in features
            if f["properties"]["kind"] == "site" and f["properties"]["vehicle_id"] == route["vehicle_id"]
        ]
        assert [p["properties"]["number"] for p in points] == list(range(1, len(sites) + 1))
        assert [p["geometry"]["coordinates"] for p in points] == [[s["lon"], s["lat"]] for s in sites]
        assert [p["properties"]["arrival"] for p in points] == [s["arrival"] for s in sites]
        assert all(
            p["properties"]["arrival"].endswith("+08:00") and p["properties"]["kind_label"].startswith("收集点")
            for p in points
        )
    assert sum(1 for f in features if f["properties"]["kind"] == "site") == len(doc["sites"])
