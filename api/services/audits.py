"""Audits in the service: stored positions against stored permits and zones, as a background job.

The rules are ``fleet.audit.rules`` and the scores ``fleet.audit.scores``; this module reads the
inputs from the database, runs the library, and stores violations (re-auditing a period
replaces that period's violations of the audited trucks, so nothing is counted twice) and
the companies' scores for every period touched.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete
from sqlmodel import Session, select

from api.jobs.engine import JobContext, runner
from api.tables import CompanyRow, CompanyScoreRow, PermitRow, ViolationRow, ZoneRow, utc_now
from fleet.audit.rules import Permit, Violation, ZoneFeature
from fleet.tracks.store import Position, normalise_phone
from routing.errors import QingyunError


class AuditRequest(BaseModel):
    """``POST /audits``: which trucks, which period (positions already stored)."""

    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(alias="from", description="ISO 8601 with offset, inclusive")
    end: datetime = Field(alias="to", description="ISO 8601 with offset, exclusive")
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


def _compiles(items: list, compile_one, what) -> None:
    """Refuse at the door what the audit could not use later (one bad permit or zone must not stop every audit)."""
    from api.services.planning import service_network
    from api.settings import api_settings
    from fleet.audit.rules import ComplianceSettings

    network, settings = service_network(api_settings().osm), ComplianceSettings()
    for i, item in enumerate(items):
        try:
            compile_one(item, network, settings)
        except QingyunError as exc:
            raise QingyunError(f"{what(i, item)}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - shapely/pyproj raise many types for absurd coordinates
            raise QingyunError(f"{what(i, item)}: geometry cannot be used ({type(exc).__name__}: {exc})") from None


def store_permits(session: Session, permits: list[Permit]) -> int:
    """Create or replace permits by id; their companies are registered."""
    from fleet.audit.rules import compile_permits

    _compiles(
        permits,
        lambda p, net, st: compile_permits([p], projector=net, settings=st, network=net),
        lambda i, p: f"permits[{i}] (id {p.permit_id})",
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
    from fleet.tracks.track import LOCAL_TZ

    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def store_zones(session: Session, zones: list[ZoneFeature]) -> int:
    from fleet.audit.rules import compile_zones

    _compiles(
        zones,
        lambda z, net, st: compile_zones([z], projector=net),
        lambda i, z: f"features[{i}] (id {z.properties.id})",
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


@runner("audit")
def run_audit(ctx: JobContext):
    """Audit the requested trucks over the period; the writer stores violations and scores."""
    import pandas as pd

    from api.services.planning import service_network
    from api.settings import api_settings
    from fleet.audit.rules import ComplianceSettings, audit_fleet, compile_permits, compile_zones
    from fleet.audit.scores import ScoreSettings, period_of
    from fleet.tracks.track import TrackSettings, build_tracks, read_positions

    start, end = datetime.fromisoformat(ctx.params["from"]), datetime.fromisoformat(ctx.params["to"])
    with Session(ctx.engine) as session:
        permit_rows = list(session.exec(select(PermitRow)))
        zone_rows = list(session.exec(select(ZoneRow)))
        devices = ctx.params.get("devices") or sorted({p.device for p in permit_rows})
        devices = [normalise_phone(d) for d in devices]
        query = (
            select(Position)
            .where(Position.terminal_phone.in_(devices), Position.gps_time >= start, Position.gps_time < end)
            .order_by(Position.terminal_phone, Position.gps_time)
        )
        fixes = list(session.exec(query))
    ctx.progress(stage="auditing", positions=len(fixes), devices=len(devices))
    permits = [Permit.model_validate(p.document) for p in permit_rows]
    zones = [ZoneFeature.model_validate(z.document) for z in zone_rows]
    frame = pd.DataFrame(
        {
            "device": [f.terminal_phone for f in fixes],
            "time": [f.gps_time.isoformat() for f in fixes],
            "lon": [f.lon for f in fixes],
            "lat": [f.lat for f in fixes],
            "speed_kmh": [f.speed_kmh for f in fixes],
            "heading": [f.heading for f in fixes],
            "status": [f.status for f in fixes],
        },
        columns=["device", "time", "lon", "lat", "speed_kmh", "heading", "status"],
    )
    positions, rejected = read_positions(frame)
    network = service_network(api_settings().osm)
    settings, track_settings, score_settings = ComplianceSettings(), TrackSettings(), ScoreSettings()
    permits = [p.model_copy(update={"device": normalise_phone(p.device)}) for p in permits]
    tracks = build_tracks(positions, projector=network, settings=track_settings)
    compiled = compile_permits(permits, projector=network, settings=settings, network=network)
    violations = audit_fleet(
        tracks,
        permits=compiled,
        zones=compile_zones(zones, projector=network),
        settings=settings,
        track_settings=track_settings,
    )
    companies = sorted({p.company for p in permits if p.device in devices})
    by_type: dict[str, int] = {}
    for v in violations:
        by_type[v.type] = by_type.get(v.type, 0) + 1
    summary = {
        "devices": len(devices),
        "positions": len(fixes),
        "rows_rejected": len(rejected),
        "trucks": len(tracks),
        "violations": len(violations),
        "violations_by_type": by_type,
    }

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
        periods = sorted(
            {period_of(start, score_settings.period), period_of(end, score_settings.period)}
            | {period_of(v.start, score_settings.period) for v in violations}
        )
        _rescore(session, companies=companies, periods=periods, settings=score_settings)

    return summary, write


def _rescore(session: Session, *, companies: list[str], periods: list[str], settings) -> None:
    """Recompute the stored scores of these companies for these periods from every stored violation."""
    from fleet.audit.scores import company_scores, period_of

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
    if end <= start:
        raise QingyunError(f"to ({end.isoformat()}) is not after from ({start.isoformat()})")
