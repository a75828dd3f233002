"""Territories (grids), time on board and their bad input: the plan keeps them, the checker proves it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing.errors import ScenarioError
from routing.planning.check import check_plan
from routing.planning.grids import grid_trucks
from routing.planning.plan import evaluate_routes
from routing.planning.problem import check_hold_reachable
from routing.planning.scenario import parse_scenario
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams
from routing.planning.search.reasons import unservable_sites

from .conftest import base_scenario, build, site
from .test_check import line_problem

FAST = SolveParams(time_limit_s=3.0, workers=1, max_solutions=300)
TWO = [{"id": "V1", "type": "T", "depot": "D"}, {"id": "V2", "type": "T", "depot": "D"}]


def box(west: float, south: float, east: float, north: float) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[west, south], [east, south], [east, north], [west, north], [west, south]]],
    }


def halves(places, ks) -> tuple[dict, dict, float]:
    """Two grids splitting the sites ``ks`` at their median longitude (west, east), and that longitude."""
    lons = sorted(places[k].lon for k in ks)
    cut = (lons[len(lons) // 2 - 1] + lons[len(lons) // 2]) / 2
    lats = [places[k].lat for k in ks]
    south, north = min(lats) - 0.01, max(lats) + 0.01
    return box(min(lons) - 0.01, south, cut, north), box(cut, south, max(lons) + 0.01, north), cut


def test_a_grid_is_never_crossed_by_a_truck_not_assigned_to_it(guixi, places):
    ks = list(range(3, 17))
    west, east, cut = halves(places, ks)
    doc = base_scenario(places, sites=[site(places, k) for k in ks], vehicles=TWO)
    cheap = solve(build(doc, guixi), FAST)
    assert len(cheap.routes) == 1  # without grids one truck does it all (a second costs its fixed cost)
    doc["grids"] = [
        {"id": "G-W", "streams": ["kitchen"], "vehicles": ["V1"], "geometry": west},
        {"id": "G-E", "vehicle_types": ["T"], "vehicles": [], "geometry": east},
    ]
    doc["grids"][1]["vehicle_types"] = []
    doc["grids"][1]["vehicles"] = ["V2"]
    problem = build(doc, guixi)
    plan = solve(problem, FAST)
    assert check_plan(problem, plan).ok
    owner = {s.id: r.vehicle_id for r in plan.routes for s in r.stops if s.kind == "site"}
    assert len(owner) == len(ks)
    for k in ks:
        assert owner[f"S{k}"] == ("V1" if places[k].lon < cut else "V2")


def test_bad_grids_are_named_before_solving(places):
    ks = list(range(3, 11))
    west, east, _ = halves(places, ks)
    wide = box(*(lambda c: (c[0][0] - 0.001, c[0][1], c[2][0] + 0.002, c[2][1]))(west["coordinates"][0]))
    doc = base_scenario(places, sites=[site(places, k) for k in ks], vehicles=TWO)
    doc["grids"] = [
        {"id": "G-W", "vehicles": ["V1", "V9"], "geometry": wide},
        {"id": "G-E", "vehicle_types": ["X"], "geometry": east},
    ]
    with pytest.raises(ScenarioError) as unknown:
        parse_scenario(doc)
    assert "grids.0.vehicles (id G-W): 未知车辆 / unknown vehicles V9" in str(unknown.value)
    assert "grids.1.vehicle_types (id G-E): 未知车型 / unknown vehicle types X" in str(unknown.value)
    doc["grids"] = [
        {"id": "G-W", "streams": ["kitchen"], "vehicles": ["V1"], "geometry": wide},  # reaches into the east grid
        {"id": "G-E", "streams": ["kitchen"], "vehicles": ["V2"], "geometry": east},
        {"id": "G-R", "streams": ["recyclable"], "vehicles": ["V2"], "geometry": east},  # another stream: no overlap
    ]
    with pytest.raises(ScenarioError) as overlap:
        grid_trucks(parse_scenario(doc))
    assert "grids G-W / G-E: 网格重叠" in str(overlap.value) and "for kitchen" in str(overlap.value)
    assert "G-R" not in str(overlap.value)
    doc["grids"] = [{"id": "G-W", "vehicles": ["V1"], "geometry": west}]
    with pytest.raises(ScenarioError) as outside:
        grid_trucks(parse_scenario(doc))
    east_sites = [k for k in ks if places[k].lon > max(p[0] for p in west["coordinates"][0])]
    assert f"(id S{east_sites[0]}): 不在任何 kitchen 网格内 / outside every grid of stream kitchen" in str(
        outside.value
    )


def test_a_kitchen_load_is_unloaded_within_its_hold_time_even_when_a_window_opens_late(guixi, places):
    morning = [site(places, k, windows=[("06:00", "07:00")]) for k in range(3, 9)]
    late = [site(places, 9, windows=[("13:30", "16:30")])]
    doc = base_scenario(places, sites=morning + late)
    doc["hold_h"] = {}
    carried = solve(build(doc, guixi), FAST)
    assert carried.measures.kitchen_on_board_max_h > 6  # without a hold the morning load rides along until the end
    doc["hold_h"] = {"kitchen": 4.0}
    problem = build(doc, guixi)
    plan = solve(problem, FAST)
    assert check_plan(problem, plan).ok
    assert plan.kpi["clearance_rate"] == 1.0
    assert plan.measures.kitchen_on_board_max_h <= 4.0
    kinds = [(s.kind, s.id) for s in plan.routes[0].stops]
    assert ("facility", "F") in kinds[: kinds.index(("site", "S9"))]  # unloaded before the afternoon site


def test_the_checker_rejects_a_hold_time_breach():
    problem = replace(line_problem(), hold_s={"kitchen": 3600})
    plan = evaluate_routes(problem, {"V": ["S2", "S3", "F", "S4", "S5", "F"]})
    assert check_plan(problem, plan).ok  # each load is unloaded within the hour
    waited = replace(problem, sites=[replace(s, windows=((6 * 3600, 12 * 3600),)) for s in problem.sites])
    waited.sites[1] = replace(waited.sites[1], windows=((9 * 3600, 12 * 3600),))  # S3 opens three hours later
    plan = evaluate_routes(waited, {"V": ["S2", "S3", "F", "S4", "S5", "F"]})
    plan.routes[0].stops[1] = replace(plan.routes[0].stops[1], start=6 * 3600, departure=6 * 3600 + 60)
    text = " | ".join(check_plan(waited, plan).violations)
    assert "(facility F): kitchen 在车" in text and "since site S2, hold limit 1.00 h" in text


def test_a_hold_no_truck_can_meet_is_named_and_a_late_window_is_its_reason():
    problem = replace(line_problem(), hold_s={"kitchen": 700})  # S5 is 600 s from F plus 60 s of service
    with pytest.raises(ScenarioError) as caught:
        check_hold_reachable(problem)
    assert "site S2" in str(caught.value) and "beyond the kitchen hold time of 0.2 h" in str(caught.value)
    assert "site S5:" not in str(caught.value)
    closing = replace(problem.facilities[0], windows=((6 * 3600, 7 * 3600), (15 * 3600, 16 * 3600)))
    late = replace(problem, facilities=[closing], hold_s={"kitchen": 3600})
    late.sites[3] = replace(late.sites[3], windows=((9 * 3600, 12 * 3600),))  # collected when the plant is shut
    assert unservable_sites(late) == {"S5": "hold"}


def test_grids_from_a_geojson_file_join_the_scenario_and_bad_ones_are_named(tmp_path, places):
    import json

    from routing.errors import InputFileError
    from routing.planning.cli import _scenario_with

    ks = list(range(3, 9))
    west, east, _ = halves(places, ks)
    scenario = tmp_path / "day.json"
    scenario.write_text(json.dumps(base_scenario(places, sites=[site(places, k) for k in ks], vehicles=TWO)))
    grids = tmp_path / "grids.geojson"
    features = [
        {"type": "Feature", "properties": {"id": "W", "vehicles": ["V1"]}, "geometry": west},
        {"type": "Feature", "properties": {"id": "E", "vehicles": ["V3"]}, "geometry": east},
    ]
    grids.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(ScenarioError) as unknown:
        _scenario_with(scenario, grids=grids, balance=None)
    assert "grids.1.vehicles (id E): 未知车辆 / unknown vehicles V3" in str(unknown.value)
    features[1]["properties"]["vehicles"] = ["V2"]
    grids.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    joined = _scenario_with(scenario, grids=grids, balance=0.0)
    assert [g.id for g in joined.grids] == ["W", "E"] and joined.balance_per_h == 0.0
    assert set(grid_trucks(joined).values()) == {frozenset({"V1"}), frozenset({"V2"})}
    grids.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}}]}))
    with pytest.raises(InputFileError, match="features.0: 缺少 properties 或 geometry"):
        _scenario_with(scenario, grids=grids, balance=None)


def test_a_truck_sent_out_for_a_handful_of_sites_is_folded_into_another_where_they_fit():
    from routing.planning.search.consolidate import fold_short_routes

    base = line_problem()
    problem = replace(base, vehicles=[base.vehicles[0], replace(base.vehicles[0], id="W")], break_rule=None)
    routes = {"V": ["S2", "S3", "F", "S4", "F"], "W": ["S5", "F"]}
    folded, _ = fold_short_routes(problem, routes, {"W": 6 * 3600})
    assert set(folded) == {"V"} and "S5" in folded["V"]
    assert check_plan(problem, evaluate_routes(problem, folded)).ok
    early = replace(problem.vehicles[1], shift_start=5 * 3600)  # only W, out at 05:00, is at S5 in its window
    dawn = replace(problem, vehicles=[problem.vehicles[0], early])
    dawn.sites[3] = replace(dawn.sites[3], windows=((5 * 3600 + 1800, 6 * 3600),))
    kept, _ = fold_short_routes(dawn, routes, {})
    assert set(kept) == {"V", "W"}
