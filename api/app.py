"""The FastAPI application: ``create_app(settings)`` wires settings, database, job queue, routes and the map page.

Errors are answered by kind: a ``QingyunError`` by ``routing.errors.http_status`` (not found
404, conflict 409, anything else the caller sent 422); anything unexpected 500 with a request
id and a generic message, its traceback in the server log only.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from api.settings import Settings, get_settings
from routing.errors import QingyunError, http_status
from routing.jsonfile import field_errors

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

DESCRIPTION = """清运 Qingyun 服务 / service: collection planning, fleet supervision, transfer-station planning.

Authenticate with an `X-API-Key` header (`qingyun keys create --role ROLE`). Roles: **dispatcher**
(plans, sites, vehicles, depots, facilities), **supervisor** (tracks, permits, zones, audits,
violations, scores), **planner** (station studies), **device** (position ingest), **admin** (keys).
Times are ISO 8601 with offset (local +08:00). Coordinates are WGS-84 lon/lat. Errors: 404 for a
missing object (the message names its id), 409 for a conflict with its state, 422 for bad input."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service app; the database is migrated to the latest schema before the first request.

    Parameters
    ----------
    settings
        The settings to run with; by default the process's (:func:`api.settings.get_settings`).
        Routes, job runners and the map page all read this one object.

    Returns
    -------
    FastAPI
        The app (uvicorn: ``api.app:create_app --factory``).
    """
    from api.db import engine_for

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from api.jobs.queues import open_queue

        app.state.jobs = open_queue(app.state.engine, settings)
        try:
            yield
        finally:
            app.state.jobs.close()

    app = FastAPI(title="清运 Qingyun API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine_for(settings.service.database_url)
    app.add_middleware(GZipMiddleware, minimum_size=2000)
    _error_handlers(app)

    from api.routes import catalogue, keys, maps, plans, positions, stations, supervision

    for router in catalogue.routers:
        app.include_router(router)
    for module in (plans, positions, supervision, stations, keys, maps):
        app.include_router(module.router)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/health", tags=["服务 / service"], summary="liveness and database reachability (no key needed)")
    def health(request: Request) -> dict:
        from sqlalchemy import text

        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {
            "status": "ok",
            "database": request.app.state.engine.dialect.name,
            "jobs": "celery" if settings.service.redis_url else "in-process",
        }

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _error_handlers(app: FastAPI) -> None:
    """Answers by error kind; never a traceback or a server path."""

    @app.exception_handler(QingyunError)
    async def user_error(request: Request, exc: QingyunError) -> JSONResponse:
        return JSONResponse(status_code=http_status(exc), content={"detail": str(exc)})

    @app.exception_handler(StatementError)
    async def database_refused(request: Request, exc: StatementError) -> JSONResponse:
        # the database's own checks (text too long for its column, NUL bytes, duplicate key) are the user's input;
        # a database that is down or locked is not
        if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError | DataError):
            return _internal_error(request, exc)
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0]
        return JSONResponse(
            status_code=422, content={"detail": f"数据库拒绝该值 / the database refused a value: {reason}"}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{field}: {message}" for field, message in field_errors(exc)]
        return JSONResponse(status_code=422, content={"detail": problems})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)


def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    """500 with a request id to quote; the traceback goes to the server log under that id."""
    request_id = uuid.uuid4().hex[:16]
    log.error("request %s: %s %s failed", request_id, request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500,
        content={
            "detail": f"服务器内部错误 / internal server error; 请求编号 / request id {request_id}",
            "request_id": request_id,
        },
        headers={"X-Request-ID": request_id},
    )
