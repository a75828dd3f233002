"""Road-network settings (``QINGYUN_NETWORK_*``): where OSM files and built networks are kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NetworkSettings(BaseSettings):
    """Where the road network comes from and where its build is cached."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_NETWORK_")

    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "qingyun",
        validation_alias=AliasChoices("QINGYUN_NETWORK_CACHE_DIR", "QINGYUN_CACHE_DIR"),
        description="built networks, keyed by the OSM file's content and the speed profile",
    )
    osm: Path | None = Field(
        None, description="road network file used when none is given; none = the shipped Shenzhen file"
    )
