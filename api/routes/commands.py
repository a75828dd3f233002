"""The supervisor's platform → terminal commands: queue a text, route or zone for a terminal; follow its answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from sqlalchemy.engine import Engine

from api import auth
from api.deps import app_settings, db_engine
from api.services.commands import (
    CommandOut,
    CommandRequest,
    State,
    command_by_id,
    command_out,
    find_commands,
    queue_request,
)
from api.settings import Settings

router = APIRouter(tags=["终端命令 / terminal commands"], dependencies=[auth.supervisor])

Phone = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[0-9]+$", description="terminal phone (digits)")]
CommandId = Annotated[str, Path(min_length=1, max_length=64, description="command id, as in Location")]
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


@router.post(
    "/terminals/{phone}/commands",
    status_code=202,
    summary="queue a text (0x8300), route (0x8606) or zone (0x8602/0x8604) for a terminal; the gateway sends it",
    responses={
        202: {
            "description": "queued (a zone of several parts gives one command per part)",
            "headers": {"Location": {"schema": {"type": "string"}, "description": "/commands/{id} of the first"}},
        }
    },
)
def post_command(
    phone: Phone,
    response: Response,
    request: Annotated[CommandRequest, Body()],
    engine: Engine = Depends(db_engine),
    settings: Settings = Depends(app_settings),
) -> list[CommandOut]:
    queued = queue_request(engine, phone=phone, request=request, settings=settings)
    response.headers["Location"] = f"/commands/{queued[0].id}"
    return command_out(engine, queued)


@router.get(
    "/commands",
    summary="commands newest first, with state, the terminal's answer and when the terminal was last seen",
    responses={404: {"description": "对象不存在 / no terminal with this phone", "content": _ERROR}},
)
def list_commands(
    engine: Engine = Depends(db_engine),
    phone: str | None = Query(None, min_length=1, max_length=20, pattern=r"^[0-9]+$", description="one terminal"),
    state: State | None = Query(None, description="one state"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[CommandOut]:
    return command_out(engine, find_commands(engine, phone=phone, state=state, limit=limit))


@router.get("/commands/{command_id}", summary="one command: state, result, outcome, sent and answered times")
def get_one(command_id: CommandId, engine: Engine = Depends(db_engine)) -> CommandOut:
    return command_out(engine, [command_by_id(engine, command_id)])[0]
