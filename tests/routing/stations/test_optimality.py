"""The solver's plans against brute-force enumeration on small instances, checked independently."""

from __future__ import annotations

import numpy as np
import pytest

from routing.errors import InfeasibleError
from routing.stations.distances import PlanningDistances
from routing.stations.plan import DemandCase, conflicting_pairs, plan_scenario
from routing.stations.records import CandidateSite, Community, DisposalSite, PlanningParams
from tests.routing.stations.checker import brute_force, check_plan

CLASS_COST = {"V": 1.0e6, "IV": 2.2e6, "III": 5.0e6}
DISPOSAL = (DisposalSite("d0", 114.2, 22.7),)


def _instance(seed: int, *, n_communities: int = 6, n_sites: int = 3, existing: bool = False):
    rng = np.random.default_rng(seed)
    communities = [
        Community(
            f"c{i}",
            114.0 + rng.uniform(0, 0.02),
            22.5 + rng.uniform(0, 0.02),
            population=float(rng.integers(8_000, 30_000)),
        )
        for i in range(n_communities)
    ]
    sites = []
    for s in range(n_sites):
        max_class = ["V", "IV", "III"][int(rng.integers(0, 3))]
        factor = rng.uniform(0.7, 1.3)
        costs = {
            k: v * factor
            for k, v in CLASS_COST.items()
            if ["V", "IV", "III"].index(k) <= ["V", "IV", "III"].index(max_class)
        }
        is_existing = existing and s == 0
        sites.append(
            CandidateSite(
                f"s{s}",
                114.0 + rng.uniform(0, 0.02),
                22.5 + rng.uniform(0, 0.02),
                50_000.0,
                max_class,
                costs,
                existing=is_existing,
                current_class="V" if is_existing else None,
            )
        )
    km = rng.uniform(0.3, 4.0, size=(n_communities, n_sites))
    disposal_km = rng.uniform(5.0, 30.0, size=(n_sites, 1))
    return communities, sites, km, disposal_km


@pytest.mark.parametrize("seed", range(10))
def test_matches_brute_force(seed: int) -> None:
    communities, sites, km, disposal_km = _instance(seed, existing=seed % 3 == 0)
    rng = np.random.default_rng(100 + seed)
    params = PlanningParams(
        service_radius_km=3.0,
        haul_cost_yuan_per_tkm=float(rng.choice([5.0, 300.0])),
        transfer_cost_yuan_per_tkm=float(rng.choice([1.0, 50.0])),
        peak_factor=1.4,
        relative_gap=0.0,
        time_limit_s=60,
        disposal_sites=DISPOSAL,
    )
    distances = PlanningDistances(community_to_site_km=km, site_to_disposal_km=disposal_km)
    expected_cost, expected_choice, _ = brute_force(
        communities=communities,
        sites=sites,
        km=km,
        disposal_km=disposal_km[:, 0],
        radius_km=3.0,
        q=1.0,
        delta=1.4,
        haul=params.haul_cost_yuan_per_tkm,
        transfer=params.transfer_cost_yuan_per_tkm,
    )
    if expected_choice is None:
        with pytest.raises(InfeasibleError):
            plan_scenario(
                communities=communities, sites=sites, params=params, distances=distances, scenario=DemandCase(1.0, 0)
            )
        return
    plan = plan_scenario(
        communities=communities, sites=sites, params=params, distances=distances, scenario=DemandCase(1.0, 0)
    )
    checked = check_plan(
        plan,
        communities=communities,
        sites=sites,
        km=km,
        disposal_km=disposal_km[:, 0],
        radius_km=3.0,
        q=1.0,
        delta=1.4,
        haul=params.haul_cost_yuan_per_tkm,
        transfer=params.transfer_cost_yuan_per_tkm,
    )
    assert checked == pytest.approx(expected_cost, rel=1e-7)
    assert plan.total_cost_yuan == pytest.approx(checked, rel=1e-9)
    assert plan.solution.proven_gap <= 1e-6
    assert plan.solution.dual_bound_yuan <= expected_cost * (1 + 1e-9)
    served_by_brute = {communities[c].id for c in range(len(communities)) if (km[c] <= 3.0).any()}
    assert set(plan.assignment) == served_by_brute
    assert {u.id for u in plan.unassigned} == {c.id for c in communities} - served_by_brute


