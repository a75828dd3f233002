"""``qingyun sweep``: what must be swept (``scope``) and how much was (``audit``, from sweeper positions).

A thin shell over :mod:`routing.sweeping.scope` and :mod:`fleet.audit.sweeping`; the settings come
from the CLI root (``ctx.obj.settings``: ``network``, ``fleet``, ``sweeping``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.errors import InvalidInputError

sweep_app = typer.Typer(no_args_is_help=True, help="道路清扫 / street sweeping: scope and audit.")

OsmOption = typer.Option(None, "--osm", help="OSM file (.osm, .osm.bz2, .osm.pbf); default: shipped Shenzhen network")
AreaOption = typer.Option(None, "--area", help="GeoJSON polygon (WGS-84): the streets of the chosen classes in it")
WaysOption = typer.Option(None, "--ways", help="GeoJSON or CSV (column way_id[, frequency]) of OSM ways instead")
ClassesOption = typer.Option(None, "--classes", help="highway classes, comma separated (default: the setting)")


def _scope(ctx: typer.Context, *, osm: Path | None, area: Path | None, ways: Path | None, classes: str | None):
    """The network and the required kerbs from exactly one of ``--area`` / ``--ways``."""
    from routing.network.graph import load_network
    from routing.sweeping.scope import kerbs_in_area, kerbs_of_ways, read_area, read_way_ids

    if (area is None) == (ways is None):
        raise InvalidInputError(
            "需要 --area 或 --ways 其中之一 / give exactly one of --area (polygon) or --ways (way list)"
        )
    settings = ctx.obj.settings.sweeping
    if classes:
        settings = settings.model_copy(update={"classes": [c.strip() for c in classes.split(",") if c.strip()]})
    polygon = read_area(area) if area is not None else None  # bad files are named before the network loads
    listed = read_way_ids(ways) if ways is not None else None
    network_settings = ctx.obj.settings.network
    network = load_network((osm or network_settings.default_osm()).resolve(), settings=network_settings)
    if polygon is not None:
        return network, kerbs_in_area(network, area=polygon, settings=settings), settings
    return network, kerbs_of_ways(network, ways=listed, settings=settings), settings


@sweep_app.command("scope")
def scope(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", help="output folder: kerbs.geojson, summary.json"),
    osm: Path | None = OsmOption,
    area: Path | None = AreaOption,
    ways: Path | None = WaysOption,
    classes: str | None = ClassesOption,
) -> None:
    """应扫路沿 / the kerbs to sweep: kerbs.geojson and kerb-km per class."""
    from rich.console import Console
    from rich.table import Table

    from routing.sweeping.scope import kerb_summary, kerbs_geojson

    network, kerbs, _ = _scope(ctx, osm=osm, area=area, ways=ways, classes=classes)
    out.mkdir(parents=True, exist_ok=True)
    summary = kerb_summary(kerbs)
    (out / "kerbs.geojson").write_text(json.dumps(kerbs_geojson(network, kerbs), ensure_ascii=False), encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps([s.model_dump() for s in summary], ensure_ascii=False, indent=1), encoding="utf-8"
    )
    table = Table(title="应扫路沿 / kerbs in scope")
    for column in ("等级 / class", "路沿 / kerbs", "路沿公里 / kerb-km", "每班应扫公里 / service km"):
        table.add_column(column)
    for s in summary:
        table.add_row(s.label, str(s.kerbs), f"{s.kerb_km:.2f}", f"{s.service_km:.2f}")
    Console().print(table)


@sweep_app.command("audit")
def audit(
    ctx: typer.Context,
    tracks: Path = typer.Option(..., "--tracks", help="positions CSV (device,time,lon,lat[,speed_kmh,status,…])"),
    out: Path = typer.Option(..., "--out", help="output folder: coverage.json, streets.csv, map.png"),
    osm: Path | None = OsmOption,
    area: Path | None = AreaOption,
    ways: Path | None = WaysOption,
    classes: str | None = ClassesOption,
) -> None:
    """清扫核查 / sweeping audit: kerbs swept at working speed, the achieved rate, streets missed or too fast."""
    import pandas as pd

    from fleet.audit.sweeping import sweep_audit
    from fleet.audit.sweeping_report import write_sweep_outputs
    from fleet.tracks.matching import MapMatcher
    from fleet.tracks.track import build_tracks, read_positions
    from routing.errors import InputFileError

    frame, rejected = read_positions(tracks)
    network, kerbs, settings = _scope(ctx, osm=osm, area=area, ways=ways, classes=classes)
    if settings.work_signal == "column":
        raw = pd.read_csv(tracks, dtype=str)
        if settings.work_column not in raw.columns:
            raise InputFileError(f"{tracks}: 缺少工作信号列 / missing the work-signal column {settings.work_column!r}")
        frame[settings.work_column] = raw[settings.work_column].to_numpy()[frame["row"].to_numpy()]
    fleet = ctx.obj.settings.fleet
    cleaned = build_tracks(frame, projector=network, settings=fleet.track)
    matcher = MapMatcher(network, settings=fleet.matching)
    result = sweep_audit(kerbs, network=network, tracks=cleaned, matcher=matcher, positions=frame, settings=settings)
    write_sweep_outputs(result, network=network, out=out, title=(area or ways).stem)
    typer.echo(
        f"机械化清扫率 / mechanised sweeping rate {result.achieved_rate:.1%}: {result.served_kerb_km:.2f} of "
        f"{result.required_kerb_km:.2f} kerb-km; 漏扫 / missed streets {len(result.streets_missed)}, "
        f"车速过快 / too fast {len(result.streets_too_fast)}; rejected rows {len(rejected)} → {out}"
    )
