"""Supervision settings, one object per concern, each with its own ``QINGYUN_*`` prefix.

Every threshold of the municipal practice is a setting whose default is the documented value
(``../shared/DOMAIN.md``): tracks (``QINGYUN_TRACK_``), map matching (``QINGYUN_MATCH_``),
compliance rules (``QINGYUN_COMPLIANCE_``), plan coverage (``QINGYUN_COVERAGE_``) and company
scores (``QINGYUN_SCORE_``).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from fleet.audit.coverage import CoverageSettings
from fleet.audit.rules import ComplianceSettings
from fleet.audit.scores import ScoreSettings
from fleet.tracks.matching import MatchSettings
from fleet.tracks.track import TrackSettings


class FleetSettings(BaseModel):
    """All supervision settings, resolved once and passed down to the audit pipeline."""

    track: TrackSettings = Field(default_factory=TrackSettings)
    matching: MatchSettings = Field(default_factory=MatchSettings)
    compliance: ComplianceSettings = Field(default_factory=ComplianceSettings)
    coverage: CoverageSettings = Field(default_factory=CoverageSettings)
    scores: ScoreSettings = Field(default_factory=ScoreSettings)
