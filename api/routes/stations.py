"""The planner's endpoints: transfer-station studies (CJJ/T 47-2016) as background jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, UploadFile
from fastapi.responses import HTMLResponse
from sqlmodel import Session

from api import auth
from api.deps import app_settings, db_session, finished_row, job_and_row, job_queue
from api.jobs.engine import job_status, requeue
from api.jobs.queues import JobQueue
from api.services.stations import create_study, upload_text
from api.settings import Settings
from api.tables import Job, StationStudyRow

router = APIRouter(prefix="/stations/plans", tags=["转运站 / stations"], dependencies=[auth.planner])

StudyId = Annotated[str, Path(max_length=36)]


@router.post("", status_code=202, summary="start a station study from communities.csv, candidates.csv [, params.json]")
def submit(
    communities: UploadFile = File(..., description="id,lon,lat,population[,t_per_day]"),
    candidates: UploadFile = File(
        ..., description="id,lon,lat,land_area_m2,max_class,cost_I..cost_V[,existing,current_class]"
    ),
    params: UploadFile = File(None, description="PlanningParams keys as JSON"),
    sweep: bool = Form(False, description="also solve q 0.8/1.0/1.2 × growth years"),
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    settings: Settings = Depends(app_settings),
) -> dict:
    files = {
        "communities": upload_text(
            filename=communities.filename or "communities.csv", content=communities.file.read(), what="communities"
        ),
        "candidates": upload_text(
            filename=candidates.filename or "candidates.csv", content=candidates.file.read(), what="candidates"
        ),
    }
    if params is not None:
        files["params"] = upload_text(
            filename=params.filename or "params.json", content=params.file.read(), what="params"
        )
    study = create_study(session, files=files, sweep=sweep, max_attempts=settings.service.job_max_attempts)
    queue.dispatch(study.id)
    return {"id": study.id, "status": "queued", "url": f"/stations/plans/{study.id}"}


def _study(session: Session, study_id: str) -> tuple[StationStudyRow, Job]:
    job, study = job_and_row(session, model=StationStudyRow, row_id=study_id, what="station study")
    return study, job


def _finished(session: Session, study_id: str) -> StationStudyRow:
    unfinished = f"station study {study_id} is {{status}}, not finished: follow GET /stations/plans/{study_id}"
    return finished_row(session, model=StationStudyRow, row_id=study_id, what="station study", unfinished=unfinished)


@router.get("/{study_id}", summary="status and, when done, the chosen stations, assignments and costs")
def read(study_id: StudyId, session: Session = Depends(db_session)) -> dict:
    study, job = _study(session, study_id)
    body = {**job_status(job), "id": study.id}
    if job.status == "succeeded":
        body.update(plan=study.result["plan"], sweep=study.result["sweep"])
    return body


@router.get("/{study_id}/catchments.geojson", summary="stations, catchments, communities (GeoJSON)")
def geojson(study_id: StudyId, session: Session = Depends(db_session)) -> dict:
    return _finished(session, study_id).result["geojson"]


@router.get("/{study_id}/report.html", response_class=HTMLResponse, summary="printable summary (zh-CN / English)")
def report(study_id: StudyId, session: Session = Depends(db_session)) -> str:
    return _finished(session, study_id).result["report_html"]


@router.post("/{study_id}/retry", status_code=202, summary="queue a failed, retryable study again")
def retry(study_id: StudyId, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)) -> dict:
    _study(session, study_id)
    job = requeue(session.get_bind(), study_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status}
