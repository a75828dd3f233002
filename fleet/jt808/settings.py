"""JT/T 808 gateway settings (env prefix ``QINGYUN_JT808_``); defaults suit a city fleet on one server."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 7611


class GatewaySettings(BaseSettings):
    """Gateway knobs, resolved once by the shell (``qingyun jt808 serve``, ``qingyun serve``) and passed to it."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_JT808_")

    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 for terminals on other hosts")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="TCP port; 0 picks a free one")
    idle_timeout_s: float = Field(
        180.0, gt=0, description="close connections silent this long (3 × the 60 s heartbeat)"
    )
    max_batch_rows: int = Field(5000, ge=1, description="most rows written in one database batch")
    batch_gather_s: float = Field(
        0.05, ge=0, description="a location's reply waits at most this long for its batch to fill"
    )
    read_size: int = Field(65536, ge=1024, description="bytes read from a connection at a time")
