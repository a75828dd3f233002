"""``qingyun audit``: audit trucks' positions against permits, zones and a collection plan.

A thin shell: it resolves the inputs — positions from a CSV file (``--tracks``) or from the
database for a period and devices (``--from-db``, through the migrated engine the CLI root hands
over as ``ctx.obj.engine_for``) — calls the one pipeline
(``fleet.audit.pipeline.run_audit``) and writes violations.json, coverage.json, scores.json,
matched.json, summary.json and report.html (``fleet.audit.report.write_report``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.errors import InvalidInputError


def input_schemas() -> dict:
    """JSON Schemas of every input and output file of the audit."""
    from pydantic import TypeAdapter

    from fleet.audit.coverage import CoverageReport
    from fleet.audit.inputs import PermitsFile, ZonesFile
    from fleet.audit.pipeline import AuditSummary
    from fleet.audit.scores import CompanyScore
    from fleet.audit.violations import Violation
    from fleet.tracks.track import PositionRow
    from routing.planning.document import PlanDocument

    return {
        "positions.csv (one row)": PositionRow.model_json_schema(),
        "permits.json": PermitsFile.model_json_schema(),
        "zones.geojson": ZonesFile.model_json_schema(),
        "plan.json": PlanDocument.model_json_schema(),
        "violations.json": TypeAdapter(list[Violation]).json_schema(),
        "coverage.json": CoverageReport.model_json_schema(),
        "scores.json": TypeAdapter(list[CompanyScore]).json_schema(),
        "summary.json": AuditSummary.model_json_schema(),
    }


def _check_source(
    *, tracks: Path | None, from_db: bool, since: str | None, until: str | None, devices: str | None
) -> None:
    """Exactly one positions source, and a period with (only with) ``--from-db``."""
    if tracks is not None and from_db:
        raise InvalidInputError("give the positions as --tracks FILE or --from-db, not both")
    if tracks is None and not from_db:
        raise InvalidInputError("qingyun audit needs --tracks (a positions CSV) or --from-db with --since/--until")
    if from_db and (since is None or until is None):
        raise InvalidInputError("--from-db needs --since and --until (ISO 8601, e.g. 2026-11-21T00:00:00+08:00)")
    if not from_db and (since is not None or until is not None or devices is not None):
        raise InvalidInputError("--since/--until/--devices select stored positions: use them with --from-db")


def _print_summary(summary, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from fleet.audit.violations import TYPE_LABELS

    table = Table(title="稽查结果 / audit result")
    table.add_column("项目 / item")
    table.add_column("数值 / value", justify="right")
    table.add_row("车辆 / trucks", str(summary.trucks))
    table.add_row("剔除行 / rejected rows", str(len(summary.rows_rejected)))
    for kind, n in sorted(summary.violations_by_type.items()):
        table.add_row(" / ".join(TYPE_LABELS[kind]), str(n))
    table.add_row("黑榜 / blacklisted", ", ".join(summary.blacklisted) or "—")
    if summary.achieved_clearance_rate is not None:
        table.add_row("清运率 / clearance rate", f"{summary.achieved_clearance_rate:.1%}")
    Console().print(table)
    typer.echo(f"报告 / report: {out / 'report.html'}")


def audit(
    ctx: typer.Context,
    osm: Path | None = typer.Option(
        None, "--osm", help="OSM road network (.osm/.osm.bz2/.osm.pbf); default: shipped Shenzhen"
    ),
    tracks: Path | None = typer.Option(
        None, "--tracks", help="positions CSV: device,time,lon,lat[,speed_kmh,heading,load,ignition,status]"
    ),
    from_db: bool = typer.Option(
        False, "--from-db", help="read the stored positions (QINGYUN_DATABASE_URL, default sqlite:///qingyun.db)"
    ),
    since: str | None = typer.Option(None, "--since", help="with --from-db: from this time (ISO 8601; naive = UTC+8)"),
    until: str | None = typer.Option(None, "--until", help="with --from-db: up to this time, exclusive"),
    devices: str | None = typer.Option(
        None, "--devices", help="with --from-db: terminal phones A,B (default: every device in the period)"
    ),
    permits: Path | None = typer.Option(None, "--permits", help="permits.json"),
    zones: Path | None = typer.Option(None, "--zones", help="zones.geojson: restricted zones and registered sites"),
    plan: Path | None = typer.Option(None, "--plan", help="plan.json of collection trucks (coverage)"),
    out: Path = typer.Option(Path("report"), "--out", help="output folder"),
    match: bool = typer.Option(True, "--match/--no-match", help="map-match every track (matched.json)"),
    workers: int = typer.Option(1, "--workers", min=1, help="processes for the audit"),
    schema: bool = typer.Option(
        False, "--schema", help="print the JSON Schemas of the input and output files and exit"
    ),
) -> None:
    """渣土车合规稽查与收运覆盖 / audit construction-waste trucks and collection coverage."""
    if schema:
        typer.echo(json.dumps(input_schemas(), ensure_ascii=False, indent=1))
        return
    _check_source(tracks=tracks, from_db=from_db, since=since, until=until, devices=devices)
    if permits is None:
        raise InvalidInputError("qingyun audit needs --permits (or --schema)")
    from fleet.audit.inputs import read_permits, read_zones
    from fleet.audit.pipeline import run_audit
    from fleet.audit.report import write_report
    from fleet.tracks.sources import Period, csv_positions, db_positions, device_list
    from fleet.tracks.store import normalise_phone
    from routing.network.graph import load_network
    from routing.planning.document import read_plan

    settings = ctx.obj.settings  # resolved once by the CLI root
    permit_list = read_permits(permits)
    zone_list = read_zones(zones) if zones else []
    plan_file = read_plan(plan) if plan else None
    period = None
    if from_db:
        period = Period.parse(since, until)
        engine = ctx.obj.engine_for(settings.service.database_url)  # migrated by the CLI root
        positions = db_positions(engine, period=period, devices=device_list(devices))
        # stored positions are keyed by the normalised terminal phone; permits follow it
        permit_list = [p.model_copy(update={"device": normalise_phone(p.device)}) for p in permit_list]
    else:
        positions = csv_positions(tracks)
    network = load_network(osm, settings=settings.network)
    result = run_audit(
        positions=positions,
        permits=permit_list,
        zones=zone_list,
        network=network,
        settings=settings.fleet,
        plan=plan_file,
        period=period,
        match=match,
        workers=workers,
    )
    _print_summary(write_report(result, out, network=network), out)
