"""The FastAPI application: ``create_app()`` wires settings, database, job queue, routes and the map page."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import StatementError

from api.jobs.engine import JobStateError
from api.settings import ApiSettings, api_settings
from routing.errors import QingyunError

STATIC = Path(__file__).with_name("static")

DESCRIPTION = """清运 Qingyun 服务 / service: collection planning, fleet supervision, transfer-station planning.

Authenticate with an `X-API-Key` header (`qingyun keys create --role ROLE`). Roles: **dispatcher**
(plans, sites, vehicles, depots, facilities), **supervisor** (tracks, permits, zones, audits,
violations, scores), **planner** (station studies), **device** (position ingest), **admin** (keys).
Times are ISO 8601 with offset (local +08:00). Coordinates are WGS-84 lon/lat."""


def _open_queue(app: FastAPI, settings: ApiSettings):
    from api.jobs.engine import CeleryQueue, InProcessQueue

    if settings.redis_url:
        return CeleryQueue(
            app.state.engine, redis_url=settings.redis_url, queue=settings.celery_queue, lease_s=settings.job_lease_s
        )
    return InProcessQueue(app.state.engine, workers=settings.job_workers, lease_s=settings.job_lease_s)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """The service app; the database is migrated to the latest schema before the first request."""
    from api.db import engine_for

    settings = settings or api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.jobs = _open_queue(app, settings)
        try:
            yield
        finally:
            app.state.jobs.close()

    app = FastAPI(title="清运 Qingyun API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine_for(settings.database_url)
    app.add_middleware(GZipMiddleware, minimum_size=2000)

    @app.exception_handler(QingyunError)
    async def user_error(request: Request, exc: QingyunError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(JobStateError)
    async def job_state(request: Request, exc: JobStateError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(StatementError)
    async def database_refused(request: Request, exc: StatementError) -> JSONResponse:
        # the database's own checks (text too long for its column, NUL bytes, duplicate key) are the user's input
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0]
        return JSONResponse(
            status_code=422, content={"detail": f"数据库拒绝该值 / the database refused a value: {reason}"}
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": problems})

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
            "jobs": "celery" if settings.redis_url else "in-process",
        }

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
