"""Shared by the routes: a database session, the job queue, the settings, a cache of immutable answers."""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TypeVar

from fastapi import HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session, SQLModel

from api.jobs.engine import JobQueue
from api.settings import ApiSettings
from api.tables import Job

Row = TypeVar("Row", bound=SQLModel)


def db_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


def job_and_row(session: Session, *, model: type[Row], row_id: str, what: str) -> tuple[Job, Row]:
    """A job and the row its result is written to, the job read first; 404 naming ``what`` when either is missing.

    The worker commits the row's result and the job's "succeeded" in one transaction. Under READ COMMITTED
    (PostgreSQL) each statement sees what was committed before it began, so reading the job first means a
    "succeeded" job always comes with its result; the other order can pair the old row with the new status.
    """
    job = session.get(Job, row_id)
    row = session.get(model, row_id) if job is not None else None
    if row is None:
        raise HTTPException(404, f"{what} {row_id!r} does not exist")
    return job, row


def job_queue(request: Request) -> JobQueue:
    return request.app.state.jobs


def settings(request: Request) -> ApiSettings:
    return request.app.state.settings


class _Cache:
    """Immutable JSON answers (a finished plan, its GeoJSON, the road network) kept serialised and gzipped."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()
        self.lock = threading.Lock()

    def peek(self, key: str) -> tuple[bytes, bytes] | None:
        with self.lock:
            return self.items.get(key)

    def get(self, key: str, build: Callable[[], object]) -> tuple[bytes, bytes]:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        entry = (body, gzip.compress(body, compresslevel=5))
        with self.lock:
            self.items[key] = entry
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return entry


immutable = _Cache(size=64)


def cached_json(
    request: Request, key: str, build: Callable[[], object], *, media_type: str = "application/json"
) -> Response:
    """A cached JSON answer, gzipped when the client accepts it (the middleware then leaves it alone)."""
    return _answer(request, immutable.get(key, build), media_type)


def cached_only(request: Request, key: str, *, media_type: str = "application/json") -> Response | None:
    """The cached answer if this process has built it already (no database work at all), else None."""
    entry = immutable.peek(key)
    return None if entry is None else _answer(request, entry, media_type)


def _answer(request: Request, entry: tuple[bytes, bytes], media_type: str) -> Response:
    body, packed = entry
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type=media_type, headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(body, media_type=media_type)
