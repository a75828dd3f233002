"""What the routes share, as FastAPI dependencies: a database session, the job queue, the settings, cached answers.

Everything here reads the objects ``api.app.create_app`` put on ``app.state`` (one engine, one
queue, one :class:`~api.settings.Settings`), so a route never builds its own.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from api.jobs.queues import JobQueue
from api.settings import Settings
from api.tables import Job
from routing.errors import ConflictError, NotFoundError

Row = TypeVar("Row", bound=SQLModel)


def db_engine(request: Request) -> Engine:
    """The service's database engine (for the library functions that open their own sessions)."""
    return request.app.state.engine


def db_session(request: Request) -> Iterator[Session]:
    """A session for the request, closed when the answer is sent."""
    with Session(request.app.state.engine) as session:
        yield session


def job_queue(request: Request) -> JobQueue:
    """The queue jobs are dispatched to (in-process threads or Celery)."""
    return request.app.state.jobs


def app_settings(request: Request) -> Settings:
    """The one settings object the app was created with."""
    return request.app.state.settings


def job_and_row(session: Session, *, model: type[Row], row_id: str, what: str) -> tuple[Job, Row]:
    """A job and the row its result is written to, the job read first.

    The worker commits the row's result and the job's "succeeded" in one transaction. Under READ COMMITTED
    (PostgreSQL) each statement sees what was committed before it began, so reading the job first means a
    "succeeded" job always comes with its result; the other order can pair the old row with the new status.

    Parameters
    ----------
    session
        The request's session.
    model
        The table of the job's result row (``PlanRow``, ``StationStudyRow``); it shares the job's id.
    row_id
        The id the request named.
    what
        The object's name in the error ("plan", "station study").

    Returns
    -------
    tuple[Job, Row]
        The job and its row.

    Raises
    ------
    NotFoundError
        Either is missing (answered 404 naming ``what`` and the id).
    """
    job = session.get(Job, row_id)
    row = session.get(model, row_id) if job is not None else None
    if row is None:
        raise NotFoundError(f"{what} {row_id!r} does not exist")
    return job, row


def finished_row(session: Session, *, model: type[Row], row_id: str, what: str, unfinished: str) -> Row:
    """The result row of a job that succeeded (:func:`job_and_row`); any other status is a conflict.

    Parameters
    ----------
    session, model, row_id, what
        As for :func:`job_and_row`.
    unfinished
        The conflict message; ``{status}`` is replaced by the job's status.

    Raises
    ------
    NotFoundError
        The job or its row is missing.
    ConflictError
        The job has not succeeded (yet).
    """
    job, row = job_and_row(session, model=model, row_id=row_id, what=what)
    if job.status != "succeeded":
        raise ConflictError(unfinished.format(status=job.status))
    return row


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
    """A cached JSON answer, gzipped when the client accepts it (the middleware then leaves it alone).

    Parameters
    ----------
    request
        The request; its ``Accept-Encoding`` decides whether the gzipped body is sent.
    key
        The cache key; it must identify the answer completely, as a cached answer is never rebuilt.
    build
        Builds the JSON-serialisable answer; called only on a cache miss (the 64 most recent are kept).
    media_type
        The response's content type.

    Returns
    -------
    Response
        The serialised answer, with ``Content-Encoding: gzip`` when the client accepts it.
    """
    return _answer(request, immutable.get(key, build), media_type)


def cached_only(request: Request, key: str, *, media_type: str = "application/json") -> Response | None:
    """The cached answer if this process has built it already (no database work at all), else None.

    Parameters
    ----------
    request
        The request; its ``Accept-Encoding`` decides whether the gzipped body is sent.
    key
        The cache key, as given to :func:`cached_json`.
    media_type
        The response's content type.

    Returns
    -------
    Response or None
        The cached answer (gzipped when accepted), or None when it is not cached.
    """
    entry = immutable.peek(key)
    return None if entry is None else _answer(request, entry, media_type)


def _answer(request: Request, entry: tuple[bytes, bytes], media_type: str) -> Response:
    body, packed = entry
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(packed, media_type=media_type, headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(body, media_type=media_type)
