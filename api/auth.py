"""API keys and roles: each endpoint depends on exactly the role whose work it is.

A key is ``qy_<id>_<secret>``; only its SHA-256 is stored (keys are long random strings,
so a fast hash is safe and keeps every request cheap). A key may hold several roles.
Roles: dispatcher (plans, sites, vehicles), supervisor (tracks, audits, violations,
scores), planner (stations), device (position ingest only), admin (keys).
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.tables import ApiKeyRow, utc_now
from fleet.tracks.store import normalise_phone
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


ANY_TERMINAL = "*"
_TERMINAL = re.compile(r"^[0-9A-Za-z_-]{1,20}$")


@dataclass(frozen=True)
class Caller:
    key_id: str
    roles: frozenset[str]
    terminals: frozenset[str] | None = None  # a device key's terminals (normalised phones); None = every terminal

    def may_write_for(self, phone: str) -> bool:
        """Whether this key may store positions of the terminal ``phone`` (normalised)."""
        return self.terminals is None or phone in self.terminals


@dataclass(frozen=True)
class IssuedKey:
    id: str
    key: str  # shown once; only its hash is stored
    roles: tuple[str, ...]
    name: str
    terminals: tuple[str, ...] = ()


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


def check_terminals(roles: tuple[str, ...], terminals: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A key's terminals, normalised as the position store keys phones; a device key must name at least one.

    Parameters
    ----------
    roles
        The key's checked roles.
    terminals
        Terminal phones (or ids up to 20 letters, digits, ``-_``) the key may write positions for;
        ``*`` = every terminal (a relay forwarding a whole fleet).

    Returns
    -------
    tuple[str, ...]
        The distinct normalised terminals (``("*",)`` for every terminal).

    Raises
    ------
    InvalidInputError
        A device key without terminals, terminals on a key without the device role, or a malformed phone.
    """
    if "device" not in roles:
        if terminals:
            raise InvalidInputError("terminals: only a key with the device role writes for terminals")
        return ()
    if not terminals:
        raise InvalidInputError(
            "terminals: a device key names the terminals it may write for (--terminal PHONE; '*' = every terminal)"
        )
    if ANY_TERMINAL in terminals:
        return (ANY_TERMINAL,)
    bad = [t for t in terminals if not _TERMINAL.match(t)]
    if bad:
        raise InvalidInputError(f"terminals: {bad[0]!r} is not a phone or id of 1–20 letters, digits, '-' or '_'")
    return tuple(dict.fromkeys(normalise_phone(t) for t in terminals))


def create_key(
    engine: Engine, *, roles: list[str] | tuple[str, ...], name: str = "", terminals: list[str] | tuple[str, ...] = ()
) -> IssuedKey:
    """Issue a key with the given roles; the plain key is returned once and never stored.

    Parameters
    ----------
    engine
        The service database.
    roles
        The roles the key holds (:data:`ROLES`); duplicates are dropped.
    name
        A label saying whose key it is; "" = none.
    terminals
        For a device key, the terminals it may write positions for (:func:`check_terminals`).

    Returns
    -------
    IssuedKey
        The key's id, the plain key (shown once), its roles, name and terminals.

    Raises
    ------
    InvalidInputError
        A role is unknown or none is given, or the terminals do not fit the roles.
    """
    roles = check_roles(roles)
    bound = check_terminals(roles, terminals)
    key_id = secrets.token_hex(4)
    key = f"qy_{key_id}_{secrets.token_urlsafe(24)}"
    with Session(engine) as session:
        session.add(
            ApiKeyRow(
                id=key_id,
                name=name,
                roles=",".join(roles),
                terminals=",".join(bound) or None,
                key_hash=hash_key(key),
                created_at=utc_now(),
            )
        )
        session.commit()
    return IssuedKey(id=key_id, key=key, roles=roles, name=name, terminals=bound)


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


def _caller(row: ApiKeyRow) -> Caller:
    terminals = None if row.terminals == ANY_TERMINAL else frozenset(filter(None, (row.terminals or "").split(",")))
    return Caller(row.id, frozenset(row.roles.split(",")), terminals)


class _KeyCache:
    """Hash → roles for valid keys, refreshed every few seconds so revocation takes effect quickly."""

    ttl_s = 5.0

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, Caller | None]] = {}
        self._valid: set[str] = set()  # hashes once valid here: their holders pass a rate-limited address

    def lookup(self, engine: Engine, key: str) -> Caller | None:
        digest = hash_key(key)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < self.ttl_s:
            return hit[1]
        with Session(engine) as session:
            row = session.exec(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest)).first()
        caller = None if row is None or row.revoked_at is not None else _caller(row)
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[digest] = (now, caller)
        if caller is not None and len(self._valid) < 100_000:
            self._valid.add(digest)
        return caller

    def was_valid(self, key: str) -> bool:
        return hash_key(key) in self._valid


class _FailureLimiter:
    """Wrong keys per client address in a sliding window; an address over the limit is answered 429."""

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_s(self, address: str, *, most: int, window_s: float) -> float:
        """Seconds until ``address`` may try a key again (0 = now)."""
        now = time.monotonic()
        with self._lock:
            times = self._failures.get(address)
            while times and times[0] <= now - window_s:
                times.popleft()
            if not times:
                self._failures.pop(address, None)
                return 0.0
            return times[0] + window_s - now if len(times) >= most else 0.0

    def fail(self, address: str) -> None:
        with self._lock:
            if len(self._failures) > 100_000:  # a flood of addresses: forget the oldest half
                for stale in list(self._failures)[:50_000]:
                    del self._failures[stale]
            self._failures.setdefault(address, deque(maxlen=100_000)).append(time.monotonic())


_cache = _KeyCache()
_limiter = _FailureLimiter()


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
        401: no key, or a key that is unknown or revoked. 429: this client address sent too many wrong
        keys lately (``QINGYUN_AUTH_FAILURES_MAX`` per ``QINGYUN_AUTH_FAILURES_WINDOW_S``); a key that was
        valid before still passes.
    """
    if not key:
        raise HTTPException(
            401,
            "缺少 API 密钥 / missing API key: send it in the X-API-Key header",
            headers={"WWW-Authenticate": "X-API-Key"},
        )
    limits = request.app.state.settings.service
    address = request.client.host if request.client else "unknown"
    wait = _limiter.wait_s(address, most=limits.auth_failures_max, window_s=limits.auth_failures_window_s)
    if wait and not _cache.was_valid(key):
        raise HTTPException(
            429,
            f"错误密钥过多 / too many wrong API keys from {address}: at most {limits.auth_failures_max} per "
            f"{limits.auth_failures_window_s:g} s (QINGYUN_AUTH_FAILURES_MAX); retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    found = _cache.lookup(request.app.state.engine, key)
    if found is None:
        _limiter.fail(address)
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


def require_any(*roles: str):
    """A dependency admitting callers that hold at least one of ``roles``; others get 403 naming them."""

    def dependency(who: Caller = Depends(caller)) -> Caller:
        if who.roles.isdisjoint(roles):
            needed = "、".join(ROLE_LABELS[r].split(" / ")[0] for r in roles)
            raise HTTPException(
                403,
                f"需要角色 {needed} 之一 / this needs one of the roles {', '.join(roles)}; "
                f"key {who.key_id} has {', '.join(sorted(who.roles))}",
            )
        return who

    dependency.__name__ = f"require_any_{'_'.join(roles)}"
    return dependency


dispatcher = Depends(require("dispatcher"))
supervisor = Depends(require("supervisor"))
planner = Depends(require("planner"))
device = Depends(require("device"))
admin = Depends(require("admin"))
