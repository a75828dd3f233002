"""Street plans on the shipped Shenzhen network: every kerb swept once in its direction, outputs, KPIs, bad input."""

from __future__ import annotations

import csv
import json

import pytest
import shapely
from typer.testing import CliRunner

from routing.arcs.check import check_solution
from routing.arcs.settings import ArcSettings
from routing.arcs.solve import solve_arcs
from routing.errors import InvalidInputError
from routing.sweeping.exports import SHEET_HEADER, write_plan_outputs
from routing.sweeping.plan import depot_node, plan_streets, sweep_kpis, sweep_problem
from routing.sweeping.scope import kerbs_in_area, kerbs_of_ways
from routing.sweeping.settings import SweepingSettings

SMALL = (114.057, 22.527, 114.063, 22.533)  # lon/lat box in Futian centre: Jintian Rd (wide one-way pairs) and more
FIXED = ArcSettings(time_limit_s=60, max_iterations=400, seed=2)  # a fixed amount of work: fast and repeatable
CENTRE = ((SMALL[0] + SMALL[2]) / 2, (SMALL[1] + SMALL[3]) / 2)
TWO_WAY = (114.035, 22.525, 114.041, 22.531)  # a few two-way streets, 2 km west


def _plan(net, kerbs, settings=None, vehicles=2):
    return plan_streets(
        net,
        kerbs=kerbs,
        scope_kerbs=kerbs,
        vehicles=vehicles,
        depot_lonlat=CENTRE,
        settings=settings or SweepingSettings(),
        arc_settings=FIXED,
        date="2026-12-05",
        name="test",
    )


@pytest.fixture(scope="module")
def small(shenzhen):
    area = shapely.union(shapely.box(*SMALL), shapely.box(*TWO_WAY))
    kerbs = kerbs_in_area(shenzhen, area=area, settings=SweepingSettings())
    return kerbs, _plan(shenzhen, kerbs)


def _served(plan) -> dict[str, int]:
    times: dict[str, int] = {}
    for vehicle in plan.vehicles:
        for row in vehicle.rows:
            for kerb in row.kerbs:
                times[kerb] = times.get(kerb, 0) + 1
    return times


def test_a_plan_sweeps_every_kerb_exactly_once_along_its_edge(shenzhen, small):
    kerbs, plan = small
    assert plan.certified and len(kerbs) > 20
    assert _served(plan) == {k.kerb_id: k.frequency for k in kerbs}
    edges = {k.edge for k in kerbs}
    assert any(int(shenzhen.edge_twin[e]) in edges for e in edges)  # two-way streets: both kerbs swept, each its way
    for vehicle in plan.vehicles:
        for row in vehicle.rows:
            if row.action == "serve":  # a swept row drives exactly the kerbs' own directed edges, in order
                assert row.edges == [int(k[:-1]) for k in row.kerbs]
                assert row.side in ("right", "left")
            at = None
            for e in row.edges:  # and each row is a connected walk on the network
                assert at is None or int(shenzhen.edge_u[e]) == at
                at = int(shenzhen.edge_v[e])


def test_the_checker_rejects_a_plan_that_skips_a_kerb(shenzhen, small):
    kerbs, _ = small
    settings = SweepingSettings()
    problem = sweep_problem(
        shenzhen, kerbs, depot=depot_node(shenzhen, lon=CENTRE[0], lat=CENTRE[1]), settings=settings
    ).problem
    document = solve_arcs(problem, FIXED).document()
    assert check_solution(problem, document).ok
    steps = document["routes"][0]["steps"]
    first = next(i for i, s in enumerate(steps) if s["serve"])
    steps[first]["serve"] = False  # drive it instead: the kerb is no longer swept
    report = check_solution(problem, {**document, "cost": None})
    assert not report.ok and any("served 0 times" in v for v in report.violations)


def test_a_one_way_street_is_swept_in_its_direction_only(shenzhen):
    way = next(
        int(d["osmid"])
        for key in shenzhen.edge_keys
        if isinstance((d := shenzhen.graph.edges[key]).get("osmid"), int)
        and d["highway"] == "tertiary"
        and d.get("oneway")
        and int(shenzhen.edge_twin[shenzhen.edge_keys.index(key)]) < 0
        and "lanes" not in d
    )
    kerbs = kerbs_of_ways(shenzhen, ways={way: 0}, settings=SweepingSettings())
    plan = _plan(shenzhen, kerbs, vehicles=1)
    direction = {(k.u, k.v) for k in kerbs}
    swept = [e for row in plan.vehicles[0].rows if row.action == "serve" for e in row.edges]
    assert sorted(swept) == sorted(k.edge for k in kerbs)
    for e in swept:
        u, v, _ = shenzhen.edge_keys[e]
        assert (u, v) in direction and (v, u) not in direction


