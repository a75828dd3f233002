"""Capacitated arc routing (CARP) benchmarks: CARPLIB ``.dat`` files, ``bks_carp.csv``, and the runner.

The sets of ../shared/benchmarks/carp (CARPLIB data as carried by vidalt/HGS-CARP): val (Benavent
et al. 1992, files ``1A.dat`` … ``10D.dat``), egl (Li & Eglese 1996), Beullens et al. C–F, gdb
(Golden et al. 1983) and kshs (Kiuchi et al. 1995). Every edge has one cost (driving it, serving
or not) and required edges a demand; the objective is the total cost of the walks, services
included; the fleet is free (``VEHICULOS`` is kept as published, for information). Vertices keep
the file's numbers in solutions.

Each solution is certified by :func:`routing.arcs.check.check_solution` from the walk written to
``NAME.json``; the gap is to the BKS of ``bks_carp.csv`` (column ``optimal``: proven optimal).
"""

from __future__ import annotations

import csv
import re
import statistics
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from routing.arcs.check import check_solution
from routing.arcs.problem import ArcProblem
from routing.arcs.settings import ArcSettings
from routing.arcs.solve import solve_arcs
from routing.bench.bks import find_bks_dir
from routing.errors import InputFileError

BKS_TABLE = "bks_carp.csv"
_EDGE = re.compile(r"^\(\s*(\d+)\s*,\s*(\d+)\s*\)\s*coste\s+(\d+)(?:\s+demanda\s+(\d+))?\s*$", re.IGNORECASE)
_SECTIONS = {"LISTA_ARISTAS_REQ": True, "LISTA_ARISTAS_NOREQ": False}


