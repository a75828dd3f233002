"""API keys (admin only): issue, list, revoke. The plain key is shown once, at creation."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from api import auth
from api.deps import db_engine
from routing.errors import NotFoundError

router = APIRouter(prefix="/keys", tags=["密钥 / keys"], dependencies=[auth.admin])


class KeyRequest(BaseModel):
    roles: list[auth.Role] = Field(min_length=1, max_length=5)
    name: str = Field("", max_length=200)


@router.post("", status_code=201, summary="issue a key (the plain key is in this answer only)")
def create(body: KeyRequest, engine: Engine = Depends(db_engine)) -> dict:
    issued = auth.create_key(engine, roles=body.roles, name=body.name)
    return {"id": issued.id, "key": issued.key, "roles": list(issued.roles), "name": issued.name}


@router.get("", summary="list keys (never the keys themselves)")
def list_keys(engine: Engine = Depends(db_engine)) -> dict:
    return {
        "items": [
            {
                "id": k.id,
                "name": k.name,
                "roles": k.roles.split(","),
                "created_at": k.created_at.isoformat(),
                "revoked": k.revoked_at is not None,
            }
            for k in auth.list_keys(engine)
        ]
    }


@router.delete("/{key_id}", status_code=204, summary="revoke a key")
def revoke(key_id: str, engine: Engine = Depends(db_engine)) -> None:
    if not auth.revoke_key(engine, key_id=key_id):
        raise NotFoundError(f"no active key {key_id!r}")
