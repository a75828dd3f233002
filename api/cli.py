"""The ``qingyun`` command: one CLI, a sub-command group per area.

The CLI is a thin shell: each area's commands live next to its library code and
are mounted here. User errors (``QingyunError``) print one clear line, no traceback.
"""

from __future__ import annotations

import sys

import typer

from routing.errors import QingyunError

app = typer.Typer(
    name="qingyun",
    help="清运 Qingyun — 环卫收运规划与车辆监管 / waste-collection planning and fleet supervision.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

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
    bench_app, name="bench", help="基准测试 / solver quality on published instances (Solomon, GH, X, Kim), with peers."
)

from fleet.audit.cli import audit  # noqa: E402

app.command("audit")(audit)

from routing.stations.cli import stations_app  # noqa: E402

app.add_typer(stations_app, name="stations", help="转运站规划 / transfer-station planning.")

from api.service_cli import service_app  # noqa: E402

app.add_typer(service_app)  # serve, worker, keys, db


def main() -> None:
    """Entry point of the console script: user errors become one line and exit code 2."""
    try:
        app()
    except QingyunError as exc:
        typer.secho(f"错误 / error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
