"""``qingyun jt808``: decode frames, run the gateway and the simulator, export positions, talk back to terminals.

Commands that need settings read the object the CLI root resolved (``ctx.obj.settings``):
the database URL (``settings.service.database_url``) and the gateway's knobs
(``settings.fleet.jt808``). Commands that open the database get their engine from the root
(``ctx.obj.engine_for(url)``), which brings the schema up with the service's Alembic migrations
first: the gateway writes into tables it never creates, and ``fleet`` never imports ``api``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from routing.errors import DecodeError, InputFileError, InvalidInputError
from routing.localtime import CHINA_TZ

app = typer.Typer(no_args_is_help=True, help="JT/T 808 终端接入 / GPS terminal ingest.")

MAX_EXIT_CODE = 255


@app.command()
def decode(
    hex_frame: str = typer.Argument(None, metavar="HEX", help="one wire frame in hex, 7E flags included"),
    file: Path = typer.Option(None, "--file", help="text file: one hex frame per line"),
) -> None:
    """Decode frames to one JSON object per line; exit code = number of bad frames (at most 255)."""
    from fleet.jt808.frame import decode_frame
    from fleet.jt808.messages import decode_json

    if (hex_frame is None) == (file is None):
        raise typer.BadParameter("give either HEX or --file FRAMES.txt")
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            raise InputFileError(f"{file}: cannot read frames: {error}") from error
        sources = [(f"{file}:{number}", line.strip()) for number, line in enumerate(lines, 1) if line.strip()]
    else:
        sources = [("argument", hex_frame.strip())]
    failed = 0
    for where, text in sources:
        try:
            try:
                wire = bytes.fromhex(text.replace(" ", ""))
            except ValueError:
                raise DecodeError(0, "not hexadecimal text") from None
            out = decode_json(decode_frame(wire))
        except DecodeError as error:
            failed += 1
            out = {"error": f"{where}: {error.reason}", "offset": error.offset}
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    raise typer.Exit(min(failed, MAX_EXIT_CODE))


@app.command()
def serve(
    ctx: typer.Context,
    port: int = typer.Option(None, help="TCP port (default QINGYUN_JT808_PORT or 7611)"),
    host: str = typer.Option(
        None, help="address to listen on (default QINGYUN_JT808_HOST or 127.0.0.1; 0.0.0.0 for all)"
    ),
    idle_timeout: float = typer.Option(None, help="close connections silent for this many seconds (default 180)"),
    database_url: str = typer.Option(None, help="overrides QINGYUN_DATABASE_URL (default sqlite:///qingyun.db)"),
) -> None:
    """Run the gateway until Ctrl-C / SIGTERM, then flush every accepted position and exit."""
    import asyncio
    import logging

    from fleet.jt808.process import LOG_FORMAT, serve_until_signalled
    from fleet.supervise.live import network_loader, position_sink

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    root = ctx.obj.settings  # resolved once by the CLI root
    engine = ctx.obj.engine_for(database_url or root.service.database_url)  # migrated by the CLI root
    overrides = {"host": host, "port": port, "idle_timeout_s": idle_timeout}
    settings = root.fleet.jt808.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    sink = position_sink(root.fleet, db=engine, network=network_loader(root.network))  # the live path
    stats = asyncio.run(serve_until_signalled(engine, settings, sink=sink))
    typer.echo(
        f"网关已停止 / gateway stopped: 连接 connections {stats.connections}, 帧 frames {stats.frames}, "
        f"坏帧 bad frames {stats.bad_frames}, 已存位置 positions stored {stats.positions_accepted}"
    )


@app.command()
def unbind(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="terminal phone (leading zeros optional)"),
) -> None:
    """解绑终端 / forget a terminal's auth code so the phone may register again; its positions stay."""
    from fleet.tracks.store import normalise_phone, unbind_terminal

    key = normalise_phone(phone.strip())
    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    unbind_terminal(engine, phone=key)
    typer.echo(f"已解绑 / unbound terminal {key}: it may register again")


