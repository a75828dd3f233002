"""The benchmark runner: the product solver (and optionally PyVRP and VROOM) on published instances.

Every solution, whoever found it, is judged the same way: its routes are timed by
:func:`routing.planning.plan.evaluate_routes` on the product's problem model and certified by the
independent checker :func:`routing.planning.check.check_plan`; the objective is recomputed in the
instance's own convention (DIMACS truncated distance, rounded EUC_2D, or Kim's miles) from
the instance data, never taken from a solver. Gaps are to the BKS of the same convention.
"""

from __future__ import annotations

import csv
import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from routing.bench.bks import Bks, find_bks_dir, lookup_bks
from routing.bench.kim import FEET_PER_MILE, KimInstance, read_kim
from routing.bench.to_problem import kim_problem, vrplib_problem
from routing.bench.vrplib import VrpInstance, read_vrp, write_sol
from routing.errors import InputFileError, QingyunError
from routing.planning.check import check_plan
from routing.planning.plan import Plan, evaluate_routes
from routing.planning.problem import Problem
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams

PRODUCT = "qingyun"
KIM_TABLE = "kim2006_table3_partial_UNVERIFIED.csv"


@dataclass
class BenchRow:
    """One solver on one instance, as judged by the checker (one CSV row)."""

    instance: str
    solver: str
    customers: int
    time_limit_s: float
    wall_s: float
    feasible: bool
    violations: int
    first_violation: str
    unserved: int
    vehicles: int
    objective: float
    unit: str
    bks_vehicles: int | None
    bks_objective: float | None
    gap_pct: float | None
    solution_file: str = ""
    note: str = ""


def expand_instances(paths: Iterable[Path], *, pattern: str) -> list[Path]:
    """Files as given; folders expanded to their ``pattern`` files in name order.

    Parameters
    ----------
    paths : iterable of Path
        Instance files and folders.
    pattern : str
        Glob for instance files inside a folder (e.g. ``*.vrp``).

    Returns
    -------
    list of Path
        The instance files, folders' files sorted by name.

    Raises
    ------
    InputFileError
        If a path does not exist or no instance file is found.
    """
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            found.extend(sorted(path.glob(pattern)))
        elif path.exists():
            found.append(path)
        else:
            raise InputFileError(f"{path}: no such instance file or folder")
    if not found:
        raise InputFileError(f"no {pattern} instance found in {', '.join(str(p) for p in paths)}")
    return found


def gap_pct(objective: float, bks: float | None) -> float | None:
    """Percent above the BKS (None without one).

    Parameters
    ----------
    objective : float
        The solver's objective, in the BKS's convention.
    bks : float or None
        The best-known objective.

    Returns
    -------
    float or None
        100·(objective − bks)/bks rounded to 4 decimals; None without a positive BKS.
    """
    return None if bks is None or bks <= 0 else round(100.0 * (objective - bks) / bks, 4)


def judge(problem: Problem, plan: Plan) -> tuple[list[str], int]:
    """Checker violations plus the sites left unserved (a benchmark must serve all).

    Parameters
    ----------
    problem : Problem
        The instance as a planning problem.
    plan : Plan
        The timed routes of one solver.

    Returns
    -------
    violations : list of str
        The independent checker's findings.
    unserved : int
        How many sites no route serves.
    """
    report = check_plan(problem, plan)
    unserved = len(problem.sites) - len(report.served)
    return report.violations, unserved


def vrplib_routes_plan(problem: Problem, routes: list[list[int]]) -> Plan:
    """Instance-numbered routes (customer i = site ``str(i)``) on trucks v1, v2, … timed as a plan.

    Parameters
    ----------
    problem : Problem
        The instance as a planning problem (trucks ``v1``, ``v2``, …).
    routes : list of list of int
        Customer numbers per route; empty routes are dropped.

    Returns
    -------
    Plan
        The routes timed by :func:`routing.planning.plan.evaluate_routes`.

    Raises
    ------
    QingyunError
        If there are more non-empty routes than vehicles.
    """
    used = [route for route in routes if route]
    if len(used) > len(problem.vehicles):
        raise QingyunError(f"{problem.name}: {len(used)} routes but only {len(problem.vehicles)} vehicles")
    return evaluate_routes(problem, {f"v{k + 1}": [str(c) for c in route] for k, route in enumerate(used)})


