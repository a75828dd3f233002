"""Data the map page draws besides plans and tracks: the road network."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api import auth
from api.deps import cached_json

router = APIRouter(tags=["地图 / map"])


def _roads(osm: str | None) -> dict:
    """Every street once (a two-way street's twin skipped) with its class, WGS-84."""
    from api.services.planning import service_network

    network = service_network(osm)
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


@router.get(
    "/network/roads",
    dependencies=[Depends(auth.caller)],
    summary="the service's road network as [highway class, [[lon, lat], …]] lines (any role)",
)
def roads(request: Request) -> Response:
    osm = request.app.state.settings.osm
    return cached_json(request, f"roads:{osm}", lambda: _roads(osm))