@pytest.mark.parametrize("seed", range(3))
def test_min_spacing_matches_brute_force(seed: int) -> None:
    communities, sites, km, disposal_km = _instance(50 + seed, n_communities=5, n_sites=4)
    params = PlanningParams(service_radius_km=3.0, min_spacing_m=1_200.0, relative_gap=0.0, disposal_sites=DISPOSAL)
    pairs = conflicting_pairs(sites, min_spacing_m=1_200.0)
    # the pairs themselves, checked against a plain haversine
    for i, a in enumerate(sites):
        for j, b in enumerate(sites[i + 1 :], start=i + 1):
            dy = (b.lat - a.lat) * 111_195.0
            dx = (b.lon - a.lon) * 111_195.0 * np.cos(np.radians(a.lat))
            assert ((i, j) in pairs) == (np.hypot(dx, dy) < 1_200.0)
    distances = PlanningDistances(community_to_site_km=km, site_to_disposal_km=disposal_km)
    cost, choice, _ = brute_force(
        communities=communities,
        sites=sites,
        km=km,
        disposal_km=disposal_km[:, 0],
        radius_km=3.0,
        q=1.0,
        delta=1.4,
        haul=5.0,
        transfer=1.0,
        min_spacing_pairs=pairs,
    )
    if choice is None:
        with pytest.raises(InfeasibleError):
            plan_scenario(
                communities=communities, sites=sites, params=params, distances=distances, scenario=DemandCase(1.0, 0)
            )
        return
    plan = plan_scenario(
        communities=communities, sites=sites, params=params, distances=distances, scenario=DemandCase(1.0, 0)
    )
    opened = {s.site_id for s in plan.stations}
    assert not any(sites[i].id in opened and sites[j].id in opened for i, j in pairs)
    assert check_plan(
        plan,
        communities=communities,
        sites=sites,
        km=km,
        disposal_km=disposal_km[:, 0],
        radius_km=3.0,
        q=1.0,
        delta=1.4,
        haul=5.0,
        transfer=1.0,
    ) == pytest.approx(cost, rel=1e-7)


@pytest.mark.parametrize("seed", range(20, 26))
def test_reported_gap_brackets_the_true_optimum(seed: int) -> None:
    """With a loose target the plan may be suboptimal, but the bound must stay below the optimum."""
    communities, sites, km, disposal_km = _instance(seed, n_communities=7)
    params = PlanningParams(relative_gap=0.2, disposal_sites=DISPOSAL)
    distances = PlanningDistances(community_to_site_km=km, site_to_disposal_km=disposal_km)
    optimum, choice, _ = brute_force(
        communities=communities,
        sites=sites,
        km=km,
        disposal_km=disposal_km[:, 0],
        radius_km=3.0,
        q=1.0,
        delta=1.4,
        haul=5.0,
        transfer=1.0,
    )
    if choice is None:
        with pytest.raises(InfeasibleError):
            plan_scenario(
                communities=communities, sites=sites, params=params, distances=distances, scenario=DemandCase(1.0, 0)
            )
        return
    plan = plan_scenario(
        communities=communities, sites=sites, params=params, distances=distances, scenario=DemandCase(1.0, 0)
    )
    sol = plan.solution
    assert sol.dual_bound_yuan <= optimum * (1 + 1e-9) <= plan.total_cost_yuan * (1 + 2e-9)
    assert sol.proven_gap == pytest.approx(
        (plan.total_cost_yuan - sol.dual_bound_yuan) / plan.total_cost_yuan, abs=1e-9
    )
    assert sol.proven_gap <= 0.2
