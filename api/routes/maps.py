"""Data the map page draws besides plans and tracks: the road network."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api import auth
from api.deps import app_settings, cached_json
from api.services.maps import road_lines
from api.settings import Settings

router = APIRouter(tags=["地图 / map"])


@router.get(
    "/network/roads",
    dependencies=[Depends(auth.caller)],
    summary="the service's road network as [highway class, [[lon, lat], …]] lines (any role)",
)
def roads(request: Request, settings: Settings = Depends(app_settings)) -> Response:
    return cached_json(request, f"roads:{settings.network.osm}", lambda: road_lines(settings.network))
