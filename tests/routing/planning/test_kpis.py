"""Dispatcher measures: service areas and their overlap, time on board, shift spread, short routes, waiting."""

from __future__ import annotations

import numpy as np
import pytest

from routing.planning.document import parse_plan
from routing.planning.kpis import dispatcher_measures, kpi_csv_rows, measure_rows
from routing.planning.plan import evaluate_routes
from routing.planning.problem import DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec

KM_LON = 1 / (111.32 * np.cos(np.radians(22.5)))  # degrees of longitude per km at 22.5° N
KM_LAT = 1 / 110.57
SQUARE = [(0, 0), (1, 0), (1, 1), (0, 1)]  # km


def shenzhen_day() -> Problem:
    """Kitchen squares A (x 0–1 km), B (3–4 km) and C (A shifted 0.25 km east), three 'other' sites in A.

    Every drive takes 10 min, service 1 min, unload 10 min; C1 closes at 06:30 and C2 opens at 09:00, so K3
    serves C1 and then stands waiting at C2.
    """
    places = [("D", 0.5, -1.0), ("F", 2.0, -1.0)]
    places += [(f"A{k + 1}", x, y) for k, (x, y) in enumerate(SQUARE)]
    places += [(f"B{k + 1}", x + 3, y) for k, (x, y) in enumerate(SQUARE)]
    places += [(f"C{k + 1}", x + 0.25, y) for k, (x, y) in enumerate(SQUARE)]
    places += [(f"O{k + 1}", x, y) for k, (x, y) in enumerate(SQUARE[:3])]
    n = len(places)
    duration = np.full((n, n), 600.0) - 600.0 * np.eye(n)
    windows = {"C1": ((6 * 3600, 6 * 3600 + 1800),), "C2": ((9 * 3600, 18 * 3600),)}
    sites = [
        SiteSpec(pid, i, "other" if pid[0] == "O" else "kitchen", 500.0, 0.0, 60, windows.get(pid, ((0, 86400),)))
        for i, (pid, _, _) in enumerate(places)
        if i >= 2
    ]
    kitchen = {"streams": frozenset({"kitchen"}), "capacity_kg": 4000.0, "shift_start": 6 * 3600, "type_id": "k-2t"}
    return Problem(
        name="kpis",
        ids=[p[0] for p in places],
        lon=np.array([114.0 + x * KM_LON for _, x, _ in places]),
        lat=np.array([22.5 + y * KM_LAT for _, _, y in places]),
        duration_s=duration,
        distance_m=duration * 10,
        depots=[DepotSpec("D", 0)],
        facilities=[FacilitySpec("F", 1, frozenset({"kitchen", "other"}), ((0, 86400),), 600)],
        sites=sites,
        vehicles=[VehicleSpec(f"K{i}", 0, **kitchen) for i in (1, 2, 3)]
        + [VehicleSpec("O1", 0, frozenset({"other"}), 4000.0, shift_start=6 * 3600, type_id="c-9t")],
    )


ROUTES = {
    "K1": ["A1", "A2", "A3", "A4", "F"],
    "K2": ["B1", "B2", "B3", "B4", "F"],
    "K3": ["C1", "C2", "C3", "C4", "F"],
    "O1": ["O1", "O2", "O3", "F"],
}


def test_measures_of_a_day_with_one_overlapping_pair_a_long_hold_and_a_parked_truck():
    problem = shenzhen_day()
    plan = evaluate_routes(problem, ROUTES)
    m = plan.measures
    by_truck = {r.vehicle_id: r for r in m.routes}

    assert by_truck["K1"].service_area_km2 == pytest.approx(1.0, rel=0.02)
    assert by_truck["O1"].service_area_km2 == pytest.approx(0.5, rel=0.02)
    # K1–K2, K1–K3, K2–K3 collect kitchen waste; only A and C (¾ shared) overlap; O1 collects another stream
    assert (m.same_stream_pairs, m.overlapping_pairs, m.overlap_share) == (3, 1, pytest.approx(1 / 3, abs=1e-4))
    # C1 picked up 06:10, unloaded 09:33 after the wait at C2 (06:21–09:00)
    assert m.kitchen_on_board_max_h == pytest.approx(3 + 23 / 60, abs=1e-3)
    assert by_truck["K1"].kitchen_on_board_max_h == pytest.approx(44 / 60, abs=1e-3)  # A1 06:10 → F 06:54
    assert by_truck["O1"].kitchen_on_board_max_h is None
    assert m.kitchen_on_board_max_h > m.kitchen_on_board_p95_h > by_truck["K2"].kitchen_on_board_max_h
    assert by_truck["K3"].waiting_h == pytest.approx(2 + 39 / 60, abs=1e-3) == m.waiting_max_h
    assert by_truck["K1"].waiting_h == 0.0
    spread = {s.vehicle_type: s for s in m.shift_spread}
    assert spread["k-2t"].routes == 3
    assert (spread["k-2t"].shortest_h, spread["k-2t"].longest_h) == (
        pytest.approx(74 / 60, abs=1e-3),  # 06:00–07:14
        pytest.approx(3 + 53 / 60, abs=1e-3),  # 06:00–09:53
    )
    assert spread["k-2t"].ratio == pytest.approx((3 + 53 / 60) / (74 / 60), abs=1e-3)
    assert (m.short_route_sites, m.short_routes, m.overtime_h) == (5, 4, 0.0)


def test_thresholds_are_keywords_and_the_measures_travel_in_plan_json_and_kpis_csv():
    problem = shenzhen_day()
    plan = evaluate_routes(problem, ROUTES)
    strict = dispatcher_measures(problem, plan.routes, short_route_sites=4, standard_shift_h=3.0, overlap_fraction=0.8)
    assert strict.short_routes == 1  # O1's three sites
    assert strict.overtime_h == pytest.approx(53 / 60, abs=1e-3)  # K3 works 3.88 h
    assert strict.overlapping_pairs == 0  # A and C share ¾, not more than 0.8

    document = parse_plan(plan.to_dict(problem))
    assert document.measures == plan.measures
    labels = dict((key, (label, value)) for key, label, value in measure_rows(plan.measures))
    assert labels["overlap_share"] == ("服务区重叠 same-stream service areas overlapping > ½", "1 / 3 (33%)")
    assert labels["shift_spread:k-2t"][1] == "3.1× (1.2–3.9 h)"
    rows = kpi_csv_rows(plan.measures)
    assert ["K3", "waiting_h", "等待 waiting (h)", "2.65"] in rows


def test_planar_instances_have_no_service_areas():
    problem = shenzhen_day()
    problem.geographic = False
    m = evaluate_routes(problem, ROUTES).measures
    assert m.overlap_share is None and all(r.service_area_km2 is None for r in m.routes)
    assert m.same_stream_pairs == 3