def read_carp(path: Path) -> ArcProblem:
    """A CARPLIB ``.dat`` file as an arc-routing problem (every edge two-way, served either way).

    Parameters
    ----------
    path : Path
        The instance file.

    Returns
    -------
    ArcProblem
        Vertices 1..n of the file as 0..n-1, named ``NOMBRE`` (else the file stem).

    Raises
    ------
    InputFileError
        If the file is unreadable, a line is malformed or a count disagrees with the header (file:line).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputFileError(f"{path}: 无法读取 / cannot read ({exc.strerror})") from exc
    header: dict[str, str] = {}
    edges: list[tuple[int, int, int, int, bool]] = []
    required: bool | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        match = _EDGE.match(line)
        if match:
            if required is None:
                raise InputFileError(f"{path}:{number}: 边不在任何边表中 / edge outside an edge list: {line!r}")
            u, v, cost, demand = match.groups()
            if required and demand is None:
                raise InputFileError(f"{path}:{number}: 必服务边缺少 demanda / required edge lacks a demand: {line!r}")
            edges.append((int(u), int(v), int(cost), int(demand or 0), required))
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise InputFileError(f"{path}:{number}: 无法识别的行 / unrecognised line: {line!r}")
        key = key.strip().upper()
        required = _SECTIONS.get(key)
        header[key] = value.strip()
    return _problem(path, header, edges)


def _header_int(path: Path, header: dict[str, str], key: str) -> int:
    if key not in header:
        raise InputFileError(f"{path}: 缺少表头字段 / header field {key} is missing")
    try:
        return int(float(header[key].split()[0]))
    except (ValueError, IndexError):
        raise InputFileError(
            f"{path}: 表头字段不是数字 / header field {key} is not a number: {header[key]!r}"
        ) from None


def _problem(path: Path, header: dict[str, str], edges: list[tuple[int, int, int, int, bool]]) -> ArcProblem:
    n = _header_int(path, header, "VERTICES")
    counts = {
        "ARISTAS_REQ": sum(1 for edge in edges if edge[4]),
        "ARISTAS_NOREQ": sum(1 for edge in edges if not edge[4]),
    }
    for key, found in counts.items():
        if _header_int(path, header, key) != found:
            raise InputFileError(
                f"{path}: {key} 为 {header[key]} 但读到 {found} 条边 / says {header[key]}, read {found}"
            )
    depot = _header_int(path, header, "DEPOSITO")
    outside = [edge for edge in edges if not (1 <= edge[0] <= n and 1 <= edge[1] <= n)]
    if outside or not 1 <= depot <= n:
        raise InputFileError(f"{path}: 顶点超出 1..{n} / a vertex outside 1..{n}: {outside[:1] or depot}")
    table = np.array(edges, dtype=np.int64).reshape(-1, 5)
    every = np.ones(len(edges), dtype=np.bool_)
    return ArcProblem(
        name=header.get("NOMBRE", "").split()[0] if header.get("NOMBRE") else path.stem,
        vertex_ids=np.arange(1, n + 1, dtype=np.int64),
        tail=table[:, 0] - 1,
        head=table[:, 1] - 1,
        cost=table[:, 2].copy(),
        serve_cost=table[:, 2].copy(),
        demand=table[:, 3].copy(),
        required=table[:, 4].astype(np.bool_),
        two_way=every,
        serve_forward=every.copy(),
        serve_backward=every.copy(),
        depot=depot - 1,
        capacity=_header_int(path, header, "CAPACIDAD"),
        vehicles=_header_int(path, header, "VEHICULOS"),
    )


@dataclass(frozen=True)
class CarpBks:
    """A best-known CARP cost, its lower bound, and whether it is proven optimal."""

    instance: str
    cost: int
    lower_bound: int
    optimal: bool


def load_carp_bks(path: Path) -> dict[str, CarpBks]:
    """``bks_carp.csv`` keyed by instance name and by data file name (``1A.dat`` → ``val1A``).

    Raises
    ------
    InputFileError
        If a row lacks a numeric ``ub_bks``, ``lb`` or ``optimal`` (file:line).
    """
    table: dict[str, CarpBks] = {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            name = (row.get("instance") or "").strip()
            try:
                bks = CarpBks(name, int(row["ub_bks"]), int(row["lb"]), row["optimal"].strip() == "1")
            except (KeyError, TypeError, ValueError, AttributeError):
                raise InputFileError(
                    f"{path}:{line}: 实例 {name!r} 缺少数值 / lacks a numeric ub_bks/lb/optimal"
                ) from None
            table[name] = bks
            if (row.get("file_in_carp_vidalt") or "").strip():
                table[row["file_in_carp_vidalt"].strip()] = bks
    return table


def lookup_carp_bks(path: Path, name: str) -> CarpBks | None:
    """The BKS of an instance file (by file name, else by instance name), None when unlisted."""
    folder = find_bks_dir(path)
    if folder is None or not (folder / BKS_TABLE).exists():
        return None
    table = load_carp_bks(folder / BKS_TABLE)
    return table.get(Path(path).name) or table.get(name)


@dataclass
class CarpRow:
    """One instance solved and certified (one CSV row)."""

    instance: str
    file: str
    vertices: int
    required: int
    edges: int
    capacity: int
    time_limit_s: float
    seed: int
    wall_s: float
    iterations: int
    routes: int
    cost: int
    bks: int | None
    optimal: bool | None  # the BKS is proven optimal
    gap_pct: float | None
    optimal_reached: bool
    certified: bool
    violations: int
    first_violation: str
    solution_file: str


def run_carp(path: Path, *, settings: ArcSettings, solutions: Path | None = None) -> CarpRow:
    """Solve one instance, certify its walks with the independent checker, compare with the BKS.

    Parameters
    ----------
    path : Path
        A CARPLIB ``.dat`` file.
    settings : ArcSettings
        Time limit, seed and search sizes.
    solutions : Path, optional
        Folder for ``NAME.json`` (the issue's solution document).

    Returns
    -------
    CarpRow
        Cost recomputed by the checker, gap and verdict; named as the BKS table names the file.
    """
    problem = read_carp(path)
    bks = lookup_carp_bks(path, problem.name)
    if bks is not None and bks.instance != problem.name:  # egl-e2-A.dat calls itself egl-e2-7
        problem = replace(problem, name=bks.instance)
    began = time.perf_counter()
    solution = solve_arcs(problem, settings)
    wall = time.perf_counter() - began
    document = solution.document()
    report = check_solution(read_carp(path), document)  # a fresh read: nothing shared with the search
    solution_file = str(solution.write(Path(solutions) / f"{problem.name}.json")) if solutions is not None else ""
    gap = None if bks is None or not report.ok else round(100.0 * (report.cost - bks.cost) / bks.cost, 4)
    return CarpRow(
        instance=problem.name,
        file=Path(path).name,
        vertices=problem.n_vertices,
        required=len(problem.tasks),
        edges=problem.n_edges,
        capacity=problem.capacity,
        time_limit_s=settings.time_limit_s,
        seed=settings.seed,
        wall_s=round(wall, 3),
        iterations=solution.iterations,
        routes=report.routes,
        cost=report.cost,
        bks=None if bks is None else bks.cost,
        optimal=None if bks is None else bks.optimal,
        gap_pct=gap,
        optimal_reached=bool(bks is not None and bks.optimal and report.ok and report.cost <= bks.cost),
        certified=report.ok,
        violations=len(report.violations),
        first_violation=report.violations[0] if report.violations else "",
        solution_file=solution_file,
    )


def write_carp_rows(path: Path, rows: list[CarpRow]) -> Path:
    """All rows as CSV (its folder created); returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(CarpRow)])
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return path


def carp_summary(rows: list[CarpRow]) -> dict[str, float | int | None]:
    """The figures a RESULTS table quotes: certified, mean/median/worst gap, optima reached."""
    gaps = [row.gap_pct for row in rows if row.gap_pct is not None]
    return {
        "instances": len(rows),
        "certified": sum(row.certified for row in rows),
        "mean_gap_pct": round(statistics.fmean(gaps), 3) if gaps else None,
        "median_gap_pct": round(statistics.median(gaps), 3) if gaps else None,
        "worst_gap_pct": round(max(gaps), 3) if gaps else None,
        "at_bks": sum(1 for row in rows if row.certified and row.bks is not None and row.cost <= row.bks),
        "proven_optimal": sum(1 for row in rows if row.optimal),
        "optimal_reached": sum(row.optimal_reached for row in rows),
        "mean_wall_s": round(statistics.fmean(row.wall_s for row in rows), 2) if rows else None,
    }
