"""Yang's multi-trip VRPTW with release dates (MTVRPTWR): reader and runner.

The files (``../shared/benchmarks/mtvrptwr_yang``, PyVRP/Instances, MIT; Yang 2023, 2024;
release dates after Cattaruzza et al. 2016) are VRPLIB with two more sections:
``RELEASE_TIME_SECTION`` (when a client's goods are ready at the depot) and
``VEHICLES_RELOAD_DEPOT_SECTION`` (where each truck may reload: the one depot). A truck makes
several trips from the depot within its time window; a trip may leave the depot only once every
client it serves is released. Costs follow DIMACS (arcs truncated to tenths, distance only).
Solutions (``.sol``) write a reload as depot ``0`` inside a route: ``Route #1: 1 0 2``.

In the product a reload is an unload at a facility standing at the depot and a release date is
a site's ``release_s`` (:func:`routing.bench.to_problem.multitrip_problem`): every solution's
trips are timed by the product's plan evaluator (each trip waits at the depot for its latest
release) and the independent checker certifies trips, loads, windows, reload times and releases.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.bench.bks import find_bks_dir, lookup_bks
from routing.bench.runner import PRODUCT, BenchRow, gap_pct, judge, verdict
from routing.bench.to_problem import RELOAD, multitrip_problem
from routing.bench.vrplib import (
    VrpInstance,
    _column,
    _header_int,
    _parse_sections,
    _read_lines,
    arc_units_matrix,
    write_sol,
)
from routing.errors import InputFileError, QingyunError
from routing.planning.plan import Plan, evaluate_routes
from routing.planning.problem import Problem
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams

CONVENTION = "dimacs_mtvrptwr"
_EXTRA = {"RELEASE_TIME_SECTION": 2, "VEHICLES_RELOAD_DEPOT_SECTION": 2}


@dataclass(frozen=True)
class YangInstance:
    """A multi-trip instance: the VRPTW part (index 0 the depot) and each client's release date."""

    base: VrpInstance
    release: np.ndarray  # (n+1,) float, instance time units; depot 0

    @property
    def name(self) -> str:
        return self.base.name


def _split_extra(path: Path, lines: list[str]) -> tuple[list[str], dict[str, list[tuple[int, list[float]]]]]:
    """The VRPLIB lines with the two multi-trip sections blanked (line numbers kept), and those sections' rows."""
    kept, extra, section = [], {}, None
    for number, raw in enumerate(lines, start=1):
        word = raw.strip().split()[0].rstrip(":") if raw.strip() else ""
        if word in _EXTRA:
            section, extra[word] = word, []
        elif section is not None and word and not word.lstrip("-").replace(".", "", 1).isdigit():
            section = None  # the next section or header line
        if section is None:
            kept.append(raw)
            continue
        kept.append("")
        if word in _EXTRA or not word:
            continue
        try:
            extra[section].append((number, [float(v) for v in raw.split()]))
        except ValueError:
            raise InputFileError(f"{path}:{number}: {section} row is not numeric: {raw.strip()!r}") from None
    return kept, extra


def read_yang(path: Path | str) -> YangInstance:
    """Read a Yang multi-trip instance.

    Parameters
    ----------
    path : Path or str
        The ``.vrp`` file (TYPE ``MTVRPTWR``).

    Returns
    -------
    YangInstance
        Node 1 of the file as index 0 (the depot), distances in DIMACS tenths, release dates per node.

    Raises
    ------
    InputFileError
        A missing or malformed header field, section or row (named with file and line), a depot other than
        node 1, a truck reloading elsewhere than at the depot, or a release after the client's window closes.
    """
    path = Path(path)
    kept, extra = _split_extra(path, _read_lines(path))
    header, rows = _parse_sections(path, kept)
    rows.update(extra)
    dimension = _header_int(path, header, "DIMENSION")
    depots = [int(values[0]) for _, values in rows.get("DEPOT_SECTION", [])]
    if depots != [1]:
        raise InputFileError(f"{path}: DEPOT_SECTION must name exactly node 1 as the depot, got {depots}")
    coords = _column(path, rows, "NODE_COORD_SECTION", dimension=dimension, width=2, required=True)
    demand = _column(path, rows, "DEMAND_SECTION", dimension=dimension, width=1, required=True)[:, 0]
    windows = _column(path, rows, "TIME_WINDOW_SECTION", dimension=dimension, width=2, required=True)
    release = _column(path, rows, "RELEASE_TIME_SECTION", dimension=dimension, width=1, required=True)[:, 0]
    fleet = _header_int(path, header, "VEHICLES")
    for number, values in rows.get("VEHICLES_RELOAD_DEPOT_SECTION", []):
        if values[1:] != [1.0]:
            raise InputFileError(f"{path}:{number}: truck {values[0]:g} reloads at {values[1:]}, only depot 1 exists")
    late = np.flatnonzero(release > windows[:, 1])
    if late.size:
        raise InputFileError(f"{path}: RELEASE_TIME_SECTION node {int(late[0]) + 1} is released after its window")
    service = np.full(dimension, float(header.get("SERVICE_TIME", 0) or 0))
    service[0] = 0.0
    base = VrpInstance(
        name=header.get("NAME", path.stem).strip() or path.stem,
        source=path,
        problem_type=header.get("TYPE", "").upper(),
        convention="dimacs",
        coords=coords,
        demand=demand.astype(np.int64),
        capacity=_header_int(path, header, "CAPACITY"),
        fleet_size=fleet,
        service_time=service,
        time_windows=windows,
        arc_units=arc_units_matrix(coords, convention="dimacs"),
        scale=10,
    )
    return YangInstance(base=base, release=release)


