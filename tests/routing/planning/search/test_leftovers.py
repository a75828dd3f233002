"""The leftover repair of a day cut into zones re-plans only the trucks nearest the sites left over."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from routing.planning.search.decompose import nearest_trucks
from tests.routing.planning.search.test_trips import multitrip_day


def day_and_routes():
    """12 sites on a line of nodes; four trucks, each with a route of three consecutive sites."""
    problem = multitrip_day(seed=0, sites=12, trucks=4)
    n = len(problem.ids)
    where = np.zeros(n)
    where[3:] = np.arange(12) * 1000.0  # site k at 1,000 k metres; depot and facilities at 0
    distance = np.abs(where[:, None] - where[None, :]).astype(np.int64)
    problem = replace(problem, distance_m=distance, duration_s=distance)
    routes = {f"V{k}": [f"S{3 * k}", f"S{3 * k + 1}", f"S{3 * k + 2}"] for k in range(4)}
    return problem, routes


def test_each_leftover_site_gets_its_nearest_truck_and_the_cap_bounds_the_rest():
    problem, routes = day_and_routes()
    trucks = ["V0", "V1", "V2", "V3"]
    # S5 (V1's) and S10 (V3's) left over: their own trucks are nearest, whatever the cap
    assert nearest_trucks(problem, trucks, routes, ["S5", "S10"], cap=0) == ["V1", "V3"]
    # room for one more route of three: the next nearest (V2, 1 km from S10) joins, V0 (3 km from S5) does not
    assert nearest_trucks(problem, trucks, routes, ["S5", "S10"], cap=2 + 6 + 3) == ["V1", "V3", "V2"]
    assert nearest_trucks(problem, trucks, routes, ["S5", "S10"], cap=100) == ["V1", "V3", "V2", "V0"]


def test_only_trucks_that_may_serve_a_leftover_site_are_taken():
    problem, routes = day_and_routes()
    sites = [replace(s, vehicles=frozenset({"V0"})) if s.id == "S11" else s for s in problem.sites]
    problem = replace(problem, sites=sites)
    # S11 may go only on V0, far away; V3 passes nearest but may not take it
    assert nearest_trucks(problem, ["V0", "V1", "V2", "V3"], routes, ["S11"], cap=0) == ["V0"]
    assert nearest_trucks(problem, ["V1", "V2", "V3"], routes, ["S11"], cap=100) == []
