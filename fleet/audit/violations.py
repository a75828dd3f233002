"""The violation record: what rule, how bad, which truck, when, where, the evidence and the explanation.

One :class:`Violation` per debounced episode, never one per fix. It is the one shape written
to ``violations.json``, stored by the service and rendered by the report; labels are zh-CN
with English beside.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ViolationType = Literal[
    "off_route",
    "restricted_zone",
    "outside_hours",
    "speeding",
    "suspected_dumping",
    "trip_not_closed",
    "no_permit",
    "reporting_gap",
]
Severity = Literal["low", "medium", "high"]

TYPE_LABELS: dict[str, tuple[str, str]] = {
    "off_route": ("偏离核准路线", "off the approved route"),
    "restricted_zone": ("闯禁区", "entered a restricted zone"),
    "outside_hours": ("非核准时段运输", "loaded outside permitted hours"),
    "speeding": ("超速", "speeding"),
    "suspected_dumping": ("疑似偷倒", "suspected illegal dumping"),
    "trip_not_closed": ("联单未闭合", "trip ended away from the disposal site"),
    "no_permit": ("无证运输", "loaded without a valid permit"),
    "reporting_gap": ("行驶中断线", "reporting gap while moving"),
}
SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "low": ("轻微", "minor"),
    "medium": ("一般", "moderate"),
    "high": ("严重", "severe"),
}


class EvidencePoint(BaseModel):
    """One fix shown as evidence (China time with offset, WGS-84)."""

    time: str
    lon: float
    lat: float
    speed_kmh: float
    load: int | None


class Violation(BaseModel):
    """One violation: what, how bad, who, when, where, the fixes that show it, in plain words."""

    type: ViolationType
    type_label: str
    severity: Severity
    severity_label: str
    device: str
    company: str | None
    permit_id: str | None
    start: str
    end: str
    duration_s: float
    lon: float
    lat: float
    evidence: list[EvidencePoint]
    explanation: dict[str, str] = Field(description="zh and en")
    details: dict[str, float | str] = Field(default_factory=dict)
