"""``qingyun bench …``: solver quality on published instances, optionally beside PyVRP and VROOM.

``--instances`` takes files or folders, several after one flag (shell globs work):
``qingyun bench vrptw --instances ../shared/benchmarks/solomon --time-limit 10 --peers``.
"""

from __future__ import annotations

from pathlib import Path

import typer

bench_app = typer.Typer(no_args_is_help=True)

_MANY = {"allow_extra_args": True, "ignore_unknown_options": False}
InstancesOption = typer.Option(..., "--instances", help="instance files or folders (several allowed after the flag)")
TimeLimitOption = typer.Option(10.0, "--time-limit", min=0.1, help="seconds per instance and solver")
OutOption = typer.Option(None, "--out", help="CSV of every instance × solver")
SolutionsOption = typer.Option(None, "--solutions", help="folder for VRPLIB .sol files")
StrategiesOption = typer.Option(
    None,
    "--strategies",
    help="search strategies FIRST+IMPROVEMENT (improvement: ruin or gls), comma-separated, one per worker (default: per problem class)",
)
WorkersOption = typer.Option(None, "--workers", min=1, help="parallel searches (default: the solver's)")
PerCustomerOption = typer.Option(
    None,
    "--seconds-per-customer",
    min=0.001,
    help="budget scaled per instance (X protocol: 0.24 = 2.4·n/10 s); replaces --time-limit",
)


def _settings(strategies: str | None, workers: int | None):
    from dataclasses import replace

    from routing.planning.search.params import SolveParams

    settings = SolveParams()
    if strategies:
        settings = replace(settings, strategies=tuple(s.strip().upper() for s in strategies.split(",") if s.strip()))
    if workers:
        settings = replace(settings, workers=workers)
    return settings


def _paths(ctx: typer.Context, instances: list[Path], pattern: str) -> list[Path]:
    from routing.bench.runner import expand_instances

    extra = [Path(arg) for arg in ctx.args]
    unknown = [arg for arg in ctx.args if arg.startswith("-")]
    if unknown:
        raise typer.BadParameter(f"unknown option(s) {' '.join(unknown)}")
    return expand_instances([*instances, *extra], pattern=pattern)


def _echo_row(row) -> None:
    gap = "—" if row.gap_pct is None else f"{row.gap_pct:+.2f} %"
    status = (
        "可行 / feasible"
        if row.feasible
        else f"不可行 / INFEASIBLE: {row.first_violation or f'{row.unserved} unserved'}"
    )
    typer.echo(
        f"{row.instance:<14} {row.solver:<8} vehicles {row.vehicles:>3}  {row.objective:>10.1f}  gap {gap:>9}  "
        f"{row.wall_s:6.1f} s  {status}",
    )


