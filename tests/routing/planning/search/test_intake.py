"""Facility daily capacities in the compiled search (routing.planning.search.trips, trip_insert): exact against the
checker, screened exactly, and a day where one binds planned by the compiled loop up to the limit."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np
import pytest

from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.problem import DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec
from routing.planning.search import sisr
from routing.planning.search.driver import solve
from routing.planning.search.insertion import _granular_candidates
from routing.planning.search.ortools_model import OrToolsModel
from routing.planning.search.params import RuinParams, SolveParams, default_strategies
from routing.planning.search.pieces import intake_kg
from routing.planning.search.reasons import REASONS, room_reason
from routing.planning.search.ruin import seed_compiled_rng
from routing.planning.search.searcher import Searcher
from routing.planning.search.trip_insert import _facility_totals, _screen
from routing.planning.search.trips import intake_fits, refresh_trips, simulate
from tests.routing.planning.search.test_schedule import take_out
from tests.routing.planning.search.test_trips import multitrip_day, visit_ids


def capped(problem: Problem, share: float) -> Problem:
    """``problem`` with facility F1 taking ``share`` of all the sites' weight per day."""
    cap = share * sum(s.demand_kg for s in problem.sites)
    return replace(problem, facilities=[replace(problem.facilities[0], capacity_kg=cap), *problem.facilities[1:]])


def short_route(rng, arrays) -> list[int]:
    """1–3 sites in random order with 0–2 unload markers anywhere, often one at the end (a trip unloaded)."""
    markers = [int(f) for f in arrays.trips.facility_nodes]
    chosen = [int(s) for s in rng.permutation(arrays.sites)[: int(rng.integers(1, 4))]]
    for _ in range(int(rng.integers(0, 3))):
        chosen.insert(int(rng.integers(0, len(chosen) + 1)), markers[int(rng.integers(len(markers)))])
    if rng.random() < 0.6:
        chosen.append(markers[int(rng.integers(len(markers)))])
    return chosen


@pytest.mark.parametrize("ends_empty", [False, True])
def test_feasibility_with_capacities_agrees_with_the_checker_on_random_routes(ends_empty):
    """Two trucks' random routes: the compiled verdict (both drivable, each route's intake within the capacities with
    the other's) is the checker's, and many pairs are refused for the intake alone."""
    verdicts = {True: 0, False: 0}
    over = 0
    for seed in range(6):
        problem = capped(multitrip_day(seed=seed, sites=14, ends_empty=ends_empty), 0.15)
        model = OrToolsModel(problem, SolveParams())
        arrays = model.route_arrays()
        assert arrays is not None and arrays.trips.intake_limit[0] < arrays.trips.intake_limit[1]
        day, scratch = arrays.day, sisr.make_scratch(arrays)
        state = sisr.start_state(arrays, [[] for _ in problem.vehicles])
        rng = np.random.default_rng(300 + seed)
        for _ in range(150):
            first, second = short_route(rng, arrays), short_route(rng, arrays)
            second = [n for n in second if n not in first or not arrays.is_site[n]]
            drivable = ours = True
            for v, route in enumerate((first, second)):
                state.nodes[v, : len(route)] = route
                state.length[v] = len(route)
                refresh_trips(v, state, day)
            for v, route in enumerate((first, second)):
                seq = np.array([*route, 0, 0], dtype=np.int64)
                drivable &= simulate(v, seq, len(route), day, scratch.units)
                ours &= intake_fits(v, seq, len(route), state, day, scratch)
            ours &= drivable
            routes = {"V0": visit_ids(model, first), "V1": visit_ids(model, second)}
            report = check_plan(problem, evaluate_routes(problem, routes))
            violations = [v for v in report.violations if "neither served" not in v]
            assert ours == (not violations), (seed, first, second, violations)
            verdicts[ours] += 1
            over += drivable and not ours
    assert verdicts[True] > 20 and verdicts[False] > 20 and over > 10


