"""Re-packing a nearly full day: one truck fewer, every limit kept, checked by the independent checker."""

from __future__ import annotations

import math
import time

import numpy as np

from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.problem import DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec
from routing.planning.search.params import SolveParams, default_strategies
from routing.planning.search.repack import fewest_trucks, is_tight, reassign, repack, trips_of
from routing.planning.search.result import SearchResult

TRIP_KG, DAY_KG, FIXED = 100.0, 200.0, 1000.0


def tight_day(*, fixed_cost: float = FIXED) -> Problem:
    """36 sites, 598 kg, near a landfill; trucks carry 100 kg a trip and 200 a day: three trucks 99.7 % full."""
    rng = np.random.default_rng(7)
    loads = rng.integers(6, 27, size=36).astype(float)
    loads = np.round(loads * 598 / loads.sum(), 1)
    loads[-1] = round(loads[-1] + 598 - loads.sum(), 1)  # total 598 kg
    assert 3 <= loads[-1] <= 40
    xy = np.vstack([[0.0, 0.0], [3000.0, 0.0], rng.uniform(1000, 2500, size=(36, 2))])
    distance = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2)
    sites = [SiteSpec(f"S{k}", k + 2, "other", float(loads[k]), 0.0, 60) for k in range(36)]
    trucks = [
        VehicleSpec(
            f"T{k}",
            0,
            frozenset({"other"}),
            TRIP_KG,
            None,
            6 * 3600,
            18 * 3600,
            fixed_cost=fixed_cost,
            cost_per_km=1.0,
            max_daily_kg=DAY_KG,
        )
        for k in range(5)
    ]
    return Problem(
        name="tight",
        ids=[str(i) for i in range(38)],
        lon=114.0 + xy[:, 0] * 1e-5,  # WGS-84 near Shenzhen (plan.json's contract); distances are the metres above
        lat=22.5 + xy[:, 1] * 1e-5,
        duration_s=distance / 8.0,
        distance_m=distance,
        depots=[DepotSpec("D", 0)],
        facilities=[FacilitySpec("F", 1, frozenset({"other"}), ((0, 24 * 3600),), 300)],
        sites=sites,
        vehicles=trucks,
    )


def four_truck_plan(problem: Problem) -> dict[str, list[str]]:
    """A hand-made plan on four trucks: sites by angle around the landfill, cut greedily into trips."""
    centre = np.array([problem.lon[1], problem.lat[1]])
    order = sorted(
        problem.sites, key=lambda s: math.atan2(problem.lat[s.node] - centre[1], problem.lon[s.node] - centre[0])
    )
    trips, trip, load = [], [], 0.0
    for site in order:
        if load + site.demand_kg > TRIP_KG:
            trips.append(trip)
            trip, load = [], 0.0
        trip.append(site.id)
        load += site.demand_kg
    trips.append(trip)
    assert len(trips) in (7, 8)
    routes = {}
    for k, pair in enumerate(zip(trips[0::2], trips[1::2] + [[]] * (len(trips) % 2))):
        routes[f"T{k}"] = [s for t in pair if t for s in t + ["F"]]
    return routes


def loads_by_trip(problem: Problem, routes: dict[str, list[str]]) -> tuple[list[float], dict[str, float]]:
    kg = {s.id: s.demand_kg for s in problem.sites}
    trips, days = [], {}
    for truck, route in routes.items():
        current = 0.0
        for stop in route:
            if stop in kg:
                current += kg[stop]
                days[truck] = days.get(truck, 0.0) + kg[stop]
            else:
                trips.append(current)
                current = 0.0
        trips.append(current)
    return trips, days


def test_the_day_is_tight_only_when_trucks_cost_something():
    day = tight_day()
    ids = [s.id for s in day.sites]
    assert fewest_trucks(day, site_ids=ids) == 3
    assert is_tight(day, site_ids=ids)
    assert not is_tight(tight_day(fixed_cost=0.0), site_ids=ids)


def test_reassign_fits_a_removed_trucks_sites_into_the_other_trips_within_every_limit():
    day = tight_day()
    routes = four_truck_plan(day)
    assert check_plan(day, evaluate_routes(day, routes)).violations == []
    removed = min(routes, key=lambda v: loads_by_trip(day, {v: routes[v]})[1][v])
    orphans = [s for s in routes[removed] if s != "F"]
    trips = trips_of(day, {v: r for v, r in routes.items() if v != removed})
    moves = reassign(day, trips=trips, orphans=orphans, new_trips=False, time_limit_s=10)
    assert moves is not None
    assert set(orphans) <= set(moves)
    members = [
        [s for s in trip.sites if s not in moves] + [s for s, k in moves.items() if k == i]
        for i, trip in enumerate(trips)
    ]
    assert sorted(s for m in members for s in m) == sorted(s.id for s in day.sites)  # each site once
    kg = {s.id: s.demand_kg for s in day.sites}
    day_load: dict[str, float] = {}
    for trip, sites in zip(trips, members):
        assert sum(kg[s] for s in sites) <= TRIP_KG + 1e-9
        day_load[trip.truck] = day_load.get(trip.truck, 0.0) + sum(kg[s] for s in sites)
    assert removed not in day_load and max(day_load.values()) <= DAY_KG + 1e-9


def test_repack_takes_a_truck_off_a_tight_day_and_the_checker_agrees():
    day = tight_day()
    routes = four_truck_plan(day)
    nodes = {s.id: s.node for s in day.sites} | {"F": 1}
    km = (
        sum(
            day.distance_m[a, b]
            for r in routes.values()
            for a, b in zip([0, *(nodes[s] for s in r)], [*(nodes[s] for s in r), 0])
        )
        / 1000
    )
    start = SearchResult(routes, {}, 4 * FIXED + km, [])
    settings = SolveParams(time_limit_s=30, workers=2)
    found = repack(day, settings, start, strategies=default_strategies(day), deadline=time.monotonic() + 30)
    assert not found.dropped
    used = {v: r for v, r in found.routes.items() if any(s != "F" for s in r)}
    assert len(used) == 3
    plan = evaluate_routes(day, found.routes)
    assert check_plan(day, plan).violations == []
    served = [s for r in used.values() for s in r if s != "F"]
    assert sorted(served) == sorted(s.id for s in day.sites)
    trips, days = loads_by_trip(day, used)
    assert max(trips) <= TRIP_KG + 1e-9 and max(days.values()) <= DAY_KG + 1e-9
    assert found.cost < start.cost
