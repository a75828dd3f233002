"""Service settings (pydantic-settings, env prefix ``QINGYUN_``); every default works on a fresh machine."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.tracks.store import DEFAULT_DATABASE_URL


class ApiSettings(BaseSettings):
    """Database, job queue and server knobs. Read once per process (``api_settings()``)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLite file by default; postgresql://… for PostgreSQL")
    redis_url: str | None = Field(
        None, description="when set, jobs go to Celery workers over this Redis (`qingyun worker`)"
    )
    celery_queue: str = Field(
        "qingyun", min_length=1, description="Celery queue the API sends jobs to and workers consume"
    )
    osm: str | None = Field(None, description="road network file the service plans on; none = shipped Shenzhen")
    job_workers: int = Field(1, ge=1, description="in-process job threads (each solve itself uses both cores)")
    job_lease_s: float = Field(
        60.0, gt=0, description="a running job not heartbeating for this long is failed (its worker died)"
    )
    job_max_attempts: int = Field(3, ge=1, description="a failed job may be retried until it has run this many times")
    plan_time_limit_s: float = Field(30.0, gt=0, description="default solve time limit of POST /plans")
    plan_time_limit_max_s: float = Field(900.0, gt=0, description="largest time limit a request may ask for")
    max_positions_per_request: int = Field(10_000, ge=1, description="POST /positions batch limit")
    page_size_max: int = Field(1000, ge=1, description="largest `limit` of list endpoints")


@lru_cache(maxsize=1)
def api_settings() -> ApiSettings:
    return ApiSettings()