def _console():
    """A terminal keeps its width; logs (nohup) get a wide table instead of wrapped headers."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=140)


def _finish(rows, *, out: Path | None, title: str) -> None:
    from routing.bench.runner import comparison_table, summarise, write_rows

    if out is not None:
        write_rows(out, rows)
    _console().print(comparison_table(summarise(rows), title=title))
    if out is not None:
        typer.echo(f"结果 / results → {out}")


def _vrplib(
    ctx, instances, time_limit, out, solutions, peers, strategies, workers, per_customer, *, title: str
) -> None:
    from routing.bench.peers import PEER_NAMES
    from routing.bench.runner import run_many, run_vrplib

    paths = _paths(ctx, instances, "*.vrp")
    settings = _settings(strategies, workers)
    rows = run_many(
        paths,
        lambda path: run_vrplib(
            path,
            time_limit_s=time_limit,
            seconds_per_customer=per_customer,
            settings=settings,
            peers=PEER_NAMES if peers else (),
            solutions=solutions,
        ),
        on_row=_echo_row,
    )
    budget = f"{per_customer:g} s per customer" if per_customer else f"{time_limit:g} s each"
    _finish(rows, out=out, title=f"{title}, {len(paths)} instances, {budget}")


def _vrplib_command(name: str, *, title: str, doc: str) -> None:
    """Register ``qingyun bench NAME``: one VRPLIB family, judged in its own convention."""

    def command(
        ctx: typer.Context,
        instances: list[Path] = InstancesOption,
        time_limit: float = TimeLimitOption,
        out: Path | None = OutOption,
        solutions: Path | None = SolutionsOption,
        peers: bool = typer.Option(False, "--peers", help="also run PyVRP and VROOM (the 'bench' extra)"),
        strategies: str | None = StrategiesOption,
        workers: int | None = WorkersOption,
        per_customer: float | None = PerCustomerOption,
    ) -> None:
        _vrplib(ctx, instances, time_limit, out, solutions, peers, strategies, workers, per_customer, title=title)

    command.__doc__ = doc
    bench_app.command(name, context_settings=_MANY)(command)


_vrplib_command(
    "vrptw",
    title="VRPTW (DIMACS)",
    doc="VRPTW (Solomon, Gehring & Homberger), DIMACS convention: distance only, gap to BKS.",
)
_vrplib_command(
    "cvrp", title="CVRP X (EUC_2D rounded)", doc="CVRP X (Uchoa et al.), rounded EUC_2D: distance only, gap to BKS."
)


@bench_app.command("mtvrptw", context_settings=_MANY)
def mtvrptw(
    ctx: typer.Context,
    instances: list[Path] = InstancesOption,
    time_limit: float = TimeLimitOption,
    out: Path | None = OutOption,
    solutions: Path | None = SolutionsOption,
    peers: bool = typer.Option(False, "--peers", help="also run PyVRP (reload depots, release times; one thread)"),
    strategies: str | None = StrategiesOption,
    workers: int | None = WorkersOption,
) -> None:
    """Multi-trip VRPTW with release dates (Yang): trips, reloads and releases certified, DIMACS gap to BKS."""
    from routing.bench.runner import run_many
    from routing.bench.yang import run_yang

    paths = _paths(ctx, instances, "*.vrp")
    settings = _settings(strategies, workers)
    rows = run_many(
        paths,
        lambda path: run_yang(path, time_limit_s=time_limit, settings=settings, peers=peers, solutions=solutions),
        on_row=_echo_row,
    )
    _finish(rows, out=out, title=f"MTVRPTWR (Yang, DIMACS), {len(paths)} instances, {time_limit:g} s each")


@bench_app.command("kim", context_settings=_MANY)
def kim(
    ctx: typer.Context,
    instances: list[Path] = InstancesOption,
    strategies: str | None = StrategiesOption,
    workers: int | None = WorkersOption,
    time_limit: float = TimeLimitOption,
    out: Path | None = OutOption,
    solutions: Path | None = SolutionsOption,
) -> None:
    """Kim 2006 waste collection: vehicles and miles vs Kim's best published figures."""
    from rich.table import Table

    from routing.bench.runner import run_kim, run_many, write_rows

    paths = _paths(ctx, instances, "*_stop.txt")
    settings = _settings(strategies, workers)
    rows = run_many(
        paths,
        lambda path: [run_kim(path, time_limit_s=time_limit, settings=settings, solutions=solutions)],
        on_row=_echo_row,
    )
    table = Table(title=f"Kim 2006 waste collection, {time_limit:g} s each")
    headers = (
        "实例 / instance",
        "可行 / feasible",
        "车辆 / vehicles",
        "里程 / miles",
        "差距 / gap",
        "Kim 2006 (Table 3) / notes",
    )
    for header in headers:
        table.add_column(header, justify="right" if header in headers[1:-1] else "left")
    for row in rows:
        table.add_row(
            row.instance,
            "是 / yes" if row.feasible else f"否 / no ({row.violations} violations, {row.unserved} unserved)",
            str(row.vehicles),
            f"{row.objective:.1f}",
            "—" if row.gap_pct is None else f"{row.gap_pct:+.2f} %",
            row.note,
        )
    if out is not None:
        write_rows(out, rows)
    _console().print(table)


