"""Stored alarms over HTTP: filters, the answer shape (China time), acknowledge and handle, the KPIs.

The alarms themselves and their lifecycle are ``fleet.supervise.store``; this module turns rows into
answers and computes what the municipal plans count: the found-and-handled rate (沿途遗撒发现处置率,
handled ÷ raised, withdrawn alarms not counted) and the time from an alarm being raised to its
acknowledgement and to its handling (median and 95th percentile), per company and period.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from api.services.records import IsoDateTime, where_equal
from api.tables import local_iso
from fleet.audit.violations import Severity, ViolationType
from fleet.supervise.store import AlarmRow
from routing.errors import InvalidInputError
from routing.localtime import aware_utc

AlarmStateName = Literal["open", "acknowledged", "handled", "closed"]


class AlarmQuery(BaseModel):
    """``GET /alarms`` filters: every filter given must match; newest first."""

    company: str | None = Field(None, max_length=128)
    device: str | None = Field(None, max_length=64)
    type: ViolationType | None = None
    severity: Severity | None = None
    state: AlarmStateName | None = None
    since: IsoDateTime | None = Field(None, description="alarms whose episode started at or after (ISO 8601, offset)")
    limit: int = Field(100, ge=1, le=1000)


class KpiQuery(BaseModel):
    """``GET /alarms/kpis``: alarms whose episode started in [since, until), optionally one company."""

    since: IsoDateTime | None = Field(None, description="inclusive (ISO 8601 with offset); default: all")
    until: IsoDateTime | None = Field(None, description="exclusive (ISO 8601 with offset); default: all")
    company: str | None = Field(None, max_length=128)


class HandleRequest(BaseModel):
    """What was done (处置) and, optionally, evidence (photos' ids, the officer's report, a location …)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=4000, description="what was done, in words")
    evidence: dict | None = Field(None, description="any JSON object kept with the handling")


class AlarmOut(BaseModel):
    """One alarm as answered: times in China time with offset."""

    id: int
    key: str
    device: str
    company: str | None
    type: str
    severity: str
    permit_id: str | None
    zone_id: str | None
    started_at: str
    ended_at: str | None
    raised_at: str
    late: bool
    withdrawn: bool
    state: AlarmStateName
    acknowledged_by: str | None
    acknowledged_at: str | None
    handled_by: str | None
    handled_at: str | None
    note: str | None
    handling_evidence: dict | None
    evidence: dict = Field(description="the violation as last judged: times, fixes, explanation (zh, en)")


class Spread(BaseModel):
    """Seconds from raised to the act, over the alarms that had it."""

    count: int
    median_s: float | None
    p95_s: float | None


class CompanyKpi(BaseModel):
    company: str | None
    raised: int = Field(description="alarms raised (withdrawn ones not counted)")
    handled: int
    handled_rate: float | None = Field(description="handled ÷ raised; null when none was raised")
    to_acknowledge: Spread
    to_handle: Spread


class KpiOut(BaseModel):
    since: str | None
    until: str | None
    total: CompanyKpi
    companies: list[CompanyKpi]


def alarm_out(row: AlarmRow) -> AlarmOut:
    """A stored alarm as the API answers it."""
    values = row.model_dump()
    for name in ("started_at", "ended_at", "raised_at", "acknowledged_at", "handled_at"):
        values[name] = local_iso(values[name])
    return AlarmOut(**values)


def find_alarms(session: Session, query: AlarmQuery) -> list[AlarmRow]:
    """Stored alarms matching every filter of ``query``, newest episode first."""
    rows = where_equal(
        select(AlarmRow),
        (
            (AlarmRow.company, query.company),
            (AlarmRow.device, query.device),
            (AlarmRow.type, query.type),
            (AlarmRow.severity, query.severity),
            (AlarmRow.state, query.state),
        ),
    )
    since = aware_utc("since", query.since)
    if since is not None:
        rows = rows.where(AlarmRow.started_at >= since)
    return list(session.exec(rows.order_by(AlarmRow.started_at.desc(), AlarmRow.id.desc()).limit(query.limit)))


def _spread(seconds: list[float]) -> Spread:
    if not seconds:
        return Spread(count=0, median_s=None, p95_s=None)
    ordered = sorted(seconds)

    def rank(q: float) -> float:  # linear interpolation between closest ranks (numpy's default)
        at = q * (len(ordered) - 1)
        low = math.floor(at)
        high = min(low + 1, len(ordered) - 1)
        return round(ordered[low] + (ordered[high] - ordered[low]) * (at - low), 3)

    return Spread(count=len(ordered), median_s=rank(0.5), p95_s=rank(0.95))


def _kpi(company: str | None, rows: list[AlarmRow]) -> CompanyKpi:
    raised = [r for r in rows if not r.withdrawn]
    handled = [r for r in raised if r.handled_at is not None]
    acked = [r for r in raised if r.acknowledged_at is not None]
    return CompanyKpi(
        company=company,
        raised=len(raised),
        handled=len(handled),
        handled_rate=round(len(handled) / len(raised), 4) if raised else None,
        to_acknowledge=_spread([(r.acknowledged_at - r.raised_at).total_seconds() for r in acked]),
        to_handle=_spread([(r.handled_at - r.raised_at).total_seconds() for r in handled]),
    )


def alarm_kpis(session: Session, query: KpiQuery) -> KpiOut:
    """Found-and-handled rate and time to acknowledge and to handle, in total and per company.

    Raises
    ------
    InvalidInputError
        A time without offset, or ``until`` not after ``since``.
    """
    since, until = aware_utc("since", query.since), aware_utc("until", query.until)
    if since is not None and until is not None and until <= since:
        raise InvalidInputError(f"until {query.until.isoformat()} 须晚于 since / must be after since")
    rows = select(AlarmRow)
    if since is not None:
        rows = rows.where(AlarmRow.started_at >= since)
    if until is not None:
        rows = rows.where(AlarmRow.started_at < until)
    if query.company is not None:
        rows = rows.where(AlarmRow.company == query.company)
    found = list(session.exec(rows))
    companies = sorted({r.company for r in found}, key=lambda c: (c is None, c or ""))
    return KpiOut(
        since=local_iso(since),
        until=local_iso(until),
        total=_kpi(query.company, found),
        companies=[_kpi(c, [r for r in found if r.company == c]) for c in companies],
    )
