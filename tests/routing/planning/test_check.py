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


def waiting_problem() -> Problem:
    """The line day with S5 open only 13:00–14:00: the truck parks, takes its break and waits where it stands."""
    problem = line_problem()
    problem.sites[3] = SiteSpec("S5", 5, "kitchen", 300.0, 0.0, 60, ((13 * 3600, 14 * 3600),))
    problem.vehicles[0] = VehicleSpec("V", 0, frozenset({"kitchen"}), 700.0, None, 6 * 3600, 18 * 3600, 10 * 3600)
    return problem


def honest_document(problem: Problem) -> dict:
    return evaluate_routes(problem, {"V": ["S2", "S3", "F", "S4", "S5", "F"]}).to_dict(problem)


def clock(stop: dict, key: str) -> str:
    return datetime.fromisoformat(stop[key]).strftime("%H:%M")


def test_break_is_taken_where_the_truck_stands_and_waiting_is_its_own_entry():
    problem = waiting_problem()
    doc = honest_document(problem)
    stops = doc["routes"][0]["stops"]
    rows = [
        (s["kind"], s["id"], s["at"], clock(s, "arrival"), clock(s, "departure"), s["leg_duration_s"]) for s in stops
    ]
    # F left 07:02; 20 min to S4, parked there until the break window, break, then S4 is served at once
    assert rows[4:7] == [
        ("wait", "S4", "site", "07:22", "11:00", 1200),
        ("break", "S4", "site", "11:00", "12:00", 0),
        ("site", "S4", None, "12:00", "12:01", 0),
    ]
    assert rows[7] == ("wait", "S5", "site", "12:11", "13:00", 600)  # S5 opens at 13:00: the wait is on the sheet
    place_lon = {"S2": 10.0, "S3": 20.0, "S4": 30.0, "S5": 40.0, "F": 50.0, "D": 0.0}
    assert all(s["lon"] == place_lon[s["id"]] for s in stops)
    assert all(s["arrival"] == s["start"] for s in stops if s["kind"] in ("site", "facility"))
    assert check_plan(problem, doc).violations == []


def test_break_written_at_the_previous_stop_while_the_next_site_is_reached_at_its_end_is_rejected():
    problem = waiting_problem()
    doc = honest_document(problem)
    old = copy.deepcopy(doc)
    stops = old["routes"][0]["stops"]
    facility, wait, brk, site_s4 = stops[3], stops[4], stops[5], stops[6]
    # the old sheet: the break at F's position, S4 "reached" the second the break ends, the drive on S4's row
    brk.update(id="break", at=None, lon=facility["lon"], lat=facility["lat"])
    site_s4.update(leg_duration_s=wait["leg_duration_s"], leg_distance_m=wait["leg_distance_m"])
    stops.remove(wait)
    text = " | ".join(check_plan(problem, old).violations)
    assert "stop 5 (site S4): arrives at 2026-11-22T12:00:00+08:00, but the drive takes 1200 s" in text

    at_f = copy.deepcopy(doc)  # a break said to be at S4 but drawn at F
    at_f["routes"][0]["stops"][5].update(lon=50.0)
    assert any(
        "(break S4): at 50.000000,0.000000, but its place is at 30.000000" in v
        for v in check_plan(problem, at_f).violations
    )

    nowhere = copy.deepcopy(doc)
    nowhere["routes"][0]["stops"][4]["at"] = None
    assert any("a wait must name its place" in v for v in check_plan(problem, nowhere).violations)

    early = copy.deepcopy(doc)  # parked at S4 before the truck could have driven there
    early["routes"][0]["stops"][4]["arrival"] = early["routes"][0]["stops"][4]["start"] = "2026-11-22T07:10:00+08:00"
    assert any(
        "(wait S4): is taken at" in v and "the drive takes 1200 s" in v for v in check_plan(problem, early).violations
    )
