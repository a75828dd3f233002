"""``qingyun demo``: plan a generated Shenzhen collection day end to end.

About 600 restaurants and 300 community points (four streams) on the shipped Nanshan +
Futian network, solved with a progress bar, summarised, and exported to ``./out/``.
"""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    ctx: typer.Context,
    restaurants: int = typer.Option(600, help="restaurants (kitchen waste)"),
    communities: int = typer.Option(300, help="community collection points"),
    time_limit: float = typer.Option(40.0, "--time-limit", help="search seconds"),
    seed: int = typer.Option(7, help="generator seed"),
    out: Path = typer.Option(Path("out"), help="output folder"),
    max_solutions: int | None = typer.Option(
        None, "--max-solutions", min=1, help="stop after this many improving solutions: same seed, same plan"
    ),
) -> None:
    """演示 / demo: generate and plan the Shenzhen day (plan.json, GeoJSON, route sheets, map)."""
    from routing.network.graph import load_network
    from routing.planning.cli import run_plan
    from routing.planning.generate import generate_scenario, write_scenario

    root = ctx.obj.settings  # resolved once by the CLI root
    osm = root.network.default_osm()
    network = load_network(osm, settings=root.network)
    scenario = generate_scenario(
        network,
        restaurants=restaurants,
        communities=communities,
        seed=seed,
        osm=str(osm),
        name="深圳南山福田 / Shenzhen Nanshan+Futian",
    )
    out.mkdir(parents=True, exist_ok=True)
    write_scenario(scenario, out / "scenario.json")
    settings = (
        root.planning if max_solutions is None else root.planning.model_copy(update={"max_solutions": max_solutions})
    )
    run_plan(
        scenario,
        scenario_dir=out,
        settings=settings,
        network_settings=root.network,
        time_limit_s=time_limit,
        out=out,
        network=network,
    )
