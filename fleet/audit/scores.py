"""Company scores: every transport company starts at 100 per period, violations deduct points.

Municipal plans score construction-waste transport companies and blacklist (黑榜) those
below 60. The deduction per violation type and severity is a table in the settings,
so a city can enter its own regulation's numbers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from pydantic import BaseModel

from fleet.audit.settings import ScoreSettings
from fleet.audit.violations import SEVERITY_LABELS, TYPE_LABELS, Violation
from routing.localtime import CHINA_TZ

UNREGISTERED = "未登记 / unregistered"


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
    """The period label (China time) of a moment: 2026-11-21, 2026-W47 or 2026-11.

    Parameters
    ----------
    moment
        ISO 8601 text, datetime (naive = China time) or epoch seconds.
    period
        "day", "week" or "month".

    Returns
    -------
    str
    """
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    elif not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(float(moment), tz=CHINA_TZ)
    local = moment.astimezone(CHINA_TZ) if moment.tzinfo else moment
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
    settings: ScoreSettings,
) -> list[CompanyScore]:
    """One score per company and period; companies without violations keep full points.

    Parameters
    ----------
    violations
        The violations found.
    companies
        Companies scored even without violations (those of the permits).
    periods
        Period labels the audited data covers; a violation outside them adds its own period.
    settings
        Start points, blacklist threshold, period and the deduction table.

    Returns
    -------
    list of CompanyScore
        Sorted by (company, period).

    Raises
    ------
    ValueError
        The deduction table names an unknown violation type or severity.
    """
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