def routes_of(plan: Plan) -> list[list[int]]:
    """A product plan's routes back in instance numbering."""
    return [[int(site) for site in route.visits()] for route in plan.routes if route.visits()]


def verdict(violations: list[str], unserved: int) -> dict:
    """The checker's verdict as :class:`BenchRow` fields."""
    return {
        "feasible": not violations and unserved == 0,
        "violations": len(violations),
        "first_violation": violations[0] if violations else "",
        "unserved": unserved,
    }


def _row_for_vrplib(
    instance: VrpInstance,
    problem: Problem,
    routes: list[list[int]],
    *,
    solver: str,
    wall_s: float,
    time_limit_s: float,
    bks: Bks | None,
    solutions: Path | None,
) -> BenchRow:
    try:
        plan = vrplib_routes_plan(problem, routes)
        violations, unserved = judge(problem, plan)
    except QingyunError as exc:  # more routes than trucks, or an id the problem lacks
        violations, unserved = [str(exc)], 0
    used = [route for route in routes if route]
    objective = instance.routes_cost(used)
    solution_file = ""
    if solutions is not None:
        suffix = "" if solver == PRODUCT else f".{solver}"
        decimals = 1 if instance.scale == 10 else 0
        solution_file = str(
            write_sol(solutions / f"{instance.name}{suffix}.sol", used, cost=objective, decimals=decimals)
        )
    return BenchRow(
        instance=instance.name,
        solver=solver,
        customers=instance.n_customers,
        time_limit_s=time_limit_s,
        wall_s=round(wall_s, 3),
        **verdict(violations, unserved),
        vehicles=len(used),
        objective=round(objective, 4),
        unit="distance (DIMACS)" if instance.convention == "dimacs" else "distance (EUC_2D rounded)",
        bks_vehicles=None if bks is None else bks.vehicles,
        bks_objective=None if bks is None else bks.cost,
        gap_pct=gap_pct(objective, None if bks is None or unserved else bks.cost),
        solution_file=solution_file,
    )


def run_vrplib(
    path: Path,
    *,
    time_limit_s: float,
    seconds_per_customer: float | None = None,
    settings: SolveParams | None = None,
    peers: Iterable[str] = (),
    solutions: Path | None = None,
    bks_dir: Path | None = None,
) -> list[BenchRow]:
    """The product solver (and the named peers) on one VRPLIB instance, each judged alike.

    Parameters
    ----------
    path : Path
        The ``.vrp`` file.
    time_limit_s : float
        Seconds per solver.
    seconds_per_customer : float, optional
        Scales the budget with the instance (the X protocol: 2.4·n/10 s); replaces ``time_limit_s``.
    settings : SolveParams, optional
        The product solver's settings (their time limit is replaced).
    peers : iterable of str
        Peer solvers to run too (``PEER_NAMES``).
    solutions : Path, optional
        Folder for VRPLIB ``.sol`` files.
    bks_dir : Path, optional
        Folder of the BKS tables (default: found beside the instance).

    Returns
    -------
    list of BenchRow
        The product's row first, then one per peer.
    """
    from routing.bench.peers import run_peer

    instance = read_vrp(path)
    if seconds_per_customer is not None:
        time_limit_s = round(seconds_per_customer * instance.n_customers, 3)
    folder = bks_dir or find_bks_dir(instance.source)
    bks = None if folder is None else lookup_bks(instance.name, convention=instance.convention, bks_dir=folder)
    problem = vrplib_problem(instance)
    base = settings or SolveParams()
    began = time.perf_counter()
    plan = solve(problem, base.with_time_limit(time_limit_s))
    wall = time.perf_counter() - began
    common = dict(time_limit_s=time_limit_s, bks=bks, solutions=solutions)
    rows = [_row_for_vrplib(instance, problem, routes_of(plan), solver=PRODUCT, wall_s=wall, **common)]
    for name in peers:
        run = run_peer(name, instance, time_limit_s=time_limit_s)
        rows.append(_row_for_vrplib(instance, problem, run.routes, solver=name, wall_s=run.wall_s, **common))
    return rows


