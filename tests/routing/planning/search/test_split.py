"""A ruined route split in two (routing.planning.search.split): the tail goes to a spare identical truck."""

from __future__ import annotations

import itertools

import numpy as np

from routing.planning.search.ortools_model import OrToolsModel
from routing.planning.search.params import SolveParams
from routing.planning.search.sisr import RouteArrays, make_scratch, plain_arrays, start_state
from routing.planning.search.split import split_route
from routing.planning.search.trips import feasible_route, simulate
from tests.routing.planning.search.test_trips import multitrip_day


def line_day(*, capacities: list[int]) -> RouteArrays:
    """Depot 0 at x = 0, sites 1-3 at x = 1, 2, 3 and 4-6 on the other side at -10, -11, -12: one truck per capacity,
    all else alike."""
    x = np.array([0, 1, 2, 3, -10, -11, -12], dtype=np.int64)
    travel = np.abs(x[:, None] - x[None, :])
    order = np.argsort(travel, axis=1, kind="stable")
    neighbours = np.where(np.arange(len(x))[:, None] > 0, order[:, 1:][:, :3], -1)
    neighbours[1:, 0] = np.arange(1, len(x))
    return plain_arrays(travel=travel, neighbours=neighbours, capacity=capacities, horizon=1000)


def split_of(arrays: RouteArrays, routes: list[list[int]], touched: list[int]) -> list[list[int]]:
    state = start_state(arrays, routes)
    mark = np.zeros(len(routes), dtype=np.bool_)
    mark[touched] = True
    split_route(state, arrays.day, mark)
    return [state.nodes[v, : state.length[v]].tolist() for v in range(len(routes))], mark


def test_the_tail_goes_to_a_spare_truck_where_the_cut_adds_least():
    arrays = line_day(capacities=[10, 10, 10])
    routes, touched = split_of(arrays, [[1, 2, 3, 4, 5, 6], [], []], touched=[0])
    # cutting between 3 and 4 (either side of the depot) adds nothing, any other cut at least 2
    assert routes == [[1, 2, 3], [4, 5, 6], []]
    assert touched.tolist() == [True, True, False]
    assert int(start_state(arrays, routes).route_cost.sum()) == 30  # as the one route: 3 + 13 + 2 + 12


def test_no_split_without_an_identical_empty_truck_or_a_ruined_route():
    arrays = line_day(capacities=[10, 20])  # the empty truck is another kind
    assert split_of(arrays, [[1, 2, 3, 4, 5, 6], []], touched=[0])[0] == [[1, 2, 3, 4, 5, 6], []]
    arrays = line_day(capacities=[10, 10])
    assert split_of(arrays, [[1, 2, 3, 4, 5, 6], []], touched=[])[0] == [[1, 2, 3, 4, 5, 6], []]


def test_with_trips_the_spare_truck_takes_whole_trips():
    """On a day with unloading trips the cut follows an unload: the first trip stays, the later go, each route still
    feasible and ending at its unload."""
    problem = multitrip_day(seed=1, ends_empty=True)
    arrays = OrToolsModel(problem, SolveParams()).route_arrays()
    assert arrays is not None and arrays.trips is not None
    marker = int(arrays.trips.facility_nodes[1])
    sites = [int(s) for s in arrays.sites]
    route = next(
        r
        for a, b in itertools.permutations(sites, 2)
        if simulate(0, np.array([*(r := [a, marker, b, marker]), 0, 0]), 4, arrays.day, np.zeros(1, dtype=np.int64))
    )
    start = start_state(arrays, [route, []])  # tidied: a closing unload the model folds into the way home goes
    route = start.nodes[0, : start.length[0]].tolist()
    routes, touched = split_of(arrays, [route, []], touched=[0])
    assert routes == [route[:2], route[2:]]
    assert touched.tolist() == [True, True]
    state = start_state(arrays, routes)
    assert all(feasible_route(v, state, arrays.day, make_scratch(arrays)) for v in range(2))
