"""Supervision settings, one object per concern, each with its own ``QINGYUN_*`` prefix.

Every threshold of the municipal practice is a setting whose default is the documented value
(``../shared/DOMAIN.md``): tracks (``QINGYUN_TRACK_``), map matching (``QINGYUN_MATCH_``),
compliance rules (``QINGYUN_COMPLIANCE_``), plan coverage (``QINGYUN_COVERAGE_``), company
scores (``QINGYUN_SCORE_``), the JT/T 808 gateway (``QINGYUN_JT808_``) and the live path
(``QINGYUN_LIVE_``: sink queue, reloads, streams). The shell (CLI root,
service) resolves :class:`FleetSettings` once and passes the parts down; no library function
reads the environment.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.settings import CoverageSettings, ScoreSettings
from fleet.jt808.settings import GatewaySettings
from fleet.tracks.settings import MatchSettings, TrackSettings


class LiveSettings(BaseSettings):
    """The live path (env prefix ``QINGYUN_LIVE_``): accepted positions → rule engine → alarm events → streams."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_LIVE_", populate_by_name=True)

    enabled: bool = Field(True, description="judge accepted positions live (false: they are only stored)")
    redis_url: str | None = Field(
        None,
        validation_alias="QINGYUN_REDIS_URL",
        description="the service's QINGYUN_REDIS_URL: when set, gateways append accepted positions to Redis "
        "Streams for `qingyun supervise` workers instead of judging them in-process",
    )

    queue_fixes: int = Field(
        200_000,
        ge=1,
        description="fixes waiting for the in-process rule engine; beyond it new ones are not judged live (counted, "
        "logged: they are stored, so `qingyun supervise replay` judges them) and the gateway never waits",
    )
    reload_s: float = Field(
        5.0, gt=0, description="how often the rule engine looks for changed permits and zones in the database"
    )
    poll_s: float = Field(0.25, gt=0, le=10, description="how often a stream reads the alarm event log and last fixes")
    keepalive_s: float = Field(15.0, gt=0, description="a ': keep-alive' comment line this often on an idle stream")
    streams_per_key: int = Field(4, ge=1, description="open /alarms/stream and /live/stream answers per API key")
    streams_per_address: int = Field(16, ge=1, description="open stream answers per client address")
    streams_total: int = Field(256, ge=1, description="open stream answers of the whole service process")
    online_s: float = Field(600.0, gt=0, description="a truck whose last fix was received within this is online")
    # Redis mode (fleet.supervise.streams): gateways append to partitioned streams, `qingyun supervise` workers read
    stream_prefix: str = Field("qingyun:fixes", min_length=1, description="Redis key prefix of the position streams")
    stream_partitions: int = Field(
        16, ge=1, description="streams the terminals are spread over (by CRC-32 of the phone); the unit of work sharing"
    )
    stream_maxlen: int = Field(
        1_000_000, ge=1000, description="entries kept per stream (XADD MAXLEN ~): older judged entries are trimmed"
    )
    stream_batch: int = Field(500, ge=1, description="entries a worker reads or claims at a time")
    stream_block_ms: int = Field(200, ge=1, description="how long a worker's read waits for new entries")
    stream_lease_s: float = Field(
        5.0,
        gt=0,
        description="a rule worker silent this long is gone: its partitions (leases, SET NX PX) go to the others",
    )
    stream_claim_idle_s: float = Field(
        10.0, gt=0, description="entries pending this long on another consumer (a killed worker) are claimed"
    )
    stream_worker_timeout_s: float = Field(
        60.0, gt=0, description="a worker silent this long leaves the registry; its consumer is deleted once drained"
    )


class FleetSettings(BaseModel):
    """All supervision settings, resolved once and passed down to the audit pipeline and the gateway."""

    track: TrackSettings = Field(default_factory=TrackSettings)
    matching: MatchSettings = Field(default_factory=MatchSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)
    scores: ScoreSettings = Field(default_factory=ScoreSettings)
    jt808: GatewaySettings = Field(default_factory=GatewaySettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