# --- Kim 2006 -------------------------------------------------------------------------
@dataclass(frozen=True)
class KimPublished:
    """Kim et al.'s Table 3 figures for one algorithm (partial, unverified transcription)."""

    algorithm: int
    vehicles: int
    total_miles: float


def load_kim_table(path: Path) -> dict[str, list[KimPublished]]:
    """Published vehicles and total distance per instance file name."""
    rows: dict[str, list[KimPublished]] = {}
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    for row in csv.DictReader(lines):
        rows.setdefault(row["instance"], []).append(
            KimPublished(algorithm=int(row["algorithm"]), vehicles=int(row["Vn"]), total_miles=float(row["TD_mile"]))
        )
    return rows


def kim_vehicle_lower_bound(instance: KimInstance) -> int:
    """Trucks needed at least: total load over the yardage one truck may collect per day."""
    total = float(instance.load_yd3[instance.stops].sum())
    return max(1, math.ceil(total / instance.route_capacity_yd3 - 1e-9))


def kim_route_miles(instance: KimInstance, plan: Plan) -> float:
    """Total Manhattan miles of a plan, recomputed from the instance's coordinates.

    Parameters
    ----------
    instance : KimInstance
        The instance (coordinates in feet).
    plan : Plan
        The plan's routes; break stops are skipped.

    Returns
    -------
    float
        Total route length in miles.
    """
    distance = instance.distance_ft()
    feet = 0.0
    for route in plan.routes:
        nodes = [stop.node for stop in route.stops if stop.kind != "break"]
        feet += float(sum(distance[a, b] for a, b in zip(nodes, nodes[1:])))
    return feet / FEET_PER_MILE


def write_kim_sol(path: Path, instance: KimInstance, plan: Plan, *, miles: float) -> Path:
    """Routes as the file's stop ids in visiting order (disposal visits included), then the miles.

    Parameters
    ----------
    path : Path
        The solution file; its folder is created.
    instance : KimInstance
        The instance solved (not read).
    plan : Plan
        The routes to write.
    miles : float
        Total route length, written on the ``Cost`` line.

    Returns
    -------
    Path
        ``path``.
    """
    routes = [[int(stop_id) if stop_id.isdigit() else stop_id for stop_id in route.visits()] for route in plan.routes]
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"Route #{k}: {' '.join(str(v) for v in route)}" for k, route in enumerate(routes, start=1)]
    lines.append(f"Cost {miles:.1f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_kim(
    path: Path,
    *,
    time_limit_s: float,
    settings: SolveParams | None = None,
    solutions: Path | None = None,
) -> BenchRow:
    """The product solver on one Kim 2006 instance (``path``), compared with Kim's best published figures.

    ``settings`` default to ``SolveParams()``, their time limit replaced by ``time_limit_s``;
    the routes go to ``solutions`` when given. Returns the judged row.
    """
    instance = read_kim(path)
    problem = kim_problem(instance)
    base = settings or SolveParams()
    began = time.perf_counter()
    plan = solve(problem, base.with_time_limit(time_limit_s))
    wall = time.perf_counter() - began
    violations, unserved = judge(problem, plan)
    miles = kim_route_miles(instance, plan)
    table = Path(path).parent / KIM_TABLE
    published = load_kim_table(table).get(instance.name, []) if table.exists() else []
    # Compared with the published row of least distance; all rows go in the note, with the
    # yardage lower bound (a row below it breaks the stated route capacity).
    best = min(published, key=lambda p: p.total_miles, default=None)
    bound = kim_vehicle_lower_bound(instance)
    note = "; ".join(
        [f"Kim alg {p.algorithm}: {p.vehicles} veh, {p.total_miles:g} mi" for p in published]
        + [f"yardage lower bound {bound} veh"]
    )
    solution_file = ""
    if solutions is not None:
        solution_file = str(write_kim_sol(Path(solutions) / f"{Path(path).stem}.sol", instance, plan, miles=miles))
    return BenchRow(
        instance=instance.name,
        solver=PRODUCT,
        unit="miles (Manhattan)",
        objective=round(miles, 2),
        vehicles=len(plan.routes),
        **verdict(violations, unserved),
        customers=len(instance.stops),
        time_limit_s=time_limit_s,
        wall_s=round(wall, 3),
        bks_vehicles=None if best is None else best.vehicles,
        bks_objective=None if best is None else best.total_miles,
        gap_pct=None if best is None or unserved else gap_pct(miles, best.total_miles),
        solution_file=solution_file,
        note=note,
    )


