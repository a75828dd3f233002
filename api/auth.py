"""API keys and roles: each endpoint depends on exactly the role whose work it is.

A key is ``qy_<id>_<secret>``; only its SHA-256 is stored (keys are long random strings,
so a fast hash is safe and keeps every request cheap). A key may hold several roles.
Roles: dispatcher (plans, sites, vehicles), supervisor (tracks, audits, violations,
scores), planner (stations), device (position ingest only), admin (keys).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.tables import ApiKeyRow, utc_now
from routing.errors import InvalidInputError

Role = Literal["dispatcher", "supervisor", "planner", "device", "admin"]
ROLES: tuple[str, ...] = ("dispatcher", "supervisor", "planner", "device", "admin")
ROLE_LABELS = {
    "dispatcher": "调度员 / dispatcher",
    "supervisor": "监管员 / supervisor",
    "planner": "规划员 / planner",
    "device": "终端 / device",
    "admin": "管理员 / admin",
}

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="qy_… key from `qingyun keys create`")


@dataclass(frozen=True)
class Caller:
    key_id: str
    roles: frozenset[str]


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str  # shown once; only its hash is stored
    roles: tuple[str, ...]
    name: str


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256 (keys are long random strings, so a fast hash is safe).

    Parameters
    ----------
    key
        The plain key, ``qy_<id>_<secret>``.

    Returns
    -------
    str
        The hex digest (64 characters).
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The roles, checked against :data:`ROLES`, duplicates dropped in the order given.

    Parameters
    ----------
    roles
        Role names (dispatcher, supervisor, planner, device, admin).

    Returns
    -------
    tuple[str, ...]
        The distinct roles.

    Raises
    ------
    InvalidInputError
        A role is unknown, or none is given.
    """
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise InvalidInputError(
            f"unknown role(s) {', '.join(map(repr, bad)) or '(none given)'}; roles are {', '.join(ROLES)}"
        )
    return tuple(dict.fromkeys(roles))


def create_key(engine: Engine, *, roles: list[str] | tuple[str, ...], name: str = "") -> IssuedKey:
    """Issue a key with the given roles; the plain key is returned once and never stored.

    Parameters
    ----------
    engine
        The service database.
    roles
        The roles the key holds (:data:`ROLES`); duplicates are dropped.
    name
        A label saying whose key it is; "" = none.

    Returns
    -------
    IssuedKey
        The key's id, the plain key (shown once), its roles and name.

    Raises
    ------
    InvalidInputError
        A role is unknown, or none is given.
    """
    roles = check_roles(roles)
    key_id = secrets.token_hex(4)
    key = f"qy_{key_id}_{secrets.token_urlsafe(24)}"
    with Session(engine) as session:
        session.add(
            ApiKeyRow(id=key_id, name=name, roles=",".join(roles), key_hash=hash_key(key), created_at=utc_now())
        )
        session.commit()
    return IssuedKey(id=key_id, key=key, roles=roles, name=name)


def revoke_key(engine: Engine, *, key_id: str) -> bool:
    """Revoke a key; the row is kept (with its revocation time) so the key's history stays visible.

    Requests with the key are refused once each process's key cache refreshes (a few seconds).

    Parameters
    ----------
    engine
        The service database.
    key_id
        The key's id, the ``<id>`` of ``qy_<id>_<secret>``.

    Returns
    -------
    bool
        True if the key was revoked now; False if there is no such key or it was revoked already.
    """
    with Session(engine) as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utc_now()
        session.add(row)
        session.commit()
        return True


def list_keys(engine: Engine) -> list[ApiKeyRow]:
    """Every key issued, revoked ones included, oldest first (only hashes are stored, never the keys).

    Parameters
    ----------
    engine
        The service database.

    Returns
    -------
    list[ApiKeyRow]
        The key rows: id, name, roles, hash, created and revoked times.
    """
    with Session(engine) as session:
        return list(session.exec(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))


class _KeyCache:
    """Hash → roles for valid keys, refreshed every few seconds so revocation takes effect quickly."""

    ttl_s = 5.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Caller | None]] = {}

    def lookup(self, engine: Engine, key: str) -> Caller | None:
        import time

        digest = hash_key(key)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        with Session(engine) as session:
            row = session.exec(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest)).first()
        caller = None if row is None or row.revoked_at is not None else Caller(row.id, frozenset(row.roles.split(",")))
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (now, caller)
        return caller


_cache = _KeyCache()


def caller(request: Request, key: str | None = Security(api_key_header)) -> Caller:
    """The authenticated caller; 401 without a valid key.

    Parameters
    ----------
    request
        The request; its app holds the database engine the key is checked against.
    key
        The ``X-API-Key`` header; None when it is absent.

    Returns
    -------
    Caller
        The key's id and roles.

    Raises
    ------
    fastapi.HTTPException
        401: no key, or a key that is unknown or revoked.
    """
    if not key:
        raise HTTPException(
            401,
            "缺少 API 密钥 / missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    found = _cache.lookup(request.app.state.engine, key)
    if found is None:
        raise HTTPException(
            401, "API 密钥无效或已吊销 / invalid or revoked API key", headers={"WWW-Authenticate": "X-API-Key"}
        )
    return found


def require(role: str):
    """A dependency admitting callers that hold ``role``; others get 403 naming the role needed."""

    def dependency(who: Caller = Depends(caller)) -> Caller:
        if role not in who.roles:
            raise HTTPException(
                403,
                f"需要角色 {ROLE_LABELS[role]} / this needs the {role} role; key {who.key_id} has {', '.join(sorted(who.roles))}",
            )
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


dispatcher = Depends(require("dispatcher"))
supervisor = Depends(require("supervisor"))
planner = Depends(require("planner"))
device = Depends(require("device"))
admin = Depends(require("admin"))
