"""The ``qingyun network`` commands, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

QINGYUN = [sys.executable, "-c", "from api.cli import main; main()"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*QINGYUN, *args], capture_output=True, text=True, timeout=300)


def test_network_info_on_shenzhen(shenzhen):
    result = run("network", "info")
    assert result.returncode == 0, result.stderr
    assert "4,295" in result.stdout or "nodes" in result.stdout
    nodes = int(
        next(line for line in result.stdout.splitlines() if "nodes" in line).split("│")[2].strip().replace(",", "")
    )
    assert nodes > 4000
    assert "strongly connected" in result.stdout and "%" in result.stdout


def test_network_matrix_writes_npz(tmp_path, shenzhen):
    pts = shenzhen.random_points(n=5, seed=1)
    csv = tmp_path / "points.csv"
    csv.write_text("id,lon,lat\n" + "".join(f"{p.id},{p.lon},{p.lat}\n" for p in pts))
    out = tmp_path / "m.npz"
    result = run("network", "matrix", "--points", str(csv), "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = np.load(out)
    assert list(data["ids"]) == [p.id for p in pts]
    assert data["duration_s"].shape == (5, 5) and (data["distance_m"] > 0).sum() == 20


def test_bad_coordinate_in_csv_is_one_clear_error(tmp_path):
    csv = tmp_path / "points.csv"
    csv.write_text("id,lon,lat\na,114.05,22.54\nb,114.05,north\nc,514.0,22.5\n")
    result = run("network", "matrix", "--points", str(csv), "--out", str(tmp_path / "m.npz"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "line 3" in result.stderr and "(id b)" in result.stderr
    assert "line 4" in result.stderr and "(id c)" in result.stderr


def test_missing_osm_file_is_one_clear_error(tmp_path):
    result = run("network", "info", "--osm", str(tmp_path / "missing.osm.bz2"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "missing.osm.bz2" in result.stderr


def test_network_info_names_the_requested_file_not_the_one_that_built_the_cache(tmp_path):
    import os
    import shutil

    from tests.conftest import GUIXI_OSM

    first, second = tmp_path / "a" / "first.osm.bz2", tmp_path / "b" / "second.osm.bz2"
    for copy in (first, second):
        copy.parent.mkdir()
        shutil.copyfile(GUIXI_OSM, copy)  # same content: the second load comes from the first one's cache entry
    env = {**os.environ, "QINGYUN_NETWORK_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "400"}
    outputs = []
    for path in (first, second):
        result = subprocess.run(
            [*QINGYUN, "network", "info", "--osm", str(path)], capture_output=True, text=True, timeout=300, env=env
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert str(first) in outputs[0] and str(second) not in outputs[0]
    assert str(second) in outputs[1] and str(first) not in outputs[1]
