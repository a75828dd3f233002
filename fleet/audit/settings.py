"""Audit-stage settings: plan coverage (``QINGYUN_COVERAGE_``) and company scores (``QINGYUN_SCORE_``).

Kept apart from ``coverage`` and ``scores`` (shapely, numpy, the map matcher) so that resolving the
settings (``fleet.settings.FleetSettings``, every CLI start) imports only pydantic. The compliance
rules' thresholds are ``fleet.audit.rules.settings``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class CoverageSettings(BaseSettings):
    """Coverage thresholds (env prefix ``QINGYUN_COVERAGE_``)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_COVERAGE_")

    visit_radius_m: float = Field(50.0, gt=0, description="a planned stop is visited within this distance")
    visit_min_dwell_s: float = Field(30.0, ge=0, description="… staying at least this long")
    visit_max_speed_kmh: float = Field(5.0, ge=0, description="fixes faster than this do not count as dwelling")
    max_fix_weight_s: float = Field(60.0, gt=0, description="one fix stands for at most this much dwell on each side")
    street_buffer_m: float = Field(10.0, gt=0, description="DOMAIN: a street counts as driven within 10 m each side")
    street_sample_m: float = Field(5.0, gt=0, description="spacing of the check points along planned streets")


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
