"""The one audit pipeline: positions → tracks → rules → coverage → scores, for the CLI and the API alike.

``qingyun audit`` (positions from a CSV file or the database) and the service's audit job
(positions from the database) both call :func:`run_audit` and only move data in and out: the
CLI writes the files (``fleet.audit.report.write_report``), the service stores the violations.
The rules run in the live supervision engine, replaying each stored track
(``fleet.supervise.engine.audit_fleet``): the audit and live alarms share one implementation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from fleet.audit.coverage import CoverageReport, plan_coverage
from fleet.audit.geometry import CompiledPermit, Zone, compile_permits, compile_zones
from fleet.audit.inputs import Permit, ZoneFeature
from fleet.audit.scores import CompanyScore, company_scores, period_of
from fleet.audit.violations import Violation
from fleet.settings import FleetSettings
from fleet.supervise.engine import audit_fleet
from fleet.tracks.matching import MapMatcher
from fleet.tracks.sources import Period, Positions
from fleet.tracks.track import RejectedRow, Track, build_tracks
from routing.planning.document import PlanDocument


class RejectedRowOut(BaseModel):
    """A positions row left out, with where and why."""

    where: str
    reason: str


class AuditSummary(BaseModel):
    """The audit's figures: ``summary.json`` of the CLI and the result of the service's audit job."""

    rows_read: int = Field(description="positions rows read (file rows or stored fixes)")
    rows_rejected: list[RejectedRowOut]
    trucks: int
    audited_trucks: int = Field(description="trucks the rules ran on (collection trucks of the plan are not)")
    collection_trucks: list[str]
    fixes_dropped: dict[str, dict[str, int]] = Field(description="per truck: duplicates, invalid fixes, jumps")
    violations: int
    violations_by_type: dict[str, int]
    blacklisted: list[str] = Field(description="company and period of every blacklisted score")
    achieved_clearance_rate: float | None
    fixes_per_truck_median: float
    periods: list[str] = Field(description="score periods the audited data covers")


@dataclass
class AuditResult:
    """Everything one audit found, and the compiled inputs the report draws."""

    violations: list[Violation]
    scores: list[CompanyScore]
    coverage: CoverageReport | None
    tracks: list[Track]  # every truck, collection trucks included
    audited: list[str]  # devices the rules ran on
    collection: list[str]  # vehicles of the plan (coverage only)
    permits: dict[str, list[CompiledPermit]]
    zones: list[Zone]
    matched: list[dict] | None  # map-matching summary per truck, when asked for
    rejected: list[RejectedRow]
    rows_read: int
    periods: list[str]

    def summary(self) -> AuditSummary:
        """The figures of this audit (counted here only, for every shell)."""
        lengths = [len(t) for t in self.tracks]
        return AuditSummary(
            rows_read=self.rows_read,
            rows_rejected=[RejectedRowOut(where=r.where, reason=r.reason) for r in self.rejected],
            trucks=len(self.tracks),
            audited_trucks=len(self.audited),
            collection_trucks=self.collection,
            fixes_dropped={t.device: t.dropped for t in self.tracks if t.dropped},
            violations=len(self.violations),
            violations_by_type=dict(sorted(Counter(v.type for v in self.violations).items())),
            blacklisted=[f"{s.company} {s.period}" for s in self.scores if s.blacklisted],
            achieved_clearance_rate=None if self.coverage is None else self.coverage.achieved_clearance_rate,
            fixes_per_truck_median=float(np.median(lengths)) if lengths else 0.0,
            periods=self.periods,
        )


def _periods(tracks: list[Track], period: Period | None, unit: str) -> list[str]:
    """Score periods covered: those of each track's first and last fix, and of the audited period."""
    labels = {period_of(float(t), unit) for tr in tracks if len(tr) for t in (tr.t[0], tr.t[-1])}
    if period is not None:
        labels |= {period_of(period.start, unit), period_of(period.end.timestamp() - 1e-3, unit)}
    return sorted(labels)


def run_audit(
    *,
    positions: Positions,
    permits: list[Permit],
    zones: list[ZoneFeature],
    network: object,
    settings: FleetSettings,
    plan: PlanDocument | None = None,
    period: Period | None = None,
    match: bool = False,
    workers: int = 1,
    progress: Callable[..., None] | None = None,
) -> AuditResult:
    """Audit trucks' positions against permits and zones, and a collection plan's coverage.

    Parameters
    ----------
    positions
        Typed positions from a source (``fleet.tracks.sources.csv_positions`` or ``db_positions``).
    permits
        Permits; their device must match the positions' ``device``.
    zones
        Restricted zones and registered sites.
    network
        The ``RoadNetwork``: the metric projection, road-node routes, map matching, street coverage.
    settings
        Every supervision threshold, resolved once by the shell.
    plan
        A collection plan (``plan.json``): its vehicles get coverage, not the waste-truck rules.
    period
        The audited period, when the positions were selected by one: its score periods are reported
        even for companies without violations.
    match
        Map-match every track (``AuditResult.matched``).
    workers
        Processes for the rules.
    progress
        Called with ``stage=…`` and counts as the audit advances (the service's job progress).

    Returns
    -------
    AuditResult

    Raises
    ------
    InvalidInputError
        A permit's or zone's geometry cannot be used.
    """
    report = progress or (lambda **_: None)
    tracks = build_tracks(positions.frame, projector=network, settings=settings.track)
    report(stage="tracks", trucks=len(tracks), positions=positions.rows_read)
    compiled = compile_permits(permits, projector=network, settings=settings.compliance, network=network)
    compiled_zones = compile_zones(zones, projector=network)
    collection = {r.vehicle_id for r in plan.routes} if plan else set()
    audited = [t for t in tracks if t.device not in collection]
    violations = audit_fleet(
        audited,
        permits=compiled,
        zones=compiled_zones,
        settings=settings.compliance,
        track_settings=settings.track,
        workers=workers,
    )
    report(stage="rules", violations=len(violations))
    matcher = MapMatcher(network, settings=settings.matching) if (match or plan) else None
    coverage = None
    if plan is not None:
        by_device = {t.device: t for t in tracks}
        coverage = plan_coverage(
            plan, tracks=by_device, projector=network, network=network, matcher=matcher, settings=settings.coverage
        )
    periods = _periods(audited, period, settings.scores.period)
    scores = company_scores(
        violations, companies=sorted({p.company for p in permits}), periods=periods, settings=settings.scores
    )
    matched = [matcher.match(t).summary(network) for t in tracks] if match and matcher is not None else None
    return AuditResult(
        violations=violations,
        scores=scores,
        coverage=coverage,
        tracks=tracks,
        audited=[t.device for t in audited],
        collection=sorted(collection),
        permits=compiled,
        zones=compiled_zones,
        matched=matched,
        rejected=positions.rejected,
        rows_read=positions.rows_read,
        periods=periods,
    )
