"""Planning settings (``QINGYUN_PLANNING_*``): the defaults of a solve when the caller names none."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlanningSettings(BaseSettings):
    """Search defaults shared by ``qingyun plan`` and ``POST /plans`` (turned into search settings by
    :func:`routing.planning.pipeline.solve_params`)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_PLANNING_")

    time_limit_s: float = Field(30.0, gt=0, description="search seconds of a plan when the request names none")
    workers: int = Field(2, ge=1, le=64, description="search processes (2 uses both cores of the reference machine)")
    max_solutions: int | None = Field(
        None,
        ge=1,
        description="stop each search after this many improving solutions: the same input then gives the same plan",
    )