def trips_of(route: list[int]) -> list[list[int]]:
    """A route in ``.sol`` numbering (``0`` = a reload at the depot) as its non-empty trips."""
    trips: list[list[int]] = [[]]
    for visit in route:
        if visit == 0:
            trips.append([])
        else:
            trips[-1].append(visit)
    return [trip for trip in trips if trip]


def multitrip_routes_plan(problem: Problem, routes: list[list[int]]) -> Plan:
    """Routes with reloads (``0``) on trucks v1, v2, … timed as a plan by the product's evaluator.

    Parameters
    ----------
    problem : Problem
        The instance as :func:`routing.bench.to_problem.multitrip_problem` built it.
    routes : list of list of int
        Client numbers per truck, ``0`` a reload; empty routes are dropped.

    Returns
    -------
    Plan
        The routes timed by :func:`routing.planning.plan.evaluate_routes`.

    Raises
    ------
    QingyunError
        If there are more non-empty routes than trucks.
    """
    used = [trips_of(route) for route in routes if trips_of(route)]
    if len(used) > len(problem.vehicles):
        raise QingyunError(f"{problem.name}: {len(used)} routes but only {len(problem.vehicles)} vehicles")
    visits = {}
    for vehicle, trips in zip(problem.vehicles, used):
        visits[vehicle.id] = [
            visit for t, trip in enumerate(trips) for visit in ([RELOAD] if t else []) + [str(c) for c in trip]
        ]
    return evaluate_routes(problem, visits)


def routes_of_plan(plan: Plan) -> list[list[int]]:
    """A product plan's routes in ``.sol`` numbering, a reload written ``0``."""
    return [
        [int(stop.id) if stop.kind == "site" else 0 for stop in route.stops if stop.kind in ("site", "facility")]
        for route in plan.routes
        if route.visits()
    ]


def _row(instance: YangInstance, problem: Problem, routes: list[list[int]], **common) -> BenchRow:
    """One solver's routes timed, certified by the checker, and costed in DIMACS units."""
    try:
        violations, unserved = judge(problem, multitrip_routes_plan(problem, routes))
    except QingyunError as exc:  # more routes than trucks, or an unknown id
        violations, unserved = [str(exc)], 0
    used = [route for route in routes if trips_of(route)]
    objective = instance.base.routes_cost(used)
    solutions, solver, bks = common["solutions"], common["solver"], common["bks"]
    solution_file = ""
    if solutions is not None:
        suffix = "" if solver == PRODUCT else f".{solver}"
        solution_file = str(
            write_sol(Path(solutions) / f"{instance.name}{suffix}.sol", used, cost=objective, decimals=1)
        )
    return BenchRow(
        instance=instance.name,
        solver=solver,
        customers=instance.base.n_customers,
        time_limit_s=common["time_limit_s"],
        wall_s=round(common["wall_s"], 3),
        **verdict(violations, unserved),
        vehicles=len(used),
        objective=round(objective, 4),
        unit="distance (DIMACS)",
        bks_vehicles=None if bks is None else bks.vehicles,
        bks_objective=None if bks is None else bks.cost,
        gap_pct=gap_pct(objective, None if bks is None or unserved else bks.cost),
        solution_file=solution_file,
        note=f"{sum(len(trips_of(r)) for r in used)} trips",
    )


def run_yang(
    path: Path,
    *,
    time_limit_s: float,
    settings: SolveParams | None = None,
    peers: bool = False,
    solutions: Path | None = None,
    bks_dir: Path | None = None,
) -> list[BenchRow]:
    """The product solver (and PyVRP with reload depots and release times) on one Yang instance.

    Parameters
    ----------
    path : Path
        The ``.vrp`` file.
    time_limit_s : float
        Seconds per solver.
    settings : SolveParams, optional
        The product solver's settings (their time limit is replaced).
    peers : bool
        Also run PyVRP 0.14, single-threaded, on the same integer data.
    solutions : Path, optional
        Folder for ``.sol`` files (reloads as ``0``).
    bks_dir : Path, optional
        Folder of the BKS tables (default: found beside the instance).

    Returns
    -------
    list of BenchRow
        The product's row first, then PyVRP's; all judged alike.
    """
    from routing.bench.peers import run_pyvrp_multitrip

    instance = read_yang(path)
    folder = bks_dir or find_bks_dir(instance.base.source)
    bks = None if folder is None else lookup_bks(instance.name, convention=CONVENTION, bks_dir=folder)
    problem = multitrip_problem(instance.base, release=instance.release)
    base = settings or SolveParams()
    began = time.perf_counter()
    plan = solve(problem, base.with_time_limit(time_limit_s))
    wall = time.perf_counter() - began
    common = dict(time_limit_s=time_limit_s, bks=bks, solutions=solutions)
    rows = [_row(instance, problem, routes_of_plan(plan), solver=PRODUCT, wall_s=wall, **common)]
    if peers:
        run = run_pyvrp_multitrip(instance.base, release=instance.release, time_limit_s=time_limit_s)
        rows.append(_row(instance, problem, run.routes, solver=run.solver, wall_s=run.wall_s, **common))
    return rows
