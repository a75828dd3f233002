"""``qingyun plan`` and ``qingyun scenario generate``: thin shells over the planning library."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from routing.network.graph import RoadNetwork
    from routing.network.settings import NetworkSettings
    from routing.planning.scenario import Scenario
    from routing.planning.settings import PlanningSettings

scenario_app = typer.Typer(no_args_is_help=True)


def plan(
    ctx: typer.Context,
    scenario: Path | None = typer.Argument(None, help="scenario JSON (see --schema)"),
    time_limit: float | None = typer.Option(
        None, "--time-limit", help="search time in seconds; default QINGYUN_PLANNING_TIME_LIMIT_S (30)"
    ),
    out: Path = typer.Option(Path("out"), "--out", help="folder for plan.json, GeoJSON, route sheets, map"),
    schema: bool = typer.Option(False, "--schema", help="print the scenario JSON Schema and exit"),
    plan_schema: bool = typer.Option(False, "--plan-schema", help="print the plan.json JSON Schema and exit"),
    workers: int | None = typer.Option(
        None, "--workers", help="search processes; default QINGYUN_PLANNING_WORKERS (2)"
    ),
    max_solutions: int | None = typer.Option(
        None, "--max-solutions", min=1, help="stop after this many improving solutions: same input, same plan"
    ),
    replan: Path | None = typer.Option(
        None, "--replan", help="re-plan the rest of this plan.json's day (SCENARIO default: scenario.json beside it)"
    ),
    at: str | None = typer.Option(None, "--at", help="with --replan: the re-plan time, HH:MM"),
    events: Path | None = typer.Option(None, "--events", help="with --replan: events.json (breakdowns, finished …)"),
    grids: Path | None = typer.Option(
        None,
        "--grids",
        help="territories: GeoJSON polygons with their streams and trucks (replace the scenario's grids)",
    ),
    balance: float | None = typer.Option(
        None,
        "--balance",
        min=0,
        help="currency per hour a truck works beyond its type's mean shift or short of 80 % of its mean work; 0 = none",
    ),
) -> None:
    """排线 / plan a collection day: routes per truck, KPIs, exports (every plan passes the independent checker)."""
    if schema or plan_schema:
        from routing.planning.document import plan_json_schema
        from routing.planning.scenario import scenario_json_schema

        published = scenario_json_schema() if schema else plan_json_schema()
        typer.echo(json.dumps(published, ensure_ascii=False, indent=1))
        return
    if replan is not None:
        from rich.console import Console

        from routing.planning.replan_cli import replan_summary, run_replan

        root = ctx.obj.settings
        overrides = {k: v for k, v in {"workers": workers, "max_solutions": max_solutions}.items() if v is not None}
        result, files = run_replan(
            replan,
            scenario=scenario,
            at=at,
            events=events,
            settings=root.planning.model_copy(update=overrides),
            network_settings=root.network,
            time_limit_s=time_limit,
            out=out,
        )
        print_summary(Console(), result.outcome)
        Console().print(replan_summary(result, files))
        return
    if scenario is None:
        raise typer.BadParameter("give a SCENARIO file, or --schema / --plan-schema")
    from routing.planning.search.workers import pieces_run_by

    root = ctx.obj.settings  # resolved once by the CLI root
    overrides = {"workers": workers, "max_solutions": max_solutions}
    # with QINGYUN_REDIS_URL a cut day's pieces go to the `qingyun worker` processes as well
    with pieces_run_by(ctx.obj.piece_runner()):
        run_plan(
            _scenario_with(scenario, grids=grids, balance=balance),
            scenario_dir=scenario.resolve().parent,
            settings=root.planning.model_copy(update={k: v for k, v in overrides.items() if v is not None}),
            network_settings=root.network,
            time_limit_s=time_limit,
            out=out,
        )


def _scenario_with(path: Path, *, grids: Path | None, balance: float | None) -> Scenario:
    """The scenario file with the command line's grids and balance setting, validated together (bad grids named)."""
    from routing.planning.grids import read_grids
    from routing.planning.scenario import load_scenario, parse_scenario

    scenario = load_scenario(path)
    updates: dict = {}
    if grids is not None:
        updates["grids"] = read_grids(grids)
    if balance is not None:
        updates["balance_per_h"] = balance
    if not updates:
        return scenario
    return parse_scenario({**scenario.model_dump(mode="json"), **updates}, source=f"{path} + {grids or '--balance'}")


