"""``qingyun bench ownday``: the product's own days against PyVRP, on the same relaxed problem.

A Shenzhen day has more than PyVRP 0.14 models, so both solvers get the day relaxed
(:func:`relax`) to what it does: each independent piece (one stream's trucks and sites) its own
problem, facilities as reload depots, the same road matrices, site windows (several per site as a
PyVRP client group), service and unload times, truck capacities (kg and volume), shift start, end
and length, fixed cost per truck used, cost per km and per hour, ending empty. Dropped for both:
the meal break, hold limits, shift balance, territories (compactness), preferred and allowed trucks
(grids), street access, stops and weight per shift, facility daily capacities; a facility with
several opening windows gets their hull.

Each piece is solved by the product's own search (:func:`routing.planning.search.driver.solve`,
the plan pipeline's solve, one worker) and by PyVRP (one thread, ``MaxRuntime``) with the same
budget: the day's time limit split over the pieces in proportion to their sites, at least
:data:`MIN_PIECE_S`. Both plans are then priced by ONE function, the product's plan evaluator
(:func:`routing.planning.plan.evaluate_routes`, :func:`plan_cost`) on the relaxed piece, and
certified by the independent checker (:func:`routing.planning.check.check_plan`). The other way
round, the product's plan is also handed to PyVRP as a solution: feasible there and priced the same
(``in_pyvrp_*``), so a gap between them is the searches', not the models'.

PyVRP's penalty bounds decide much of its result on these days (``--pyvrp-penalty``): ``scaled``
(to the cost unit, :mod:`routing.bench.ownday_pyvrp`) keeps it feasible on the 900-site kitchen
piece where its defaults end infeasible, but its defaults find fewer trucks on smaller pieces.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from routing.bench.ownday_pyvrp import PENALTIES, PER_KG, PER_L, pyvrp_day, pyvrp_view, run_pyvrp_day
from routing.errors import InvalidInputError
from routing.planning.check import check_plan
from routing.planning.plan import Plan, evaluate_routes, plan_cost
from routing.planning.problem import Problem
from routing.planning.search.params import SolveParams
from routing.planning.search.pieces import independent_pieces, subproblem

PRODUCT, PYVRP = "qingyun", "pyvrp"
MIN_PIECE_S = 1.0  # a piece's budget at least (model building included for the product)
TOTAL = "合计 total"


@dataclass(frozen=True)
class OwndayRow:
    """One solver on one piece (or a day's total), judged by the product's evaluator and checker."""

    scenario: str
    piece: str
    sites: int
    solver: str
    time_limit_s: float
    wall_s: float
    cost: float  # yuan, the product's plan evaluator
    fixed_cost: float
    distance_cost: float
    time_cost: float
    trucks: int
    km: float
    hours: float
    unserved: int
    violations: int
    first_violation: str
    own_objective: float | None  # the solver's own figure (PyVRP's objective, yuan); None for the product
    strategy: str  # the product's search strategy (GLS or the compiled ruin), or PyVRP's feasibility
    # the product's plan as a PyVRP solution: feasible there, and PyVRP's objective of it (yuan); None for PyVRP
    in_pyvrp_feasible: bool | None = None
    in_pyvrp_cost: float | None = None


def relax(problem: Problem) -> Problem:
    """The day as PyVRP 0.14 models it (see the module docstring), for both solvers.

    Parameters
    ----------
    problem : Problem
        The product's day.

    Returns
    -------
    Problem
        The same places, matrices, windows, fleet and costs; demands rounded to 100 g and 0.1 L
        (PyVRP's integer loads), the unmodelled rules off.
    """
    sites = [
        replace(
            s,
            access="large",
            vehicles=None,
            preferred_vehicle=None,
            preference_penalty=0.0,
            on_board_since=None,
            demand_kg=round(s.demand_kg * PER_KG) / PER_KG,
            demand_l=round(s.demand_l * PER_L) / PER_L,
        )
        for s in problem.sites
    ]
    facilities = [
        replace(f, capacity_kg=None, windows=((min(a for a, _ in f.windows), max(b for _, b in f.windows)),))
        for f in problem.facilities
    ]
    vehicles = [replace(v, max_stops=None, max_daily_kg=None) for v in problem.vehicles]
    return Problem(
        name=problem.name,
        ids=problem.ids,
        lon=problem.lon,
        lat=problem.lat,
        duration_s=problem.duration_s,
        distance_m=problem.distance_m,
        depots=problem.depots,
        facilities=facilities,
        sites=sites,
        vehicles=vehicles,
        break_rule=None,
        day_start=problem.day_start,
        geographic=problem.geographic,
    )


def day_pieces(problem: Problem) -> list[tuple[str, Problem]]:
    """The relaxed day's independent pieces (one per stream on a Shenzhen day), each a problem named by its streams."""
    out = []
    for sites, vehicles in independent_pieces(problem, {s.id for s in problem.sites}):
        streams = sorted({problem.sites[problem.site_index[s]].stream for s in sites})
        name = "+".join(streams)
        out.append((name, subproblem(problem, site_ids=sites, vehicle_ids=vehicles, name=f"{problem.name}#{name}")))
    return out


def judged_row(problem: Problem, plan: Plan, **common) -> OwndayRow:
    """A plan priced by the product's evaluator and certified by the checker on ``problem``."""
    cost = plan_cost(problem, plan)
    report = check_plan(problem, plan)
    return OwndayRow(
        sites=len(problem.sites),
        cost=cost["total_cost"],
        fixed_cost=cost["fixed_cost"],
        distance_cost=cost["distance_cost"],
        time_cost=cost["time_cost"],
        trucks=cost["vehicles"],
        km=round(cost["distance"] / 1000.0, 3),
        hours=round(sum(r.end - r.start for r in plan.routes) / 3600.0, 3),
        unserved=len(problem.sites) - len(report.served),
        violations=len(report.violations),
        first_violation=report.violations[0] if report.violations else "",
        **common,
    )


def compare_piece(
    problem: Problem, *, scenario: str, piece: str, time_limit_s: float, seed: int = 1, penalty: str = "scaled"
) -> tuple[OwndayRow, OwndayRow]:
    """The product (one worker) and PyVRP (one thread) on one relaxed piece, same budget, judged alike.

    Parameters
    ----------
    problem : Problem
        A relaxed piece (:func:`day_pieces`).
    scenario, piece : str
        Labels of the rows.
    time_limit_s : float
        Seconds for each solver.
    seed : int
        PyVRP's seed.
    penalty : str
        PyVRP's penalty bounds (:data:`routing.bench.ownday_pyvrp.PENALTIES`).

    Returns
    -------
    tuple of OwndayRow
        The product's row, then PyVRP's.
    """
    from routing.planning.search.driver import solve

    common = dict(scenario=scenario, piece=piece, time_limit_s=round(time_limit_s, 3))
    if penalty not in PENALTIES:
        raise InvalidInputError(f"PyVRP penalty {penalty!r}: use one of {', '.join(PENALTIES)}")
    day = pyvrp_day(problem)  # refused here, before any search, when the piece is not relaxed
    began = time.perf_counter()
    plan = solve(problem, SolveParams(time_limit_s=time_limit_s, workers=1))
    wall = time.perf_counter() - began
    feasible, seen = pyvrp_view(problem, day, plan)
    product = judged_row(
        problem,
        plan,
        solver=PRODUCT,
        wall_s=round(wall, 2),
        own_objective=None,
        strategy=",".join(plan.search.get("strategies", [])),
        in_pyvrp_feasible=feasible,
        in_pyvrp_cost=None if seen is None else round(seen, 2),
        **common,
    )
    run = run_pyvrp_day(problem, time_limit_s=time_limit_s, seed=seed, day=day, penalty=penalty)
    peer_plan = evaluate_routes(problem, run.routes, start_times=run.start_times)
    peer = judged_row(
        problem,
        peer_plan,
        solver=PYVRP if penalty == "scaled" else f"{PYVRP}-{penalty}",
        wall_s=round(run.wall_s, 2),
        own_objective=round(run.objective, 2),
        strategy="feasible" if run.feasible else "INFEASIBLE",
        **common,
    )
    return product, peer


def day_total(rows: list[OwndayRow], *, scenario: str, solver: str) -> OwndayRow:
    """One solver's pieces of one day summed (violations counted, the first one kept)."""
    mine = [r for r in rows if r.scenario == scenario and r.solver == solver and r.piece != TOTAL]
    own = [r.own_objective for r in mine]
    seen = [r.in_pyvrp_cost for r in mine]
    return OwndayRow(
        scenario=scenario,
        piece=TOTAL,
        sites=sum(r.sites for r in mine),
        solver=solver,
        time_limit_s=round(sum(r.time_limit_s for r in mine), 3),
        wall_s=round(sum(r.wall_s for r in mine), 2),
        cost=round(sum(r.cost for r in mine), 2),
        fixed_cost=round(sum(r.fixed_cost for r in mine), 2),
        distance_cost=round(sum(r.distance_cost for r in mine), 2),
        time_cost=round(sum(r.time_cost for r in mine), 2),
        trucks=sum(r.trucks for r in mine),
        km=round(sum(r.km for r in mine), 3),
        hours=round(sum(r.hours for r in mine), 3),
        unserved=sum(r.unserved for r in mine),
        violations=sum(r.violations for r in mine),
        first_violation=next((r.first_violation for r in mine if r.first_violation), ""),
        own_objective=None if None in own else round(sum(own), 2),
        strategy=";".join(sorted({r.strategy for r in mine})),
        in_pyvrp_feasible=None if None in seen else all(r.in_pyvrp_feasible for r in mine),
        in_pyvrp_cost=None if None in seen else round(sum(seen), 2),
    )


def piece_budgets(pieces: list[tuple[str, Problem]], time_limit_s: float) -> list[float]:
    """The day's seconds split over its pieces in proportion to their sites, at least :data:`MIN_PIECE_S` each."""
    total = sum(len(p.sites) for _, p in pieces) or 1
    return [max(MIN_PIECE_S, time_limit_s * len(p.sites) / total) for _, p in pieces]


def load_day(path: Path, *, networks: dict | None = None) -> Problem:
    """A scenario file as the product's problem over its road network (``qingyun plan``'s loading).

    Parameters
    ----------
    path : Path
        The scenario JSON.
    networks : dict, optional
        Road networks already loaded, by file (several days on one network load it once).

    Returns
    -------
    Problem

    Raises
    ------
    InputFileError
        The file is missing or not JSON (named).
    ScenarioError
        The document is not a valid scenario (the file named as its source).
    """
    from routing.network.graph import load_network
    from routing.planning.pipeline import scenario_osm
    from routing.planning.problem import problem_from_scenario
    from routing.planning.scenario import load_scenario

    path = Path(path)
    scenario = load_scenario(path)
    osm = scenario_osm(scenario, scenario_dir=path.parent)
    cache = {} if networks is None else networks
    if osm not in cache:
        cache[osm] = load_network(osm)
    problem, _ = problem_from_scenario(scenario, network=cache[osm])
    return problem


def run_ownday(
    path: Path,
    *,
    time_limit_s: float,
    seed: int = 1,
    penalty: str = "scaled",
    networks: dict | None = None,
    on_row=None,
) -> list[OwndayRow]:
    """One scenario's day relaxed, every piece solved by both, then both totals.

    Parameters
    ----------
    path : Path
        The scenario JSON.
    time_limit_s : float
        Seconds for the whole day, per solver (:func:`piece_budgets`).
    seed : int
        PyVRP's seed.
    penalty : str
        PyVRP's penalty bounds (:data:`routing.bench.ownday_pyvrp.PENALTIES`).
    networks : dict, optional
        Road networks already loaded (see :func:`load_day`).
    on_row : callable, optional
        Called with each row as soon as it is judged.

    Returns
    -------
    list of OwndayRow
        Per piece the product's and PyVRP's rows, then the two totals.
    """
    relaxed = relax(load_day(path, networks=networks))
    pieces = day_pieces(relaxed)
    rows: list[OwndayRow] = []
    label = Path(path).name
    for (name, piece), budget in zip(pieces, piece_budgets(pieces, time_limit_s)):
        for row in compare_piece(piece, scenario=label, piece=name, time_limit_s=budget, seed=seed, penalty=penalty):
            rows.append(row)
            if on_row is not None:
                on_row(row)
    rows += [day_total(rows, scenario=label, solver=solver) for solver in dict.fromkeys(r.solver for r in rows)]
    return rows


def write_ownday_rows(path: Path, rows: list[OwndayRow]) -> Path:
    """All rows as CSV, one line per scenario × piece × solver; the folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(OwndayRow)])
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return path


def _versus(row: OwndayRow, rows: list[OwndayRow]) -> str:
    """The product's cost against PyVRP's on the same piece, in percent."""
    if row.solver != PRODUCT:
        return ""
    peer = next((r for r in rows if (r.scenario, r.piece) == (row.scenario, row.piece) and r.solver != PRODUCT), None)
    if peer is None or peer.cost <= 0:
        return "—"
    return f"{100.0 * (row.cost - peer.cost) / peer.cost:+.2f} %"


def _priced(row: OwndayRow) -> str:
    """PyVRP's own objective of the row's routes, and whether its model finds them feasible."""
    cost = row.in_pyvrp_cost if row.solver == PRODUCT else row.own_objective
    feasible = row.in_pyvrp_feasible if row.solver == PRODUCT else row.strategy == "feasible"
    if cost is None:
        return "—"
    return f"{cost:,.2f}" + ("" if feasible else " 不可行 / infeasible")


def ownday_table(rows: list[OwndayRow], *, title: str):
    """A rich table, zh-CN and English headers: per piece and total, each solver's cost, trucks, km, hours, verdict."""
    from rich.table import Table

    table = Table(title=title)
    headers = (
        "场景 / scenario",
        "片 / piece",
        "站点 / sites",
        "求解器 / solver",
        "成本 / cost (元)",
        "车辆 / trucks",
        "里程 / km",
        "工时 / hours",
        "未服务 / unserved",
        "核验 / check",
        "对 PyVRP / vs PyVRP",
        "PyVRP 核价 / priced by PyVRP",
        "用时 / wall s",
    )
    for k, header in enumerate(headers):
        table.add_column(header, justify="left" if k in (0, 1, 3, 9) else "right", overflow="fold")
    for row in rows:
        verdict = "通过 / ok" if not row.violations else f"违规 / {row.violations} violations: {row.first_violation}"
        table.add_row(
            row.scenario,
            row.piece,
            str(row.sites),
            row.solver,
            f"{row.cost:,.2f}",
            str(row.trucks),
            f"{row.km:,.1f}",
            f"{row.hours:,.1f}",
            str(row.unserved),
            verdict,
            _versus(row, rows),
            _priced(row),
            f"{row.wall_s:.1f}",
        )
    return table
