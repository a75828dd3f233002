"""``qingyun sweep``: what must be swept (``scope``), routes that sweep it (``plan``) and how much was (``audit``).

A thin shell over :mod:`routing.sweeping.scope` and :mod:`fleet.audit.sweeping`; the settings come
from the CLI root (``ctx.obj.settings``: ``network``, ``fleet``, ``sweeping``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from routing.errors import InvalidInputError

sweep_app = typer.Typer(no_args_is_help=True, help="道路清扫 / street sweeping: scope, plan and audit.")

OsmOption = typer.Option(None, "--osm", help="OSM file (.osm, .osm.bz2, .osm.pbf); default: shipped Shenzhen network")
AreaOption = typer.Option(None, "--area", help="GeoJSON polygon (WGS-84): the streets of the chosen classes in it")
WaysOption = typer.Option(None, "--ways", help="GeoJSON or CSV (column way_id[, frequency]) of OSM ways instead")
ClassesOption = typer.Option(None, "--classes", help="highway classes, comma separated (default: the setting)")


def _scope(
    ctx: typer.Context,
    *,
    osm: Path | None,
    area: Path | None,
    ways: Path | None,
    classes: str | None,
    scenario=None,
    scenario_path: Path | None = None,
):
    """The network and the required kerbs from exactly one of ``--area`` / ``--ways`` / a scenario's area."""
    from routing.network.graph import load_network
    from routing.sweeping.scenario import scenario_osm, scenario_settings
    from routing.sweeping.scope import area_of, kerbs_in_area, kerbs_of_ways, read_area, read_way_ids

    if (area is None) == (ways is None) and scenario is None:
        raise InvalidInputError(
            "需要 --area 或 --ways 其中之一 / give exactly one of --area (polygon) or --ways (way list)"
        )
    settings = ctx.obj.settings.sweeping
    if scenario is not None:
        settings = scenario_settings(scenario, settings)
        osm = osm or scenario_osm(scenario, source=scenario_path, data_folder=ctx.obj.settings.network.data_folder())
    if classes:
        settings = settings.model_copy(update={"classes": [c.strip() for c in classes.split(",") if c.strip()]})
    polygon = read_area(area) if area is not None else None  # bad files are named before the network loads
    if polygon is None and ways is None:
        polygon = area_of(scenario.area, source=f"{scenario_path}: area")
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


@sweep_app.command("plan")
def plan(
    ctx: typer.Context,
    out: Path = typer.Option(
        ..., "--out", help="output folder: plan.json, route_<vehicle>.csv, routes.geojson, map.png"
    ),
    scenario: Path | None = typer.Option(
        None, "--scenario", help="JSON: area, depot, stations, water points, sweepers, washers (data/sweep/*.json)"
    ),
    vehicles: int | None = typer.Option(None, "--vehicles", min=1, help="sweepers (default: the scenario's)"),
    washers: int | None = typer.Option(None, "--washers", min=0, help="washers (default: the scenario's, else 0)"),
    osm: Path | None = OsmOption,
    area: Path | None = AreaOption,
    ways: Path | None = WaysOption,
    classes: str | None = ClassesOption,
    depot: str | None = typer.Option(None, "--depot", help="lon,lat of the depot (default: nearest the area centre)"),
    date: str | None = typer.Option(None, "--date", help="local date of the shift YYYY-MM-DD (default: today)"),
    time_limit: float | None = typer.Option(None, "--time-limit", help="search seconds (default QINGYUN_ARCS_…)"),
    seed: int | None = typer.Option(None, "--seed", help="search seed (default QINGYUN_ARCS_SEED)"),
) -> None:
    """清扫冲洗计划 / street plan: kerb-by-kerb routes of sweepers and washers, certified, with sheets, map, KPIs."""
    import time
    from datetime import datetime

    from routing.arcs.settings import ArcSettings
    from routing.localtime import parse_utc_offset
    from routing.sweeping.exports import write_plan_outputs
    from routing.sweeping.plan import plan_streets
    from routing.sweeping.scenario import read_scenario
    from routing.sweeping.scope import kerbs_in_area

    started = time.monotonic()
    night = read_scenario(scenario) if scenario is not None else None
    depot_lonlat = _lonlat_option(depot) if depot else (night.depot.lon, night.depot.lat) if night else None
    sweepers = vehicles or (night.sweepers if night else None)
    if sweepers is None:
        raise InvalidInputError("需要 --vehicles 或 --scenario / give --vehicles (sweepers) or a --scenario")
    network, kerbs, settings = _scope(
        ctx, osm=osm, area=area, ways=ways, classes=classes, scenario=night, scenario_path=scenario
    )
    polygon = _area_polygon(area, night, scenario)
    scope_kerbs = kerbs
    if polygon is not None and settings.rate_classes and settings.rate_classes != settings.classes:
        counted = settings.model_copy(update={"classes": settings.rate_classes})
        scope_kerbs = kerbs_in_area(network, area=polygon, settings=counted)
    if depot_lonlat is None:
        depot_lonlat = _middle(network, kerbs, polygon)
    arcs = ArcSettings()
    arcs = arcs.model_copy(update={k: v for k, v in (("time_limit_s", time_limit), ("seed", seed)) if v is not None})
    today = datetime.now(parse_utc_offset(settings.utc_offset, field="utc_offset")).date().isoformat()
    result = plan_streets(
        network,
        kerbs=kerbs,
        scope_kerbs=scope_kerbs,
        vehicles=sweepers,
        depot_lonlat=depot_lonlat,
        settings=settings,
        arc_settings=arcs,
        date=date or (night.date if night and night.date else today),
        name=night.name if night else (area or ways).stem,
        washers=washers if washers is not None else (night.washers if night else 0),
        stations=night.stations if night else None,
        water_points=night.water_points if night else None,
    )
    write_plan_outputs(result, network=network, out=out)
    _echo_plan(result, seconds=time.monotonic() - started, out=out)


