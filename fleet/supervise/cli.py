"""``qingyun supervise``: the live rule engine, as a worker over Redis Streams or over stored positions.

``work`` is a rule worker of the Redis mode (``QINGYUN_REDIS_URL``): it shares the position
streams the gateways append to with the other workers and stores the alarms they raise
(``fleet.supervise.streams``); run as many as the load needs, on any machine that reaches Redis
and the database. ``replay`` judges a period's stored positions fix by fix
(``fleet.supervise.replay``) and stores the alarms for supervisors to handle (``GET /alarms``).
The database comes from the CLI root (``ctx.obj.engine_for``, migrated), so fleet never imports
the service.
"""

from __future__ import annotations

from pathlib import Path

import typer

from routing.errors import InvalidInputError

supervise_app = typer.Typer(no_args_is_help=True, help="实时监管 / live supervision: alarms from positions.")


@supervise_app.command("work")
def work(
    ctx: typer.Context,
    consumer: str | None = typer.Option(
        None, "--consumer", help="this worker's name, unique among the workers (default host-pid)"
    ),
) -> None:
    """规则工作进程 / a rule worker: positions from Redis Streams → alarms (QINGYUN_REDIS_URL, QINGYUN_DATABASE_URL).

    The workers share the stream partitions; one that dies has its partitions and pending
    positions taken over by the others within ``QINGYUN_LIVE_STREAM_LEASE_S``. SIGTERM or Ctrl-C
    finishes the batch under way (its alarms stored, its entries acknowledged), hands the
    partitions back and exits with code 0.
    """
    import logging
    import signal

    from fleet.jt808.process import LOG_FORMAT
    from fleet.supervise.judge import LiveJudge
    from fleet.supervise.live import network_loader
    from fleet.supervise.streams import StreamWorker

    settings = ctx.obj.settings
    live = settings.fleet.live
    if not live.redis_url:
        raise InvalidInputError(
            "QINGYUN_REDIS_URL 未设置：无 Redis 时网关自行判定，无需规则工作进程 / QINGYUN_REDIS_URL is not set: "
            "without Redis the gateway judges positions itself, no rule worker is needed"
        )
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    db = ctx.obj.engine_for(settings.service.database_url)
    judge = LiveJudge(db, settings=settings.fleet, network=network_loader(settings.network)())
    worker = StreamWorker(live.redis_url, db=db, judge=judge, settings=live, consumer=consumer)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: worker.stop())
    typer.echo(
        f"规则工作进程 / rule worker {worker.consumer}: {live.stream_partitions} partitions at {live.stream_prefix}"
    )
    stats = worker.run()
    typer.echo(
        f"已停止 / stopped: entries {stats.entries} (claimed {stats.claimed}), trucks warmed {stats.warmed_trucks}, "
        f"alarms changed {stats.alarms_changed}"
    )


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
