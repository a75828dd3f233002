"""The product solver on small published instances, judged by the independent checker.

Reference optima of Solomon's 25-customer instances (the first 25 customers of the
100-customer files; distances truncated to one decimal, travel time = distance, distance
only): C101.25 = 191.3, R101.25 = 617.1, RC101.25 = 461.1 — the published optima of the
25-customer set (Kohl et al. 1999; Kallehauge et al. 2005), reproduced on this machine by a
PyVRP 0.14 run of 5 s each on the same matrices (2026-11-21).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing.bench.runner import judge, routes_of
from routing.bench.to_problem import vrplib_problem
from routing.bench.vrplib import first_customers, read_vrp
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams
from tests.routing.bench.conftest import shared_file

OPTIMA_25 = {"R101": 617.1, "RC101": 461.1}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OPTIMA_25))
def test_25_customer_solomon_within_one_percent_of_optimum(name):
    instance = first_customers(read_vrp(shared_file(f"solomon/{name}.vrp")), 25)
    problem = vrplib_problem(instance)
    plan = solve(problem, SolveParams(time_limit_s=5.0))
    violations, unserved = judge(problem, plan)
    assert violations == [] and unserved == 0
    cost = instance.routes_cost(routes_of(plan))  # recomputed from the instance, not the solver's figure
    assert OPTIMA_25[name] - 1e-9 <= cost <= OPTIMA_25[name] * 1.01


def test_first_solutions_follow_the_problem_class():
    """Savings for single-trip capacity-only days; the urgency construction once windows,
    unloading trips or a lunch break enter (savings dropped stops on Kim 444)."""
    from routing.bench.kim import read_kim
    from routing.bench.to_problem import kim_problem
    from routing.planning.search.params import default_strategies

    cvrp = vrplib_problem(read_vrp(shared_file("cvrplib_X/X-n101-k25.vrp")))
    vrptw = vrplib_problem(read_vrp(shared_file("solomon/R201.vrp")))
    waste = kim_problem(read_kim(shared_file("waste_kim2006/444_stop.txt")))
    assert default_strategies(cvrp) == ("SAVINGS+ruin", "PARALLEL_CHEAPEST_INSERTION+ruin")
    assert default_strategies(vrptw) == ("CONSTRUCT_URGENT+ruin", "PARALLEL_CHEAPEST_INSERTION+ruin")
    # unloads, lunch, hold limits, costs per hour and facility daily capacities, which the compiled search models: its
    # ruin first (Kim 60 s, one worker: fewer miles on 102-804); a day with what it does not model (a hold limit on
    # trucks of several streams) keeps GLS on one core, and so do cut days (1351)
    assert default_strategies(waste) == ("CONSTRUCT_URGENT+ruin", "CONSTRUCT_URGENT+gls")
    held = replace(waste, hold_s={site.stream: 3600 for site in waste.sites})
    assert default_strategies(held) == ("CONSTRUCT_URGENT+ruin", "CONSTRUCT_URGENT+gls")
    capped = replace(waste, facilities=[replace(f, capacity_kg=1000.0) for f in waste.facilities])
    assert default_strategies(capped) == ("CONSTRUCT_URGENT+ruin", "CONSTRUCT_URGENT+gls")
    mixed = replace(held, vehicles=[replace(v, streams=v.streams | {"recyclable"}) for v in held.vehicles])
    assert default_strategies(mixed) == ("CONSTRUCT_URGENT+gls", "CONSTRUCT_URGENT+ruin")
    zoned = kim_problem(read_kim(shared_file("waste_kim2006/1351_stop.txt")))
    assert default_strategies(zoned) == ("CONSTRUCT_URGENT+gls", "CONSTRUCT_URGENT+ruin")


@pytest.mark.slow
def test_capacity_only_instance_from_savings_is_feasible_and_close():
    """X-n101-k25 (BKS 27,591): every customer once, no truck over 206, within 8 % in 10 s
    (3.3 % at its 24 s X budget on the reference machine; the urgency start gave 4.9 %)."""
    instance = read_vrp(shared_file("cvrplib_X/X-n101-k25.vrp"))
    problem = vrplib_problem(instance)
    plan = solve(problem, SolveParams(time_limit_s=10.0))
    violations, unserved = judge(problem, plan)
    assert violations == [] and unserved == 0
    assert 27591 <= instance.routes_cost(routes_of(plan)) <= 27591 * 1.08
