"""``qingyun demo``: the main job on the shipped Shenzhen network.

Interim (foundation issue): print the network summary and time a travel matrix.
The planning issue replaces this with the full daily plan.
"""

from __future__ import annotations

import time

import typer


def demo(points: int = typer.Option(1000, help="number of random points for the matrix timing")) -> None:
    """演示 / demo: Shenzhen network summary and matrix timing."""
    from rich.console import Console

    from routing.matrix import travel_matrices
    from routing.network import load_network
    from routing.summary import network_summary_table

    console = Console()
    started = time.perf_counter()
    network = load_network()
    console.print(network_summary_table(network, load_seconds=time.perf_counter() - started))
    snapped = network.random_points(n=points, seed=7)
    started = time.perf_counter()
    result = travel_matrices(network, points=snapped)
    elapsed = time.perf_counter() - started
    console.print(
        f"{points}×{points} 时间+距离矩阵 / duration+distance matrix: {elapsed:.2f} s; "
        f"平均行程 / mean trip {result.duration_s.mean() / 60:.1f} min, {result.distance_m.mean() / 1000:.2f} km"
    )
