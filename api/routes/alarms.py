"""The supervisor's alarms: list and read them, acknowledge and handle (处置) them, the handling KPIs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from sqlmodel import Session

from api import auth
from api.deps import db_session
from api.services.alarms import (
    AlarmOut,
    AlarmQuery,
    HandleRequest,
    KpiOut,
    KpiQuery,
    alarm_kpis,
    alarm_out,
    find_alarms,
)
from fleet.supervise.store import acknowledge, get_alarm, handle

router = APIRouter(tags=["报警 / alarms"], dependencies=[auth.supervisor])

AlarmId = Annotated[str, Path(max_length=20, description="alarm id, as listed; any other text is a 404 naming it")]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_NOT_FOUND = {404: {"description": "报警不存在 / no alarm with this id", "content": _ERROR}}
_CONFLICT = {409: {"description": "该状态不允许此操作 / not allowed in the alarm's state (named)", "content": _ERROR}}


@router.get("/alarms", summary="alarms newest first, with filters (company, device, type, severity, state, since)")
def list_alarms(query: Annotated[AlarmQuery, Query()], session: Session = Depends(db_session)) -> list[AlarmOut]:
    return [alarm_out(row) for row in find_alarms(session, query)]


@router.get(
    "/alarms/kpis",
    summary="found-and-handled rate, time to acknowledge and to handle (median, p95), in total and per company",
)
def get_kpis(query: Annotated[KpiQuery, Query()], session: Session = Depends(db_session)) -> KpiOut:
    return alarm_kpis(session, query)


@router.get("/alarms/{alarm_id}", summary="one alarm: the episode, its evidence and its handling", responses=_NOT_FOUND)
def get_one(alarm_id: AlarmId, session: Session = Depends(db_session)) -> AlarmOut:
    return alarm_out(get_alarm(session, alarm_id))


@router.post(
    "/alarms/{alarm_id}/ack",
    summary="acknowledge an open alarm (again: unchanged); 409 once it is handled or closed",
    responses={**_NOT_FOUND, **_CONFLICT},
)
def post_ack(
    alarm_id: AlarmId, session: Session = Depends(db_session), who: auth.Caller = Depends(auth.caller)
) -> AlarmOut:
    return alarm_out(acknowledge(session, alarm_id, by=who.key_id))


@router.post(
    "/alarms/{alarm_id}/handle",
    summary="record what was done (处置) with optional evidence; closes it when its episode has ended",
    responses={**_NOT_FOUND, **_CONFLICT},
)
def post_handle(
    alarm_id: AlarmId,
    request: Annotated[HandleRequest, Body()],
    session: Session = Depends(db_session),
    who: auth.Caller = Depends(auth.caller),
) -> AlarmOut:
    return alarm_out(handle(session, alarm_id, by=who.key_id, note=request.note, evidence=request.evidence))
