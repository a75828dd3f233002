"""The fast schedule and drive (routing.planning.search.schedule, trips.check_route) equal the slow reference on
random routes, and the insertion's lower bounds (routing.planning.search.trip_insert) never exceed what an
insertion costs, so driving positions cheapest bound first finds the cheapest insertion."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from routing.planning.problem import Problem
from routing.planning.search import sisr
from routing.planning.search.insertion import _granular_candidates
from routing.planning.search.ortools_model import OrToolsModel
from routing.planning.search.params import RuinParams, SolveParams
from routing.planning.search.ruin import seed_compiled_rng
from routing.planning.search.schedule import WORK_ROWS, route_work, shift_span, time_cost
from routing.planning.search.trip_insert import _facility_totals, _screen, cheapest_trips
from routing.planning.search.trips import _drive, check_route, refresh_trips, simulate
from tests.routing.planning.search import slow_schedule as slow
from tests.routing.planning.search.test_trips import limited_day, multitrip_day


def paid_day(problem: Problem) -> Problem:
    """``problem`` with a cost per hour and balance on one vehicle type (shift costs in every insertion)."""
    vehicles = [replace(v, cost_per_hour=36.0, type_id="t") for v in problem.vehicles]
    return replace(problem, vehicles=vehicles, balance_per_h=72.0)


def random_route(rng, arrays) -> list[int]:
    """1–8 sites in random order with 0–3 unload markers anywhere (leading, doubled and trailing ones too)."""
    markers = [int(f) for f in arrays.trips.facility_nodes]
    chosen = [int(s) for s in rng.permutation(arrays.sites)[: int(rng.integers(1, 9))]]
    for _ in range(int(rng.integers(0, 4))):
        chosen.insert(int(rng.integers(0, len(chosen) + 1)), markers[int(rng.integers(len(markers)))])
    return chosen


@pytest.mark.parametrize("rule", ["none", "hold", "shift", "both"])
@pytest.mark.parametrize("ends_empty", [False, True])
@pytest.mark.parametrize("lunch", [False, True])
def test_fast_schedule_and_drive_equal_the_slow_reference(rule, ends_empty, lunch):
    """Thousands of random routes: the same shift (or none) as one replay per start and break leg, the same verdict
    as the drive that called a helper per visit; one work array reused throughout (no state left between calls)."""
    spans: dict[str, int] = {"clean": 0, "none": 0}
    for seed in range(5):
        problem = paid_day(
            limited_day(multitrip_day(seed=seed, sites=14, ends_empty=ends_empty, lunch=lunch), rule, seed)
        )
        arrays = OrToolsModel(problem, SolveParams()).route_arrays()
        assert arrays is not None and arrays.trips is not None
        day = arrays.day
        work = np.empty((WORK_ROWS, 40), dtype=np.int64)
        units = np.zeros(day.demand.shape[1], dtype=np.int64)
        rng = np.random.default_rng(500 + seed)
        for _ in range(300):
            route = random_route(rng, arrays)
            seq, m = np.array([*route, 0, 0], dtype=np.int64), len(route)
            expected = slow.feasible_schedule(0, seq, m, day)
            assert shift_span(0, seq, m, day, work) == expected, (seed, route)
            assert simulate(0, seq, m, day, units) == slow.simulate(0, seq, m, day, units), (seed, route)
            drives = _drive(0, seq, m, day, units)
            assert check_route(0, seq, m, day, units, work) == (expected if drives else -1), (seed, route)
            spans["clean" if expected >= 0 else "none"] += 1
    assert spans["clean"] > 50 and spans["none"] > 50  # both outcomes well exercised


def planned_state(problem: Problem, seed: int):
    """The compiled search's routes after a few hundred ruins of a random day, as a search state."""
    arrays = OrToolsModel(problem, SolveParams()).route_arrays()
    assert arrays is not None
    routes, _, _ = sisr.improve(
        arrays,
        [[] for _ in problem.vehicles],
        deadline=time.monotonic() + 600,
        settings=RuinParams(),
        seed=seed,
        max_iterations=200,
    )
    return arrays, sisr.start_state(arrays, routes)


def take_out(site: int, state, day) -> None:
    """Remove ``site`` from its route (the ruin's cut) and refresh that route."""
    v = int(state.route_of[site])
    row = [int(x) for x in state.nodes[v, : state.length[v]] if x != site]
    state.nodes[v, : len(row)] = row
    state.length[v] = len(row)
    state.route_of[site] = -1
    refresh_trips(v, state, day)


