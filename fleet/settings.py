"""Supervision settings, one object per concern, each with its own ``QINGYUN_*`` prefix.

Every threshold of the municipal practice is a setting whose default is the documented value
(``../shared/DOMAIN.md``): tracks (``QINGYUN_TRACK_``), map matching (``QINGYUN_MATCH_``),
compliance rules (``QINGYUN_COMPLIANCE_``), plan coverage (``QINGYUN_COVERAGE_``), company
scores (``QINGYUN_SCORE_``) and the JT/T 808 gateway (``QINGYUN_JT808_``). The shell (CLI root,
service) resolves :class:`FleetSettings` once and passes the parts down; no library function
reads the environment.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.settings import CoverageSettings, ScoreSettings
from fleet.jt808.settings import GatewaySettings
from fleet.tracks.settings import MatchSettings, TrackSettings


class FleetSettings(BaseModel):
    """All supervision settings, resolved once and passed down to the audit pipeline and the gateway."""

    track: TrackSettings = Field(default_factory=TrackSettings)
    matching: MatchSettings = Field(default_factory=MatchSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)
    scores: ScoreSettings = Field(default_factory=ScoreSettings)
    jt808: GatewaySettings = Field(default_factory=GatewaySettings)
