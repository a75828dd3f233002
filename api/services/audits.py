"""Audits in the service: stored positions against stored permits and zones, as a background job.

The audit is the one pipeline of the CLI (``fleet.audit.pipeline.run_audit``, positions from
``fleet.tracks.sources.db_positions``); this module reads permits and zones from the database,
runs it, and stores violations (re-auditing a period
replaces that period's violations of the audited trucks, so nothing is counted twice) and
the companies' scores for every period touched.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete
from sqlmodel import Session, select

from api.jobs.engine import JobContext
from api.services.records import IsoDateTime
from api.settings import Settings
from api.tables import CompanyRow, CompanyScoreRow, PermitRow, ViolationRow, ZoneRow, utc_now
from fleet.audit.geometry import compile_permits, compile_zones
from fleet.audit.inputs import Permit, ZoneFeature
from fleet.audit.scores import company_scores, period_of
from fleet.audit.settings import ScoreSettings
from fleet.audit.violations import Violation
from fleet.tracks.store import normalise_phone
from routing.errors import InvalidInputError, QingyunError
from routing.localtime import CHINA_TZ
from routing.planning.scenario import ID_MAX, ID_PATTERN


class AuditRequest(BaseModel):
    """``POST /audits``: which trucks, which period (positions already stored)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    start: IsoDateTime = Field(alias="from", description="ISO 8601 with offset, inclusive")
    end: IsoDateTime = Field(alias="to", description="ISO 8601 with offset, exclusive")
    devices: list[str] | None = Field(
        None, max_length=10_000, description="terminal phones; none = every truck with a permit"
    )

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no UTC offset; write e.g. 2026-11-22T06:00:00+08:00")
        if not 2000 <= value.year <= 2099:
            raise ValueError(f"{value.isoformat()} is outside 2000–2099")
        return value


def _safe_ids(named: list[tuple[str, str]], *, pattern: str | None = ID_PATTERN, most: int = ID_MAX) -> None:
    """Ids that can be named in a URL (``GET/DELETE /permits/{id}``): the scenario's safe set and length."""
    for where, value in named:
        if not 1 <= len(value) <= most or (pattern is not None and not re.match(pattern, value)):
            raise InvalidInputError(
                f"{where}: {value[:80]!r} — ids are 1–{most} letters, digits, CJK or '-_.' (not first)"
                if pattern
                else f"{where}: {value[:80]!r} — 1–{most} characters"
            )


def _compiles(items: list, compile_one, what, *, settings: Settings) -> None:
    """Refuse at the door what the audit could not use later (one bad permit or zone must not stop every audit)."""
    from api.services.network import service_network

    network = service_network(settings.network)
    for i, item in enumerate(items):
        try:
            compile_one(item, network, settings.fleet.compliance)
        except QingyunError as exc:
            raise InvalidInputError(f"{what(i, item)}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - shapely/pyproj raise many types for absurd coordinates
            raise InvalidInputError(f"{what(i, item)}: geometry cannot be used ({type(exc).__name__}: {exc})") from None


def store_permits(session: Session, permits: list[Permit], *, settings: Settings) -> int:
    """Create or replace permits by id; their companies are registered.

    Each permit is compiled against the road network first, so one bad permit is refused here
    rather than failing every later audit.

    Parameters
    ----------
    session
        The request's session; committed.
    permits
        The permits; one whose ``permit_id`` is stored replaces it. Naive validity times are China time.
    settings
        The service's settings: the road network and the compliance settings permits are compiled with.

    Returns
    -------
    int
        How many permits were stored.

    Raises
    ------
    InvalidInputError
        A permit cannot be compiled (its index and id named); none is stored.
    """
    _safe_ids([(f"permits[{i}].permit_id", p.permit_id) for i, p in enumerate(permits)])
    _safe_ids([(f"permits[{i}].company", p.company) for i, p in enumerate(permits)], pattern=None, most=128)
    _compiles(
        permits,
        lambda p, net, st: compile_permits([p], projector=net, settings=st, network=net),
        lambda i, p: f"permits[{i}] (id {p.permit_id})",
        settings=settings,
    )
    for permit in permits:
        if session.get(CompanyRow, permit.company) is None:
            session.add(CompanyRow(id=permit.company, created_at=utc_now()))
            session.flush()
        session.merge(
            PermitRow(
                permit_id=permit.permit_id,
                device=normalise_phone(permit.device),
                company=permit.company,
                valid_from=_aware(permit.valid_from),
                valid_until=_aware(permit.valid_until),
                document=permit.model_dump(mode="json"),
            )
        )
    session.commit()
    return len(permits)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA_TZ)


