"""The CARPLIB reader and ``bks_carp.csv`` on the real files: counts and figures as published."""

from __future__ import annotations

import csv

import pytest

from routing.bench.carp import load_carp_bks, lookup_carp_bks, read_carp
from routing.errors import InputFileError
from tests.routing.bench.conftest import BENCHMARKS, shared_file


def test_val1a_as_published():
    instance = read_carp(shared_file("carp/1A.dat"))
    assert instance.name == "val1A"
    assert (instance.n_vertices, instance.n_edges, len(instance.tasks)) == (24, 39, 39)
    assert (instance.capacity, instance.vehicles, instance.vertex_label(instance.depot)) == (200, 2, 1)
    # first line: ( 1, 5) coste 3 demanda 4
    assert (instance.vertex_label(instance.tail[0]), instance.vertex_label(instance.head[0])) == (1, 5)
    assert (instance.cost[0], instance.demand[0]) == (3, 4)
    assert int(instance.cost.sum()) == 146  # the required costs as listed (the header's COSTE_TOTAL_REQ says 220)


def test_egl_and_beullens_keep_non_required_edges_and_their_depot():
    egl = read_carp(shared_file("carp/egl-e1-A.dat"))
    assert (egl.n_vertices, egl.n_edges, len(egl.tasks), egl.capacity) == (77, 98, 51, 305)
    assert not egl.required[-1] and egl.demand[-1] == 0
    c01 = read_carp(shared_file("carp/C01.dat"))
    assert (c01.n_vertices, c01.n_edges, len(c01.tasks), c01.capacity) == (69, 98, 79, 300)
    assert c01.vertex_label(c01.depot) == 40


def test_bks_by_file_name_with_proven_optima():
    val1a = lookup_carp_bks(shared_file("carp/1A.dat"), "val1A")
    assert (val1a.instance, val1a.cost, val1a.optimal) == ("val1A", 173, True)
    e3b = lookup_carp_bks(shared_file("carp/egl-e3-B.dat"), "egl-e3-B")
    assert (e3b.cost, e3b.lower_bound, e3b.optimal) == (7775, 7744, False)
    c09 = lookup_carp_bks(shared_file("carp/C09.dat"), "C09")
    assert (c09.cost, c09.optimal) == (5260, False)


def test_every_file_matches_the_bks_table_counts():
    """197 files: vertices and edges (required + not) as the BKS table lists them."""
    table = BENCHMARKS / "bks_carp.csv"
    if not table.exists():
        pytest.skip(f"{table} is not present")
    rows = [row for row in csv.DictReader(table.open(encoding="utf-8")) if row["file_in_carp_vidalt"]]
    assert len(rows) == 197
    assert len(load_carp_bks(table)) >= 197
    for row in rows:
        instance = read_carp(BENCHMARKS / "carp" / row["file_in_carp_vidalt"])
        assert (instance.n_vertices, instance.n_edges) == (int(row["vertices"]), int(row["edges"])), row["instance"]
    optimal = {row["instance"] for row in rows if row["optimal"] == "1"}
    assert sum(name.startswith("val") for name in optimal) == 34  # every val instance is solved to optimality


def test_malformed_files_are_named_with_their_line(tmp_path):
    bad = tmp_path / "bad.dat"
    text = shared_file("carp/1A.dat").read_text(encoding="utf-8").replace("(  1, 11)   coste     7", "(  1, 11) cost 7")
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad.dat:13: .*unrecognised line"):
        read_carp(bad)
    short = tmp_path / "short.dat"
    lines = shared_file("carp/1A.dat").read_text(encoding="utf-8").splitlines()
    short.write_text("\n".join(line for line in lines if "( 23, 24)" not in line), encoding="utf-8")
    with pytest.raises(InputFileError, match="ARISTAS_REQ .* read 38"):
        read_carp(short)
    with pytest.raises(InputFileError, match="cannot read"):
        read_carp(tmp_path / "none.dat")