def folded_day(seed: int):
    """A day whose closing unload is folded into the last arc (trucks come home empty, no capacity in the model), with
    an intake limit on F1 put into the arrays: the folded unload counts too."""
    problem = near_and_far_day(seed=seed)
    problem = replace(problem, facilities=[replace(f, capacity_kg=None) for f in problem.facilities])
    arrays = OrToolsModel(problem, SolveParams()).route_arrays()
    assert arrays is not None and (arrays.trips.closing >= 0).any()
    limit = int(arrays.demand[arrays.sites, 0].sum()) // 4
    limits = np.array([limit, sisr.INF], dtype=np.int64)
    return replace(arrays, trips=replace(arrays.trips, intake_limit=limits))


def planned(arrays, seed: int):
    """The compiled search's routes after 200 ruins from empty routes, as a search state."""
    routes, _, _ = sisr.improve(
        arrays,
        [[] for _ in arrays.depot],
        deadline=time.monotonic() + 600,
        settings=RuinParams(),
        seed=seed,
        max_iterations=200,
    )
    return sisr.start_state(arrays, routes)


def screened(site, count, state, day, scratch) -> set[tuple[int, int, int, int]]:
    """(truck, position, marker, side) of every insertion of ``site`` the screens let through (blinks seeded)."""
    vehicles, options = len(state.length), count * (1 + 2 * len(day.facility_nodes))
    found = np.empty((options, 5), dtype=np.int64)
    bound, arcs = np.empty(options, dtype=np.int64), np.empty(options, dtype=np.int64)
    busy = np.zeros(vehicles, dtype=np.int64)
    done = np.empty((vehicles, state.length.max() + 1), dtype=np.int64)
    _facility_totals(state, day, scratch)
    seed_compiled_rng(7 + site)
    n = _screen(site, count, state, day, scratch, busy, done, found, bound, arcs)
    return {tuple(int(x) for x in found[i, :4]) for i in range(n)}


@pytest.mark.parametrize("fold", [False, True])
def test_the_screen_refuses_exactly_the_insertions_over_a_capacity(fold):
    """Every insertion the screens pass without limits passes with them exactly where its route keeps every
    facility's intake within its capacity (driving the whole candidate route), the folded closing unload included."""
    kept = refused = 0
    for seed in range(3):
        if fold:
            arrays = folded_day(seed)
        else:
            arrays = OrToolsModel(
                capped(multitrip_day(seed=seed, sites=20, trucks=3), 0.3), SolveParams()
            ).route_arrays()
        free = replace(arrays, trips=replace(arrays.trips, intake_limit=np.full(2, sisr.INF, dtype=np.int64)))
        state = planned(arrays, seed)
        day, scratch = arrays.day, sisr.make_scratch(arrays)
        for site in [int(s) for s in arrays.sites if state.route_of[s] >= 0]:
            ruined = sisr._copy(state)
            take_out(site, ruined, day)
            count = _granular_candidates(site, 40, ruined, day, scratch)
            limited = screened(site, count, ruined, day, scratch)
            unlimited = screened(site, count, ruined, free.day, scratch)
            assert limited <= unlimited
            for v, p, marker, side in unlimited:
                row = [int(x) for x in ruined.nodes[v, : ruined.length[v]]]
                route = row[:p] + ([marker, site] if side < 0 else [site, marker] if side > 0 else [site]) + row[p:]
                fits = intake_fits(v, np.array(route, dtype=np.int64), len(route), ruined, day, scratch)
                assert ((v, p, marker, side) in limited) == fits, (seed, site, route)
                kept += fits
                refused += not fits
    assert kept > 50 and refused > 10, (kept, refused)


