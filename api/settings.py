"""The one settings object of the service, the job workers and the ``qingyun`` CLI.

:class:`Settings` is a plain model composed of one pydantic-settings class per area; each area
reads its own environment prefix, so a variable's name says which part of Qingyun it tunes:

- ``QINGYUN_`` — :class:`ServiceSettings` (``settings.service``): database, job queue, request
  limits (``QINGYUN_DATABASE_URL``, ``QINGYUN_REDIS_URL``, ``QINGYUN_JOB_LEASE_S`` …).
- ``QINGYUN_NETWORK_`` — ``routing.network.settings.NetworkSettings`` (``settings.network``): the
  road network the service plans on (``QINGYUN_NETWORK_OSM``) and the build cache.
- ``QINGYUN_PLANNING_`` — ``routing.planning.settings.PlanningSettings`` (``settings.planning``):
  solve defaults shared by ``qingyun plan`` and ``POST /plans`` (``QINGYUN_PLANNING_TIME_LIMIT_S``).
- ``QINGYUN_TRACK_``, ``QINGYUN_MATCH_``, ``QINGYUN_COMPLIANCE_``, ``QINGYUN_COVERAGE_``,
  ``QINGYUN_SCORE_``, ``QINGYUN_JT808_`` — ``fleet.settings.FleetSettings`` (``settings.fleet``):
  supervision thresholds and the JT/T 808 gateway.
- ``QINGYUN_SWEEPING_`` — ``routing.sweeping.settings.SweepingSettings`` (``settings.sweeping``):
  which streets must be swept and how sweeper tracks are judged.
- ``QINGYUN_MAP_`` — :class:`MapSettings` (``settings.map``): the map page's optional basemap
  (``QINGYUN_MAP_TILE_URL``, ``QINGYUN_MAP_TILE_CRS``); without it the page draws the road network only.

The object is resolved once per process (:func:`get_settings`) and passed down explicitly:
``create_app(settings)`` keeps it on ``app.state`` (routes read it through ``api.deps``), the job
queues hand it to every runner (``JobContext.settings``), and the CLI passes it to its commands.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.settings import FleetSettings
from fleet.tracks.settings import DEFAULT_DATABASE_URL
from routing.network.settings import NetworkSettings
from routing.planning.settings import PlanningSettings
from routing.sweeping.settings import SweepingSettings


class ServiceSettings(BaseSettings):
    """Database, job queue and request limits (``QINGYUN_*``); every default works on a fresh machine."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLite file by default; postgresql://… for PostgreSQL")
    redis_url: str | None = Field(
        None, description="when set, jobs go to Celery workers over this Redis (`qingyun worker`)"
    )
    celery_queue: str = Field("qingyun", min_length=1, description="Celery queue the API feeds and workers consume")
    job_workers: int = Field(1, ge=1, description="in-process job threads (each solve itself uses both cores)")
    job_lease_s: float = Field(
        60.0,
        gt=0,
        description=(
            "a running job silent this long has lost its worker and is queued again (up to job_max_attempts); "
            "a queued job unclaimed this long is sent again"
        ),
    )
    job_max_attempts: int = Field(3, ge=1, description="a failed job may be retried until it has run this many times")
    plan_time_limit_max_s: float = Field(900.0, gt=0, description="most solve seconds a POST /plans may ask for")
    max_positions_per_request: int = Field(10_000, ge=1, description="POST /positions batch limit")
    max_body_mb: float = Field(
        20.0, gt=0, description="largest request body, MB; a larger one is answered 413 before it is read"
    )
    auth_failures_max: int = Field(
        20, ge=1, description="wrong API keys one client address may send per window before it is answered 429"
    )
    auth_failures_window_s: float = Field(60.0, gt=0, description="the window of auth_failures_max, seconds")
    import_max_rows: int = Field(
        100_000, ge=1, description="most rows (CSV) or features (GeoJSON) one import may hold, as many as a scenario"
    )
    import_rejections_listed: int = Field(
        100, ge=0, description="rejected rows an import answer lists (it always gives how many there were)"
    )


class MapSettings(BaseSettings):
    """The map page's basemap (``QINGYUN_MAP_*``): none by default, so nothing is fetched from outside.

    A city's intranet tile server, Tianditu or AMap may be named; tiles drawn in GCJ-02 (AMap, Tencent)
    make the page shift every WGS-84 position it draws, so trucks sit on the basemap's roads.
    """

    model_config = SettingsConfigDict(env_prefix="QINGYUN_MAP_")

    tile_url: str | None = Field(
        None,
        max_length=2000,
        description="XYZ tile URL template with {z}, {x}, {y} (and optionally {s}); unset: road network only",
    )
    tile_crs: Literal["wgs84", "gcj02"] = Field(
        "wgs84", description="the datum the tiles are drawn in: gcj02 shifts every WGS-84 position the page draws"
    )
    tile_attribution: str = Field("", max_length=500, description="the basemap's attribution, shown on the map")
    tile_subdomains: str = Field("abc", max_length=20, description="letters or digits {s} takes in turn")
    tile_max_zoom: int = Field(18, ge=1, le=22, description="deepest zoom the tile server has")

    @field_validator("tile_url")
    @classmethod
    def _template(cls, url: str | None) -> str | None:
        """A template without {z}/{x}/{y} would fetch one image for every tile: refuse it at start."""
        if not url:  # an empty variable means no basemap
            return None
        if not all(part in url for part in ("{z}", "{x}", "{y}")):
            raise ValueError(f"QINGYUN_MAP_TILE_URL={url!r}: 缺少 {{z}}/{{x}}/{{y}} / needs {{z}}, {{x}} and {{y}}")
        return url


class Settings(BaseModel):
    """Every area's settings, resolved together once and passed down (never read again from the environment)."""

    service: ServiceSettings = Field(default_factory=ServiceSettings)
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    sweeping: SweepingSettings = Field(default_factory=SweepingSettings)
    map: MapSettings = Field(default_factory=MapSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use.

    Returns
    -------
    Settings
        The same object on every call, so the API, its job runners and the CLI agree.
    """
    return Settings()
