"""Arc-routing search settings (``QINGYUN_ARCS_*``): the defaults of a sweeping/CARP solve."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArcSettings(BaseSettings):
    """How the compiled arc-routing search (:mod:`routing.arcs.search`) ruins, recreates and cools."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_ARCS_")

    time_limit_s: float = Field(30.0, gt=0, description="search seconds when the caller names none")
    seed: int = Field(1, ge=0, description="seed of the search's random numbers: same seed and work, same routes")
    max_iterations: int | None = Field(
        None, ge=1, description="stop after this many ruins (then the result no longer depends on machine speed)"
    )
    average_removed: int = Field(10, ge=1, description="tasks removed per ruin on average (SISR's c̄)")
    max_string: int = Field(10, ge=1, description="longest string of consecutive tasks cut from one route")
    route_removal: float = Field(0.02, ge=0, le=1, description="share of ruins that empty a whole route instead")
    start_temperature: float = Field(
        1.0, gt=0, description="annealing start as a multiple of the first solution's cost per task; cools to 1/100"
    )
    neighbours: int = Field(40, ge=2, description="nearest tasks a ruin looks through for routes to cut")
    restarts: int = Field(
        1, ge=1, description="annealing runs that share the time limit, each from the best so far (reheats)"
    )