def _area_polygon(area: Path | None, night, scenario: Path | None):
    from routing.sweeping.scope import area_of, read_area

    if area is not None:
        return read_area(area)
    return area_of(night.area, source=f"{scenario}: area") if night is not None else None


def _middle(network, kerbs, polygon) -> tuple[float, float]:
    """The depot when none is given: the area's centre, else the kerbs' mean position."""
    import shapely

    if polygon is not None:
        middle = shapely.centroid(polygon)
        return middle.x, middle.y
    xy = [network.edge_geometry[k.edge].centroid for k in kerbs]
    x, y = network.to_lonlat([p.x for p in xy], [p.y for p in xy])
    return float(sum(x) / len(x)), float(sum(y) / len(y))


def _echo_plan(result, *, seconds: float, out: Path) -> None:
    """The plan's figures on the terminal: per kind kerb-km, deadhead ratio, planned rate; per vehicle; unserved."""
    sweepers = [v for v in result.vehicles if v.kind == "sweeper"]
    washers = [v for v in result.vehicles if v.kind == "washer"]
    typer.echo(
        f"已通过检查 / certified: {len(sweepers)} sweepers, {len(washers)} washers; time to plan {seconds:.1f} s → {out}"
    )
    for label, k in (("清扫 / sweeping", result.kpis), ("冲洗 / washing", result.wash_kpis)):
        if k is None:
            continue
        typer.echo(
            f"  {label}: kerb-km {k.kerb_km_served:.2f} of {k.kerb_km_in_scope:.2f} (service {k.service_km:.2f} km), "
            f"driven {k.km_driven:.2f} km, 空驶率 / deadhead ratio {k.deadhead_ratio:.1%}, "
            f"计划作业率 / planned rate {k.planned_rate:.1%}"
        )
    for v in result.vehicles:
        unit = "kg" if v.kind == "sweeper" else "L"
        loads = ", ".join(f"{x:.0f}" for x in v.load_kg)
        typer.echo(
            f"  {v.vehicle_id}: {v.trips} loads ({loads} {unit}), {v.km_served:.1f}/{v.km_driven:.1f} km, "
            f"{v.duration_h:.2f} h"
        )
    for u in result.unserved:
        typer.echo(f"  未服务 / unserved {u.kind} {u.kerb_id} {u.street} ({u.length_m:.0f} m): {u.reason_text}")


def _lonlat_option(text: str) -> tuple[float, float]:
    """``--depot lon,lat`` as two floats in WGS-84 range."""
    try:
        lon, lat = (float(part) for part in text.split(","))
    except ValueError:
        raise InvalidInputError(f"--depot: 应为 经度,纬度 / expected lon,lat: {text!r}") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInputError(f"--depot: 坐标超出范围 / coordinates out of range: {text!r}")
    return lon, lat
