"""``POST /positions`` for terminals that do not speak JT/T 808; ``GET /vehicles/{id}/track`` for playback."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlmodel import Session

from api import auth
from api.deps import db_session, settings
from api.services.positions import PositionBatch, PositionIn, playback, store_positions, validate_batch
from api.settings import ApiSettings
from api.tables import VehicleRow

router = APIRouter(tags=["定位 / positions and tracks"])


@router.post(
    "/positions",
    dependencies=[auth.device],
    summary="store a JSON batch of fixes (idempotent on device and GPS time)",
    openapi_extra={"x-item-schema": PositionIn.model_json_schema()},
)
def post_positions(batch: PositionBatch, request: Request, config: ApiSettings = Depends(settings)) -> dict:
    if len(batch.positions) > config.max_positions_per_request:
        raise HTTPException(
            413, f"positions: {len(batch.positions)} items, at most {config.max_positions_per_request} per request"
        )
    good, rejected = validate_batch(batch.positions)
    store_positions(request.app.state.engine, good)
    return {"accepted": len(good), "rejected": rejected}


@router.get(
    "/vehicles/{vehicle_id}/track",
    dependencies=[auth.supervisor],
    summary="a truck's fixes for playback, GPS-time order",
)
def get_track(
    vehicle_id: str,
    request: Request,
    session: Session = Depends(db_session),
    start: datetime | None = Query(None, alias="from", description="ISO 8601, inclusive"),
    end: datetime | None = Query(None, alias="to", description="ISO 8601, exclusive"),
    limit: int = Query(20_000, ge=1, le=200_000),
) -> dict:
    for name, value in (("from", start), ("to", end)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(
                422, f"{name}: {value.isoformat()} has no UTC offset; write e.g. 2026-11-22T06:00:00+08:00"
            )
    vehicle = session.get(VehicleRow, vehicle_id)
    device = vehicle.terminal if vehicle is not None and vehicle.terminal else vehicle_id
    points = playback(request.app.state.engine, device=device, start=start, end=end, limit=limit)
    if not points and vehicle is None and not _known_device(session, device):
        raise HTTPException(404, f"no vehicle or terminal {vehicle_id!r}")
    return {"vehicle_id": vehicle_id, "device": device, "points": points}


def _known_device(session: Session, device: str) -> bool:
    from fleet.tracks.store import Terminal, normalise_phone

    return session.get(Terminal, normalise_phone(device)) is not None
