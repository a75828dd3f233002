"""A facility's daily capacity is shared by the parts of a day searched apart (zones, border pairs, leftovers,
consolidation), never used whole by each."""

from __future__ import annotations

from routing.network.graph import load_network
from routing.planning.generate import generate_scenario
from routing.planning.pipeline import plan_day
from routing.planning.problem import problem_from_scenario
from routing.planning.search.params import SolveParams
from routing.planning.search.pieces import independent_pieces, intake_kg, split_into_zones, subproblem, zone_reserves


def capped_scenario(share: float):
    """The small Shenzhen day with the kitchen plant taking ``share`` of the kitchen sites' weight."""
    network = load_network()
    scenario = generate_scenario(network, restaurants=24, communities=8, seed=5)
    kitchen = sum(s.demand_kg for s in scenario.sites if s.stream == "kitchen")
    facilities = [
        f.model_copy(update={"daily_capacity_t": share * kitchen / 1000}) if "kitchen" in f.streams else f
        for f in scenario.facilities
    ]
    return network, scenario.model_copy(update={"facilities": facilities})


def test_zones_share_a_capacity_by_their_demand():
    network, scenario = capped_scenario(0.5)
    problem, _ = problem_from_scenario(scenario, network=network)
    plant = next(f for f in problem.facilities if f.capacity_kg is not None)
    sites, vehicles = max(independent_pieces(problem, {s.id for s in problem.sites}), key=lambda p: len(p[0]))
    zones = split_into_zones(problem, site_ids=sites, vehicle_ids=vehicles, target_sites=6)
    assert len(zones) > 2
    reserves = zone_reserves(problem, zones)
    shares = [
        subproblem(problem, site_ids=z, vehicle_ids=v, name="zone", received=kept).facilities
        for (z, v), kept in zip(zones, reserves)
    ]
    left = [next(f.capacity_kg for f in part if f.id == plant.id) for part in shares]
    assert abs(sum(left) - plant.capacity_kg) < 1e-6  # the zones' shares add up to the capacity, no more
    assert all(0 < kg < plant.capacity_kg for kg in left)


def test_a_day_cut_into_zones_keeps_a_binding_capacity():
    network, scenario = capped_scenario(0.5)
    settings = SolveParams(time_limit_s=6.0, workers=1, decompose_above=5, zone_target_sites=6)
    outcome = plan_day(scenario, params=settings, network=network)  # certified by the checker inside
    problem = outcome.problem
    plant = next(f for f in problem.facilities if f.capacity_kg is not None)
    routes = {r.vehicle_id: [s.id for s in r.stops if s.kind in ("site", "facility")] for r in outcome.document.routes}
    intake = intake_kg(problem, routes)[plant.id]
    assert outcome.check.ok
    assert 0.8 * plant.capacity_kg < intake <= plant.capacity_kg + 1e-6
    assert outcome.document.unserved  # the capacity binds: kitchen sites left out