# --- output ---------------------------------------------------------------------------
def write_rows(path: Path, rows: list[BenchRow]) -> Path:
    """All rows as CSV (one line per instance and solver).

    Parameters
    ----------
    path : Path
        The CSV file; its folder is created.
    rows : list of BenchRow
        The judged results.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in fields(BenchRow)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return path


@dataclass(frozen=True)
class Summary:
    """One solver's figures over a run: the comparison table's row."""

    solver: str
    instances: int
    feasible: int
    mean_gap_pct: float | None
    median_gap_pct: float | None
    worst_gap_pct: float | None
    vehicles: int
    bks_vehicles: int | None
    mean_wall_s: float
    objective: float


def summarise(rows: list[BenchRow]) -> list[Summary]:
    """Per solver, in first-seen order; gaps only over feasible solutions with a BKS."""
    order = list(dict.fromkeys(row.solver for row in rows))
    out = []
    for solver in order:
        mine = [row for row in rows if row.solver == solver]
        gaps = [row.gap_pct for row in mine if row.feasible and row.gap_pct is not None]
        bks_vehicles = [row.bks_vehicles for row in mine]
        out.append(
            Summary(
                solver=solver,
                instances=len(mine),
                feasible=sum(row.feasible for row in mine),
                mean_gap_pct=round(statistics.fmean(gaps), 3) if gaps else None,
                median_gap_pct=round(statistics.median(gaps), 3) if gaps else None,
                worst_gap_pct=round(max(gaps), 3) if gaps else None,
                vehicles=sum(row.vehicles for row in mine),
                bks_vehicles=None if any(v is None for v in bks_vehicles) else sum(bks_vehicles),
                mean_wall_s=round(statistics.fmean(row.wall_s for row in mine), 2),
                objective=round(sum(row.objective for row in mine), 2),
            )
        )
    return out


def comparison_table(summaries: list[Summary], *, title: str):
    """The rich table printed by ``qingyun bench``: one row per solver.

    Parameters
    ----------
    summaries : list of Summary
        One per solver (:func:`summarise`).
    title : str
        The table title.

    Returns
    -------
    rich.table.Table
        Feasible count, mean/median/worst gap (%), vehicles and mean time (s) per solver.
    """
    from rich.table import Table

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f} %"

    table = Table(title=title)
    for header in (
        "求解器 / solver",
        "可行 / feasible",
        "平均差距 / mean gap",
        "中位差距 / median gap",
        "最差差距 / worst gap",
        "车辆 / vehicles (BKS)",
        "平均用时 / mean time",
    ):
        table.add_column(header, justify="left" if header.startswith("求解器") else "right")
    for s in summaries:
        table.add_row(
            s.solver,
            f"{s.feasible}/{s.instances}",
            pct(s.mean_gap_pct),
            pct(s.median_gap_pct),
            pct(s.worst_gap_pct),
            f"{s.vehicles} ({'—' if s.bks_vehicles is None else s.bks_vehicles})",
            f"{s.mean_wall_s:.1f} s",
        )
    return table


def run_many(
    paths: list[Path],
    run_one: Callable[[Path], list[BenchRow]],
    *,
    on_row: Callable[[BenchRow], None] | None = None,
) -> list[BenchRow]:
    """Run instances in order, reporting each judged row as it comes (long runs show progress).

    Parameters
    ----------
    paths : list of Path
        Instance files, run in this order.
    run_one : callable
        Runs every solver on one instance and returns its rows.
    on_row : callable, optional
        Called with each row as soon as it is judged.

    Returns
    -------
    list of BenchRow
        All rows, in run order.
    """
    rows: list[BenchRow] = []
    for path in paths:
        for row in run_one(path):
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows
