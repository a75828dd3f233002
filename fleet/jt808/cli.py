"""``qingyun jt808``: decode frames, run the gateway, run the terminal simulator, export stored positions.

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

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    root = ctx.obj.settings  # resolved once by the CLI root
    engine = ctx.obj.engine_for(database_url or root.service.database_url)  # migrated by the CLI root
    overrides = {"host": host, "port": port, "idle_timeout_s": idle_timeout}
    settings = root.fleet.jt808.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    stats = asyncio.run(serve_until_signalled(engine, settings))
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