def run_plan(
    scenario: Scenario,
    *,
    scenario_dir: Path,
    settings: PlanningSettings,
    network_settings: NetworkSettings,
    time_limit_s: float | None,
    out: Path,
    network: RoadNetwork | None = None,
) -> None:
    """Plan the day with a progress bar (:func:`routing.planning.pipeline.plan_day`), export, print the summary.

    Parameters
    ----------
    scenario : Scenario
        The validated day.
    scenario_dir : Path
        The scenario file's folder, for a relative ``osm`` path.
    settings : PlanningSettings
        Search settings.
    network_settings : NetworkSettings
        Default road network and build cache.
    time_limit_s : float or None
        Search time in seconds; None = the settings' default.
    out : Path
        Folder for plan.json, GeoJSON, route sheets and map.
    network : RoadNetwork, optional
        An already loaded network; otherwise the scenario's or the default one is loaded.

    Raises
    ------
    PlanCheckError
        If the independent checker rejects the plan (nothing is written).
    QingyunError
        Bad input, as in :func:`routing.planning.pipeline.plan_day`.
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from routing.planning.exports import write_all
    from routing.planning.pipeline import plan_day, solve_params

    console = Console()
    params = solve_params(settings, time_limit_s=time_limit_s)
    limit = params.time_limit_s
    with Progress(
        TextColumn("[bold]求解 solving[/bold]"),
        BarColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("solve", total=limit, best="")

        def report(progress) -> None:
            bar.update(
                task, completed=min(limit, progress.elapsed_s), best=f"最优成本 best cost {progress.best_cost:,.0f}"
            )

        outcome = plan_day(
            scenario,
            params=params,
            network=network,
            scenario_dir=scenario_dir,
            network_settings=network_settings,
            progress=report,
        )
        bar.update(task, completed=limit)
    problem, timings = outcome.problem, outcome.timings
    console.print(
        f"{problem.name}: {len(problem.sites)} 收集点 sites, {len(problem.vehicles)} 车 trucks, "
        f"{len(problem.facilities)} 处置设施 facilities — 路网 network {timings.network_s:.1f} s, "
        f"矩阵 matrices {timings.matrices_s:.1f} s"
    )
    files = write_all(outcome, out=out)
    print_summary(console, outcome)
    console.print(
        f"输出 output: {files['plan']}, {files['geojson']}, {files['sheets']}/, {files['kpis']}, {files['map']}, "
        f"{files['timeline']}"
    )


def print_summary(console, outcome) -> None:
    """Per-truck table and KPIs of a checked plan, zh-CN with English.

    Parameters
    ----------
    console : rich.console.Console
        Where to print.
    outcome : PlanOutcome
        The checked plan with its problem and timings.
    """
    from rich.table import Table

    problem, result, solve_s = outcome.problem, outcome.plan, outcome.timings.solve_s

    table = Table(title="车辆排班 / routes per truck")
    for column in ("车辆 truck", "出车 start", "回场 end", "趟次 trips", "点位 sites", "里程 km", "收运 t"):
        # a truck id is never cut to "kitchen-…": it wraps inside its cell on a narrow terminal
        table.add_column(column, justify="right", overflow="fold" if column == "车辆 truck" else "ellipsis")
    for route in result.routes:
        trips = sum(1 for s in route.stops if s.kind == "facility")
        collected = sum(sum(s.unloaded_kg.values()) for s in route.stops if s.kind == "facility")
        table.add_row(
            route.vehicle_id,
            problem.at(route.start).strftime("%H:%M"),
            problem.at(route.end).strftime("%H:%M"),
            str(trips),
            str(sum(1 for s in route.stops if s.kind == "site")),
            f"{route.distance_m / 1000:.1f}",
            f"{collected / 1000:.2f}",
        )
    console.print(table)
    k = result.kpi
    kpis = Table(title="指标 / KPIs")
    kpis.add_column("指标 KPI")
    kpis.add_column("值 value", justify="right")
    rows = [
        ("清运率 clearance rate", f"{k['clearance_rate'] * 100:.2f} %"),
        ("收运量 collected", f"{k['collected_t']:.2f} / {k['demand_t']:.2f} t"),
        ("里程 distance", f"{k['distance_km']:.1f} km"),
        ("工时 hours", f"{k['hours']:.1f} h"),
        ("出车 trucks used", f"{k['vehicles_used']} / {k['vehicles_available']}"),
        ("卸料次数 unload visits", str(k["unload_visits"])),
        ("装载率 utilisation", f"{k['utilisation'] * 100:.1f} %"),
        ("加班 overtime (> 8 h)", f"{k['overtime_h']:.1f} h"),
        ("最长/最短班次 longest/shortest shift", f"{k['longest_shift_h']:.1f} / {k['shortest_shift_h']:.1f} h"),
        ("总成本 total cost", f"{result.objective['total_cost']:,.0f}"),
        ("未清运 unserved sites", str(len(result.unserved))),
        ("校验 independent check", "通过 passed"),
        ("求解用时 solve time", f"{solve_s:.1f} s"),
    ]
    for name, value in rows:
        kpis.add_row(name, value)
    console.print(kpis)
    if result.measures is not None:
        from routing.planning.kpis import measure_rows

        measures = Table(title="调度指标 / dispatcher measures")
        measures.add_column("指标 measure")
        measures.add_column("值 value", justify="right")
        for _, name, value in measure_rows(result.measures):
            measures.add_row(name, value)
        console.print(measures)
    for sid, reason in result.unserved[:20]:
        console.print(f"  未清运 unserved {sid}: {reason}")


@scenario_app.command("generate")
def generate(
    ctx: typer.Context,
    osm: Path | None = typer.Option(None, "--osm", help="OSM file; default: shipped Shenzhen network"),
    restaurants: int = typer.Option(600, "--restaurants"),
    communities: int = typer.Option(300, "--communities"),
    seed: int = typer.Option(1, "--seed"),
    day: datetime | None = typer.Option(
        None, "--date", formats=["%Y-%m-%d"], help="service day, YYYY-MM-DD; default 2026-11-23 (a Monday)"
    ),
    out: Path = typer.Option(Path("scenario.json"), "--out"),
) -> None:
    """生成场景 / generate a realistic collection day on a road network (school canteens only on weekdays)."""
    from routing.network.graph import load_network
    from routing.planning.generate import DEFAULT_DAY, generate_scenario, write_scenario

    settings = ctx.obj.settings.network
    path = (osm or settings.default_osm()).resolve()
    network = load_network(path, settings=settings)
    scenario = generate_scenario(
        network,
        restaurants=restaurants,
        communities=communities,
        seed=seed,
        day=day.date() if day is not None else DEFAULT_DAY,
        osm=str(path),
    )
    write_scenario(scenario, out)
    typer.echo(f"{len(scenario.sites)} 收集点 sites, {len(scenario.vehicles)} 车 trucks → {out}")


@scenario_app.command("import-sites")
def import_sites(
    sites: Path = typer.Argument(..., help="sites as CSV or GeoJSON (WGS-84)"),
    into: Path = typer.Option(..., "--into", help="scenario JSON whose sites are replaced"),
    out: Path = typer.Option(..., "--out", help="new scenario JSON"),
) -> None:
    """导入点位 / replace a scenario's sites with those of a CSV or GeoJSON file."""
    from routing.planning.generate import write_scenario
    from routing.planning.scenario import load_scenario, parse_scenario
    from routing.planning.sites import read_sites

    base = load_scenario(into)
    imported = read_sites(sites)
    doc = base.model_dump(mode="json")
    doc["sites"] = [s.model_dump(mode="json") for s in imported]
    write_scenario(parse_scenario(doc, source=str(out)), out)
    typer.echo(f"{len(imported)} 收集点 sites → {out}")
