"""``POST /positions`` for terminals that do not speak JT/T 808; ``GET /vehicles/{id}/track`` for playback."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api import auth
from api.deps import app_settings, db_engine, db_session
from api.services.live import live_sink
from api.services.positions import (
    PositionBatch,
    PositionIn,
    PositionsStored,
    store_positions,
    validate_batch,
    vehicle_track,
)
from api.services.records import IsoDateTime
from api.settings import Settings
from fleet.tracks.store import normalise_phone, unbind_terminal

router = APIRouter(tags=["定位 / positions and tracks"])

VehicleId = Annotated[str, Path(max_length=64)]


@router.post(
    "/positions",
    summary="store a JSON batch of fixes (idempotent on device and GPS time)",
    openapi_extra={"x-item-schema": PositionIn.model_json_schema()},
)
def post_positions(
    request: Request,
    batch: PositionBatch,
    engine: Engine = Depends(db_engine),
    settings: Settings = Depends(app_settings),
    who: auth.Caller = auth.device,
) -> PositionsStored:
    most = settings.service.max_positions_per_request
    if len(batch.positions) > most:
        raise HTTPException(413, f"positions: {len(batch.positions)} items, at most {most} per request")
    good, rejected = validate_batch(batch.positions)
    foreign = sorted({normalise_phone(f.device) for f in good if not who.may_write_for(normalise_phone(f.device))})
    if foreign:
        raise HTTPException(
            403,
            f"终端不属于该密钥 / key {who.key_id} may not write for terminal(s) {', '.join(foreign[:10])}"
            " (qingyun keys create --role device --terminal PHONE)",
        )
    store_positions(engine, good, sink=live_sink(request.app))
    return PositionsStored(accepted=len(good), rejected=rejected)


@router.post(
    "/terminals/{phone}/unbind",
    dependencies=[auth.admin],
    summary="forget a JT/T 808 terminal's auth code so the phone may register again (its positions stay)",
)
def unbind(
    phone: str = Path(min_length=1, max_length=20, pattern=r"^[0-9]+$", description="terminal phone (digits)"),
    engine: Engine = Depends(db_engine),
) -> dict:
    unbind_terminal(engine, phone=normalise_phone(phone))
    return {"phone": normalise_phone(phone), "bound": False}


@router.get(
    "/vehicles/{vehicle_id}/track",
    dependencies=[auth.supervisor],
    summary="a truck's fixes for playback, GPS-time order",
)
def get_track(
    vehicle_id: VehicleId,
    session: Session = Depends(db_session),
    start: IsoDateTime | None = Query(None, alias="from", description="ISO 8601 with offset, inclusive"),
    end: IsoDateTime | None = Query(None, alias="to", description="ISO 8601 with offset, exclusive"),
    limit: int = Query(20_000, ge=1, le=200_000),
) -> dict:
    return vehicle_track(session, vehicle_id=vehicle_id, start=start, end=end, limit=limit)
