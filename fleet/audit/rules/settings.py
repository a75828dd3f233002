"""Thresholds of the compliance rules (env prefix ``QINGYUN_COMPLIANCE_``), defaults from DOMAIN.md.

Resolved once by the shell (``fleet.settings.FleetSettings``) and passed to every rule.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ComplianceSettings(BaseSettings):
    """Thresholds of the rules (env prefix ``QINGYUN_COMPLIANCE_``); DOMAIN.md values where it gives one."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_COMPLIANCE_")

    corridor_m: float = Field(
        50.0,
        gt=0,
        description="DOMAIN: off the approved corridor by more than 50 m raises an alert (a permit may set its own)",
    )
    off_route_min_s: float = Field(120.0, ge=0, description="off the corridor this long is a violation")
    off_route_medium_s: float = Field(
        600.0, ge=0, description="DOMAIN: back within 10 min is a warning; longer is moderate"
    )
    off_route_high_s: float = Field(900.0, ge=0, description="DOMAIN: more than 15 min off route is severe")
    zone_margin_m: float = Field(
        20.0,
        ge=0,
        description="hysteresis band: entering needs this depth inside, leaving this distance outside (no storms on roads along an edge)",
    )
    zone_enter_min_fixes: int = Field(
        2, ge=1, description="fixes this deep inside, during the schedule, confirm an entry"
    )
    zone_path_depth_m: float = Field(
        50.0,
        ge=0,
        description="the straight path between two fixes reaching this deep inside a zone is an entry, even with one fix inside or none",
    )
    zone_path_max_s: float = Field(
        60.0, gt=0, description="the path between fixes is judged only when they are at most this far apart in time"
    )
    zone_rejoin_s: float = Field(120.0, ge=0, description="a re-entry within this time after leaving is the same entry")
    merge_gap_s: float = Field(
        60.0, ge=0, description="episodes of one rule separated by at most this are one violation"
    )
    hours_min_s: float = Field(
        60.0, ge=0, description="moving loaded outside permitted hours at least this long is a violation"
    )
    default_speed_limit_kmh: float = Field(
        60.0, gt=0, description="speed limit when the permit sets none (product default)"
    )
    speeding_min_s: float = Field(30.0, ge=0, description="over the limit for at least this long")
    speeding_medium_ratio: float = Field(1.2, gt=1, description="peak speed above limit × this is moderate")
    speeding_high_ratio: float = Field(1.5, gt=1, description="peak speed above limit × this is severe")
    dumping_min_stop_s: float = Field(
        180.0, ge=0, description="DOMAIN: a loaded stop of 3–5 min outside approved sites is suspect (default 3 min)"
    )
    site_margin_m: float = Field(30.0, ge=0, description="a fix this close to a site polygon counts as at the site")
    unload_window_s: float = Field(120.0, ge=0, description="a load drop this soon after a suspect stop belongs to it")
    no_permit_min_s: float = Field(60.0, ge=0, description="moving loaded without a valid permit at least this long")
    gap_jump_min_s: float = Field(
        120.0,
        gt=0,
        description="DOMAIN 'or a position jump across the gap': a silence this long ending QINGYUN_TRACK_GAP_JUMP_M away is a reporting gap",
    )
    gap_high_s: float = Field(1800.0, gt=0, description="a reporting gap longer than this is severe")
    live_window_s: float = Field(
        3600.0,
        gt=0,
        description="live supervision: fixes kept per truck to judge each new one (never cut inside an open alarm or a loaded haul; keep it ≥ QINGYUN_TRACK_TRIP_STOP_S)",
    )
    alarm_settle_s: float = Field(
        300.0,
        gt=0,
        description="live supervision: an alarm ends once its truck has reported this long past the episode's last fix",
    )
    evidence_max_points: int = Field(60, ge=2, description="evidence fixes kept per violation (evenly thinned)")
