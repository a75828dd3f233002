"""The ``qingyun`` command: one CLI, a sub-command group per area.

The CLI is a thin shell: each area's commands live next to its library code and
are mounted here. User errors (``QingyunError``) print one clear line, no traceback. The
root resolves the one ``api.settings.Settings`` (on first use) and hands it to the commands
as ``ctx.obj.settings``, with ``ctx.obj.engine_for(url)``: a database engine whose schema the
Alembic migrations brought up (library packages such as ``fleet`` never import ``api``).
"""

from __future__ import annotations

import sys
from functools import cached_property
from typing import TYPE_CHECKING

import typer

from routing.errors import QingyunError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from api.settings import Settings

app = typer.Typer(
    name="qingyun",
    help="清运 Qingyun — 环卫收运规划与车辆监管 / waste-collection planning and fleet supervision.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class CliState:
    """What the root hands every command (``ctx.obj``): the settings, and migrated database engines.

    The settings are resolved on first use, which keeps commands that need none (``qingyun jt808
    decode``) fast; a command that does reads ``ctx.obj.settings`` and passes it down, never reading
    the environment itself. A command that opens the database calls :meth:`engine_for`.
    """

    @cached_property
    def settings(self) -> Settings:
        from api.settings import get_settings

        return get_settings()

    @staticmethod
    def engine_for(url: str) -> Engine:
        """The engine for ``url`` with the schema migrated to the latest (``api.db.engine_for``).

        Handed to every command (fleet's ``jt808 serve``, ``jt808 export``, ``audit --from-db``) so
        they get their tables from the Alembic migrations without importing ``api``.

        Parameters
        ----------
        url
            The database URL (``settings.service.database_url`` or a command's override).

        Returns
        -------
        sqlalchemy.engine.Engine
        """
        from api.db import engine_for

        return engine_for(url)

    def piece_runner(self):
        """Where ``qingyun plan`` sends the pieces of a cut day: the Celery workers when ``QINGYUN_REDIS_URL``
        is set (``api.jobs.queues.piece_runner``), else None (this machine's processes).

        Returns
        -------
        routing.planning.search.remote.RedisPieces or None
        """
        if not self.settings.service.redis_url:
            return None
        from api.jobs.queues import piece_runner

        return piece_runner(self.settings)


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = CliState()


# --- area command groups (each area adds its own line) -------------------------
from routing.network.cli import network_app  # noqa: E402

app.add_typer(network_app, name="network", help="道路网络 / road network: info, matrices.")

from fleet.jt808.cli import app as jt808_app  # noqa: E402

app.add_typer(jt808_app, name="jt808", help="JT/T 808 终端接入 / GPS ingest: decode, serve, simulate.")

from routing.planning.demo import demo  # noqa: E402

app.command("demo")(demo)

from routing.planning.cli import plan, scenario_app  # noqa: E402

app.command("plan")(plan)
app.add_typer(scenario_app, name="scenario", help="规划场景 / planning scenarios: generate, import sites.")

from routing.bench.cli import bench_app  # noqa: E402

app.add_typer(
    bench_app,
    name="bench",
    help="基准测试 / solver quality on published instances (Solomon, GH, X, Kim, CARP), with peers.",
)

from fleet.audit.cli import audit  # noqa: E402

app.command("audit")(audit)

from fleet.supervise.cli import supervise_app  # noqa: E402

app.add_typer(supervise_app, name="supervise", help="实时监管 / live supervision: alarms from stored positions.")

from routing.stations.cli import stations_app  # noqa: E402

app.add_typer(stations_app, name="stations", help="转运站规划 / transfer-station planning.")

from routing.sweeping.cli import sweep_app  # noqa: E402

app.add_typer(
    sweep_app, name="sweep", help="道路清扫 / street sweeping: kerbs in scope, street plans, audit from sweeper tracks."
)

from api.service_cli import service_app  # noqa: E402

app.add_typer(service_app)  # serve, worker, keys, db


def main() -> None:
    """Entry point of the console script: user errors become one line and exit code 2."""
    try:
        app()
    except QingyunError as exc:
        typer.secho(f"错误 / error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