def store_zones(session: Session, zones: list[ZoneFeature], *, settings: Settings) -> int:
    """Create or replace zones by id, each compiled first so one bad zone cannot fail every later audit.

    Parameters
    ----------
    session
        The request's session; committed.
    zones
        GeoJSON zone features; one whose ``properties.id`` is stored replaces it.
    settings
        The service's settings (the road network's projection).

    Returns
    -------
    int
        How many zones were stored.

    Raises
    ------
    InvalidInputError
        A zone's geometry cannot be used (its feature index and id named); none is stored.
    """
    _safe_ids([(f"features[{i}].properties.id", z.properties.id) for i, z in enumerate(zones)])
    _compiles(
        zones,
        lambda z, net, st: compile_zones([z], projector=net),
        lambda i, z: f"features[{i}] (id {z.properties.id})",
        settings=settings,
    )
    for zone in zones:
        session.merge(
            ZoneRow(
                id=zone.properties.id,
                name=zone.properties.name,
                kind=zone.properties.kind,
                document=zone.model_dump(mode="json"),
            )
        )
    session.commit()
    return len(zones)


def run_audit(ctx: JobContext):
    """Audit the requested trucks over the period with the one pipeline; the writer stores violations and scores.

    The trucks are the request's devices, or every truck with a permit; devices that never reported
    (no terminal) have no positions to audit.
    """
    from api.services.network import service_network
    from fleet.audit.pipeline import run_audit as audit
    from fleet.tracks.sources import Period, db_positions
    from fleet.tracks.store import unknown_terminals

    period = Period(datetime.fromisoformat(ctx.params["from"]), datetime.fromisoformat(ctx.params["to"]))
    start, end = period.start, period.end
    with Session(ctx.engine) as session:
        permits = [Permit.model_validate(p.document) for p in session.exec(select(PermitRow))]
        zones = [ZoneFeature.model_validate(z.document) for z in session.exec(select(ZoneRow))]
    permits = [p.model_copy(update={"device": normalise_phone(p.device)}) for p in permits]
    devices = sorted({normalise_phone(d) for d in ctx.params.get("devices") or [p.device for p in permits]})
    silent = set(unknown_terminals(ctx.engine, devices))
    positions = db_positions(ctx.engine, period=period, devices=[d for d in devices if d not in silent])
    ctx.progress(stage="auditing", positions=positions.rows_read, devices=len(devices))
    permits = [p for p in permits if p.device in devices]
    fleet = ctx.settings.fleet
    result = audit(
        positions=positions,
        permits=permits,
        zones=zones,
        network=service_network(ctx.settings.network),
        settings=fleet,
        period=period,
        progress=ctx.progress,
    )
    violations = result.violations
    companies = sorted({p.company for p in permits})
    summary = {"devices": len(devices), **result.summary().model_dump(mode="json")}

    def write(session: Session) -> None:
        session.exec(
            delete(ViolationRow).where(
                ViolationRow.device.in_(devices), ViolationRow.start >= start, ViolationRow.start < end
            )
        )
        for v in violations:
            session.add(
                ViolationRow(
                    device=v.device,
                    company=v.company,
                    permit_id=v.permit_id,
                    type=v.type,
                    severity=v.severity,
                    start=datetime.fromisoformat(v.start),
                    end=datetime.fromisoformat(v.end),
                    lon=v.lon,
                    lat=v.lat,
                    audit_id=ctx.job_id,
                    document=v.model_dump(mode="json"),
                )
            )
        session.flush()
        periods = sorted(set(result.periods) | {period_of(v.start, fleet.scores.period) for v in violations})
        _rescore(session, companies=companies, periods=periods, settings=fleet.scores)

    return summary, write


def _rescore(session: Session, *, companies: list[str], periods: list[str], settings: ScoreSettings) -> None:
    """Recompute the stored scores of these companies for these periods from every stored violation."""
    if not companies:
        return
    stored = [
        Violation.model_validate(row.document)
        for row in session.exec(select(ViolationRow).where(ViolationRow.company.in_(companies)))
    ]
    relevant = [v for v in stored if period_of(v.start, settings.period) in periods]
    for score in company_scores(relevant, companies=companies, periods=periods, settings=settings):
        if score.company not in companies:
            continue
        session.merge(
            CompanyScoreRow(
                company=score.company,
                period=score.period,
                score=score.score,
                blacklisted=score.blacklisted,
                violations=score.violations,
                deductions=[d.model_dump(mode="json") for d in score.deductions],
                updated_at=utc_now(),
            )
        )


def check_period(start: datetime, end: datetime) -> None:
    """Refuse an empty or reversed audit period before a job is queued for it.

    Parameters
    ----------
    start, end
        The period [start, end), aware datetimes.

    Raises
    ------
    InvalidInputError
        ``end`` is not after ``start``.
    """
    if end <= start:
        raise InvalidInputError(f"to ({end.isoformat()}) is not after from ({start.isoformat()})")