@app.command()
def bind(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="terminal phone (leading zeros optional)"),
    plate: str = typer.Option(..., "--plate", help="the truck's plate as its terminal registers it, e.g. 粤B12345"),
    vehicle: str = typer.Option(None, "--vehicle", help="catalogue vehicle id that carries this terminal"),
) -> None:
    """登记终端 / list a terminal by phone and plate: in allow-list mode only listed phones may register."""
    from fleet.tracks.store import bind_terminal, normalise_phone

    key = normalise_phone(phone.strip())
    if not key.isdigit() or len(key) > 20:
        raise InvalidInputError(f"终端号无效 / phone {phone!r} must be up to 20 decimal digits")
    if not plate.strip():
        raise InvalidInputError("车牌为空 / --plate must not be empty")
    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    bind_terminal(engine, phone=key, plate=plate.strip(), vehicle=vehicle)
    typer.echo(
        f"已登记 / listed terminal {key} plate {plate.strip()}"
        + (f" on vehicle {vehicle}" if vehicle else "")
        + ": it may register (0x0100) once"
    )


@app.command()
def terminals(ctx: typer.Context) -> None:
    """终端列表 / every terminal: phone, plate, vehicle, bound or not; ids printed in full, never cut."""
    from rich.console import Console
    from rich.table import Table

    from fleet.tracks.store import list_terminals

    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    table = Table(title="终端 / terminals")
    for name in ("终端号\nphone", "车牌\nplate", "车辆\nvehicle"):
        table.add_column(name, overflow="fold")  # a long id wraps inside its cell, never cut to "kitchen-…"
    table.add_column("已绑定\nbound", no_wrap=True)
    table.add_column("来源\nvia", no_wrap=True)
    for entry in list_terminals(engine):
        table.add_row(
            entry.phone, entry.plate, entry.vehicle or "", "是 yes" if entry.bound else "否 no", entry.protocol
        )
    Console().print(table)


@app.command()
def simulate(
    terminals: int = typer.Option(10, help="number of simulated trucks"),
    rate: float = typer.Option(10.0, help="positions per second, all terminals together"),
    fixes: int = typer.Option(60, help="fixes per terminal"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(7611),
    version: str = typer.Option("2013", help="header version: 2013 or 2019"),
    osm: Path = typer.Option(None, help="road network file (default: the shipped Shenzhen network)"),
    seed: int = typer.Option(0),
    give_up: float = typer.Option(120.0, help="seconds after which a terminal stops retrying"),
) -> None:
    """Drive trucks along real road paths and send their fixes to a gateway; exit 1 if any fix was not acknowledged."""
    import asyncio
    import time

    from fleet.simulate.terminals import road_drives, terminal_specs
    from fleet.simulate.terminals import simulate as run

    drives = road_drives(count=terminals, seed=seed, osm_path=osm)
    specs = terminal_specs(drives=drives, fixes=fixes, rate_per_s=rate, version=version, seed=seed)
    started = time.perf_counter()
    reports = asyncio.run(run(specs, host=host, port=port, give_up_s=give_up))
    seconds = time.perf_counter() - started
    acked = sum(r.acked for r in reports)
    total = sum(r.fixes for r in reports)
    typer.echo(
        f"终端 terminals {terminals}: 定位 fixes {total}, 已确认 acknowledged {acked}, "
        f"盲区补传 blind-area batches {sum(r.batches_sent for r in reports)}, "
        f"连接 connections {sum(r.connections for r in reports)}, {seconds:.1f} s ({acked / seconds:.0f} /s)"
    )
    if acked != terminals * fixes:
        raise typer.Exit(1)


@app.command()
def export(
    ctx: typer.Context,
    since: str = typer.Option(..., "--since", help="from this GPS time (ISO 8601; without offset UTC+8)"),
    until: str = typer.Option(..., "--until", help="up to this GPS time, exclusive"),
    devices: str = typer.Option(None, "--devices", help="terminal phones A,B (default: every device in the period)"),
    out: Path = typer.Option(..., "--out", help="positions CSV to write (what `qingyun audit --tracks` reads)"),
) -> None:
    """导出定位 / write stored positions of a period as the positions CSV of ``qingyun audit --tracks``."""
    from fleet.tracks.sources import Period, device_list, export_positions

    period = Period.parse(since, until)
    names = device_list(devices)
    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    rows = export_positions(engine, out, period=period, devices=names)
    typer.echo(f"已导出 / exported {rows} positions → {out}")


def _expiry(ctx: typer.Context, expires_s: float | None) -> float:
    return expires_s if expires_s is not None else ctx.obj.settings.fleet.jt808.command_expiry_s


def _queued(command) -> None:
    typer.echo(
        f"已排队 / queued command {command.id} (0x{command.msg_id:04X}) for terminal {command.phone}, "
        f"expires {command.expires_at.astimezone(CHINA_TZ).isoformat(timespec='seconds')}: {command.summary}"
    )


_EXPIRES_HELP = "有效期 / give up after this many seconds (default QINGYUN_JT808_COMMAND_EXPIRY_S = 600)"


@app.command("send-text")
def send_text(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="终端号 / terminal phone (leading zeros optional)"),
    text: str = typer.Argument(
        ..., help="文本 / the message, e.g. 请返回核准路线 (GBK, at most 1022 bytes: 511 Chinese characters)"
    ),
    expires_s: float = typer.Option(None, "--expires-s", help=_EXPIRES_HELP),
    emergency: bool = typer.Option(False, "--emergency", help="紧急 / mark it urgent (flag bit 0)"),
) -> None:
    """下发文本 / send a text message (0x8300) shown and read aloud on the terminal; queued until it is online."""
    from fleet.jt808.geofence import queue_text

    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    _queued(queue_text(engine, phone=phone, text=text, emergency=emergency, expires_s=_expiry(ctx, expires_s)))


