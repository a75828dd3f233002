"""Sweepers and washers in one plan on the shipped Shenzhen network: loads, windows, U-turns and bad input."""

from __future__ import annotations

from datetime import datetime

import pytest
import shapely

from routing.arcs.settings import ArcSettings
from routing.errors import InvalidInputError
from routing.sweeping.plan import plan_streets
from routing.sweeping.problem import Facility, sweep_problem
from routing.sweeping.scope import kerbs_in_area, kerbs_of_ways
from routing.sweeping.settings import SweepingSettings

AREA = shapely.box(114.035, 22.525, 114.041, 22.531)  # a few two-way primary/secondary streets in Futian
DEPOT = (114.038, 22.528)
STATION = Facility(id="ST", name="station", lon=114.0369, lat=22.5271)
WATER = Facility(id="W", name="water", lon=114.0395, lat=22.5295)
FIXED = ArcSettings(time_limit_s=60, max_iterations=300, seed=2)


def _plan(net, kerbs, *, settings, sweepers=1, washers=0, stations=(STATION,), water=(WATER,)):
    return plan_streets(
        net,
        kerbs=kerbs,
        scope_kerbs=kerbs,
        vehicles=sweepers,
        depot_lonlat=DEPOT,
        settings=settings,
        arc_settings=FIXED,
        date="2026-12-07",
        name="fleet",
        washers=washers,
        stations=list(stations),
        water_points=list(water),
    )


@pytest.fixture(scope="module")
def kerbs(shenzhen):
    return kerbs_in_area(shenzhen, area=AREA, settings=SweepingSettings())


@pytest.fixture(scope="module")
def night(shenzhen, kerbs):
    settings = SweepingSettings(hopper_kg=60, tank_l=1500, wash_classes=["primary", "secondary"])
    return settings, _plan(shenzhen, kerbs, settings=settings, sweepers=2, washers=2)


def _edges(vehicle):
    """The vehicle's driven network edges per load, in order (facility rows cut the sequence)."""
    legs, leg = [], []
    for row in vehicle.rows:
        if not row.edges:
            legs.append(leg)
            leg = []
        leg += row.edges
    return [*legs, leg]


def test_sweepers_and_washers_serve_their_kerbs_once_each(night, kerbs):
    settings, plan = night
    swept = [k for v in plan.vehicles if v.kind == "sweeper" for r in v.rows for k in r.kerbs]
    washed = [k for v in plan.vehicles if v.kind == "washer" for r in v.rows for k in r.kerbs]
    assert sorted(swept) == sorted(k.kerb_id for k in kerbs) and not plan.unserved
    assert sorted(washed) == sorted(k.kerb_id for k in kerbs if k.highway in settings.wash_classes)
    assert plan.kpis.planned_rate == pytest.approx(1.0) and plan.wash_kpis.planned_rate == pytest.approx(1.0)


def test_a_two_way_street_has_two_kerbs_served_as_two_services(shenzhen, kerbs):
    two_way = next(k for k in kerbs if int(shenzhen.edge_twin[k.edge]) >= 0)
    way = kerbs_of_ways(shenzhen, ways={two_way.way_id: 0}, settings=SweepingSettings())
    pair = [k for k in way if k.edge in (two_way.edge, int(shenzhen.edge_twin[two_way.edge]))]
    assert len(pair) == 2 and pair[0].u == pair[1].v and pair[0].v == pair[1].u
    problem = sweep_problem(shenzhen, pair, depot=0, settings=SweepingSettings()).problem
    tasks = problem.tasks
    assert len(tasks) == 2 and not problem.serve_backward[tasks].any()  # each served in its own direction only
    road, way_dir = problem.streets
    assert road[tasks[0]] == road[tasks[1]] and way_dir[tasks[0]] == -way_dir[tasks[1]]


