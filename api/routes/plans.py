"""Plans: submit a solve (answered at once with the job id), follow it, fetch the result and exports."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, func, select

from api import auth
from api.deps import cached_json, cached_only, db_session, job_and_row, job_queue, settings
from api.jobs.engine import JobQueue, requeue
from api.services import planning
from api.settings import ApiSettings
from api.tables import Job, PlanRow

router = APIRouter(prefix="/plans", tags=["规划 / plans"], dependencies=[auth.dispatcher])


def _finished(session: Session, plan_id: str) -> PlanRow:
    job, plan = job_and_row(session, model=PlanRow, row_id=plan_id, what="plan")
    if job.status != "succeeded":
        raise HTTPException(409, f"plan {plan_id} is {job.status}, not solved yet: follow GET /plans/{plan_id}")
    return plan


@router.post("", status_code=202, summary="start a solve job; returns its id at once")
def submit(
    request: planning.PlanRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    config: ApiSettings = Depends(settings),
) -> dict:
    limit = request.time_limit_s or config.plan_time_limit_s
    if limit > config.plan_time_limit_max_s:
        raise HTTPException(
            422, f"time_limit_s: {limit:g} s is above this service's limit of {config.plan_time_limit_max_s:g} s"
        )
    scenario = planning.validated_scenario(request, session=session, service_osm=config.osm)
    plan = planning.create_plan(session, scenario=scenario, time_limit_s=limit, max_attempts=config.job_max_attempts)
    queue.dispatch(plan.id)
    return {"id": plan.id, "status": "queued", "url": f"/plans/{plan.id}"}


@router.get("", summary="list plans, newest first")
def list_plans(
    session: Session = Depends(db_session),
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict:
    total = session.exec(select(func.count()).select_from(PlanRow)).one()
    # the listed columns only: a plan row also holds its GeoJSON and route sheets (large)
    rows = session.exec(
        select(PlanRow.id, PlanRow.name, Job.status, PlanRow.created_at, PlanRow.kpi)
        .join(Job, Job.id == PlanRow.id)
        .order_by(PlanRow.created_at.desc())
        .offset(offset)
        .limit(limit)
    )
    items = [
        {"id": plan_id, "name": name, "status": status, "created_at": created.isoformat(), "kpi": kpi}
        for plan_id, name, status, created, kpi in rows
    ]
    return {"total": total, "items": items}


@router.get("/{plan_id}", summary="status, progress (best cost so far) and, when done, the plan (plan.json)")
def read(plan_id: str, request: Request, session: Session = Depends(db_session)) -> Response:
    # a solved plan never changes (plans are not edited or deleted): answer from memory
    if (hit := cached_only(request, f"plan:{plan_id}")) is not None:
        return hit
    job, plan = job_and_row(session, model=PlanRow, row_id=plan_id, what="plan")
    if job.status != "succeeded":  # changing: never cached
        return JSONResponse(planning.plan_status(session, plan, job))
    return cached_json(request, f"plan:{plan_id}", lambda: planning.plan_status(session, plan, job))


@router.post("/{plan_id}/retry", status_code=202, summary="queue a failed, retryable solve again")
def retry(plan_id: str, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)) -> dict:
    job_and_row(session, model=PlanRow, row_id=plan_id, what="plan")
    job = requeue(session.get_bind(), plan_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status, "attempts": job.attempts}


@router.get("/{plan_id}/routes.geojson", summary="routes along the roads and numbered stops (GeoJSON, WGS-84)")
def geojson(plan_id: str, request: Request, session: Session = Depends(db_session)) -> Response:
    if (hit := cached_only(request, f"geojson:{plan_id}", media_type="application/geo+json")) is not None:
        return hit
    plan = _finished(session, plan_id)
    return cached_json(
        request, f"geojson:{plan_id}", lambda: planning.stored_geojson(plan), media_type="application/geo+json"
    )


@router.get("/{plan_id}/sheets.csv", summary="route sheets of every truck (CSV, UTF-8)")
def sheets(plan_id: str, session: Session = Depends(db_session)) -> Response:
    text = planning.stored_sheet_csv(_finished(session, plan_id))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="plan-{plan_id[:8]}-sheets.csv"'},
    )


@router.get("/{plan_id}/sheets/{vehicle_id}.csv", summary="one truck's route sheet (CSV, UTF-8)")
def sheet(plan_id: str, vehicle_id: str, session: Session = Depends(db_session)) -> Response:
    text = planning.stored_sheet_csv(_finished(session, plan_id), vehicle_id=vehicle_id)
    if text is None:
        raise HTTPException(404, f"plan {plan_id} has no route for vehicle {vehicle_id!r}")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(f'route-{vehicle_id}.csv')}"},
    )