@app.command("push-route")
def push_route(
    ctx: typer.Context,
    phone: str = typer.Argument(None, help="终端号 / terminal phone (default: the permit's device)"),
    permit: str = typer.Option(None, "--permit", help="核准证 / stored permit whose approved route is pushed"),
    line: Path = typer.Option(
        None, "--line", help="路线文件 / GeoJSON file with the route as one LineString (instead of --permit)"
    ),
    corridor_m: float = typer.Option(
        None,
        "--corridor-m",
        help="走廊半宽 / half-width in m (default: the permit's, else QINGYUN_COMPLIANCE_CORRIDOR_M = 50)",
    ),
    expires_s: float = typer.Option(None, "--expires-s", help=_EXPIRES_HELP),
) -> None:
    """推送路线 / push an approved route (0x8606) so the terminal alarms when it leaves the corridor."""
    from fleet.jt808.geofence import queue_route, read_line

    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    command = queue_route(
        engine,
        phone=phone,
        permit_id=permit,
        line=read_line(line) if line is not None else None,
        line_name=line.name if line is not None else "",
        corridor_m=corridor_m,
        default_corridor_m=ctx.obj.settings.fleet.compliance.corridor_m,
        expires_s=_expiry(ctx, expires_s),
    )
    _queued(command)


@app.command("push-zone")
def push_zone(
    ctx: typer.Context,
    phone: str = typer.Argument(..., help="终端号 / terminal phone (leading zeros optional)"),
    zone: str = typer.Option(..., "--zone", help="禁区 / stored restricted zone id"),
    expires_s: float = typer.Option(None, "--expires-s", help=_EXPIRES_HELP),
) -> None:
    """推送禁区 / push a restricted zone as areas (0x8602 rectangle or 0x8604 polygon) alarming on entry."""
    from fleet.jt808.geofence import queue_zone

    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    for command in queue_zone(engine, phone=phone, zone_id=zone, expires_s=_expiry(ctx, expires_s)):
        _queued(command)


@app.command()
def commands(
    ctx: typer.Context,
    phone: str = typer.Argument(None, help="终端号 / only this terminal's commands"),
    limit: int = typer.Option(50, min=1, help="条数 / most recent commands shown"),
) -> None:
    """命令列表 / platform → terminal commands, newest first: queued, sent, answered (result), expired, failed."""
    from rich.console import Console
    from rich.table import Table

    from fleet.tracks.commands import list_commands
    from fleet.tracks.store import normalise_phone

    engine = ctx.obj.engine_for(ctx.obj.settings.service.database_url)  # migrated by the CLI root
    key = normalise_phone(phone.strip()) if phone else None
    table = Table(title="终端命令 / terminal commands")
    for name in ("编号\nid", "终端号\nphone", "消息\nmessage", "状态\nstate", "内容\nsummary", "排队\nqueued"):
        table.add_column(name, overflow="fold")
    for entry in list_commands(engine, phone=key, limit=limit):
        queued = entry.created_at.astimezone(CHINA_TZ).isoformat(timespec="seconds")
        table.add_row(str(entry.id), entry.phone, f"0x{entry.msg_id:04X}", entry.outcome, entry.summary, queued)
    Console(width=160).print(table)
