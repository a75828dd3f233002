"""The ruin-and-recreate improvement (routing.planning.search.ruin) and the strategy names that choose it."""

from __future__ import annotations

import numpy as np
import pytest

from routing.planning.search.params import RuinParams, strategy_parts
from routing.planning.search.ruin import StringRemoval, site_neighbours


def removal(*, sites: list[int], positions: np.ndarray, seed: int, **settings) -> StringRemoval:
    distance = np.hypot(*(positions[:, None, :] - positions[None, :, :]).transpose(2, 0, 1))
    neighbours = site_neighbours(distance, sites, list(range(len(sites))), rows=1000)  # routes hold indices < 1000
    return StringRemoval(neighbours=neighbours, settings=RuinParams(**settings), seed=seed)


def runs(positions: list[int]) -> int:
    """How many runs of consecutive numbers ``positions`` (ascending) make."""
    return sum(1 for k, p in enumerate(positions) if k == 0 or p != positions[k - 1] + 1)


@pytest.mark.parametrize("split_rate", [0.0, 0.5])
def test_ruin_cuts_strings_of_sites_and_keeps_everything_else_in_order(split_rate):
    """A string is consecutive sites of one route; a split string keeps a run of its sites on the route."""
    rng = np.random.default_rng(7)
    sites = list(range(100, 160))  # routing indices of 60 sites
    parking = [900, 901]  # not sites (facility copies): never removed
    routes = [sites[0:20] + [900], sites[20:40], [901] + sites[40:60], []]
    ruin = removal(
        sites=sites, positions=rng.uniform(0, 100, (60, 2)), seed=3, route_removal=0.0, split_rate=split_rate
    )
    removed_counts, split = [], 0
    for _ in range(200):
        ruined = ruin(routes)
        assert len(ruined) == len(routes)
        for before, after in zip(routes, ruined):
            assert [i for i in before if i in after] == after  # order kept, nothing added
            assert all(i in after for i in before if i in parking)
            gone = [k for k, i in enumerate(before) if i not in after]
            assert runs(gone) <= (2 if split_rate else 1)  # one string per route, in two runs where split
            split += runs(gone) == 2
        removed_counts.append(sum(map(len, routes)) - sum(map(len, ruined)))
    assert min(removed_counts) >= 1
    assert 3 <= np.mean(removed_counts) <= 20  # SISR's average of about 10
    assert (split > 20) == (split_rate > 0)  # half the strings longer than one site and shorter than the cap


def test_ruin_removes_strings_near_its_seed_site():
    # two clusters far apart: one ruin touches only routes of one cluster
    positions = np.vstack(
        [np.full((10, 2), 0.0) + np.arange(10)[:, None], np.full((10, 2), 1000.0) + np.arange(10)[:, None]]
    )
    sites = list(range(20))
    routes = [sites[0:5], sites[5:10], sites[10:15], sites[15:20]]
    ruin = removal(sites=sites, positions=positions, seed=1, average_removed=4, route_removal=0.0)
    for _ in range(100):
        gone = {i for route, kept in zip(routes, ruin(routes)) for i in route if i not in kept}
        assert gone and (gone <= set(range(10)) or gone <= set(range(10, 20)))


def test_route_removal_empties_a_whole_route_of_sites():
    rng = np.random.default_rng(2)
    sites = list(range(30))
    routes = [sites[0:10], sites[10:25], sites[25:30] + [99]]
    ruin = removal(sites=sites, positions=rng.uniform(0, 10, (30, 2)), seed=5, route_removal=1.0)
    ruined = ruin(routes)
    emptied = [k for k, route in enumerate(ruined) if not [i for i in route if i in sites]]
    assert len(emptied) == 1
    assert sum(map(len, ruined)) == sum(map(len, routes)) - len([i for i in routes[emptied[0]] if i in sites])


def test_strategy_names_say_first_solution_and_improvement():
    assert strategy_parts("SAVINGS+ruin") == ("SAVINGS", "ruin")
    assert strategy_parts("construct_urgent+GLS") == ("CONSTRUCT_URGENT", "gls")
    assert strategy_parts("PARALLEL_CHEAPEST_INSERTION") == ("PARALLEL_CHEAPEST_INSERTION", "ruin")
    with pytest.raises(ValueError, match="'tabu'"):
        strategy_parts("SAVINGS+tabu")
