"""Planning rules on hand-made instances: radius, capacity, kept stations, land, growth and sweeps."""

from __future__ import annotations

import numpy as np
import pytest

from routing.stations.distances import PlanningDistances
from routing.stations.plan import DemandCase, plan_scenario, scenarios_of
from routing.stations.records import CandidateSite, Community, DisposalSite, PlanningParams

DISPOSAL = (DisposalSite("D", 114.3, 22.7),)


def _plan(communities, sites, km, *, scenario=DemandCase(1.0, 0), **settings):
    params = PlanningParams(disposal_sites=DISPOSAL, relative_gap=0.0, **settings)
    distances = PlanningDistances(
        community_to_site_km=np.array(km, dtype=float), site_to_disposal_km=np.full((len(sites), 1), 20.0)
    )
    return plan_scenario(communities=communities, sites=sites, params=params, distances=distances, scenario=scenario)


def _site(ident, max_class="IV", *, costs=None, land=50_000.0, existing=False, current=None):
    return CandidateSite(
        ident,
        114.0,
        22.5,
        land,
        max_class,
        costs or {"V": 1.0e6, "IV": 2.0e6},
        existing=existing,
        current_class=current,
    )


def _community(ident, population):
    return Community(ident, 114.0, 22.5, population=float(population))


def test_community_beyond_every_radius_is_reported_not_dropped() -> None:
    communities = [_community("near", 10_000), _community("far", 10_000)]
    plan = _plan(communities, [_site("A"), _site("B")], [[1.0, 2.0], [3.4, 5.0]], service_radius_km=3.0)
    assert plan.assignment == {"near": "A"}
    (far,) = plan.unassigned
    assert (far.id, far.reason, far.nearest_site_id, far.nearest_site_km) == ("far", "beyond_radius", "A", 3.4)
    assert far.design_t_per_day == pytest.approx(1.4 * 10_000 * 1.0 / 1000)


def test_load_above_every_class_in_reach_is_reported() -> None:
    communities = [_community("big", 40_000), _community("ok", 10_000)]  # 56 t/d > class V's 50 t/d
    plan = _plan(communities, [_site("A", "V", costs={"V": 1e6})], [[1.0], [1.0]])
    assert [(u.id, u.reason) for u in plan.unassigned] == [("big", "load_exceeds_classes")]
    assert plan.assignment == {"ok": "A"}


def test_capacity_forces_a_second_station() -> None:
    # three communities of 21 t/d design load each: 63 t/d > class V (50 t/d)
    communities = [_community(f"c{i}", 15_000) for i in range(3)]
    km = [[1.0, 1.5]] * 3
    only_v = _plan(communities, [_site("A", "V", costs={"V": 1e6}), _site("B", "V", costs={"V": 1.2e6})], km)
    assert sorted(s.site_id for s in only_v.stations) == ["A", "B"]
    assert all(s.design_load_t_per_day <= s.capacity_t_per_day for s in only_v.stations)
    # the same communities fit one class IV station when the site may take it
    with_iv = _plan(
        communities, [_site("A", "IV", costs={"V": 1e6, "IV": 1.5e6}), _site("B", "V", costs={"V": 1.2e6})], km
    )
    assert [(s.site_id, s.station_class) for s in with_iv.stations] == [("A", "IV")]


def test_existing_station_is_kept_or_upgraded_never_closed_or_downgraded() -> None:
    communities = [_community("c", 10_000)]
    sites = [
        _site("old", "IV", costs={"V": 0.5e6, "IV": 3e6}, existing=True, current="IV"),
        _site("new", "V", costs={"V": 0.6e6}),
    ]
    plan = _plan(communities, sites, [[2.9, 0.5]])
    kept = {s.site_id: s for s in plan.stations}
    assert kept["old"].station_class == "IV" and kept["old"].action == "keep"
    # a downgrade is only possible when allowed; closing only when allowed
    downgraded = _plan(communities, sites, [[2.9, 0.5]], allow_downgrade_existing=True)
    assert {s.site_id: s.station_class for s in downgraded.stations}["old"] == "V"
    closed = _plan(communities, sites, [[2.9, 0.5]], allow_close_existing=True)
    assert [s.site_id for s in closed.stations] == ["new"] and closed.closed_existing == ("old",)


def test_existing_station_upgraded_when_load_needs_it() -> None:
    communities = [_community(f"c{i}", 15_000) for i in range(3)]  # 63 t/d
    sites = [_site("old", "IV", costs={"V": 0.4e6, "IV": 1.5e6}, existing=True, current="V")]
    (station,) = _plan(communities, sites, [[1.0]] * 3).stations
    assert (station.action, station.current_class, station.station_class) == ("upgrade", "V", "IV")


def test_land_area_limits_the_class() -> None:
    communities = [_community(f"c{i}", 15_000) for i in range(3)]  # 63 t/d: needs IV or two V
    small = _site("small", "IV", costs={"V": 1e6, "IV": 1.2e6}, land=800.0)  # IV needs ≥ 1,000 m²
    other = _site("other", "V", costs={"V": 1.1e6})
    plan = _plan(communities, [small, other], [[1.0, 1.0]] * 3)
    assert sorted((s.site_id, s.station_class) for s in plan.stations) == [("other", "V"), ("small", "V")]
    tiny = _site("tiny", "V", costs={"V": 1e6}, land=300.0)
    plan = _plan([_community("c", 1_000)], [tiny, other], [[0.5, 1.0]])
    assert "tiny" in plan.unusable_sites and [s.site_id for s in plan.stations] == ["other"]


def test_growth_and_q_scale_design_load() -> None:
    communities = [_community("c", 10_000)]
    base = _plan(communities, [_site("A")], [[1.0]])
    later = _plan(communities, [_site("A")], [[1.0]], scenario=DemandCase(1.2, 10), growth_rate_per_year=0.02)
    ratio = later.stations[0].design_load_t_per_day / base.stations[0].design_load_t_per_day
    assert ratio == pytest.approx(1.2 * 1.02**10)
    # haul cost is on the mean tonnage (no peak factor): t/d × 365 × km × yuan/t·km
    assert base.stations[0].collection_haul_cost_yuan == pytest.approx(10.0 * 365 * 1.0 * 5.0)
    assert base.stations[0].transfer_haul_cost_yuan == pytest.approx(10.0 * 365 * 20.0 * 1.0)


def test_sweep_costs_grow_with_q() -> None:
    rng = np.random.default_rng(3)
    communities = [_community(f"c{i}", rng.integers(5_000, 20_000)) for i in range(8)]
    sites = [_site(f"s{j}", "IV", costs={"V": 1e6 * (1 + j / 10), "IV": 2.2e6}) for j in range(3)]
    km = rng.uniform(0.5, 2.5, size=(8, 3))
    params = PlanningParams(sweep_q_kg_per_person_day=(0.8, 1.0, 1.2), sweep_years_ahead=(0, 10))
    scenarios = scenarios_of(params)
    assert [(s.q_kg_per_person_day, s.years_ahead) for s in scenarios] == [
        (0.8, 0),
        (1.0, 0),
        (1.2, 0),
        (0.8, 10),
        (1.0, 10),
        (1.2, 10),
    ]
    costs = [_plan(communities, sites, km, scenario=s, growth_rate_per_year=0.02).total_cost_yuan for s in scenarios]
    assert costs[0] < costs[1] < costs[2] and costs[3] < costs[4] < costs[5]
    assert all(a < b for a, b in zip(costs[:3], costs[3:]))
