"""Sites' allowed trucks (hard) and preferred truck (soft) hold in every search path and in the checker."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from routing.errors import ScenarioError
from routing.planning.check import check_plan
from routing.planning.plan import evaluate_routes
from routing.planning.problem import DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec
from routing.planning.scenario import parse_scenario
from routing.planning.search.driver import solve
from routing.planning.search.ortools_model import OrToolsModel
from routing.planning.search.params import SolveParams
from routing.planning.search.reasons import unservable_sites

SETTINGS = SolveParams(time_limit_s=3.0, workers=1, max_solutions=200)


def line_day(*, unloads: bool) -> Problem:
    """Depot 0, facility 1 (when ``unloads``), sites 2..7 on a line; two identical trucks."""
    xs = np.array([0, 5, 10, 12, 14, 16, 18, 20], dtype=float)
    d = np.abs(xs[:, None] - xs[None, :]) * 60
    sites = [SiteSpec(f"S{k}", k, "kitchen", 100.0, 0.0, 60) for k in range(2, 8)]
    truck = VehicleSpec(
        "V1",
        0,
        frozenset({"kitchen"}),
        5000.0,
        None,
        6 * 3600,
        18 * 3600,
        fixed_cost=10.0,
        cost_per_km=3.0,
        ends_empty=unloads,
    )
    return Problem(
        name="line",
        ids=[str(i) for i in range(8)],
        lon=xs,
        lat=np.zeros(8),
        duration_s=d,
        distance_m=d,
        depots=[DepotSpec("D", 0)],
        facilities=[FacilitySpec("F", 1, frozenset({"kitchen"}), unload_s=60)] if unloads else [],
        sites=sites,
        vehicles=[truck, replace(truck, id="V2")],
        geographic=False,
    )


def with_sites(problem: Problem, **fields) -> Problem:
    """The day with ``fields`` set on the sites S5..S7."""
    sites = [replace(s, **fields) if int(s.id[1:]) >= 5 else s for s in problem.sites]
    return replace(problem, sites=sites)


def served_by(plan) -> dict[str, str]:
    return {stop.id: r.vehicle_id for r in plan.routes for stop in r.stops if stop.kind == "site"}


@pytest.mark.parametrize("unloads", [True, False], ids=["ortools-loop", "compiled-sisr"])
def test_allowed_trucks_are_never_crossed(unloads):
    problem = with_sites(line_day(unloads=unloads), vehicles=frozenset({"V2"}))
    plan = solve(problem, SETTINGS)
    assert check_plan(problem, plan).ok
    owner = served_by(plan)
    assert len(owner) == 6
    assert {owner[f"S{k}"] for k in (5, 6, 7)} == {"V2"}


@pytest.mark.parametrize("unloads", [True, False], ids=["ortools-loop", "compiled-sisr"])
def test_preferred_truck_is_kept_when_its_penalty_outweighs_the_detour(unloads):
    base = line_day(unloads=unloads)
    cheap = served_by(solve(base, SETTINGS))
    assert len(set(cheap.values())) == 1  # one truck does it all: the second costs its fixed cost
    preferring = with_sites(base, preferred_vehicle="V2", preference_penalty=1000.0)
    preferring.sites[:3] = [replace(s, preferred_vehicle="V1", preference_penalty=1000.0) for s in base.sites[:3]]
    owner = served_by(solve(preferring, SETTINGS))
    assert {owner[f"S{k}"] for k in (5, 6, 7)} == {"V2"}  # two trucks now, each on its own sites
    assert {owner[f"S{k}"] for k in (2, 3, 4)} == {"V1"}
    weak = with_sites(base, preferred_vehicle="V2", preference_penalty=0.001)
    assert len(set(served_by(solve(weak, SETTINGS)).values())) == 1  # a weak preference gives way to cost


def test_compiled_arrays_carry_preferences():
    problem = with_sites(line_day(unloads=False), preferred_vehicle="V2", preference_penalty=2.0)
    arrays = OrToolsModel(problem, SETTINGS).route_arrays()
    assert arrays is not None
    assert arrays.preference.sum() == 3 * 2 * 100_000  # three sites, paid by V1 only, in cost units
    assert arrays.kind[1] == 1  # the trucks differ now: an insertion tries both


def test_checker_rejects_a_site_on_a_truck_it_does_not_allow():
    problem = with_sites(line_day(unloads=True), vehicles=frozenset({"V2"}))
    plan = evaluate_routes(problem, {"V1": ["S2", "S3", "S4", "S5", "S6", "S7", "F"]})
    text = " | ".join(check_plan(problem, plan).violations)
    assert "stop 4 (site S5)" in text and "only V2 may serve this site" in text


def test_a_site_its_grid_cannot_serve_is_unserved_with_that_reason():
    problem = line_day(unloads=True)
    small = replace(problem.vehicles[1], capacity_kg=50.0)
    problem = replace(with_sites(problem, vehicles=frozenset({"V2"})), vehicles=[problem.vehicles[0], small])
    assert unservable_sites(problem) == {"S5": "grid", "S6": "grid", "S7": "grid"}


def test_scenario_names_unknown_and_inconsistent_trucks(places):
    from tests.routing.planning.conftest import base_scenario, site

    sites = [site(places, 2), site(places, 3), site(places, 4)]
    sites[0]["vehicles"] = ["V1", "V9"]
    sites[1]["preferred_vehicle"] = "V7"
    sites[2]["vehicles"] = ["V1"]
    sites[2]["preferred_vehicle"] = "V2"
    doc = base_scenario(
        places, sites=sites, vehicles=[{"id": "V1", "type": "T", "depot": "D"}, {"id": "V2", "type": "T", "depot": "D"}]
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(doc)
    text = str(caught.value)
    assert "sites.0.vehicles (id S2): 未知车辆 / unknown vehicles V9" in text
    assert "sites.1.preferred_vehicle (id S3): 未知车辆 / unknown vehicle 'V7'" in text
    assert "sites.2.preferred_vehicle (id S4)" in text and "not among its vehicles" in text
