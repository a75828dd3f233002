"""``qingyun stations``: plan transfer stations from files, or run the Shenzhen demo. A thin shell."""

from __future__ import annotations

from pathlib import Path

import typer

stations_app = typer.Typer(no_args_is_help=True, help="转运站规划 / transfer-station planning (CJJ/T 47-2016).")


def _print_summary(run) -> None:
    from rich.console import Console
    from rich.table import Table

    plan = run.plan
    console = Console()
    table = Table(title=f"转运站 / stations — {plan.scenario.label}")
    for header in (
        "站点 / site",
        "方案 / action",
        "类别 / class",
        "负荷率 / util.",
        "社区 / communities",
        "平均运距 / mean km",
        "最大运距 / max km",
        "年费用 / yearly 万元",
    ):
        table.add_column(header)
    for s in plan.stations:
        table.add_row(
            s.site_id,
            s.action,
            s.station_class,
            f"{s.utilisation:.0%}",
            str(len(s.community_ids)),
            f"{s.mean_haul_km:.2f}",
            f"{s.max_haul_km:.2f}",
            f"{s.total_cost_yuan / 1e4:,.1f}",
        )
    console.print(table)
    sol = plan.solution
    console.print(
        f"年度总费用 / yearly cost: {plan.total_cost_yuan / 1e4:,.1f} 万元 (10⁴ yuan) = 站 stations "
        f"{plan.station_cost_yuan / 1e4:,.1f} + 收集 collection {plan.collection_haul_cost_yuan / 1e4:,.1f}"
        f" + 转运 transfer {plan.transfer_haul_cost_yuan / 1e4:,.1f}"
    )
    if sol is not None:
        console.print(f"已证明间隙 / proven gap: {sol.proven_gap:.3%} ({sol.solver}, {sol.solve_seconds:.1f} s)")
    console.print(
        f"未分配社区 / unassigned communities: {len(plan.unassigned)}"
        + (
            f" ({', '.join(u.id for u in plan.unassigned[:10])}{' …' if len(plan.unassigned) > 10 else ''})"
            if plan.unassigned
            else ""
        )
    )
    for p in run.sweep:
        console.print(
            f"  {p.scenario.label}: {len(p.stations)} 站 stations, {p.total_cost_yuan / 1e4:,.1f} 万元, "
            f"gap {p.solution.proven_gap:.2%}"
            if p.solution
            else f"  {p.scenario.label}: —"
        )
    console.print(f"报告 / report: {run.files['html']}")


@stations_app.command("plan")
def plan_command(
    ctx: typer.Context,
    communities: Path = typer.Option(..., "--communities", help="社区 CSV: id,lon,lat,population[,t_per_day]"),
    candidates: Path = typer.Option(
        ...,
        "--candidates",
        help="候选站点 CSV: id,lon,lat,land_area_m2,max_class,cost_I..cost_V[,existing,current_class]",
    ),
    params: Path | None = typer.Option(
        None, "--params", help="参数 JSON (keys of PlanningParams); default: documented defaults"
    ),
    out: Path = typer.Option(..., "--out", help="输出目录 / output directory"),
    osm: Path | None = typer.Option(None, "--osm", help="OSM 文件 / road network file (default: shipped Shenzhen)"),
    sweep: bool = typer.Option(False, "--sweep", help="情景分析 / also solve every q × year of the sweep settings"),
) -> None:
    """规划转运站 / plan transfer stations from CSV files."""
    from routing.network.graph import load_network
    from routing.stations.inputs import read_candidates, read_communities, read_params
    from routing.stations.workflow import run_planning

    settings = read_params(params)
    people = read_communities(communities)
    sites = read_candidates(candidates)
    network = load_network(osm, settings=ctx.obj.settings.network)
    run = run_planning(network, communities=people, sites=sites, params=settings, out_dir=out, sweep=sweep)
    _print_summary(run)


@stations_app.command("demo")
def demo_command(
    ctx: typer.Context,
    out: Path = typer.Option(Path("out/stations_demo"), "--out", help="输出目录 / output directory"),
    communities: int = typer.Option(600, "--communities", help="生成社区数 / generated communities"),
    candidates: int = typer.Option(40, "--candidates", help="候选站点数 / candidate sites"),
    existing: int = typer.Option(4, "--existing", help="其中现有站点 / of which existing stations"),
    seed: int = typer.Option(7, "--seed"),
    time_limit: float = typer.Option(60.0, "--time-limit", help="每个情景求解时限 s / solver time limit per scenario"),
    sweep: bool = typer.Option(True, "--sweep/--no-sweep", help="情景分析 q 0.8/1.0/1.2 × 0/10 年"),
) -> None:
    """深圳南山+福田示例 / Shenzhen (Nanshan + Futian) demo with generated communities."""
    from routing.network.graph import load_network
    from routing.stations.demo import demo_params, generated_communities, generated_sites
    from routing.stations.workflow import run_planning

    network = load_network(settings=ctx.obj.settings.network)
    run = run_planning(
        network,
        communities=generated_communities(network, n=communities, seed=seed),
        sites=generated_sites(network, n=candidates, seed=seed, existing=existing),
        params=demo_params(network, time_limit_s=time_limit),
        out_dir=out,
        sweep=sweep,
    )
    _print_summary(run)
