"""``qingyun serve``, ``qingyun worker``, ``qingyun keys …`` and ``qingyun db upgrade``.

Each command reads the settings the CLI root resolved (``ctx.obj.settings``, see ``api.cli``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from api.settings import Settings

service_app = typer.Typer(no_args_is_help=True, help="服务 / the service: API, job worker, keys, database.")
keys_app = typer.Typer(no_args_is_help=True, help="API 密钥 / API keys (stored hashed).")
db_app = typer.Typer(no_args_is_help=True, help="数据库 / database schema.")
service_app.add_typer(keys_app, name="keys")
service_app.add_typer(db_app, name="db")


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj.settings


@service_app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="HTTP address"),
    port: int = typer.Option(8000, help="HTTP port"),
    jt808_port: int = typer.Option(
        None, help="JT/T 808 gateway TCP port (default QINGYUN_JT808_PORT or 7611); 0 = do not run the gateway"
    ),
    jt808_host: str = typer.Option(
        None, help="JT/T 808 gateway address (default QINGYUN_JT808_HOST or 127.0.0.1; 0.0.0.0 for all)"
    ),
    workers: int = typer.Option(1, help="uvicorn worker processes (in-process jobs run in each)"),
) -> None:
    """运行服务 / run the HTTP API (uvicorn) and the JT/T 808 gateway (its own process) until Ctrl-C / SIGTERM.

    The gateway runs in a child process so a busy API (a big import) cannot delay terminal
    replies. SIGTERM or SIGINT stops the API, then the gateway, which commits every accepted
    position first; exit code 0. If the gateway process dies it is restarted (logged); after
    three deaths within 10 s of starting, serve stops with exit code 1.
    """
    import contextlib
    import logging
    import signal
    from collections.abc import Iterator

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.db import engine_for
    from fleet.jt808.process import LOG_FORMAT, GatewayProcess

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    settings = _settings(ctx)
    engine_for(settings.service.database_url).dispose()  # migrates before either server starts
    overrides = {"host": jt808_host, "port": jt808_port}
    gateway_settings = settings.fleet.jt808.model_copy(update={k: v for k, v in overrides.items() if v is not None})

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # ours below: uvicorn's would re-raise SIGTERM and end the process before the gateway stops

    if workers == 1:  # the app in this process, on these very settings
        from api.app import create_app

        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="info")
        server = Server(config)
        run, should_exit = server.run, lambda: setattr(server, "should_exit", True)
    else:  # each worker process builds its app from the environment, as this process did
        config = uvicorn.Config(
            "api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
        )
        supervisor = Multiprocess(config, sockets=[config.bind_socket()])  # handles SIGINT/SIGTERM, returns
        run, should_exit = supervisor.run, supervisor.should_exit.set
    gateway = (  # its live path judges on these settings, as this process resolved them
        GatewayProcess(settings.service.database_url, gateway_settings, fleet=settings.fleet, network=settings.network)
        if gateway_settings.port
        else None
    )
    failed = []

    def give_up() -> None:
        failed.append(True)
        should_exit()

    if gateway is not None:
        gateway.start()
        gateway.watch(on_give_up=give_up)
    if workers == 1:

        def request_exit(_signum: int, _frame: object) -> None:
            server.force_exit = server.should_exit  # a second Ctrl-C does not wait for open requests
            server.should_exit = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, request_exit)
    typer.echo(
        f"清运 API http://{host}:{port}/ (docs /docs)"
        + (f"; JT/T 808 gateway tcp {gateway_settings.host}:{gateway_settings.port}" if gateway else "")
    )
    try:
        run()
    finally:
        if gateway is not None:
            code = gateway.stop()  # SIGTERM: the gateway commits every accepted position, then exits
            logging.getLogger(__name__).info("JT/T 808 gateway process exited with code %s", code)
    if failed:
        raise typer.Exit(1)


@service_app.command()
def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(
        1,
        help=(
            "jobs or search pieces at a time in this process: a job's solve uses QINGYUN_PLANNING_WORKERS cores, "
            "a piece one; a machine that mostly serves pieces runs one per core"
        ),
    ),
) -> None:
    """后台求解进程 / a Celery worker over Redis for jobs and search pieces (needs QINGYUN_REDIS_URL and the
    API's QINGYUN_DATABASE_URL).

    It consumes two queues: the jobs (QINGYUN_CELERY_QUEUE) and the pieces of big days
    (QINGYUN_CELERY_QUEUE + "-pieces"): a day cut into zones spreads over every worker, the job's own
    process running pieces too. SIGTERM hands the running job back to the queue for another worker
    and ends its searches (a running piece is sent to another worker); a worker killed outright has
    its job queued again by the others, and its piece re-run elsewhere seconds later (see
    ``api.jobs.queues`` and ``routing.planning.search.remote``).
    """
    import logging

    from api.jobs.queues import run_worker
    from fleet.jt808.process import LOG_FORMAT
    from routing.errors import InvalidInputError

    settings = _settings(ctx)
    if not settings.service.redis_url:
        raise InvalidInputError(
            "QINGYUN_REDIS_URL is not set: without Redis the API runs jobs itself, no worker is needed"
        )
    # job lines ("job <id> started: attempt 1 of 3 …") beside Celery's own
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    run_worker(settings, concurrency=concurrency)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: list[str] = typer.Option(..., "--role", help="dispatcher, supervisor, planner, device or admin (repeatable)"),
    name: str = typer.Option("", help="who or what the key is for"),
    terminal: list[str] = typer.Option(
        [], "--terminal", help="device keys: a terminal phone the key may write for (repeatable; '*' = every one)"
    ),
) -> None:
    """Issue a key; it is printed once (only its hash is stored). A device key names its terminals."""
    from api.auth import create_key
    from api.db import engine_for

    issued = create_key(engine_for(_settings(ctx).service.database_url), roles=role, name=name, terminals=terminal)
    bound = f"  terminals {','.join(issued.terminals)}" if issued.terminals else ""
    typer.echo(f"id {issued.id}  roles {','.join(issued.roles)}{bound}")
    typer.echo(issued.key)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List keys (ids, roles, state; never the keys)."""
    from api.auth import list_keys
    from api.db import engine_for
    from routing.localtime import CHINA_TZ

    for key in list_keys(engine_for(_settings(ctx).service.database_url)):
        state = "已吊销 revoked" if key.revoked_at else "有效 active"
        created = key.created_at.astimezone(CHINA_TZ).isoformat(timespec="seconds")
        typer.echo(f"{key.id}  {key.roles:<30} {state:<12} {created}  {key.name}  {key.terminals or ''}")


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="key id (the part after qy_)")) -> None:
    """Revoke a key (takes effect within a few seconds)."""
    from api.auth import revoke_key
    from api.db import engine_for
    from routing.errors import NotFoundError

    if not revoke_key(engine_for(_settings(ctx).service.database_url), key_id=key_id):
        raise NotFoundError(f"no active key {key_id!r}")
    typer.echo(f"revoked {key_id}")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: str = typer.Argument("head")) -> None:
    """Apply the schema migrations (the service also does this at start)."""
    from api.db import normalised_url, upgrade

    url = _settings(ctx).service.database_url
    upgrade(url, revision=revision)
    typer.echo(f"database {normalised_url(url).split('@')[-1]} at revision {revision}")
