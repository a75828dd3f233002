"""``qingyun plan`` and ``qingyun scenario generate``: thin shells over the planning library."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

scenario_app = typer.Typer(no_args_is_help=True)


def plan(
    scenario: Path | None = typer.Argument(None, help="scenario JSON (see --schema)"),
    time_limit: float = typer.Option(30.0, "--time-limit", help="search time in seconds"),
    out: Path = typer.Option(Path("out"), "--out", help="folder for plan.json, GeoJSON, route sheets, map"),
    schema: bool = typer.Option(False, "--schema", help="print the scenario JSON Schema and exit"),
    workers: int = typer.Option(2, "--workers", help="search processes"),
) -> None:
    """排线 / plan a collection day: routes per truck, KPIs, exports."""
    if schema:
        from routing.planning.scenario import scenario_json_schema

        typer.echo(json.dumps(scenario_json_schema(), ensure_ascii=False, indent=1))
        return
    if scenario is None:
        raise typer.BadParameter("give a SCENARIO file, or --schema")
    from routing.planning.scenario import load_scenario

    run_plan(
        load_scenario(scenario),
        scenario_dir=scenario.resolve().parent,
        time_limit_s=time_limit,
        out=out,
        workers=workers,
    )


def run_plan(scenario, *, scenario_dir: Path, time_limit_s: float, out: Path, workers: int = 2) -> None:
    """Load the network, build, solve with a progress bar, check, export, print the summary."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from routing.network.graph import load_network
    from routing.planning.check import check_plan
    from routing.planning.exports import write_all
    from routing.planning.problem import problem_from_scenario
    from routing.planning.search.solver import SolveParams, solve

    console = Console()
    osm = (
        None
        if scenario.osm is None
        else (Path(scenario.osm) if Path(scenario.osm).is_absolute() else scenario_dir / scenario.osm)
    )
    began = time.perf_counter()
    network = load_network(osm)
    problem, snapped = problem_from_scenario(scenario, network=network)
    console.print(
        f"{problem.name}: {len(problem.sites)} 收集点 sites, {len(problem.vehicles)} 车 trucks, "
        f"{len(problem.facilities)} 处置设施 facilities — 矩阵 matrices ready in {time.perf_counter() - began:.1f} s"
    )
    settings = SolveParams(time_limit_s=time_limit_s, workers=workers)
    with Progress(
        TextColumn("[bold]求解 solving[/bold]"),
        BarColumn(),
        TextColumn("{task.fields[best]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("solve", total=time_limit_s, best="")
        solve_began = time.perf_counter()

        def report(progress) -> None:
            bar.update(
                task,
                completed=min(time_limit_s, progress.elapsed_s),
                best=f"最优成本 best cost {progress.best_cost:,.0f}",
            )

        result = solve(problem, settings, progress=report)
        bar.update(task, completed=time_limit_s)
    solve_s = time.perf_counter() - solve_began
    report_check = check_plan(problem, result)
    files = write_all(result, problem, network=network, snapped=snapped, out=out)
    print_summary(console, problem, result, report_check, solve_s=solve_s)
    console.print(f"输出 output: {files['plan']}, {files['geojson']}, {files['sheets']}/, {files['map']}")


def print_summary(console, problem, result, report_check, *, solve_s: float) -> None:
    """Per-truck table and KPIs, zh-CN with English."""
    from rich.table import Table

    table = Table(title="车辆排班 / routes per truck")
    for column in ("车辆 truck", "出车 start", "回场 end", "趟次 trips", "点位 sites", "里程 km", "收运 t"):
        table.add_column(column, justify="right")
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
        ("校验违规 checker violations", str(len(report_check.violations))),
        ("求解用时 solve time", f"{solve_s:.1f} s"),
    ]
    for name, value in rows:
        kpis.add_row(name, value)
    console.print(kpis)
    for sid, reason in result.unserved[:20]:
        console.print(f"  未清运 unserved {sid}: {reason}")
    for violation in report_check.violations[:20]:
        console.print(f"  [red]违规 violation[/red]: {violation}")


@scenario_app.command("generate")
def generate(
    osm: Path | None = typer.Option(None, "--osm", help="OSM file; default: shipped Shenzhen network"),
    restaurants: int = typer.Option(600, "--restaurants"),
    communities: int = typer.Option(300, "--communities"),
    seed: int = typer.Option(1, "--seed"),
    out: Path = typer.Option(Path("scenario.json"), "--out"),
) -> None:
    """生成场景 / generate a realistic collection day on a road network."""
    from routing.network.graph import DEFAULT_OSM, load_network
    from routing.planning.generate import generate_scenario, write_scenario

    network = load_network(osm)
    path = (osm or DEFAULT_OSM).resolve()
    scenario = generate_scenario(network, restaurants=restaurants, communities=communities, seed=seed, osm=str(path))
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
