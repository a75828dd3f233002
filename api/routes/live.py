"""Live supervision: alarms as they are raised and handled, and every truck's newest fix, as server-sent events.

Streams are plain GETs with the ``X-API-Key`` header (browsers read them with ``fetch``; EventSource
cannot send headers). Supervisors see every truck, dispatchers the trucks of their own fleet
(``api.services.live``); the number of open streams per key and per address is bounded (429 names
the limit).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api import auth
from api.deps import db_session
from api.services.live import (
    POSITION_POLL_S,
    LiveOut,
    StreamQuery,
    alarm_reader,
    live_reader,
    live_trucks,
    polled,
)

router = APIRouter(tags=["实时监管 / live supervision"])
watcher = auth.require_any("supervisor", "dispatcher")
_SSE = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "server-sent events"}}
_TOO_MANY = {429: {"description": "实时流过多 / too many open streams for this key or address (the limit named)"}}


def _stream(request: Request, who: auth.Caller, make_reader, *, every_s: float) -> StreamingResponse:
    """Take a stream slot (429 naming the limit when none is free), then stream until the client goes."""
    slots = request.app.state.live_slots
    address = request.client.host if request.client else "unknown"
    refusal = slots.take(key_id=who.key_id, address=address)
    if refusal is not None:
        raise HTTPException(429, refusal, headers={"Retry-After": "5"})
    try:
        read = make_reader()
    except BaseException:
        slots.give_back(key_id=who.key_id, address=address)
        raise
    body = polled(
        read,
        settings=request.app.state.settings.fleet.live,
        release=lambda: slots.give_back(key_id=who.key_id, address=address),
        every_s=every_s,
    )
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


@router.get(
    "/alarms/stream",
    summary="alarm events as server-sent events (start, update, end, withdrawn, acknowledged, handled)",
    responses={**_SSE, **_TOO_MANY},
)
def alarm_stream(
    request: Request,
    query: Annotated[StreamQuery, Query()],
    last_event_id: Annotated[int | None, Header(ge=0, lt=2**63, description="resume after this event id")] = None,
    who: auth.Caller = Depends(watcher),
) -> StreamingResponse:
    if query.after is None and last_event_id is not None:
        query = query.model_copy(update={"after": last_event_id})
    settings = request.app.state.settings.fleet
    return _stream(
        request,
        who,
        lambda: alarm_reader(request.app.state.engine, who, query=query, settings=settings),
        every_s=settings.live.poll_s,
    )


@router.get("/live", summary="the newest fix of every truck the caller may see, with its open alarms")
def get_live(request: Request, session: Session = Depends(db_session), who: auth.Caller = Depends(watcher)) -> LiveOut:
    return live_trucks(session, who, settings=request.app.state.settings.fleet.live)


@router.get(
    "/live/stream",
    summary="trucks' newest fixes as server-sent events (event: position), as they arrive",
    responses={**_SSE, **_TOO_MANY},
)
def live_stream(request: Request, who: auth.Caller = Depends(watcher)) -> StreamingResponse:
    settings = request.app.state.settings.fleet
    return _stream(
        request,
        who,
        lambda: live_reader(request.app.state.engine, who, settings=settings),
        every_s=max(settings.live.poll_s, POSITION_POLL_S),
    )
