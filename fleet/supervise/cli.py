"""``qingyun supervise``: run the live rule engine over stored positions into the alarm store.

``replay`` judges a period's stored positions fix by fix (``fleet.supervise.replay``) and stores
the alarms for supervisors to handle (``GET /alarms``). The database comes from the CLI root
(``ctx.obj.engine_for``, migrated), so fleet never imports the service.
"""

from __future__ import annotations

from pathlib import Path

import typer

from routing.errors import InvalidInputError

supervise_app = typer.Typer(no_args_is_help=True, help="实时监管 / live supervision: alarms from positions.")


@supervise_app.command("replay")
def replay(
    ctx: typer.Context,
    since: str = typer.Option(..., "--since", help="from this GPS time (ISO 8601; naive = UTC+8)"),
    until: str = typer.Option(..., "--until", help="up to this GPS time, exclusive"),
    permits: Path | None = typer.Option(None, "--permits", help="permits.json"),
    zones: Path | None = typer.Option(None, "--zones", help="zones.geojson: restricted zones and registered sites"),
    devices: str | None = typer.Option(None, "--devices", help="terminal phones A,B (default: every one)"),
    osm: Path | None = typer.Option(None, "--osm", help="OSM road network; default: shipped Shenzhen"),
) -> None:
    """存储轨迹回放生成报警 / stored positions of a period → alarms (QINGYUN_DATABASE_URL)."""
    if permits is None:
        raise InvalidInputError("qingyun supervise replay needs --permits (permits.json)")
    from fleet.audit.inputs import read_permits, read_zones
    from fleet.supervise.replay import replay_period
    from fleet.tracks.sources import Period, device_list
    from routing.network.graph import load_network

    settings = ctx.obj.settings
    period = Period.parse(since, until)
    engine = ctx.obj.engine_for(settings.service.database_url)
    done = replay_period(
        engine,
        period=period,
        permits=read_permits(permits),
        zones=read_zones(zones) if zones else [],
        network=load_network(osm, settings=settings.network),
        settings=settings.fleet,
        devices=device_list(devices),
    )
    s = done.stored
    typer.echo(
        f"定位 / positions {done.positions}, 报警事件 / alarm events {done.events}: "
        f"新报警 / new alarms {s.inserted}, 更新 / updated {s.changed}, 未变 / unchanged {s.unchanged}"
    )
