"""Street sweeping: plan a night as a job (dispatcher), follow it, fetch GeoJSON and route sheets; audit it (supervisor)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session

from api import auth
from api.deps import app_settings, db_session, job_queue
from api.jobs.engine import requeue
from api.jobs.queues import JobQueue
from api.services import sweeping
from api.settings import Settings

plans = APIRouter(prefix="/sweeping/plans", tags=["清扫 / sweeping"], dependencies=[auth.dispatcher])
audits = APIRouter(prefix="/sweeping/audits", tags=["清扫 / sweeping"], dependencies=[auth.supervisor])
router = APIRouter()

JobId = Annotated[str, Path(max_length=36)]
VehicleId = Annotated[str, Path(max_length=64)]
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


@plans.post("", status_code=202, summary="start a sweeping plan job from a night's scenario; returns its id at once")
def submit_plan(
    request: sweeping.SweepPlanRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    settings: Settings = Depends(app_settings),
) -> dict:
    job = sweeping.submit_sweep_plan(session, request=request, settings=settings)
    queue.dispatch(job.id)
    return {"id": job.id, "status": "queued", "url": f"/sweeping/plans/{job.id}"}


@plans.get("", summary="list sweeping plans, newest first (id, name, status, created)")
def list_plans(
    session: Session = Depends(db_session),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict:
    return sweeping.list_sweep_plans(session, limit=limit, offset=offset)


@plans.get("/{plan_id}", summary="status and, when done, the plan (plan.json: KPIs, vehicles, unserved kerbs)")
def read_plan(plan_id: JobId, session: Session = Depends(db_session)) -> dict:
    job = sweeping.sweep_job(session, job_id=plan_id, kind=sweeping.PLAN_KIND)
    return sweeping.job_body(job, result_key="plan")


@plans.get("/{plan_id}/routes.geojson", summary="served kerbs and deadheading per vehicle (GeoJSON)")
def plan_geojson(plan_id: JobId, session: Session = Depends(db_session)) -> JSONResponse:
    job = sweeping.sweep_job(session, job_id=plan_id, kind=sweeping.PLAN_KIND, finished=True)
    return JSONResponse(job.result["geojson"], media_type="application/geo+json")


@plans.get(
    "/{plan_id}/sheets/{vehicle}.csv",
    summary="one vehicle's route sheet: streets in order, side, serve or drive, times (CSV, UTF-8)",
    response_class=Response,
    responses=CSV,
)
def plan_sheet(plan_id: JobId, vehicle: VehicleId, session: Session = Depends(db_session)) -> Response:
    job = sweeping.sweep_job(session, job_id=plan_id, kind=sweeping.PLAN_KIND, finished=True)
    name = quote(f"sweep-{plan_id[:8]}-{vehicle}.csv")
    return Response(
        sweeping.sheet_text(job, vehicle=vehicle),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@plans.post("/{plan_id}/retry", status_code=202, summary="queue a failed, retryable sweeping plan again")
def retry_plan(plan_id: JobId, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)) -> dict:
    sweeping.sweep_job(session, job_id=plan_id, kind=sweeping.PLAN_KIND)
    job = requeue(session.get_bind(), plan_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status}


@audits.post(
    "",
    status_code=202,
    summary="audit the sweepers' stored tracks of a period against a sweeping plan",
    responses={404: {"description": "清扫计划不存在 / no sweeping plan with this plan_id", "content": _ERROR}},
)
def submit_audit(
    request: sweeping.SweepAuditRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    settings: Settings = Depends(app_settings),
) -> dict:
    job = sweeping.submit_sweep_audit(session, request=request, settings=settings)
    queue.dispatch(job.id)
    return {"id": job.id, "status": "queued", "url": f"/sweeping/audits/{job.id}"}


@audits.get("/{audit_id}", summary="status and, when done, the achieved rate, kerbs, streets missed or too fast")
def read_audit(audit_id: JobId, session: Session = Depends(db_session)) -> dict:
    job = sweeping.sweep_job(session, job_id=audit_id, kind=sweeping.AUDIT_KIND)
    return sweeping.job_body(job, result_key="audit")


@audits.post("/{audit_id}/retry", status_code=202, summary="queue a failed, retryable sweeping audit again")
def retry_audit(audit_id: JobId, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)) -> dict:
    sweeping.sweep_job(session, job_id=audit_id, kind=sweeping.AUDIT_KIND)
    job = requeue(session.get_bind(), audit_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status}


router.include_router(plans)
router.include_router(audits)
