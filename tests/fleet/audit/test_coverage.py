"""Coverage of a collection plan by a simulated truck on the Shenzhen network."""

from __future__ import annotations

import json

import pytest

from fleet.audit.coverage import plan_coverage
from fleet.audit.settings import CoverageSettings
from fleet.simulate.collection import simulate_collection
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import build_tracks, read_positions
from routing.errors import InputFileError
from routing.planning.document import PlanDocument, read_plan


def _coverage(net, matcher, scenario, plan):
    tracks = build_tracks(read_positions(scenario.positions)[0], projector=net, settings=TrackSettings())
    return plan_coverage(
        PlanDocument.model_validate(plan),
        tracks={t.device: t for t in tracks},
        projector=net,
        network=net,
        matcher=matcher,
        settings=CoverageSettings(),
    )


def test_skipped_stops_are_missed_and_clearance_falls_by_their_demand(shenzhen, matcher):
    sc, plan = simulate_collection(shenzhen, seed=1, stops=8, skip=(2, 5), matcher=matcher)
    # as `qingyun plan` writes it: a break without coordinates, KPIs of any shape
    stops = plan["routes"][0]["stops"]
    stops.insert(4, {**stops[3], "kind": "break", "id": "break", "lon": None, "lat": None})
    plan["kpi"]["utilisation"] = {"K0001": 0.8}
    report = _coverage(shenzhen, matcher, sc, plan)
    route = report.routes[0]
    assert [s.status for s in route.stops] == [
        "visited",
        "visited",
        "missed",
        "visited",
        "visited",
        "missed",
        "visited",
        "visited",
    ]
    visited = [s for s in route.stops if s.status == "visited"]
    assert all(s.dwell_s >= 30 and s.visit_start.endswith("+08:00") for s in visited)
    demand = [s.demand_kg for s in route.stops]
    assert report.achieved_clearance_rate == pytest.approx(
        (sum(demand) - demand[2] - demand[5]) / sum(demand), abs=1e-3
    )
    assert report.street_coverage >= 0.95  # the truck drove every planned street, it only did not stop


def test_a_truck_that_never_came_covers_nothing(shenzhen, matcher):
    sc, plan = simulate_collection(shenzhen, seed=2, stops=5, matcher=matcher)
    plan["routes"][0]["vehicle_id"] = "someone-else"
    report = _coverage(shenzhen, matcher, sc, plan)
    assert report.stops_visited == 0 and report.achieved_clearance_rate == 0.0
    assert report.routes[0].has_track is False


def test_streets_not_driven_lower_street_coverage(shenzhen, matcher):
    sc, plan = simulate_collection(shenzhen, seed=3, stops=6, matcher=matcher)
    full = _coverage(shenzhen, matcher, sc, plan).street_coverage
    died = plan["routes"][0]["stops"][3]["departure"]  # the terminal died after the third of six stops
    sc.positions = sc.positions[sc.positions["time"] < died]
    half = _coverage(shenzhen, matcher, sc, plan).street_coverage
    assert full >= 0.95 and half < 0.8 * full


def test_bad_plan_names_the_field(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(
        json.dumps({"routes": [{"vehicle_id": "K1", "stops": [{"kind": "site", "id": "s1", "lon": 200, "lat": 22.5}]}]})
    )
    with pytest.raises(InputFileError, match=r"routes\.0\.stops\.0\.lon"):
        read_plan(path)
