"""API keys (admin only): issue, list, revoke. The plain key is shown once, at creation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from api import auth
from api.deps import db_engine
from api.tables import local_iso
from routing.errors import ConflictError, NotFoundError

router = APIRouter(prefix="/keys", tags=["密钥 / keys"], dependencies=[auth.admin])

KeyId = Annotated[str, Path(max_length=16)]


class KeyRequest(BaseModel):
    roles: list[auth.Role] = Field(min_length=1, max_length=5)
    name: str = Field("", max_length=200)
    terminals: list[Annotated[str, Field(pattern=r"^(\*|[0-9A-Za-z_-]{1,20})$")]] = Field(
        default_factory=list,
        max_length=10_000,
        description="device keys only, and required for them: terminal phones the key may write positions for; "
        "['*'] = every terminal",
    )


@router.post("", status_code=201, summary="issue a key (the plain key is in this answer only)")
def create(body: KeyRequest, engine: Engine = Depends(db_engine)) -> dict:
    issued = auth.create_key(engine, roles=body.roles, name=body.name, terminals=body.terminals)
    return {
        "id": issued.id,
        "key": issued.key,
        "roles": list(issued.roles),
        "name": issued.name,
        "terminals": list(issued.terminals),
    }


@router.get("", summary="list keys (never the keys themselves)")
def list_keys(engine: Engine = Depends(db_engine)) -> dict:
    return {
        "items": [
            {
                "id": k.id,
                "name": k.name,
                "roles": k.roles.split(","),
                "terminals": k.terminals.split(",") if k.terminals else [],
                "created_at": local_iso(k.created_at),
                "revoked": k.revoked_at is not None,
            }
            for k in auth.list_keys(engine)
        ]
    }


@router.delete("/{key_id}", status_code=204, summary="revoke a key (not the one this request is signed with)")
def revoke(key_id: KeyId, engine: Engine = Depends(db_engine), who: auth.Caller = auth.admin) -> None:
    if key_id == who.key_id:
        raise ConflictError(f"key {key_id} signs this request: revoke it with another admin key")
    if not auth.revoke_key(engine, key_id=key_id):
        raise NotFoundError(f"no active key {key_id!r}")
