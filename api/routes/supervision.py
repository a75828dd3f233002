"""The supervisor's endpoints: permits, zones, audits, violations, company scores."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlmodel import Session, func, select

from api import auth
from api.deps import db_session, job_queue, settings
from api.jobs.engine import JobQueue, new_job, requeue
from api.services.audits import AuditRequest, check_period, store_permits, store_zones
from api.settings import ApiSettings
from api.tables import CompanyRow, CompanyScoreRow, Job, PermitRow, ViolationRow, ZoneRow
from fleet.audit.rules import PermitsFile, ZonesFile

router = APIRouter(tags=["监管 / supervision"], dependencies=[auth.supervisor])

SEVERITIES = ("low", "medium", "high")


def _aware(name: str, value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or not 2000 <= value.year <= 2099):
        raise HTTPException(
            422,
            f"{name}: {value.isoformat()} needs a UTC offset and a year in 2000–2099, e.g. 2026-11-22T06:00:00+08:00",
        )
    return value


@router.post("/permits", summary="create or replace permits (permits.json)")
def post_permits(document: PermitsFile, session: Session = Depends(db_session)) -> dict:
    return {"stored": store_permits(session, document.permits)}


@router.get("/permits", summary="list permits")
def list_permits(
    session: Session = Depends(db_session),
    company: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict:
    query = select(PermitRow)
    if company is not None:
        query = query.where(PermitRow.company == company)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(PermitRow.permit_id).offset(offset).limit(limit))
    return {"total": total, "items": [r.document for r in rows]}


@router.delete("/permits/{permit_id}", status_code=204, summary="delete a permit")
def delete_permit(permit_id: str, session: Session = Depends(db_session)) -> None:
    row = session.get(PermitRow, permit_id)
    if row is None:
        raise HTTPException(404, f"no permit {permit_id!r}")
    session.delete(row)
    session.commit()


@router.post("/zones", summary="create or replace zones (zones.geojson FeatureCollection)")
def post_zones(document: ZonesFile, session: Session = Depends(db_session)) -> dict:
    return {"stored": store_zones(session, document.features)}


@router.get("/zones", summary="zones as a GeoJSON FeatureCollection")
def list_zones(session: Session = Depends(db_session)) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [z.document for z in session.exec(select(ZoneRow).order_by(ZoneRow.id))],
    }


@router.delete("/zones/{zone_id}", status_code=204, summary="delete a zone")
def delete_zone(zone_id: str, session: Session = Depends(db_session)) -> None:
    row = session.get(ZoneRow, zone_id)
    if row is None:
        raise HTTPException(404, f"no zone {zone_id!r}")
    session.delete(row)
    session.commit()


@router.post("/audits", status_code=202, summary="audit stored positions against permits and zones (background job)")
def post_audit(
    request: AuditRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    config: ApiSettings = Depends(settings),
) -> dict:
    check_period(request.start, request.end)
    params = {"from": request.start.isoformat(), "to": request.end.isoformat(), "devices": request.devices}
    job = new_job(kind="audit", params=params, max_attempts=config.job_max_attempts)
    session.add(job)
    session.commit()
    queue.dispatch(job.id)
    return {"id": job.id, "status": "queued", "url": f"/audits/{job.id}"}


def _audit(session: Session, audit_id: str) -> Job:
    job = session.get(Job, audit_id)
    if job is None or job.kind != "audit":
        raise HTTPException(404, f"audit {audit_id!r} does not exist")
    return job


@router.get("/audits/{audit_id}", summary="audit status and summary")
def get_audit(audit_id: str, session: Session = Depends(db_session)) -> dict:
    job = _audit(session, audit_id)
    return {
        "id": job.id,
        "status": job.status,
        "progress": job.progress,
        "result": job.result,
        "error": job.error,
        "retryable": job.retryable,
        "attempts": job.attempts,
        "params": job.params,
    }


@router.post("/audits/{audit_id}/retry", status_code=202, summary="queue a failed, retryable audit again")
def retry_audit(audit_id: str, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)) -> dict:
    _audit(session, audit_id)
    job = requeue(session.get_bind(), audit_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status}


@router.get("/violations", summary="violations with filters (company, type, severity, device, time)")
def list_violations(
    session: Session = Depends(db_session),
    company: str | None = None,
    type: str | None = Query(
        None,
        description="off_route, restricted_zone, outside_hours, speeding, suspected_dumping, trip_not_closed, no_permit, reporting_gap",
    ),
    severity: str | None = Query(None, description="low, medium or high"),
    device: str | None = None,
    start: datetime | None = Query(
        None, alias="from", description="violations starting at or after (ISO 8601 with offset)"
    ),
    end: datetime | None = Query(None, alias="to", description="violations starting before"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> dict:
    from fleet.audit.rules import TYPE_LABELS

    if type is not None and type not in TYPE_LABELS:
        raise HTTPException(422, f"type: {type!r} is not one of {', '.join(TYPE_LABELS)}")
    if severity is not None and severity not in SEVERITIES:
        raise HTTPException(422, f"severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
    query = select(ViolationRow)
    for column, value in (
        (ViolationRow.company, company),
        (ViolationRow.type, type),
        (ViolationRow.severity, severity),
        (ViolationRow.device, device),
    ):
        if value is not None:
            query = query.where(column == value)
    if _aware("from", start) is not None:
        query = query.where(ViolationRow.start >= start)
    if _aware("to", end) is not None:
        query = query.where(ViolationRow.start < end)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(ViolationRow.start, ViolationRow.id).offset(offset).limit(limit))
    return {"total": total, "items": [{"id": r.id, **r.document} for r in rows]}


@router.get("/companies", summary="transport companies with their latest score")
def list_companies(session: Session = Depends(db_session)) -> dict:
    items = []
    for company in session.exec(select(CompanyRow).order_by(CompanyRow.id)):
        latest = session.exec(
            select(CompanyScoreRow).where(CompanyScoreRow.company == company.id).order_by(CompanyScoreRow.period.desc())
        ).first()
        items.append({"id": company.id, "score": latest.model_dump(mode="json") if latest else None})
    return {"items": items}


@router.get("/companies/{company_id}/score", summary="a company's score per period (100 start, below 60 blacklisted)")
def company_score(
    company_id: str,
    session: Session = Depends(db_session),
    period: str | None = Query(None, max_length=16, description="2026-11 (month), 2026-W47 or 2026-11-21"),
) -> dict:
    if session.get(CompanyRow, company_id) is None:
        raise HTTPException(404, f"no company {company_id!r}")
    query = select(CompanyScoreRow).where(CompanyScoreRow.company == company_id)
    if period is not None:
        query = query.where(CompanyScoreRow.period == period)
    scores = [s.model_dump(mode="json") for s in session.exec(query.order_by(CompanyScoreRow.period))]
    if period is not None and not scores:
        from fleet.audit.scores import ScoreSettings

        full = ScoreSettings().start_points  # audited or not, a period without violations keeps its full points
        scores = [
            {
                "company": company_id,
                "period": period,
                "score": full,
                "blacklisted": False,
                "violations": 0,
                "deductions": [],
            }
        ]
    return {"company": company_id, "scores": scores}
