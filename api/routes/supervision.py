"""The supervisor's endpoints: permits, zones, audits, violations, company scores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import Session, select

from api import auth
from api.deps import app_settings, db_session, job_queue
from api.jobs.engine import job_status, requeue
from api.jobs.queues import JobQueue
from api.services.audits import AuditRequest, store_permits, store_zones
from api.services.records import delete_record, page
from api.services.supervision import (
    ViolationQuery,
    audit_job,
    companies_with_latest_score,
    company_scores,
    find_violations,
    queue_audit,
)
from api.settings import Settings
from api.tables import PermitRow, ZoneRow
from fleet.audit.inputs import PermitsFile, ZonesFile

router = APIRouter(tags=["监管 / supervision"], dependencies=[auth.supervisor])

PermitId = Annotated[str, Path(max_length=64)]
ZoneId = Annotated[str, Path(max_length=64)]
AuditId = Annotated[str, Path(max_length=36)]
CompanyId = Annotated[str, Path(max_length=128)]


@router.post("/permits", summary="create or replace permits (permits.json)")
def post_permits(
    document: PermitsFile, session: Session = Depends(db_session), settings: Settings = Depends(app_settings)
) -> dict:
    return {"stored": store_permits(session, document.permits, settings=settings)}


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
    total, rows = page(session, query, order_by=(PermitRow.permit_id,), limit=limit, offset=offset)
    return {"total": total, "items": [r.document for r in rows]}


@router.delete("/permits/{permit_id}", status_code=204, summary="delete a permit")
def delete_permit(permit_id: PermitId, session: Session = Depends(db_session)) -> None:
    delete_record(session, PermitRow, permit_id, what="permit")


@router.post("/zones", summary="create or replace zones (zones.geojson FeatureCollection)")
def post_zones(
    document: ZonesFile, session: Session = Depends(db_session), settings: Settings = Depends(app_settings)
) -> dict:
    return {"stored": store_zones(session, document.features, settings=settings)}


@router.get("/zones", summary="zones as a GeoJSON FeatureCollection")
def list_zones(session: Session = Depends(db_session)) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [z.document for z in session.exec(select(ZoneRow).order_by(ZoneRow.id))],
    }


@router.delete("/zones/{zone_id}", status_code=204, summary="delete a zone")
def delete_zone(zone_id: ZoneId, session: Session = Depends(db_session)) -> None:
    delete_record(session, ZoneRow, zone_id, what="zone")


@router.post("/audits", status_code=202, summary="audit stored positions against permits and zones (background job)")
def post_audit(
    request: AuditRequest,
    session: Session = Depends(db_session),
    queue: JobQueue = Depends(job_queue),
    settings: Settings = Depends(app_settings),
) -> dict:
    job = queue_audit(session, request, settings=settings)
    queue.dispatch(job.id)
    return {"id": job.id, "status": "queued", "url": f"/audits/{job.id}"}


@router.get("/audits/{audit_id}", summary="audit status and summary")
def get_audit(audit_id: AuditId, session: Session = Depends(db_session)) -> dict:
    job = audit_job(session, audit_id)
    return {**job_status(job), "result": job.result, "params": job.params}


@router.post("/audits/{audit_id}/retry", status_code=202, summary="queue a failed, retryable audit again")
def retry_audit(
    audit_id: AuditId, session: Session = Depends(db_session), queue: JobQueue = Depends(job_queue)
) -> dict:
    audit_job(session, audit_id)
    job = requeue(session.get_bind(), audit_id)
    queue.dispatch(job.id)
    return {"id": job.id, "status": job.status}


@router.get("/violations", summary="violations with filters (company, type, severity, device, time)")
def list_violations(query: Annotated[ViolationQuery, Query()], session: Session = Depends(db_session)) -> dict:
    total, items = find_violations(session, query)
    return {"total": total, "items": items}


@router.get("/companies", summary="transport companies with their latest score")
def list_companies(session: Session = Depends(db_session)) -> dict:
    return {"items": companies_with_latest_score(session)}


@router.get("/companies/{company_id}/score", summary="a company's score per period (100 start, below 60 blacklisted)")
def company_score(
    company_id: CompanyId,
    session: Session = Depends(db_session),
    settings: Settings = Depends(app_settings),
    period: str | None = Query(None, max_length=16, description="2026-11 (month), 2026-W47 or 2026-11-21"),
) -> dict:
    return {"company": company_id, "scores": company_scores(session, company_id, period=period, settings=settings)}
