"""Company scores: every transport company starts at 100 per period, violations deduct points.

Municipal plans score construction-waste transport companies and blacklist (黑榜) those
below 60. The deduction per violation type and severity is a table in the settings,
so a city can enter its own regulation's numbers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.audit.rules import SEVERITY_LABELS, TYPE_LABELS, Violation
from fleet.tracks.track import LOCAL_TZ

UNREGISTERED = "未登记 / unregistered"

# Product defaults (DOMAIN.md gives the 100-point start and the 60-point blacklist, not the table).
DEFAULT_DEDUCTIONS: dict[str, dict[str, float]] = {
    "off_route": {"low": 2, "medium": 5, "high": 10},
    "restricted_zone": {"low": 5, "medium": 10, "high": 10},
    "outside_hours": {"low": 3, "medium": 5, "high": 10},
    "speeding": {"low": 2, "medium": 3, "high": 5},
    "suspected_dumping": {"low": 5, "medium": 10, "high": 20},
    "trip_not_closed": {"low": 3, "medium": 5, "high": 10},
    "no_permit": {"low": 10, "medium": 20, "high": 20},
    "reporting_gap": {"low": 2, "medium": 3, "high": 5},
}


class ScoreSettings(BaseSettings):
    """Scoring rules (env prefix ``QINGYUN_SCORE_``; ``deductions`` as JSON)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_SCORE_")

    start_points: float = Field(100.0, gt=0, description="DOMAIN: companies start at 100")
    blacklist_below: float = Field(60.0, description="DOMAIN: below 60 points a company is blacklisted (黑榜)")
    period: Literal["day", "week", "month"] = Field("month", description="scoring period, China time")
    deductions: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_DEDUCTIONS.items()}
    )


class Deduction(BaseModel):
    type: str
    type_label: str
    severity: str
    severity_label: str
    count: int
    points: float


class CompanyScore(BaseModel):
    company: str
    period: str
    score: float
    blacklisted: bool
    violations: int
    deductions: list[Deduction]


def period_of(moment: str | datetime | float, period: str) -> str:
    """The period label (China time) of an ISO time, datetime or epoch seconds: 2026-11-21, 2026-W47 or 2026-11."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    elif not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(float(moment), tz=LOCAL_TZ)
    local = moment.astimezone(LOCAL_TZ) if moment.tzinfo else moment
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def company_scores(
    violations: list[Violation],
    *,
    companies: list[str],
    periods: list[str],
    settings: ScoreSettings | None = None,
) -> list[CompanyScore]:
    """One score per company and period; companies without violations keep full points.

    ``periods`` are the period labels the audited data covers; a violation outside them adds its own period.
    """
    settings = settings or ScoreSettings()
    for kind, table in settings.deductions.items():
        if kind not in TYPE_LABELS:
            raise ValueError(f"deductions: unknown violation type {kind!r}; known: {', '.join(TYPE_LABELS)}")
        for sev in table:
            if sev not in SEVERITY_LABELS:
                raise ValueError(f"deductions.{kind}: unknown severity {sev!r}; known: {', '.join(SEVERITY_LABELS)}")
    counts: dict[tuple[str, str], dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for v in violations:
        counts[(v.company or UNREGISTERED, period_of(v.start, settings.period))][(v.type, v.severity)] += 1
    keys = {(c, p) for c in companies for p in periods} | set(counts)
    out = []
    for company, period in sorted(keys):
        deductions = []
        for (kind, sev), n in sorted(counts.get((company, period), {}).items()):
            points = settings.deductions.get(kind, {}).get(sev, 0.0) * n
            deductions.append(
                Deduction(
                    type=kind,
                    type_label=" / ".join(TYPE_LABELS[kind]),
                    severity=sev,
                    severity_label=" / ".join(SEVERITY_LABELS[sev]),
                    count=n,
                    points=points,
                )
            )
        score = max(0.0, settings.start_points - sum(d.points for d in deductions))
        out.append(
            CompanyScore(
                company=company,
                period=period,
                score=score,
                blacklisted=score < settings.blacklist_below,
                violations=sum(d.count for d in deductions),
                deductions=deductions,
            )
        )
    return out
