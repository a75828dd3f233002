"""The readers on real published files: values, conventions, published costs reproduced."""

from __future__ import annotations

import numpy as np
import pytest

from routing.bench.bks import find_bks_dir, lookup_bks
from routing.bench.kim import DISPOSAL, read_kim
from routing.bench.vrplib import format_sol, read_sol, read_vrp, write_sol
from routing.errors import InputFileError
from tests.routing.bench.conftest import shared_file


def test_solomon_c101_fields_and_dimacs_truncation():
    instance = read_vrp(shared_file("solomon/C101.vrp"))
    assert instance.name == "C101"
    assert instance.convention == "dimacs" and instance.scale == 10
    assert instance.n_customers == 100 and instance.capacity == 200 and instance.fleet_size == 25
    assert instance.coords[0].tolist() == [40, 50] and instance.coords[1].tolist() == [45, 68]
    assert instance.demand[0] == 0 and instance.demand[1] == 10
    assert instance.service_time[0] == 0 and instance.service_time[1] == 90
    assert instance.time_windows[0].tolist() == [0, 1236] and instance.time_windows[1].tolist() == [912, 967]
    # depot (40,50) -> customer 1 (45,68): sqrt(349) = 18.681… -> truncated 18.6
    assert instance.distance[0, 1] == pytest.approx(18.6)
    assert instance.arc_units[0, 1] == 186


def test_solomon_bks_solution_cost_reproduced_exactly():
    instance = read_vrp(shared_file("solomon/R101.vrp"))
    solution = read_sol(shared_file("solomon/R101.sol"))
    assert len(solution.routes) == 20 and solution.cost == pytest.approx(1637.7)
    assert instance.routes_cost(solution.routes) == pytest.approx(1637.7, abs=1e-9)
    bks = lookup_bks("R101", convention="dimacs", bks_dir=find_bks_dir(instance.source))
    assert (bks.vehicles, bks.cost) == (20, 1637.7)  # DIMACS column, not the 19-truck hierarchical one


def test_gehring_homberger_reader_and_bks():
    instance = read_vrp(shared_file("gehring_homberger/GH200/R1_2_1.vrp"))
    solution = read_sol(shared_file("gehring_homberger/GH200/R1_2_1.sol"))
    assert instance.n_customers == 200 and instance.convention == "dimacs"
    assert instance.routes_cost(solution.routes) == pytest.approx(solution.cost, abs=1e-9)
    bks = lookup_bks("R1_2_1", convention="dimacs", bks_dir=find_bks_dir(instance.source))
    assert bks.cost == pytest.approx(solution.cost)


def test_cvrp_x_rounded_euc2d():
    instance = read_vrp(shared_file("cvrplib_X/X-n101-k25.vrp"))
    solution = read_sol(shared_file("cvrplib_X/X-n101-k25.sol"))
    assert instance.convention == "euc2d_round" and instance.scale == 1 and instance.time_windows is None
    assert instance.capacity == 206 and instance.n_customers == 100
    assert instance.routes_cost(solution.routes) == 27591 == solution.cost
    truncated = np.floor(np.sqrt(((instance.coords[:, None] - instance.coords[None]) ** 2).sum(-1)))
    assert (instance.arc_units >= truncated).all() and (instance.arc_units != truncated).any()
    bks = lookup_bks("X-n101-k25", convention="euc2d_round", bks_dir=find_bks_dir(instance.source))
    assert (bks.vehicles, bks.cost) == (26, 27591)


def test_sol_round_trip(tmp_path):
    routes = [[5, 3, 7], [], [1, 2]]
    path = write_sol(tmp_path / "x.sol", routes, cost=123.45, decimals=1)
    assert path.read_text() == "Route #1: 5 3 7\nRoute #2: 1 2\nCost 123.5\n"
    back = read_sol(path)
    assert back.routes == [[5, 3, 7], [1, 2]] and back.cost == pytest.approx(123.5)
    assert format_sol([[1]], cost=27591.0, decimals=0).endswith("Cost 27591\n")


def test_bad_vrp_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.vrp"
    bad.write_text("NAME : bad\nTYPE : CVRP\nDIMENSION : 2\nCAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n2 x 1\n")
    with pytest.raises(InputFileError, match=r"bad.vrp:7: NODE_COORD_SECTION row is not numeric"):
        read_vrp(bad)
    missing = tmp_path / "missing.vrp"
    missing.write_text(
        "NAME : m\nTYPE : CVRP\nDIMENSION : 3\nCAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n"
        "DEMAND_SECTION\n1 0\n2 1\n3 1\nDEPOT_SECTION\n1\n-1\nEOF\n"
    )
    with pytest.raises(InputFileError, match=r"NODE_COORD_SECTION lacks node\(s\) 3"):
        read_vrp(missing)


def test_kim_102_header_rows_and_travel_time():
    instance = read_kim(shared_file("waste_kim2006/102_stop.txt"))
    assert instance.vehicle_capacity_yd3 == 280.0 and instance.route_capacity_yd3 == 400.0
    assert instance.max_stops_per_route == 500 and instance.lunch_duration_s == 3600 and instance.speed_mph == 40
    assert len(instance.ids) == 102 and len(instance.stops) == 99 and len(instance.disposals) == 2
    assert instance.earliest_s[instance.depot] == 4 * 3600 and instance.latest_s[instance.depot] == 15 * 3600
    distance = instance.distance_ft()
    # the description's worked example: stop 0 -> stop 1 is 15,387 ft Manhattan, 262.3 s at 40 mph
    assert distance[0, 1] == 15387
    assert instance.travel_s(distance)[0, 1] == pytest.approx(262.3, abs=0.05)
    assert instance.kind[1] == DISPOSAL and instance.service_s[1] == 1600
    assert instance.load_yd3[instance.stops].sum() == pytest.approx(897.0)


def test_kim_tab_separated_file_and_hhmm_anomalies():
    tabbed = read_kim(shared_file("waste_kim2006/335_stop.txt"))
    assert len(tabbed.ids) == 335 and len(tabbed.disposals) == 4 and tabbed.vehicle_capacity_yd3 == 243
    assert tabbed.earliest_s[tabbed.depot] == 6 * 3600
    odd = read_kim(shared_file("waste_kim2006/2100_stop.txt"))
    assert len(odd.anomalies) == 3 and all("75 minutes" in a for a in odd.anomalies)


def test_kim_bad_row_named(tmp_path):
    bad = tmp_path / "9_stop.txt"
    bad.write_text(
        "280\n400\n500\n3600\n40\nheader\n0 0 0 0400 1500 0 9999 0\n1 5 5 0000 2400 60 9999 2\n2 1 1 0900 0800 60 5 1\n"
    )
    with pytest.raises(InputFileError, match=r"9_stop.txt:9: stop 2 window 0900–0800 ends before it starts"):
        read_kim(bad)
