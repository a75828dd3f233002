"""Data the map page draws besides plans and tracks: the road network and the basemap it may lay under it."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api import auth
from api.deps import app_settings, cached_json
from api.services.maps import road_lines
from api.settings import Settings

router = APIRouter(tags=["地图 / map"])


class MapConfig(BaseModel):
    """The basemap the page lays under the road network; ``tile_url`` null: none (the offline default)."""

    tile_url: str | None = Field(description="XYZ template ({z}/{x}/{y}); null: the road network only, nothing fetched")
    tile_crs: Literal["wgs84", "gcj02"] = Field(description="gcj02: the page shifts every WGS-84 position it draws")
    attribution: str
    subdomains: str
    max_zoom: int


@router.get(
    "/network/roads",
    dependencies=[Depends(auth.caller)],
    summary="the service's road network as [highway class, [[lon, lat], …]] lines (any role)",
)
def roads(request: Request, settings: Settings = Depends(app_settings)) -> Response:
    return cached_json(request, f"roads:{settings.network.osm}", lambda: road_lines(settings.network))


@router.get(
    "/map/config",
    dependencies=[Depends(auth.caller)],
    summary="the map page's basemap: tile URL, its datum (wgs84 | gcj02) and attribution (any role)",
)
def map_config(settings: Settings = Depends(app_settings)) -> MapConfig:
    tiles = settings.map
    return MapConfig(
        tile_url=tiles.tile_url,
        tile_crs=tiles.tile_crs,
        attribution=tiles.tile_attribution,
        subdomains=tiles.tile_subdomains,
        max_zoom=tiles.tile_max_zoom,
    )
