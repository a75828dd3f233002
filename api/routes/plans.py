"""Plans: submit a solve (answered at once with the job id), follow it, fetch the result and exports."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from api import auth
from api.deps import app_settings, cached_json, cached_only, db_session, finished_row, job_and_row, job_queue
from api.jobs.engine import requeue
from api.jobs.queues import JobQueue
from api.services import planning, replans
from api.settings import Settings
from api.tables import Job, PlanRow
from routing.errors import NotFoundError

router = APIRouter(prefix="/plans", tags=["规划 / plans"], dependencies=[auth.dispatcher])

CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
PlanId = Annotated[str, Path(max_length=36)]
VehicleId = Annotated[str, Path(max_length=64)]


def _finished(session: Session, plan_id: str) -> PlanRow:
    unfinished = f"plan {plan_id} is {{status}}, not solved yet: follow GET /plans/{plan_id}"
    return finished_row(session, model=PlanRow, row_id=plan_id, what="plan", unfinished=unfinished)


@router.post("", status_code=202, summary="start a solve job; returns its id at once")
def submit(
    request: planning.PlanRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    settings: Settings = Depends(app_settings),
) -> dict:
    plan = planning.submit_plan(session, request=request, settings=settings)
    queue.dispatch(plan.id)
    return {"id": plan.id, "status": "queued", "url": f"/plans/{plan.id}"}


@router.post(
    "/{plan_id}/replan", status_code=202, summary="re-plan the rest of a solved plan's day: a new, linked plan"
)
def replan(
    plan_id: PlanId,
    request: replans.ReplanRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    settings: Settings = Depends(app_settings),
) -> dict:
    old = _finished(session, plan_id)
    document = planning.plan_document(session, old)
    plan = replans.submit_replan(session, plan=old, document=document, request=request, settings=settings)
    queue.dispatch(plan.id)
    return {"id": plan.id, "status": "queued", "url": f"/plans/{plan.id}", "replans": plan_id}


@router.get("", summary="list plans, newest first")
def list_plans(
    session: Session = Depends(db_session),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict:
    return planning.list_plans(session, limit=limit, offset=offset)


@router.get("/{plan_id}", summary="status, progress (best cost so far) and, when done, the plan (plan.json)")
def read(plan_id: PlanId, request: Request, session: Session = Depends(db_session)) -> Response:
    # a solved plan never changes (plans are not edited or deleted): answer from memory
    if (hit := cached_only(request, f"plan:{plan_id}")) is not None:
        return hit
    job, plan = job_and_row(session, model=PlanRow, row_id=plan_id, what="plan")
    if job.status != "succeeded":  # changing: never cached
        return JSONResponse(planning.plan_status(session, plan, job))
    return cached_json(request, f"plan:{plan_id}", lambda: planning.plan_status(session, plan, job))


@router.post("/{plan_id}/retry", status_code=202, summary="queue a failed, retryable solve again")
def retry(plan_id: PlanId, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)) -> dict:
    job_and_row(session, model=PlanRow, row_id=plan_id, what="plan")
    job = requeue(session.get_bind(), plan_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status, "attempts": job.attempts}


@router.get(
    "/{plan_id}/routes.geojson",
    summary="routes along the roads and numbered stops (GeoJSON, WGS-84)",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {"schema": {"type": "object"}}}}},
)
def geojson(plan_id: PlanId, request: Request, session: Session = Depends(db_session)) -> Response:
    if (hit := cached_only(request, f"geojson:{plan_id}", media_type="application/geo+json")) is not None:
        return hit
    plan = _finished(session, plan_id)
    return cached_json(
        request, f"geojson:{plan_id}", lambda: planning.stored_geojson(plan), media_type="application/geo+json"
    )


@router.get(
    "/{plan_id}/sheets.csv",
    summary="route sheets of every truck (CSV, UTF-8)",
    response_class=Response,
    responses=CSV,
)
def sheets(plan_id: PlanId, session: Session = Depends(db_session)) -> Response:
    text = planning.stored_sheet_csv(_finished(session, plan_id))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plan-{plan_id[:8]}-sheets.csv"'},
    )


@router.get(
    "/{plan_id}/sheets/{vehicle_id}.csv",
    summary="one truck's route sheet (CSV, UTF-8)",
    response_class=Response,
    responses=CSV,
)
def sheet(plan_id: PlanId, vehicle_id: VehicleId, session: Session = Depends(db_session)) -> Response:
    text = planning.stored_sheet_csv(_finished(session, plan_id), vehicle_id=vehicle_id)
    if text is None:
        raise NotFoundError(f"plan {plan_id} has no route for vehicle {vehicle_id!r}")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'route-{vehicle_id}.csv')}"},
    )


def _changes(session: Session, plan_id: str, vehicle_id: str | None) -> str | None:
    _finished(session, plan_id)
    return replans.changes_csv(session.get(Job, plan_id), vehicle_id=vehicle_id)


@router.get(
    "/{plan_id}/changes.csv",
    summary="a re-plan's change sheets: per driver only what changed (CSV, UTF-8)",
    response_class=Response,
    responses=CSV,
)
def changes(plan_id: PlanId, session: Session = Depends(db_session)) -> Response:
    return Response(
        _changes(session, plan_id, None),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plan-{plan_id[:8]}-changes.csv"'},
    )


@router.get(
    "/{plan_id}/changes/{vehicle_id}.csv",
    summary="one driver's change sheet of a re-plan (CSV, UTF-8)",
    response_class=Response,
    responses=CSV,
)
def vehicle_changes(plan_id: PlanId, vehicle_id: VehicleId, session: Session = Depends(db_session)) -> Response:
    text = _changes(session, plan_id, vehicle_id)
    if text is None:
        raise NotFoundError(f"re-plan {plan_id} changed nothing for vehicle {vehicle_id!r}")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'changes-{vehicle_id}.csv')}"},
    )
