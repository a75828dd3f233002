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

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.settings import Settings, get_settings
from routing.errors import QingyunError, http_status
from routing.jsonfile import field_errors

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")

DESCRIPTION = """清运 Qingyun 服务 / service: collection planning, fleet supervision, transfer-station planning.

Authenticate with an `X-API-Key` header (`qingyun keys create --role ROLE`). Roles: **dispatcher**
(plans, sites, vehicles, depots, facilities), **supervisor** (tracks, permits, zones, audits,
violations, scores), **planner** (station studies), **device** (position ingest), **admin** (keys).
A `device` key writes positions only for the terminals it was issued for (`--terminal PHONE`).
Times are ISO 8601 with offset (local +08:00). Coordinates are WGS-84 lon/lat. Ids are 1–64 letters, digits,
CJK characters or `-_.` (not starting with `.`). Errors, each `{"detail": …}` naming the field, id or limit:
401 no or wrong key, 403 wrong role or terminal, 404 missing object, 409 conflict with its state, 413 body
over `QINGYUN_MAX_BODY_MB` (20 MB), 422 bad input, 429 too many wrong keys from one address (see Retry-After)."""


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
            sink = getattr(app.state, "live_sink", None)  # made by the first POST /positions (api.services.live)
            if sink is not None:
                sink.close()

    app = FastAPI(title="清运 Qingyun API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine_for(settings.service.database_url)
    app.add_middleware(GZipMiddleware, minimum_size=2000)
    app.add_middleware(BodyLimit, max_bytes=int(settings.service.max_body_mb * 1024 * 1024))
    _error_handlers(app)

    from api.routes import (
        alarms,
        catalogue,
        commands,
        keys,
        live,
        maps,
        plans,
        positions,
        stations,
        supervision,
        sweeping,
    )
    from api.services.live import StreamSlots

    app.state.live_slots = StreamSlots(settings.fleet.live)
    for router in catalogue.routers:
        app.include_router(router)
    for module in (plans, positions, supervision, live, alarms, commands, stations, keys, maps, sweeping):
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
    app.openapi = lambda: app.openapi_schema or _openapi(app)
    return app


def _openapi(app: FastAPI) -> dict:
    """The schema with every error answer the routes give, so clients (and schemathesis) may rely on it."""
    from fastapi.openapi.utils import get_openapi

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    app.openapi_schema = document_errors(schema)
    return app.openapi_schema


def _error_handlers(app: FastAPI) -> None:
    """Answers by error kind; never a traceback or a server path."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers, detail = dict(exc.headers or {}), exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":  # FastAPI's, naming nothing
            detail = f"请求体无法解析 / the body cannot be parsed: {ERRORS[400].split(' / ')[1]}"
        if exc.status_code == 405:  # every method of the path, not only those of the first route that matched it
            methods = {
                m
                for r in app.routes
                if isinstance(r, APIRoute) and r.matches(request.scope)[0] != Match.NONE
                for m in r.methods
            }
            headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=headers)

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
        problems = [
            f"{field}: {message}{_given(error)}" for (field, message), error in zip(field_errors(exc), exc.errors())
        ]
        return JSONResponse(status_code=422, content={"detail": problems})

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)


ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "description": "what is wrong, naming the field, id or limit (zh-CN / English)",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"type": "object"}],
        },
        "request_id": {"type": "string", "description": "500 only: quote it to the operator"},
    },
}
ERRORS = {
    400: "请求体无法解析 / UTF-8 JSON nested at most about 1,000 deep, or the declared form, is expected",
    401: "缺少或无效的 API 密钥 / missing, unknown or revoked API key",
    403: "角色或终端不符 / the key lacks the role, or the terminal is not the key's",
    404: "对象不存在 / no object with this id (the message names it)",
    409: "与当前状态冲突 / conflicts with the object's state (id taken, job not finished or not retryable)",
    413: "请求体过大 / body or batch over the service's limit (the message names it)",
    422: "输入无效 / bad input: every bad field named with its path",
    429: "错误密钥过多 / too many wrong API keys from this address: wait Retry-After seconds",
    500: "服务器内部错误 / internal error: quote the request id",
}


def document_errors(schema: dict) -> dict:
    """Every error answer an operation can give, with the one error body the service sends (``detail``).

    Parameters
    ----------
    schema
        The OpenAPI document FastAPI generated; changed in place.

    Returns
    -------
    dict
        The same document: 401/403/429 on operations needing a key, 404 where a path names an object,
        409 where state can conflict, 400/413 where a body is sent, 422 where input is read, 500 everywhere.
    """
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for schemas in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(schemas, None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            codes = {500}
            if operation.get("security"):
                codes |= {401, 403, 429}
            if "{" in path:
                codes.add(404)
            if method != "get" or "{" in path:
                codes.add(409)
            if operation.get("requestBody"):
                codes |= {400, 413, 422}
            if operation.get("parameters"):
                codes.add(422)
            responses = operation.setdefault("responses", {})
            for code in sorted(codes):
                responses[str(code)] = {
                    "description": ERRORS[code],
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    **({"headers": {"Retry-After": {"schema": {"type": "integer"}}}} if code == 429 else {}),
                }
    return schema


class BodyLimit:
    """Refuses a request body over ``max_bytes`` with 413 before reading it (pure ASGI, so nothing is buffered).

    A declared ``Content-Length`` over the limit is answered at once; a chunked body is counted as it
    streams and refused the moment it passes the limit.
    """

    def __init__(self, app, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def message(self) -> str:
        limit = f"{self.max_bytes / 1024 / 1024:g} MB"
        return f"请求体超过 {limit} 上限 / request body over the {limit} limit (QINGYUN_MAX_BODY_MB)"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse(status_code=413, content={"detail": self.message()})(scope, receive, send)
            return
        seen = 0

        async def counted():
            nonlocal seen
            event = await receive()
            seen += len(event.get("body", b""))
            if seen > self.max_bytes:
                raise HTTPException(413, self.message())
            return event

        await self.app(scope, counted, send)


def _given(error: dict) -> str:
    """`` (given 'x')`` naming a short bad value, so the message says what was sent; nothing for long or nested ones."""
    value = error.get("input")
    if error.get("type") == "missing" or not isinstance(value, str | int | float) or len(repr(value)) > 80:
        return ""
    return f" (given {value!r})"


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
