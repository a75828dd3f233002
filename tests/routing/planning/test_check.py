"""The checker catches what a wrong plan does, with its own arithmetic."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import numpy as np

from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.problem import BreakSpec, DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec


def line_problem() -> Problem:
    """Depot 0, facility 1, sites 2..5 on a line, 1 unit = 1 s = 1 m."""
    xs = np.array([0, 50, 10, 20, 30, 40], dtype=float)
    d = np.abs(xs[:, None] - xs[None, :]) * 60
    sites = [SiteSpec(f"S{k}", k, "kitchen", 300.0, 0.0, 60, ((6 * 3600, 12 * 3600),)) for k in range(2, 6)]
    return Problem(
        name="line",
        ids=[str(i) for i in range(6)],
        lon=xs,
        lat=np.zeros(6),
        duration_s=d,
        distance_m=d,
        depots=[DepotSpec("D", 0)],
        facilities=[FacilitySpec("F", 1, frozenset({"kitchen"}), ((6 * 3600, 18 * 3600),), 600)],
        sites=sites,
        vehicles=[VehicleSpec("V", 0, frozenset({"kitchen"}), 700.0, None, 6 * 3600, 18 * 3600, 8 * 3600)],
        break_rule=BreakSpec(3600, 11 * 3600, 13 * 3600),
    )


def test_feasible_hand_plan_passes():
    problem = line_problem()
    plan = evaluate_routes(problem, {"V": ["S2", "S3", "F", "S4", "S5", "F"]})
    report = check_plan(problem, plan)
    assert report.violations == []
    assert report.clearance_rate == 1.0
    assert report.distance == plan.objective["distance"]


def test_overload_leftover_window_and_coverage_are_caught():
    problem = line_problem()
    # 900 kg in a 700 kg truck, and it comes home loaded, and S5 is missing from both lists
    plan = evaluate_routes(problem, {"V": ["S2", "S3", "S4"]})
    doc = plan.to_dict(problem)
    doc["unserved"] = []
    text = " | ".join(check_plan(problem, doc).violations)
    assert "exceeds capacity 700.0 kg" in text
    assert "returns to the depot with" in text
    assert "site S5: neither served nor reported unserved" in text


def test_times_are_recomputed_not_trusted():
    problem = line_problem()
    doc = evaluate_routes(problem, {"V": ["S2", "S3", "F", "S4", "S5", "F"]}).to_dict(problem)
    tampered = copy.deepcopy(doc)
    stop = tampered["routes"][0]["stops"][2]
    early = datetime.fromisoformat(stop["arrival"]) - timedelta(minutes=5)
    stop["arrival"] = stop["start"] = early.isoformat()
    assert any("the drive takes" in v for v in check_plan(problem, tampered).violations)
    late = copy.deepcopy(doc)
    for s in late["routes"][0]["stops"]:
        for key in ("arrival", "start", "departure"):
            s[key] = (datetime.fromisoformat(s[key]) + timedelta(hours=4, minutes=30)).isoformat()
    home = late["routes"][0]["stops"][-1]
    home["arrival"] = home["start"] = home["departure"] = "2026-11-22T13:30:00+08:00"
    text = " | ".join(check_plan(problem, late).violations)
    assert "outside its time windows" in text and "no meal break" in text


def test_wrong_stream_and_unaccepting_facility_are_caught():
    problem = line_problem()
    problem.sites[0] = SiteSpec("S2", 2, "hazardous", 100.0, 0.0, 60, ((6 * 3600, 12 * 3600),))
    problem.facilities[0] = FacilitySpec("F", 1, frozenset({"other"}), ((6 * 3600, 18 * 3600),), 600)
    doc = evaluate_routes(problem, {"V": ["S2", "S3", "F"]}).to_dict(problem)
    text = " | ".join(check_plan(problem, doc).violations)
    assert "truck not built for stream hazardous" in text
    assert "facility does not accept" in text
