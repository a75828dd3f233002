"""Human-readable summaries of a road network (zh-CN with English)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from routing.network.graph import RoadNetwork


def network_summary_table(
    network: RoadNetwork, *, source: Path | str | None = None, load_seconds: float | None = None
) -> Table:
    """A table of the network's size, connectivity, extent and road length per class.

    Parameters
    ----------
    network : RoadNetwork
        The loaded network.
    source : Path or str, optional
        The file the caller asked for. A cached network keeps the path of whoever built it first (the cache
        is keyed by content), so the title names this one when given.
    load_seconds : float, optional
        Load time in seconds, shown when given.

    Returns
    -------
    rich.table.Table
        Nodes, edges, strongly connected share, ways, bbox, projection, km per road class.
    """
    report = network.report
    table = Table(title=f"路网 / road network: {source or report.source}", show_header=False)
    table.add_column("item")
    table.add_column("value", justify="right")
    table.add_row("节点 / nodes", f"{network.graph.number_of_nodes():,}")
    table.add_row("路段 / edges (directed)", f"{network.graph.number_of_edges():,}")
    table.add_row(
        "最大强连通分量占比 / largest strongly connected share",
        f"{report.strongly_connected_share:.1%} "
        f"(dropped {report.nodes_dropped:,} nodes, {report.edges_dropped:,} edges, {report.km_dropped:.1f} km)",
    )
    table.add_row("可通行道路 / drivable ways", f"{report.ways_drivable:,} of {report.ways_read:,} ways read")
    lon0, lat0, lon1, lat1 = network.bbox
    table.add_row("范围 / bbox (WGS-84)", f"{lon0:.4f},{lat0:.4f} – {lon1:.4f},{lat1:.4f}")
    table.add_row("投影 / projection", network.crs.name)
    for highway, km in network.km_by_class().items():
        table.add_row(f"  {highway} (km)", f"{km:,.1f}")
    if load_seconds is not None:
        table.add_row("加载 / load time", f"{load_seconds:.2f} s")
    return table
