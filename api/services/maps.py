"""What the map page draws besides plans and tracks: the service's road network as lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from api.services.network import service_network

if TYPE_CHECKING:
    from routing.network.settings import NetworkSettings


def road_lines(settings: NetworkSettings) -> dict:
    """Every street once (a two-way street's twin skipped) with its class, WGS-84.

    Parameters
    ----------
    settings
        The service's network settings (``settings.network``): its OSM file, default the shipped Shenzhen one.

    Returns
    -------
    dict
        ``{"bbox": [west, south, east, north], "roads": [[highway, [[lon, lat], …]], …]}``.
    """
    network = service_network(settings)
    seen: set[tuple[int, int]] = set()
    lines = []
    for u, v, data in network.graph.edges(data=True):
        if (v, u) in seen or (u, v) in seen:
            continue
        seen.add((u, v))
        x, y = data["geometry"].xy
        lon, lat = network.to_lonlat(list(x), list(y))
        highway = data["highway"] if isinstance(data["highway"], str) else data["highway"][0]
        lines.append([highway, [[round(float(a), 5), round(float(b), 5)] for a, b in zip(lon, lat)]])
    return {"bbox": list(network.bbox), "roads": lines}