def test_the_hopper_forces_dumps_at_the_station_and_the_tank_refills(night):
    settings, plan = night
    for vehicle in plan.vehicles:
        visits = [r for r in vehicle.rows if r.action in ("dump", "refill")]
        capacity = settings.hopper_kg if vehicle.kind == "sweeper" else settings.tank_l
        assert all(load <= capacity for load in vehicle.load_kg)
        if vehicle.kind == "sweeper" and vehicle.rows:
            assert {r.street for r in visits} == {"station"} and vehicle.rows[-2].action == "dump"
            assert len(visits) == vehicle.trips >= 2
        if vehicle.kind == "washer" and vehicle.trips > 1:
            assert {r.street for r in visits} == {"water"} and len(visits) >= vehicle.trips - 1
    assert any(v.kind == "washer" and v.trips > 1 for v in plan.vehicles)


def test_each_kind_works_inside_its_window_and_shift(night):
    settings, plan = night
    for vehicle in plan.vehicles:
        if not vehicle.rows:
            continue
        start = datetime.fromisoformat(vehicle.rows[0].start)
        end = datetime.fromisoformat(vehicle.rows[-1].end)
        window = plan.windows[vehicle.kind]
        assert vehicle.rows[0].start == window[0] and end <= datetime.fromisoformat(window[1])
        assert (end - start).total_seconds() <= settings.shift_hours * 3600
    assert plan.windows["washer"] == ("2026-12-07T22:00:00+08:00", "2026-12-08T06:00:00+08:00")
    assert plan.windows["sweeper"][0] == "2026-12-07T05:00:00+08:00"


def test_no_u_turn_is_driven_when_forbidden(shenzhen, night):
    _, plan = night
    assert SweepingSettings().uturn == "forbidden"
    for vehicle in plan.vehicles:
        for leg in _edges(vehicle):
            for a, b in zip(leg, leg[1:]):
                at = int(shenzhen.edge_v[a])
                assert int(shenzhen.edge_u[b]) == at  # connected
                ways_on = [e for e in range(len(shenzhen.edge_u)) if int(shenzhen.edge_u[e]) == at]
                assert b != int(shenzhen.edge_twin[a]) or ways_on == [b]  # a U-turn only at a dead end


def test_a_station_off_the_network_is_named_with_its_distance(shenzhen, kerbs):
    lake = Facility(id="ST-lake", lon=114.0205, lat=22.5195)  # in the mangroves, far from any road
    with pytest.raises(InvalidInputError, match=r"ST-lake is off the road network: \d+ m from the nearest road"):
        _plan(shenzhen, kerbs, settings=SweepingSettings(), stations=(lake,))


def test_a_tank_smaller_than_any_street_needs_is_named_before_solving(shenzhen, kerbs):
    with pytest.raises(InvalidInputError, match="the capacity is smaller than any kerb needs"):
        _plan(shenzhen, kerbs, settings=SweepingSettings(tank_l=1), washers=1)


def test_a_kerb_too_big_for_the_hopper_is_reported_per_street(shenzhen, kerbs):
    longest = max(kerbs, key=lambda k: k.length_m)
    settings = SweepingSettings(hopper_kg=longest.length_m / 1000 * 60 - 1)
    plan = _plan(shenzhen, kerbs, settings=settings)
    big = [u for u in plan.unserved if u.reason == "over_capacity"]
    assert longest.kerb_id in {u.kerb_id for u in big} and all("hopper or tank" in u.reason_text for u in big)
    assert plan.kpis.planned_rate < 1.0


def test_kerbs_out_of_reach_within_the_shift_are_reported_with_the_reason(shenzhen, kerbs):
    settings = SweepingSettings(shift_hours=0.05)  # three minutes: nothing far from the depot fits
    plan = _plan(shenzhen, kerbs, settings=settings)
    reasons = {u.reason for u in plan.unserved}
    assert "over_shift" in reasons and reasons <= {"over_shift", "no_vehicle_time"}
    assert all(v.duration_h <= 0.05 for v in plan.vehicles)


def test_an_area_without_streets_of_the_washed_classes_is_named(shenzhen, kerbs):
    with pytest.raises(InvalidInputError, match="no kerb of the washed classes motorway"):
        _plan(shenzhen, kerbs, settings=SweepingSettings(wash_classes=["motorway"]), washers=1)