@bench_app.command("carp", context_settings=_MANY)
def carp(
    ctx: typer.Context,
    instances: list[Path] = InstancesOption,
    time_limit: float = typer.Option(30.0, "--time-limit", min=0.1, help="seconds per instance"),
    out: Path | None = typer.Option(None, "--out", help="CSV: cost, BKS, gap %, optimum reached, checker verdict"),
    solutions: Path | None = typer.Option(None, "--solutions", help="folder for NAME.json walks"),
    seed: int = typer.Option(1, "--seed", min=0, help="seed of the search"),
) -> None:
    """Capacitated arc routing (val, egl, Beullens C–F, gdb, kshs): walks certified, gap to BKS."""
    from rich.table import Table

    from routing.arcs.settings import ArcSettings
    from routing.bench.carp import carp_summary, run_carp, write_carp_rows

    paths = _paths(ctx, instances, "*.dat")
    settings = ArcSettings(time_limit_s=time_limit, seed=seed)
    rows = []
    for path in paths:
        row = run_carp(path, settings=settings, solutions=solutions)
        rows.append(row)
        gap = "—" if row.gap_pct is None else f"{row.gap_pct:+.2f} %"
        verdict = "已认证 / certified" if row.certified else f"未通过 / REJECTED: {row.first_violation}"
        typer.echo(f"{row.instance:<10} cost {row.cost:>9}  BKS {row.bks or '—':>9}  gap {gap:>9}  {verdict}")
    if out is not None:
        write_carp_rows(out, rows)
    summary = carp_summary(rows)
    table = Table(title=f"CARP, {len(paths)} instances, {time_limit:g} s each, seed {seed}")
    table.add_column("指标 / figure")
    table.add_column("值 / value", justify="right")
    for key, value in summary.items():
        table.add_row(key, "—" if value is None else str(value))
    _console().print(table)
    if out is not None:
        typer.echo(f"结果 / results → {out}")


@bench_app.command("ownday", context_settings=_MANY)
def ownday(
    ctx: typer.Context,
    scenarios: list[Path] = typer.Option(
        ..., "--scenario", help="scenario JSON files (several allowed after the flag)"
    ),
    time_limit: float = typer.Option(
        60.0, "--time-limit", min=0.1, help="seconds per day and solver, split over pieces"
    ),
    out: Path | None = OutOption,
    seed: int = typer.Option(1, "--seed", min=0, help="PyVRP's seed"),
    penalty: str = typer.Option(
        "scaled", "--pyvrp-penalty", help="PyVRP's penalty bounds: scaled (to the cost unit) or default (its own)"
    ),
) -> None:
    """Our own days against PyVRP: each day relaxed to what PyVRP 0.14 models, both judged by the product's checker."""
    import logging

    from routing.bench.ownday import ownday_table, run_ownday, write_ownday_rows
    from routing.bench.ownday_pyvrp import PENALTIES

    unknown = [arg for arg in ctx.args if arg.startswith("-")]
    if unknown:
        raise typer.BadParameter(f"unknown option(s) {' '.join(unknown)}")
    if penalty not in PENALTIES:
        raise typer.BadParameter(f"--pyvrp-penalty {penalty!r}: 应为 / expected one of {', '.join(PENALTIES)}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("routing.planning.search.arrays").setLevel(logging.INFO)  # why the compiled search is not used
    networks: dict = {}
    rows = []
    for path in [*scenarios, *(Path(arg) for arg in ctx.args)]:
        rows += run_ownday(
            path,
            time_limit_s=time_limit,
            seed=seed,
            penalty=penalty,
            networks=networks,
            on_row=lambda r: typer.echo(
                f"{r.scenario:<12} {r.piece:<12} {r.solver:<8} {r.cost:>12,.2f} 元  {r.trucks:>3} trucks  "
                f"{r.violations} violations  {r.wall_s:6.1f} s  {r.strategy}"
            ),
        )
    if out is not None:
        write_ownday_rows(out, rows)
    _console().print(
        ownday_table(rows, title=f"自有场景 vs PyVRP / own days vs PyVRP (relaxed), {time_limit:g} s per day")
    )
    if out is not None:
        typer.echo(f"结果 / results → {out}")
