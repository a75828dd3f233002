"""The supervisor's stored results: violations by filter, companies and their scores, audit jobs queued.

The audit itself (the runner, and storing permits and zones) is ``api.services.audits``; this
module answers the questions asked of what audits stored.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from api.jobs.engine import new_job
from api.services.audits import AuditRequest, check_period
from api.services.records import IsoDateTime, get_record, page, where_equal
from api.settings import Settings
from api.tables import CompanyRow, CompanyScoreRow, Job, ViolationRow, local_iso
from fleet.audit.violations import Severity, ViolationType
from routing.errors import NotFoundError
from routing.localtime import aware_utc


def queue_audit(session: Session, request: AuditRequest, *, settings: Settings) -> Job:
    """Store a queued audit job for the request's period and trucks (dispatch it separately).

    Parameters
    ----------
    session
        The request's session; committed.
    request
        The ``POST /audits`` body: the period and the trucks (None = every truck with a permit).
    settings
        The service's settings (how many attempts a job gets).

    Returns
    -------
    Job
        The queued audit job.

    Raises
    ------
    InvalidInputError
        The period does not end after it starts.
    """
    check_period(request.start, request.end)
    params = {"from": request.start.isoformat(), "to": request.end.isoformat(), "devices": request.devices}
    job = new_job(kind="audit", params=params, max_attempts=settings.service.job_max_attempts)
    session.add(job)
    session.commit()
    return job


def audit_job(session: Session, audit_id: str) -> Job:
    """The audit job with this id; raises ``NotFoundError`` naming it (other kinds of job are not audits).

    Parameters
    ----------
    session
        The request's session.
    audit_id
        The id the request named.

    Returns
    -------
    Job
        The audit job.

    Raises
    ------
    NotFoundError
        No job has this id, or it is not an audit.
    """
    job = session.get(Job, audit_id)
    if job is None or job.kind != "audit":
        raise NotFoundError(f"audit {audit_id!r} does not exist")
    return job


class ViolationQuery(BaseModel):
    """``GET /violations`` filters: every filter given must match; violations in start order, paged."""

    company: str | None = Field(None, max_length=128)
    type: ViolationType | None = None
    severity: Severity | None = None
    device: str | None = Field(None, max_length=64)
    start: IsoDateTime | None = Field(
        None, alias="from", description="violations starting at or after (ISO 8601 with offset)"
    )
    end: IsoDateTime | None = Field(None, alias="to", description="violations starting before")
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=10**9)


def find_violations(session: Session, query: ViolationQuery) -> tuple[int, list[dict]]:
    """Stored violations matching every filter of ``query``, in start order.

    Parameters
    ----------
    session
        The request's session.
    query
        The filters and the page.

    Returns
    -------
    tuple[int, list[dict]]
        How many match, and this page's violations (their documents with the row id).

    Raises
    ------
    InvalidInputError
        A time without UTC offset, or one that cannot be expressed in UTC.
    """
    rows = where_equal(
        select(ViolationRow),
        (
            (ViolationRow.company, query.company),
            (ViolationRow.type, query.type),
            (ViolationRow.severity, query.severity),
            (ViolationRow.device, query.device),
        ),
    )
    start, end = aware_utc("from", query.start), aware_utc("to", query.end)
    if start is not None:
        rows = rows.where(ViolationRow.start >= start)
    if end is not None:
        rows = rows.where(ViolationRow.start < end)
    order = (ViolationRow.start, ViolationRow.id)
    total, found = page(session, rows, order_by=order, limit=query.limit, offset=query.offset)
    return total, [{"id": r.id, **r.document} for r in found]


def companies_with_latest_score(session: Session) -> list[dict]:
    """Every transport company with its latest stored score (None before its first audit)."""
    items = []
    for company in session.exec(select(CompanyRow).order_by(CompanyRow.id)):
        latest = session.exec(
            select(CompanyScoreRow).where(CompanyScoreRow.company == company.id).order_by(CompanyScoreRow.period.desc())
        ).first()
        items.append({"id": company.id, "score": _score(latest) if latest else None})
    return items


def _score(row: CompanyScoreRow) -> dict:
    """A stored score as answered: its update time in China time."""
    return {**row.model_dump(mode="json"), "updated_at": local_iso(row.updated_at)}


def company_scores(session: Session, company_id: str, *, period: str | None, settings: Settings) -> list[dict]:
    """A company's scores per period, or for one period.

    A period without a stored score had no violations: audited or not, it keeps the full points
    (``settings.fleet.scores.start_points``).

    Parameters
    ----------
    session
        The request's session.
    company_id
        The transport company.
    period
        One period label ("2026-11-21", "2026-W47" or "2026-11", per ``settings.fleet.scores.period``);
        None = every stored period.
    settings
        The service's settings (the full points of a period without a stored score).

    Returns
    -------
    list[dict]
        The scores in period order: company, period, score, blacklisted, violations, deductions.

    Raises
    ------
    NotFoundError
        No company has this id.
    """
    get_record(session, CompanyRow, company_id, what="company")
    query = select(CompanyScoreRow).where(CompanyScoreRow.company == company_id)
    if period is not None:
        query = query.where(CompanyScoreRow.period == period)
    scores = [_score(s) for s in session.exec(query.order_by(CompanyScoreRow.period))]
    if period is not None and not scores:
        full = settings.fleet.scores.start_points
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
    return scores
