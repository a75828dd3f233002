"""The compiled search on days with unloading trips (routing.planning.search.trips): exact against the checker."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.problem import BreakSpec, DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec
from routing.planning.search import sisr
from routing.planning.search.ortools_model import OrToolsModel
from routing.planning.search.params import RuinParams, SolveParams
from routing.planning.search.searcher import Searcher, to_copies, to_markers
from routing.planning.search.trips import simulate

SCALE = 10  # every time a multiple of 10 s: the checker's 1 s tolerance never decides a verdict


def multitrip_day(
    *, seed: int, sites: int = 12, ends_empty: bool = False, trucks: int = 2, lunch: bool = False
) -> Problem:
    """A random day: one depot, two facilities (one with a lunch closure), windows, releases, small trucks; with
    ``lunch`` a 600 s break to start between 1500 and 2500 s."""
    rng = np.random.default_rng(seed)
    n = 1 + 2 + sites
    xy = rng.uniform(0, 60, (n, 2))
    dist = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))).astype(np.int64) * SCALE
    facilities = [
        FacilitySpec(id="F1", node=1, streams=frozenset({"w"}), unload_s=60, windows=((0, 2000), (2600, 8000))),
        FacilitySpec(id="F2", node=2, streams=frozenset({"w"}), unload_s=120, windows=((500, 8000),)),
    ]
    specs = []
    for k in range(sites):
        open_ = int(rng.integers(0, 300)) * SCALE
        windows = ((open_, open_ + int(rng.integers(40, 300)) * SCALE),)
        if rng.random() < 0.3:  # a second window later in the day
            later = windows[0][1] + int(rng.integers(20, 100)) * SCALE
            windows = (*windows, (later, later + 600))
        release = int(rng.integers(0, 150)) * SCALE if rng.random() < 0.5 else 0
        specs.append(
            SiteSpec(
                id=f"S{k}",
                node=3 + k,
                stream="w",
                demand_kg=float(rng.integers(1, 5)),
                service_s=int(rng.integers(1, 6)) * SCALE,
                windows=windows,
                release_s=min(release, windows[-1][1]),
            )
        )
    vehicles = [
        VehicleSpec(
            id=f"V{k}",
            depot=0,
            streams=frozenset({"w"}),
            capacity_kg=6.0,
            shift_end=8000,
            cost_per_km=1.0,
            fixed_cost=1.0,
            ends_empty=ends_empty,
        )
        for k in range(trucks)
    ]
    return Problem(
        name=f"multitrip {seed}",
        ids=[f"n{i}" for i in range(n)],
        lon=xy[:, 0],
        lat=xy[:, 1],
        duration_s=dist,
        distance_m=dist,
        depots=[DepotSpec(id="D", node=0)],
        facilities=facilities,
        sites=specs,
        vehicles=vehicles,
        geographic=False,
        break_rule=BreakSpec(duration_s=600, earliest_start_s=1500, latest_start_s=2500) if lunch else None,
    )


def visit_ids(model: OrToolsModel, route: list[int]) -> list[str]:
    """Visit ids of a route of routing nodes; the closing unload the model folds into the last arc added (as the
    searcher's result adds it)."""
    p = model.problem
    out = []
    for node in route:
        kind, i = model.kinds[node]
        out.append(p.sites[i].id if kind == "site" else p.facilities[i].id)
    if out and model.final_unload is not None and out[-1] in p.site_index:
        out.append(p.facilities[model.final_unload[(out[-1], 0)]].id)
    return out


def alone_feasible(model: OrToolsModel, arrays) -> set[str]:
    """Sites a truck can serve on a route of their own (with an unload after, where it must come home empty)."""
    units = np.zeros(arrays.demand.shape[1], dtype=np.int64)
    out = set()
    for site in arrays.sites:
        for route in ([site], [site, int(arrays.trips.facility_nodes[1])], [site, int(arrays.trips.facility_nodes[0])]):
            if simulate(0, np.array([*route, 0], dtype=np.int64), len(route), arrays.day, units):
                out.add(model.problem.sites[model.kinds[site][1]].id)
    return out


def checked(problem: Problem, routes: dict[str, list[str]]):
    return check_plan(problem, evaluate_routes(problem, routes))


@pytest.mark.parametrize("ends_empty", [False, True])
@pytest.mark.parametrize("lunch", [False, True])
def test_simulate_agrees_with_the_checker_on_random_routes(ends_empty, lunch):
    verdicts = {True: 0, False: 0}
    for seed in range(6):
        problem = multitrip_day(seed=seed, ends_empty=ends_empty, lunch=lunch)
        model = OrToolsModel(problem, SolveParams())
        arrays = model.route_arrays()
        assert arrays is not None and arrays.trips is not None
        day = arrays.day
        markers = [int(f) for f in arrays.trips.facility_nodes]
        rng = np.random.default_rng(100 + seed)
        for _ in range(60):
            chosen = list(rng.permutation(arrays.sites)[: int(rng.integers(1, 7))])
            for _ in range(int(rng.integers(0, 3))):
                chosen.insert(int(rng.integers(0, len(chosen) + 1)), markers[int(rng.integers(2))])
            seq = np.array([*chosen, 0, 0], dtype=np.int64)
            ours = simulate(0, seq, len(chosen), day, np.zeros(day.demand.shape[1], dtype=np.int64))
            report = checked(problem, {"V0": visit_ids(model, chosen)})
            route_violations = [v for v in report.violations if "neither served" not in v]
            assert ours == (not route_violations), (seed, chosen, route_violations)
            verdicts[ours] += 1
    assert verdicts[True] > 20 and verdicts[False] > 20  # both verdicts well exercised


@pytest.mark.parametrize(("ends_empty", "lunch"), [(False, False), (True, False), (True, True)])
def test_compiled_search_plans_a_multitrip_day_the_checker_certifies(ends_empty, lunch):
    problem = multitrip_day(seed=42, sites=20, ends_empty=ends_empty, trucks=3, lunch=lunch)
    model = OrToolsModel(problem, SolveParams())
    arrays = model.route_arrays()
    assert arrays is not None and arrays.trips is not None  # unloads, releases and windows: the compiled loop
    routes, cost, made = sisr.improve(
        arrays,
        [[] for _ in problem.vehicles],
        deadline=time.monotonic() + 3600,
        settings=RuinParams(),
        seed=3,
        max_iterations=400,
    )
    assert made == 400
    ids = {v.id: visit_ids(model, route) for v, route in zip(problem.vehicles, routes) if route}
    served = {s for route in ids.values() for s in route if s.startswith("S")}
    assert served == alone_feasible(model, arrays)
    assert len(served) >= 15
    assert any(stop.startswith("F") for route in ids.values() for stop in route[:-1])  # several trips somewhere
    report = checked(problem, ids)
    assert report.violations == []
    copies = to_copies(model.kinds, routes)
    assert copies is not None
    assert [to_markers(arrays, route) for route in copies] == routes


@pytest.mark.parametrize("lunch", [False, True])
def test_searcher_runs_the_compiled_loop_and_ortools_reads_its_routes_back(lunch, caplog):
    problem = multitrip_day(seed=7, sites=16, trucks=3, lunch=lunch)
    settings = SolveParams(max_solutions=300)
    model = OrToolsModel(problem, settings)
    assert model.route_arrays() is not None
    result = Searcher(model).solve(strategy="CONSTRUCT_URGENT+ruin", time_limit_s=30)
    assert result.dropped == []
    assert not [r for r in caplog.records if "not readable" in r.getMessage()]  # no feasibility mismatch
    report = check_plan(problem, evaluate_routes(problem, result.routes, start_times=result.start_times))
    assert report.violations == []


def test_days_with_a_hold_limit_or_shift_limit_keep_the_ortools_loop():
    problem = multitrip_day(seed=1)
    held = replace(problem, hold_s={"w": 3600})
    assert OrToolsModel(held, SolveParams()).route_arrays() is None
    limited = replace(problem, vehicles=[replace(v, max_shift_s=4000) for v in problem.vehicles])
    assert OrToolsModel(limited, SolveParams()).route_arrays() is None
