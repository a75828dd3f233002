"""JT/T 808 gateway settings (env prefix ``QINGYUN_JT808_``); defaults suit a city fleet on one server."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 7611
# the longest legal frame, escaped: every byte of a 2019 header, subpackage field, 1023-byte body and checksum doubled
MAX_FRAME_BYTES = 2 * (17 + 4 + 1023 + 1)


class GatewaySettings(BaseSettings):
    """Gateway knobs, resolved once by the shell (``qingyun jt808 serve``, ``qingyun serve``) and passed to it."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_JT808_")

    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 for terminals on other hosts")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="TCP port; 0 picks a free one")
    idle_timeout_s: float = Field(
        180.0,
        gt=0,
        description="close connections that completed no frame this long (3 × the 60 s heartbeat); "
        "a trickle of bytes does not reset it",
    )
    frame_deadline_s: float = Field(
        30.0, gt=0, description="a frame whose first byte arrived must be complete within this, else the line closes"
    )
    max_batch_rows: int = Field(5000, ge=1, description="most rows written in one database batch")
    batch_gather_s: float = Field(
        0.05, ge=0, description="a location's reply waits at most this long for its batch to fill"
    )
    read_size: int = Field(65536, ge=1024, description="bytes read from a connection at a time")
    registration: Literal["open", "allow-list"] = Field(
        "open",
        description="open: a never-seen phone registers itself (demo, simulator); allow-list: only phones a "
        "supervisor bound (qingyun jt808 bind) register, others get 0x8100 result 4 (recommended in production)",
    )
    new_phone_registrations_per_min: int = Field(
        30,
        ge=1,
        description="open mode: registrations of never-seen phones per client address and minute (bursts up to "
        "this many); beyond it the connection is closed and no terminal row created",
    )
    trusted_addresses: list[str] = Field(
        ["127.0.0.1", "::1"],
        description="client addresses exempt from the per-address limits (connections, new phones): this host's "
        "simulator, or a TCP proxy in front of the gateway through which every terminal shares one address",
    )
    max_connections: int = Field(5000, ge=1, description="open connections in total; more are closed at once")
    max_connections_per_address: int = Field(
        256, ge=1, description="open connections from one client address (carrier NAT puts many trucks behind one)"
    )
    max_frame_bytes: int = Field(
        MAX_FRAME_BYTES,
        ge=64,
        description="longest frame (escaped bytes between the flags); before authentication a longer one closes "
        "the connection, after it the bytes are dropped as a bad frame",
    )
    preauth_buffer_bytes: int = Field(
        65536,
        ge=1024,
        description="before authentication: most bytes a connection may hold in an unfinished frame and buffered "
        "subpackage parts; beyond it the connection is closed and its buffers dropped",
    )
    buffer_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="the same budget once a terminal authenticated (room for long multi-part messages)",
    )
    command_poll_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="how often the gateway looks for queued platform → terminal commands (text, areas, routes) "
        "for the terminals it holds; a command reaches a connected terminal within about this long",
    )
    command_expiry_s: float = Field(
        600.0,
        gt=0,
        description="default lifetime of a queued command: one not answered by then (terminal offline, or silent) "
        "is marked expired",
    )
