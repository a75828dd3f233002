"""Planning behaviour on small real-network scenarios, certified by the independent checker."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from routing.planning.check import check_plan
from routing.planning.document import plan_json_schema
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams

from .conftest import base_scenario, build, site

FAST = SolveParams(time_limit_s=2.0, workers=1)


def stops_of(plan_doc: dict, vehicle_id: str) -> list[dict]:
    return next(r["stops"] for r in plan_doc["routes"] if r["vehicle_id"] == vehicle_id)


def certified(problem, plan) -> dict:
    report = check_plan(problem, plan)
    assert report.violations == []
    return plan.to_dict(problem)


def test_capacity_forces_a_mid_route_unload(guixi, places):
    sites = [site(places, k, kg=400.0) for k in range(3, 13)]  # 4 t to collect, 1 t truck
    doc = base_scenario(places, sites=sites, vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 1000}])
    problem = build(doc, guixi)
    plan = solve(problem, FAST)
    out = certified(problem, plan)
    stops = stops_of(out, "V1")
    kinds = [s["kind"] for s in stops]
    assert plan.kpi["clearance_rate"] == 1.0
    assert kinds.count("facility") >= 4  # 4 t in 1 t loads
    last_site = max(i for i, k in enumerate(kinds) if k == "site")
    first_unload = kinds.index("facility")
    assert first_unload < last_site  # an unload between collections, not only at the end
    assert all(sum(s["load_kg"].values()) <= 1000.0 + 1e-6 for s in stops)
    assert kinds[-2] == "facility"  # comes home empty


def test_trucks_carry_only_their_streams(guixi, places):
    streams = ["kitchen", "recyclable"] * 6
    sites = [site(places, k, stream=s) for k, s in zip(range(3, 15), streams)]
    doc = base_scenario(
        places,
        sites=sites,
        vehicle_types=[
            {"id": "K", "streams": ["kitchen"], "capacity_kg": 5000},
            {"id": "R", "streams": ["recyclable"], "capacity_kg": 5000},
        ],
        vehicles=[
            {"id": "VK", "type": "K", "depot": "D"},
            {"id": "VR", "type": "R", "depot": "D"},
        ],
    )
    problem = build(doc, guixi)
    out = certified(problem, solve(problem, FAST))
    stream_of = {s["id"]: s["stream"] for s in sites}
    for vehicle, stream in (("VK", "kitchen"), ("VR", "recyclable")):
        served = [s["id"] for s in stops_of(out, vehicle) if s["kind"] == "site"]
        assert served and {stream_of[i] for i in served} == {stream}
        assert all(set(s["load_kg"]) <= {stream} for s in stops_of(out, vehicle))


def test_narrow_lane_sites_get_only_small_trucks(guixi, places):
    sites = [site(places, k, access="small" if k % 3 == 0 else "large") for k in range(3, 18)]
    doc = base_scenario(
        places,
        sites=sites,
        vehicle_types=[
            {"id": "BIG", "streams": ["kitchen"], "capacity_kg": 8000, "access": "large", "fixed_cost": 100},
            {"id": "SMALL", "streams": ["kitchen"], "capacity_kg": 2000, "access": "small", "fixed_cost": 100},
        ],
        vehicles=[{"id": "VB", "type": "BIG", "depot": "D"}, {"id": "VS", "type": "SMALL", "depot": "D"}],
    )
    problem = build(doc, guixi)
    out = certified(problem, solve(problem, FAST))
    narrow = {s["id"] for s in sites if s["access"] == "small"}
    big_sites = (
        {s["id"] for s in stops_of(out, "VB") if s["kind"] == "site"}
        if any(r["vehicle_id"] == "VB" for r in out["routes"])
        else set()
    )
    small_sites = {s["id"] for s in stops_of(out, "VS") if s["kind"] == "site"}
    assert narrow <= small_sites
    assert not narrow & big_sites
    assert out["kpi"]["clearance_rate"] == 1.0


def test_meal_break_inside_its_window(guixi, places):
    windows = [[("06:00", "09:00")], [("14:00", "16:00")]]
    sites = [site(places, k, windows=windows[k % 2]) for k in range(3, 13)]
    doc = base_scenario(
        places, sites=sites, break_rule={"duration_min": 60, "earliest_start": "11:00", "latest_start": "13:00"}
    )
    problem = build(doc, guixi)
    out = certified(problem, solve(problem, FAST))
    breaks = [s for s in stops_of(out, "V1") if s["kind"] == "break"]
    assert len(breaks) == 1
    start = datetime.fromisoformat(breaks[0]["start"])
    end = datetime.fromisoformat(breaks[0]["departure"])
    assert "11:00" <= start.strftime("%H:%M") <= "13:00"
    assert (end - start).total_seconds() >= 3600


def test_facility_closed_in_the_afternoon_is_not_used_then(guixi, places):
    sites = [site(places, k, kg=900.0, windows=[("14:00", "17:00")]) for k in range(4, 12)]
    facilities = [
        {
            "id": "MORNING",
            **{"lon": places[1].lon, "lat": places[1].lat},
            "streams": ["kitchen"],
            "unload_min": 10,
            "opening_hours": [{"start": "06:00", "end": "12:00"}],
        },
        {"id": "ALLDAY", **{"lon": places[2].lon, "lat": places[2].lat}, "streams": ["kitchen"], "unload_min": 10},
    ]
    doc = base_scenario(
        places,
        sites=sites,
        facilities=facilities,
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 2000}],
        vehicles=[{"id": "V1", "type": "T", "depot": "D", "shift_start": "13:00", "shift_end": "22:00"}],
    )
    problem = build(doc, guixi)
    out = certified(problem, solve(problem, FAST))
    unloads = [s for s in stops_of(out, "V1") if s["kind"] == "facility"]
    assert len(unloads) >= 4
    assert {s["id"] for s in unloads} == {"ALLDAY"}
    assert out["kpi"]["clearance_rate"] == 1.0


def test_impossible_window_is_reported_unserved_with_reason(guixi, places):
    sites = [site(places, k) for k in range(3, 9)] + [site(places, 9, windows=[("03:00", "04:00")], sid="NIGHT")]
    doc = base_scenario(places, sites=sites)
    problem = build(doc, guixi)
    plan = solve(problem, FAST)
    out = certified(problem, plan)
    assert [u["site_id"] for u in out["unserved"]] == ["NIGHT"]
    assert "time window" in out["unserved"][0]["reason"] and "时间窗" in out["unserved"][0]["reason"]
    assert abs(out["kpi"]["clearance_rate"] - 600.0 / 700.0) < 1e-6


def test_plan_json_contract(guixi, places):
    doc = base_scenario(places, sites=[site(places, k) for k in range(3, 8)])
    problem = build(doc, guixi)
    out = certified(problem, solve(problem, FAST))
    assert set(out) >= {"scenario", "objective", "kpi", "routes", "unserved", "measures"}
    assert out["measures"]["routes"][0]["vehicle_id"] == out["routes"][0]["vehicle_id"]
    stop_schema = plan_json_schema()["$defs"]["PlanStop"]["properties"]
    assert "wait" in stop_schema["kind"]["enum"] and "at" in stop_schema  # waiting and where a break is: published
    stop = out["routes"][0]["stops"][1]
    assert set(stop) >= {
        "kind",
        "id",
        "lon",
        "lat",
        "arrival",
        "start",
        "departure",
        "load_kg",
        "unloaded_kg",
        "leg_distance_m",
        "leg_duration_s",
    }
    assert stop["arrival"].endswith("+08:00") and stop["arrival"].startswith("2026-11-22T")
    legs = sum(s["leg_distance_m"] for r in out["routes"] for s in r["stops"])
    assert abs(legs / 1000 - out["kpi"]["distance_km"]) < 1e-3


def test_same_input_and_settings_give_the_same_plan(guixi, places):
    doc = base_scenario(
        places,
        sites=[site(places, k, kg=700.0) for k in range(3, 20)],
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 3000}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in range(3)],
    )
    problem = build(doc, guixi)
    settings = SolveParams(time_limit_s=30.0, workers=2, max_solutions=60)
    first, second = solve(problem, settings), solve(problem, settings)
    assert first.route_map() == second.route_map()
    assert check_plan(problem, first).ok


@pytest.mark.parametrize("day", ["ruin loop over OR-Tools descents (unloads, lunch)", "compiled SISR (no unloads)"])
def test_a_fixed_amount_of_work_gives_the_same_plan_on_a_busy_machine(guixi, places, monkeypatch, day):
    # with max_solutions the search cools by the ruins made, not by the clock: a slower machine
    # (here a clock running 2.5× fast) must not change the plan
    sisr = day.startswith("compiled")
    doc = base_scenario(
        places,
        sites=[site(places, k, kg=450.0, windows=[("06:00", "10:00")] if k % 3 == 0 else None) for k in range(3, 39)],
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 3000, "ends_empty": not sisr}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in range(6 if sisr else 4)],
        facilities=[] if sisr else None,
        break_rule=None if sisr else {"duration_min": 60, "earliest_start": "11:00", "latest_start": "13:00"},
    )
    problem = build(doc, guixi)
    settings = SolveParams(time_limit_s=600.0, workers=1, max_solutions=40, strategies=("CONSTRUCT_URGENT+ruin",))
    quiet = solve(problem, settings)
    real, origin = time.monotonic, time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: origin + 2.5 * (real() - origin))
    busy = solve(problem, settings)
    assert quiet.route_map() == busy.route_map()
    assert check_plan(problem, busy).ok


def test_large_day_is_cut_into_zones_and_still_fully_planned(guixi, places):
    sites = [site(places, k, kg=300.0) for k in range(3, 39)]
    doc = base_scenario(
        places,
        sites=sites,
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 2000}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in range(8)],
    )
    problem = build(doc, guixi)
    settings = SolveParams(time_limit_s=8.0, workers=2, decompose_above=12, zone_target_sites=9)
    plan = solve(problem, settings)
    assert plan.search["pieces"] >= 4  # zones, solved separately
    out = certified(problem, plan)
    assert out["kpi"]["clearance_rate"] == 1.0


def test_closing_unload_is_folded_only_where_it_is_exact(guixi, places):
    """The last leg (site → facility → depot) becomes one model arc only when the facility is
    open whenever a truck could reach it; a facility closing at noon keeps the general model."""
    from routing.planning.search.ortools_model import final_unloads

    sites = [site(places, k) for k in range(4, 10)]
    facilities = [
        {"id": "NEAR", "lon": places[1].lon, "lat": places[1].lat, "streams": ["kitchen"], "unload_min": 10},
        {"id": "FAR", "lon": places[30].lon, "lat": places[30].lat, "streams": ["kitchen"], "unload_min": 10},
    ]
    problem = build(base_scenario(places, sites=sites, facilities=facilities), guixi)
    choice = final_unloads(problem, problem.sites)
    assert choice is not None and set(choice) == {(s.id, 0) for s in problem.sites}
    depot = problem.depots[0].node
    for s in problem.sites:
        trips = [
            problem.duration_s[s.node, f.node] + f.unload_s + problem.duration_s[f.node, depot]
            for f in problem.facilities
        ]
        assert trips[choice[(s.id, 0)]] == min(trips)
    plan = solve(problem, FAST)
    out = certified(problem, plan)
    assert out["kpi"]["clearance_rate"] == 1.0
    assert stops_of(out, "V1")[-2]["kind"] == "facility"  # home empty

    facilities[0]["opening_hours"] = [{"start": "06:00", "end": "12:00"}]
    facilities[1]["opening_hours"] = [{"start": "06:00", "end": "12:00"}]
    assert final_unloads(build(base_scenario(places, sites=sites, facilities=facilities), guixi), problem.sites) is None


def test_a_start_time_that_cannot_work_falls_back_to_the_shift(guixi, places):
    """A caller's start (the solver's) that would end the shift late is not kept."""
    from routing.planning.plan import time_route

    problem = build(base_scenario(places, sites=[site(places, k) for k in range(4, 10)]), guixi)
    truck = problem.vehicles[0]
    visits = [s.id for s in problem.sites] + ["F"]
    route = time_route(problem, truck, visits, start_time=truck.shift_end - 60)
    assert truck.shift_start <= route.start and route.end <= truck.shift_end
