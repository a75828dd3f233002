"""``qingyun network …``: inspect a road network and compute travel matrices."""

from __future__ import annotations

import time
from pathlib import Path

import typer

network_app = typer.Typer(no_args_is_help=True)

OsmOption = typer.Option(None, "--osm", help="OSM file (.osm, .osm.bz2, .osm.pbf); default: shipped Shenzhen network")


@network_app.command("info")
def info(ctx: typer.Context, osm: Path | None = OsmOption) -> None:
    """路网概况 / network summary: nodes, edges, strongly connected share, bbox, km per class."""
    from rich.console import Console

    from routing.network.graph import load_network
    from routing.network.summary import network_summary_table

    settings = ctx.obj.settings.network
    path = (osm or settings.default_osm()).resolve()
    started = time.perf_counter()
    network = load_network(path, settings=settings)
    Console().print(network_summary_table(network, source=path, load_seconds=time.perf_counter() - started))


@network_app.command("matrix")
def matrix(
    ctx: typer.Context,
    points: Path = typer.Option(..., "--points", help="CSV with columns id,lon,lat (WGS-84)"),
    out: Path = typer.Option(..., "--out", help="output .npz (ids, duration_s, distance_m)"),
    osm: Path | None = OsmOption,
    max_snap_m: float = typer.Option(300.0, "--max-snap-m", help="farthest allowed distance from a road (m)"),
) -> None:
    """时间/距离矩阵 / duration and distance matrices between points."""
    from routing.network.graph import load_network
    from routing.network.matrix import travel_matrices
    from routing.network.points import read_points_csv

    table = read_points_csv(points)
    network = load_network(osm, settings=ctx.obj.settings.network)
    snapped = network.snap(ids=table.ids, lon=table.lon, lat=table.lat, max_distance_m=max_snap_m)
    started = time.perf_counter()
    result = travel_matrices(network, points=snapped)
    elapsed = time.perf_counter() - started
    result.save(str(out))
    typer.echo(f"{len(snapped)}×{len(snapped)} 矩阵 / matrix in {elapsed:.2f} s → {out}")