def test_a_kerb_swept_twice_a_shift_is_two_services(shenzhen):
    way = next(
        int(d["osmid"])
        for key in shenzhen.edge_keys
        if isinstance((d := shenzhen.graph.edges[key]).get("osmid"), int) and d["highway"] == "secondary"
    )
    kerbs = kerbs_of_ways(shenzhen, ways={way: 2}, settings=SweepingSettings())
    plan = _plan(shenzhen, kerbs, vehicles=1)
    assert _served(plan) == {k.kerb_id: 2 for k in kerbs}
    assert plan.kpis.service_km == pytest.approx(2 * plan.kpis.kerb_km_served, abs=0.01)


def test_a_small_hopper_forces_dump_trips(shenzhen, small):
    kerbs, _ = small
    settings = SweepingSettings(hopper_kg=200)
    plan = _plan(shenzhen, kerbs, settings=settings, vehicles=2)
    debris = sum(k.length_m * k.frequency for k in kerbs) / 1000 * settings.debris_kg_per_kerb_km
    assert debris > 200 and sum(v.trips for v in plan.vehicles) >= debris // 200 + 1
    assert all(load <= 200 for v in plan.vehicles for load in v.load_kg)
    dumps = [r for v in plan.vehicles for r in v.rows if r.action == "dump"]
    assert len(dumps) == sum(v.trips for v in plan.vehicles)


def test_parallel_roads_are_split_so_each_step_names_one_road(shenzhen):
    # two roads between the same junctions would let the checker credit a sweep to the other one
    kerbs = kerbs_in_area(shenzhen, area=shapely.box(114.005, 22.505, 114.079, 22.575), settings=SweepingSettings())
    problem = sweep_problem(shenzhen, kerbs, depot=0, settings=SweepingSettings()).problem
    numbers: dict[tuple[int, int], set] = {}
    for e in range(problem.n_edges):
        key = (int(problem.tail[e]), int(problem.head[e]))
        numbers.setdefault(key, set()).add((int(problem.cost[e]), int(problem.serve_cost[e]), int(problem.demand[e])))
    parallel = [e for e in range(len(shenzhen.edge_keys)) if shenzhen.edge_keys[e][2] > 0]
    assert parallel and problem.n_vertices > len(shenzhen.node_ids)
    assert all(len(kinds) <= 2 for kinds in numbers.values())  # a road, and its kerbs' services: one of each
    assert all(len({n[2] for n in kinds if n[2]}) <= 1 for kinds in numbers.values())


def test_outputs_have_zh_en_headers_and_both_kinds_of_line(shenzhen, small, tmp_path):
    _, plan = small
    write_plan_outputs(plan, network=shenzhen, out=tmp_path)
    with open(tmp_path / "route_S1.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == SHEET_HEADER and rows[0][0] == "序号 seq" and len(rows) > 2
    assert rows[1][4] == "05:00:00" and {r[3] for r in rows[1:]} >= {"清扫 / serve", "空驶 / drive"}
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert doc["certified"] and doc["shift_start"] == "2026-12-05T05:00:00+08:00"
    assert doc["vehicles"][0]["rows"][0]["start"].endswith("+08:00")
    features = json.loads((tmp_path / "routes.geojson").read_text(encoding="utf-8"))["features"]
    assert {f["properties"].get("action") for f in features} >= {"serve", "drive"}
    assert (tmp_path / "map.png").stat().st_size > 10_000


def test_kpis_by_hand():
    # 3 km swept of 4 km driven: 1 km deadhead → 25 %; 2.5 counted kerb-km of 5 in scope → 50 %
    kpis = sweep_kpis(service_km=3.0, km_driven=4.0, kerb_km_served=2.5, kerb_km_in_scope=5.0)
    assert kpis.deadhead_ratio == pytest.approx(0.25) and kpis.planned_rate == pytest.approx(0.5)
    with pytest.raises(InvalidInputError, match="no kerb-km in scope"):
        sweep_kpis(service_km=0, km_driven=0, kerb_km_served=0, kerb_km_in_scope=0)


def test_plan_kpis_add_up_from_its_rows(small):
    kerbs, plan = small
    rows = [r for v in plan.vehicles for r in v.rows]
    driven = sum(r.km for r in rows)
    swept = sum(r.km for r in rows if r.action == "serve")
    assert plan.kpis.deadhead_ratio == pytest.approx((driven - swept) / driven, abs=1e-3)
    assert plan.kpis.kerb_km_in_scope == pytest.approx(sum(k.length_m for k in kerbs) / 1000, abs=1e-3)
    assert plan.kpis.planned_rate == pytest.approx(1.0)


def test_an_area_without_streets_of_the_classes_is_named_before_solving(tmp_path):
    from api.cli import app
    from tests.conftest import SHENZHEN_OSM

    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(shapely.geometry.mapping(shapely.box(*SMALL))), encoding="utf-8")
    out = tmp_path / "out"
    args = ["sweep", "plan", "--osm", str(SHENZHEN_OSM), "--area", str(area), "--classes", "motorway"]
    result = CliRunner().invoke(app, [*args, "--vehicles", "1", "--out", str(out)])
    assert isinstance(result.exception, InvalidInputError)
    assert "no street of the classes motorway" in str(result.exception)
    assert not out.exists()
