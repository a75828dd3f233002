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
    """运行服务 / run the HTTP API (uvicorn) and the JT/T 808 gateway together until Ctrl-C / SIGTERM."""
    import asyncio
    import logging

    import uvicorn

    from api.db import engine_for
    from fleet.jt808.gateway import Gateway

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(ctx)
    engine = engine_for(settings.service.database_url)  # migrates before either server starts
    overrides = {"host": jt808_host, "port": jt808_port}
    gateway_settings = settings.fleet.jt808.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if workers == 1:  # the app in this process, on these very settings
        from api.app import create_app

        config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="info")
    else:  # each worker process builds its app from the environment, as this process did
        config = uvicorn.Config(
            "api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
        )
    server = uvicorn.Server(config)

    async def main() -> None:
        gateway = None
        if gateway_settings.port:
            gateway = Gateway(engine, gateway_settings)
            await gateway.start()
        try:
            await server.serve()  # returns on SIGINT/SIGTERM (uvicorn's handlers)
        finally:
            if gateway is not None:
                await gateway.stop()  # flushes every accepted position

    typer.echo(
        f"清运 API http://{host}:{port}/ (docs /docs)"
        + (f"; JT/T 808 gateway tcp {gateway_settings.host}:{gateway_settings.port}" if gateway_settings.port else "")
    )
    asyncio.run(main())


@service_app.command()
def worker(
    ctx: typer.Context,
    concurrency: int = typer.Option(1, help="jobs at a time in this process (each solve uses both cores)"),
) -> None:
    """后台求解进程 / a Celery job worker over Redis (needs QINGYUN_REDIS_URL and the API's QINGYUN_DATABASE_URL)."""
    from api.jobs.queues import run_worker
    from routing.errors import InvalidInputError

    settings = _settings(ctx)
    if not settings.service.redis_url:
        raise InvalidInputError(
            "QINGYUN_REDIS_URL is not set: without Redis the API runs jobs itself, no worker is needed"
        )
    run_worker(settings, concurrency=concurrency)


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: list[str] = typer.Option(..., "--role", help="dispatcher, supervisor, planner, device or admin (repeatable)"),
    name: str = typer.Option("", help="who or what the key is for"),
) -> None:
    """Issue a key; it is printed once (only its hash is stored)."""
    from api.auth import create_key
    from api.db import engine_for

    issued = create_key(engine_for(_settings(ctx).service.database_url), roles=role, name=name)
    typer.echo(f"id {issued.id}  roles {','.join(issued.roles)}")
    typer.echo(issued.key)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List keys (ids, roles, state; never the keys)."""
    from api.auth import list_keys
    from api.db import engine_for

    for key in list_keys(engine_for(_settings(ctx).service.database_url)):
        state = "已吊销 revoked" if key.revoked_at else "有效 active"
        typer.echo(f"{key.id}  {key.roles:<30} {state:<12} {key.created_at.isoformat()}  {key.name}")


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