@pytest.mark.parametrize(("rule", "lunch"), [("none", True), ("hold", True), ("both", False), ("shift", True)])
def test_insertion_bounds_hold_and_the_cheapest_is_found(rule, lunch):
    """Every screened position's bound ≤ its exact delta (arcs + the evaluator's shift cost − the route's now), the
    route's shift cost read from its cost equals the schedule's, and cheapest_trips returns the least exact delta."""
    compared = exact_hits = 0
    for seed in range(4):
        problem = paid_day(limited_day(multitrip_day(seed=seed, sites=20, trucks=3, lunch=lunch), rule, seed))
        arrays, planned = planned_state(problem, seed)
        day = arrays.day
        scratch = sisr.make_scratch(arrays)
        work = np.empty((WORK_ROWS, planned.nodes.shape[1] + 5), dtype=np.int64)
        routed = [int(s) for s in arrays.sites if planned.route_of[s] >= 0]
        for site in routed:
            state = sisr._copy(planned)
            take_out(site, state, day)
            count = _granular_candidates(site, 40, state, day, scratch)
            vehicles, options = len(state.length), count * (1 + 2 * len(day.facility_nodes))
            found = np.empty((options, 5), dtype=np.int64)
            bound, arcs = np.empty(options, dtype=np.int64), np.empty(options, dtype=np.int64)
            busy, done = (
                np.zeros(vehicles, dtype=np.int64),
                np.empty((vehicles, state.length.max() + 1), dtype=np.int64),
            )
            _facility_totals(state, day, scratch)
            seed_compiled_rng(1000 + site)
            n = _screen(site, count, state, day, scratch, busy, done, found, bound, arcs)
            best = None
            for i in range(n):
                v, p, marker, side, worked = (int(x) for x in found[i])
                if state.length[v]:
                    assert scratch.paid[v] == time_cost(v, state.nodes[v], state.length[v], day)
                row = [int(x) for x in state.nodes[v, : state.length[v]]]
                added = [marker, site] if side < 0 else [site, marker] if side > 0 else [site]
                route = row[:p] + added + row[p:]
                seq = np.array([*route, 0, 0], dtype=np.int64)
                span = check_route(v, seq, len(route), day, scratch.units, work)
                if span < 0:
                    continue
                assert worked == route_work(v, seq, len(route), day, np.empty(0, dtype=np.int64))
                exact = arcs[i] + time_cost(v, seq, len(route), day) - scratch.paid[v]
                assert bound[i] <= exact, (seed, site, route)
                exact_hits += bound[i] == exact
                best = exact if best is None else min(best, exact)
                compared += 1
            seed_compiled_rng(1000 + site)  # the same blinks
            v, p, marker, side = cheapest_trips(site, count, state, day, scratch)
            if best is None:
                assert v < 0
                continue
            row = [int(x) for x in state.nodes[v, : state.length[v]]]
            route = row[:p] + ([marker, site] if side < 0 else [site, marker] if side > 0 else [site]) + row[p:]
            chosen = arcs_of(route, v, state, day, site, p, marker, side)
            seq = np.array([*route, 0, 0], dtype=np.int64)
            assert check_route(v, seq, len(route), day, scratch.units, work) >= 0
            paid = scratch.paid[v] if state.stops[v] else 0
            total = chosen + time_cost(v, seq, len(route), day) - paid
            assert total == best, (seed, site)
    assert compared > 50 and exact_hits > 5, (compared, exact_hits)  # many positions, bounds often exact


def arcs_of(route: list[int], v: int, state, day, site: int, p: int, marker: int, side: int) -> int:
    """The arc-cost delta of putting ``site`` (and ``marker``) into truck v's route at p, as ``_screen`` prices it."""
    c = day.vehicle_class[v]
    k = state.length[v]
    depot = day.depot[v]
    prev = depot if p == 0 else state.nodes[v, p - 1]
    nxt = depot if p == k else state.nodes[v, p]
    chain = [marker, site] if side < 0 else [site, marker] if side > 0 else [site]
    path = [prev, *chain, nxt]
    added = sum(int(day.cost[c, a, b]) for a, b in zip(path, path[1:]))
    fixed = int(day.fixed[v]) if state.stops[v] == 0 else 0
    return added - int(day.cost[c, prev, nxt]) + int(day.preference[site, v]) + fixed
