"""Sites that fall in a zone no truck was dealt to are still planned (picked up with the leftovers)."""

from __future__ import annotations

from routing.network.graph import load_network
from routing.planning.generate import generate_scenario
from routing.planning.pipeline import plan_day
from routing.planning.problem import problem_from_scenario
from routing.planning.search.params import SolveParams
from routing.planning.search.pieces import independent_pieces, split_into_zones


def test_sites_of_a_truckless_zone_are_still_served():
    network = load_network()
    scenario = generate_scenario(network, restaurants=12, communities=6, seed=3)
    problem, _ = problem_from_scenario(scenario, network=network)
    sites, vehicles = max(independent_pieces(problem, {s.id for s in problem.sites}), key=lambda p: len(p[0]))
    zones = split_into_zones(problem, site_ids=sites, vehicle_ids=vehicles, target_sites=3)
    assert sum(len(z) for z, _ in zones) < len(sites)  # the kitchen piece: a zone got no truck
    settings = SolveParams(time_limit_s=3.0, workers=1, decompose_above=5, zone_target_sites=3)
    outcome = plan_day(scenario, params=settings, network=network)  # certified by the checker inside
    assert outcome.check.ok and outcome.check.clearance_rate == 1.0
    assert not outcome.document.unserved
