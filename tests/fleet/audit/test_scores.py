"""Company scores: deduction table, periods, blacklist below 60."""

from __future__ import annotations

import pytest

from fleet.audit.scores import UNREGISTERED, company_scores, period_of
from fleet.audit.settings import ScoreSettings
from fleet.audit.violations import SEVERITY_LABELS, TYPE_LABELS, Violation


def v(kind: str, severity: str, company: str | None, start: str = "2026-11-21T22:00:00+08:00") -> Violation:
    return Violation(
        type=kind,
        type_label=" / ".join(TYPE_LABELS[kind]),
        severity=severity,
        severity_label=" / ".join(SEVERITY_LABELS[severity]),
        device="T1",
        company=company,
        permit_id=None,
        start=start,
        end=start,
        duration_s=0.0,
        lon=114.0,
        lat=22.5,
        evidence=[],
        explanation={"zh": "", "en": ""},
    )


def test_deductions_follow_the_table_and_blacklist_below_60():
    found = [v("suspected_dumping", "high", "A")] * 2 + [v("off_route", "low", "A")] * 2 + [v("speeding", "low", "B")]
    scores = {
        s.company: s
        for s in company_scores(found, companies=["A", "B", "C"], periods=["2026-11"], settings=ScoreSettings())
    }
    assert scores["A"].score == 100 - 2 * 20 - 2 * 2 and scores["A"].blacklisted
    assert scores["B"].score == 98 and not scores["B"].blacklisted
    assert scores["C"].score == 100 and scores["C"].violations == 0
    # exactly 60 is not blacklisted: "below 60"
    at_60 = company_scores(
        [v("suspected_dumping", "high", "D")] * 2, companies=["D"], periods=["2026-11"], settings=ScoreSettings()
    )
    assert at_60[0].score == 60 and not at_60[0].blacklisted


def test_a_city_can_set_its_own_table_and_period():
    settings = ScoreSettings(deductions={"speeding": {"low": 50}}, period="day")
    found = [v("speeding", "low", "A"), v("speeding", "low", "A", "2026-11-22T01:00:00+08:00")]
    scores = company_scores(found, companies=["A"], periods=[], settings=settings)
    assert [(s.period, s.score) for s in scores] == [("2026-11-21", 50), ("2026-11-22", 50)]


def test_unknown_type_in_the_table_is_named():
    with pytest.raises(ValueError, match="unknown violation type 'dumpin'"):
        company_scores([], companies=[], periods=[], settings=ScoreSettings(deductions={"dumpin": {"high": 1}}))


def test_violations_of_unregistered_trucks_are_scored_apart():
    scores = company_scores(
        [v("no_permit", "high", None)], companies=["A"], periods=["2026-11"], settings=ScoreSettings()
    )
    assert {s.company for s in scores} == {"A", UNREGISTERED}


def test_periods_are_china_time():
    assert period_of("2026-11-30T17:00:00+00:00", "month") == "2026-12"  # 01:00 on 1 Dec in Beijing
    assert period_of("2026-11-22T23:00:00+08:00", "week") == "2026-W47"
