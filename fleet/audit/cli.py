"""``qingyun audit``: audit trucks' tracks against permits, zones and a collection plan.

A thin shell: reading inputs, calling the library, writing violations.json,
coverage.json, scores.json, matched.json, summary.json and report.html.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.errors import QingyunError


def input_schemas() -> dict:
    """JSON Schemas of every input and output file of the audit."""
    from pydantic import TypeAdapter

    from fleet.audit.coverage import CoverageReport, PlanFile
    from fleet.audit.rules import PermitsFile, Violation, ZonesFile
    from fleet.audit.scores import CompanyScore
    from fleet.tracks.track import PositionRow

    return {
        "positions.csv (one row)": PositionRow.model_json_schema(),
        "permits.json": PermitsFile.model_json_schema(),
        "zones.geojson": ZonesFile.model_json_schema(),
        "plan.json": PlanFile.model_json_schema(),
        "violations.json": TypeAdapter(list[Violation]).json_schema(),
        "coverage.json": CoverageReport.model_json_schema(),
        "scores.json": TypeAdapter(list[CompanyScore]).json_schema(),
    }


def run_audit(
    *,
    osm: Path | None,
    tracks_csv: Path,
    permits_json: Path,
    zones_geojson: Path | None,
    plan_json: Path | None,
    out: Path,
    match: bool = True,
    workers: int = 1,
) -> dict:
    """The whole audit from files to files; returns the summary written to summary.json."""
    import numpy as np

    from fleet.audit.coverage import plan_coverage, read_plan
    from fleet.audit.report import render_report
    from fleet.audit.rules import (
        ComplianceSettings,
        audit_fleet,
        compile_permits,
        compile_zones,
        read_permits,
        read_zones,
    )
    from fleet.audit.scores import ScoreSettings, company_scores, period_of
    from fleet.tracks.matching import MapMatcher
    from fleet.tracks.track import TrackSettings, build_tracks, read_positions
    from routing.network.graph import load_network

    settings, track_settings, score_settings = ComplianceSettings(), TrackSettings(), ScoreSettings()
    permits = read_permits(permits_json)
    zones_in = read_zones(zones_geojson) if zones_geojson else []
    plan = read_plan(plan_json) if plan_json else None
    positions, rejected = read_positions(tracks_csv)
    network = load_network(osm)
    tracks = build_tracks(positions, projector=network, settings=track_settings)
    by_device = {t.device: t for t in tracks}
    compiled = compile_permits(permits, projector=network, settings=settings, network=network)
    zones = compile_zones(zones_in, projector=network)
    collection = {r.vehicle_id for r in plan.routes} if plan else set()
    audited = [t for t in tracks if t.device not in collection]
    violations = audit_fleet(
        audited, permits=compiled, zones=zones, settings=settings, track_settings=track_settings, workers=workers
    )
    matcher = MapMatcher(network) if (match or plan) else None
    coverage = (
        plan_coverage(plan, tracks=by_device, projector=network, network=network, matcher=matcher) if plan else None
    )
    periods = sorted(
        {period_of(float(t), score_settings.period) for tr in audited for t in (tr.t[0], tr.t[-1]) if len(tr)}
    )
    companies = sorted({p.company for p in permits})
    scores = company_scores(violations, companies=companies, periods=periods, settings=score_settings)

    out.mkdir(parents=True, exist_ok=True)
    dump = lambda name, items: (out / name).write_text(
        json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8"
    )  # noqa: E731
    dump("violations.json", [v.model_dump(mode="json") for v in violations])
    dump("scores.json", [s.model_dump(mode="json") for s in scores])
    if coverage is not None:
        dump("coverage.json", coverage.model_dump(mode="json"))
    if match and matcher is not None:
        dump("matched.json", [matcher.match(t).summary(network) for t in tracks])
    unpermitted = sorted(t.device for t in audited if t.device not in compiled)
    notes = [f"{r.where}: {r.reason}" for r in rejected[:50]]
    if len(rejected) > 50:
        notes.append(f"… {len(rejected) - 50} more rejected rows (summary.json)")
    notes += [f"{d}: 无核准证 / no permit on file" for d in unpermitted if not by_device[d].has_load]
    (out / "report.html").write_text(
        render_report(
            violations=violations,
            scores=scores,
            coverage=coverage,
            tracks=by_device,
            projector=network,
            permits=compiled,
            zones=zones,
            network=network,
            notes=notes,
        ),
        encoding="utf-8",
    )
    by_type: dict[str, int] = {}
    for v in violations:
        by_type[v.type] = by_type.get(v.type, 0) + 1
    summary = {
        "rows_read": int(len(positions) + len(rejected)),
        "rows_rejected": [{"where": r.where, "reason": r.reason} for r in rejected],
        "trucks": len(tracks),
        "audited_trucks": len(audited),
        "collection_trucks": sorted(collection),
        "fixes_dropped": {t.device: t.dropped for t in tracks if t.dropped},
        "violations": len(violations),
        "violations_by_type": by_type,
        "blacklisted": [f"{s.company} {s.period}" for s in scores if s.blacklisted],
        "achieved_clearance_rate": None if coverage is None else coverage.achieved_clearance_rate,
        "fixes_per_truck_median": float(np.median([len(t) for t in tracks])) if tracks else 0.0,
    }
    dump("summary.json", summary)
    return summary


def audit(
    osm: Path | None = typer.Option(
        None, "--osm", help="OSM road network (.osm/.osm.bz2/.osm.pbf); default: shipped Shenzhen"
    ),
    tracks: Path | None = typer.Option(
        None, "--tracks", help="positions CSV: device,time,lon,lat[,speed_kmh,heading,load,ignition,status]"
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
    missing = [name for name, value in (("--tracks", tracks), ("--permits", permits)) if value is None]
    if missing:
        raise QingyunError(f"qingyun audit needs {' and '.join(missing)} (or --schema)")
    summary = run_audit(
        osm=osm,
        tracks_csv=tracks,
        permits_json=permits,
        zones_geojson=zones,
        plan_json=plan,
        out=out,
        match=match,
        workers=workers,
    )
    from rich.console import Console
    from rich.table import Table

    from fleet.audit.rules import TYPE_LABELS

    table = Table(title="稽查结果 / audit result")
    table.add_column("项目 / item")
    table.add_column("数值 / value", justify="right")
    table.add_row("车辆 / trucks", str(summary["trucks"]))
    table.add_row("剔除行 / rejected rows", str(len(summary["rows_rejected"])))
    for kind, n in sorted(summary["violations_by_type"].items()):
        table.add_row(" / ".join(TYPE_LABELS[kind]), str(n))
    table.add_row("黑榜 / blacklisted", ", ".join(summary["blacklisted"]) or "—")
    if summary["achieved_clearance_rate"] is not None:
        table.add_row("清运率 / clearance rate", f"{summary['achieved_clearance_rate']:.1%}")
    Console().print(table)
    typer.echo(f"报告 / report: {out / 'report.html'}")
