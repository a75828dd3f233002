"""Tracks-stage settings: track cleaning (``QINGYUN_TRACK_``), map matching (``QINGYUN_MATCH_``), the positions database.

Kept apart from ``track`` and ``matching`` (numpy, pandas, shapely, scipy) so that resolving the
settings (``fleet.settings.FleetSettings``, every CLI start) imports only pydantic.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///qingyun.db"
"""The SQLite file the service, the gateway and the CLI use when ``QINGYUN_DATABASE_URL`` is not set."""


class TrackSettings(BaseSettings):
    """Thresholds of track cleaning and segmentation (env prefix ``QINGYUN_TRACK_``)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_TRACK_")

    max_speed_kmh: float = Field(
        120.0, gt=0, description="jump filter: a fix implying a faster move from the last good fix is dropped"
    )
    jump_reset_fixes: int = Field(
        3,
        ge=1,
        description="this many consecutive, mutually consistent rejected fixes replace the anchor (the anchor was the jump)",
    )
    moving_speed_kmh: float = Field(5.0, ge=0, description="at or above this speed a fix counts as moving")
    stop_radius_m: float = Field(50.0, gt=0, description="a stop: fixes staying within this radius of their centroid")
    stop_min_s: float = Field(60.0, ge=0, description="shortest dwell reported as a stop")
    trip_gap_s: float = Field(1800.0, gt=0, description="silence that ends a trip")
    trip_stop_s: float = Field(1800.0, gt=0, description="a stop this long ends a trip (parked)")
    gap_s: float = Field(
        300.0, gt=0, description="DOMAIN: a reporting gap longer than 5 min while moving is a violation"
    )
    gap_jump_m: float = Field(
        500.0, gt=0, description="a position jump this large across a gap means the truck moved while silent"
    )


class MatchSettings(BaseSettings):
    """Matcher parameters (env prefix ``QINGYUN_MATCH_``)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_MATCH_")

    search_radius_m: float = Field(80.0, gt=0, description="candidate edges within this distance of a fix")
    max_candidates: int = Field(8, ge=1, description="nearest candidate edges kept per fix")
    sigma_m: float = Field(15.0, gt=0, description="GPS noise of the emission model (Gaussian σ)")
    beta_m: float = Field(40.0, gt=0, description="transition scale: tolerated |road distance − straight distance|")
    max_speed_kmh: float = Field(130.0, gt=0, description="road moves faster than this between fixes are impossible")
    route_slack_m: float = Field(
        1000.0, gt=0, description="search bound: road distance at most straight distance + this"
    )
    max_route_m: float = Field(
        6000.0, gt=0, description="hard bound of one Dijkstra search; longer silences start a new segment"
    )
    backtrack_m: float = Field(
        25.0, ge=0, description="a fix this far behind the previous one on the same edge is noise, not a U-turn"
    )
    cache_mb: float = Field(512.0, gt=0, description="memory for cached shortest-path rows")