def near_and_far_day(*, seed: int, sites: int = 24) -> Problem:
    """Sites around the depot, facility F1 beside it taking 40 % of their weight, F2 far away with room for all."""
    rng = np.random.default_rng(seed)
    xy = np.vstack([[[0.0, 0.0], [4.0, 3.0], [90.0, 80.0]], rng.uniform(-25, 25, (sites, 2))])
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64) * 10
    specs = [
        SiteSpec(id=f"S{k}", node=3 + k, stream="w", demand_kg=float(rng.integers(1, 5)), service_s=30)
        for k in range(sites)
    ]
    total = sum(s.demand_kg for s in specs)
    return Problem(
        name=f"near and far {seed}",
        ids=[f"n{i}" for i in range(len(xy))],
        lon=xy[:, 0],
        lat=xy[:, 1],
        duration_s=dist,
        distance_m=dist,
        depots=[DepotSpec(id="D", node=0)],
        facilities=[
            FacilitySpec(id="F1", node=1, streams=frozenset({"w"}), unload_s=60, capacity_kg=0.4 * total),
            FacilitySpec(id="F2", node=2, streams=frozenset({"w"}), unload_s=60),
        ],
        sites=specs,
        vehicles=[
            VehicleSpec(
                id=f"V{k}",
                depot=0,
                streams=frozenset({"w"}),
                capacity_kg=8.0,
                shift_end=20_000,
                cost_per_km=1.0,
                fixed_cost=1.0,
                ends_empty=True,
            )
            for k in range(4)
        ],
        geographic=False,
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_a_binding_capacity_is_planned_by_the_compiled_search_up_to_the_limit(seed, caplog):
    """The near facility takes what it may and no more, the far one the rest; the compiled loop plans the day and
    OR-Tools reads its routes back; the checker certifies the plan."""
    caplog.set_level(logging.INFO)
    problem = near_and_far_day(seed=seed)
    cap = problem.facilities[0].capacity_kg
    strategy = default_strategies(problem)[0]
    assert strategy == "CONSTRUCT_URGENT+ruin"
    result = Searcher(OrToolsModel(problem, SolveParams(max_solutions=400))).solve(strategy=strategy, time_limit_s=60)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("compiled search on") for m in messages)
    assert not [m for m in messages if "not used" in m or "not readable" in m]
    assert result.dropped == []
    report = check_plan(problem, evaluate_routes(problem, result.routes, start_times=result.start_times))
    assert report.violations == []
    intake = intake_kg(problem, result.routes)
    largest = max(s.demand_kg for s in problem.sites)
    assert cap - largest < intake["F1"] <= cap, (intake, cap)
    assert intake["F2"] > 0


@pytest.mark.parametrize("strategy", ["CONSTRUCT_URGENT+ruin", "CONSTRUCT_URGENT+gls"])
@pytest.mark.parametrize("seed", [1, 2])
def test_sites_past_the_only_facility_s_capacity_are_left_out_not_carried_home(seed, strategy):
    """With no other facility, what the capacity does not take is dropped: OR-Tools would rather carry it home
    (coming home empty is soft there), and an unload added to close the route would overfill."""
    problem = near_and_far_day(seed=seed)
    problem = replace(problem, facilities=problem.facilities[:1])
    result = Searcher(OrToolsModel(problem, SolveParams(max_solutions=300))).solve(strategy=strategy, time_limit_s=20)
    report = check_plan(problem, evaluate_routes(problem, result.routes, start_times=result.start_times))
    assert report.violations == []
    cap = problem.facilities[0].capacity_kg
    assert intake_kg(problem, result.routes)["F1"] > cap - max(s.demand_kg for s in problem.sites)
    assert len(result.dropped) > 5


def test_sites_left_for_a_full_facility_say_so():
    """The plan names the facility whose daily capacity left a site unserved (not the generic 'no room')."""
    day = near_and_far_day(seed=1)
    capped = replace(day, facilities=day.facilities[:1])
    plan = solve(capped, SolveParams(max_solutions=200, workers=1))
    assert len(plan.unserved) > 5
    assert all(reason == REASONS["facility_full"].format(facilities="F1") for _, reason in plan.unserved)
    assert "F1" in plan.unserved[0][1] and "used up" in plan.unserved[0][1]
    # with a second facility of room, a site the fleet cannot fit is not blamed on F1
    site = capped.sites[0]
    assert room_reason(day, site, {"F1": day.facilities[0].capacity_kg}) == REASONS["fleet"]
