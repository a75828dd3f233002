"""``POST /positions`` for terminals that do not speak JT/T 808; ``GET /vehicles/{id}/track`` for playback."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import auth
from api.deps import app_settings, db_engine, db_session
from api.services.positions import PositionBatch, PositionIn, store_positions, validate_batch, vehicle_track
from api.settings import Settings

router = APIRouter(tags=["定位 / positions and tracks"])


@router.post(
    "/positions",
    dependencies=[auth.device],
    summary="store a JSON batch of fixes (idempotent on device and GPS time)",
    openapi_extra={"x-item-schema": PositionIn.model_json_schema()},
)
def post_positions(
    batch: PositionBatch, engine: Engine = Depends(db_engine), settings: Settings = Depends(app_settings)
) -> dict:
    most = settings.service.max_positions_per_request
    if len(batch.positions) > most:
        raise HTTPException(413, f"positions: {len(batch.positions)} items, at most {most} per request")
    good, rejected = validate_batch(batch.positions)
    store_positions(engine, good)
    return {"accepted": len(good), "rejected": rejected}


@router.get(
    "/vehicles/{vehicle_id}/track",
    dependencies=[auth.supervisor],
    summary="a truck's fixes for playback, GPS-time order",
)
def get_track(
    vehicle_id: str,
    session: Session = Depends(db_session),
    start: datetime | None = Query(None, alias="from", description="ISO 8601, inclusive"),
    end: datetime | None = Query(None, alias="to", description="ISO 8601, exclusive"),
    limit: int = Query(20_000, ge=1, le=200_000),
) -> dict:
    return vehicle_track(session, vehicle_id=vehicle_id, start=start, end=end, limit=limit)
