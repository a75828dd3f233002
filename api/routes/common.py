"""Shared by the routes: a database session, the job queue, the settings, a cache of immutable answers."""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.jobs import JobQueue
from api.settings import ApiSettings


def db_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as session:
        yield session


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


def cached_json(request: Request, key: str, build: Callable[[], object], *, media_type: str = "application/json") -> Response:
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
