"""Settings of street sweeping (env prefix ``QINGYUN_SWEEPING_``): what is in scope, working speeds, the audit.

Defaults come from DOMAIN.md (sweeping about 8 km/h, spraying/washing about 15 km/h, a street counts
when driven within 10 m each side). Two vehicle kinds share one plan: every kerb in scope is swept
by a sweeper (hopper emptied at a transfer station); the kerbs of ``wash_classes`` are also washed,
at night, by a washer (tank refilled at a water point). Importing this module loads no heavy library.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SweepingSettings(BaseSettings):
    """What must be swept and how a sweeper's track proves it (env prefix ``QINGYUN_SWEEPING_``; lists as JSON)."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_SWEEPING_")

    classes: list[str] = Field(
        default_factory=lambda: ["primary", "secondary", "tertiary"],
        description="OSM highway classes in scope when an area is given",
    )
    wide_oneway_min_lanes: int = Field(
        3, ge=1, description="a one-way street with at least this many lanes has both kerbs swept (two passes)"
    )
    wide_oneway_classes: list[str] = Field(
        default_factory=list, description="one-way streets of these classes have both kerbs swept whatever their lanes"
    )
    default_frequency: int = Field(1, ge=1, le=2, description="services per shift of every kerb (1 or 2)")
    frequency_by_class: dict[str, int] = Field(
        default_factory=dict, description='services per shift by highway class, e.g. {"primary": 2}'
    )
    work_signal: Literal["speed", "status_bit", "column"] = Field(
        "speed",
        description=(
            "what says the sweeper is working: the speed band alone; a bit of the JT/T 808 status word "
            "(positions column status); or a 0/1 positions column filled from an IO or additional item"
        ),
    )
    work_status_bit: int = Field(
        10,
        ge=0,
        le=31,
        description="status-word bit set while the brushes run (vendor specific; work_signal=status_bit)",
    )
    work_column: str = Field("work", description="positions column holding 1 while working (work_signal=column)")
    working_min_kmh: float = Field(3.0, ge=0, description="slower than this a sweeper is standing, not sweeping")
    working_max_kmh: float = Field(
        12.0, gt=0, description="faster than this a kerb is driven too fast to count (DOMAIN ~8)"
    )
    kerb_buffer_m: float = Field(10.0, gt=0, description="DOMAIN: a kerb counts when driven within 10 m each side")
    kerb_sample_m: float = Field(5.0, gt=0, description="spacing of the check points along each kerb")
    heading_tolerance_deg: float = Field(
        60.0, gt=0, le=180, description="a pass counts for a kerb only when driven in its direction within this angle"
    )
    smoothing_fixes: int = Field(
        9, ge=1, description="fixes in the running median that smooths GPS noise out of the distance along the street"
    )
    served_share: float = Field(
        0.8, gt=0, le=1, description="a kerb is served when this share of its check points was swept"
    )
    sweeping_kmh: float = Field(8.0, gt=0, description="working speed while sweeping a kerb (DOMAIN: about 8 km/h)")
    debris_kg_per_kerb_km: float = Field(
        60.0, gt=0, description="debris a sweeper picks up per kerb-km swept: the demand of a kerb on the hopper"
    )
    hopper_kg: float = Field(
        1500.0, gt=0, description="hopper load: when full, the sweeper empties it at a transfer station"
    )
    shift_hours: float = Field(
        8.0, gt=0, description="longest shift of a vehicle, dumps and refills included (a hard limit)"
    )
    shift_start: str = Field("05:00", pattern=r"^\d{2}:\d{2}$", description="local clock time sweeping starts (HH:MM)")
    sweep_end: str = Field("13:00", pattern=r"^\d{2}:\d{2}$", description="latest return of a sweeper (HH:MM)")
    wash_classes: list[str] = Field(
        default_factory=lambda: ["primary", "secondary"],
        description="highway classes whose kerbs are also washed at night (empty: no washing)",
    )
    washing_kmh: float = Field(15.0, gt=0, description="working speed while washing a kerb (DOMAIN: about 15 km/h)")
    water_l_per_kerb_km: float = Field(
        2000.0, gt=0, description="water a washer sprays per kerb-km (about 0.8 L/m² over a 2.5 m kerb lane)"
    )
    tank_l: float = Field(10000.0, gt=0, description="washer tank: when empty, refilled at a water point")
    wash_start: str = Field("22:00", pattern=r"^\d{2}:\d{2}$", description="night washing starts (HH:MM)")
    wash_end: str = Field("06:00", pattern=r"^\d{2}:\d{2}$", description="night washing ends, next morning (HH:MM)")
    refill_minutes: float = Field(10.0, ge=0, description="minutes to refill the tank at a water point")
    uturn: Literal["allowed", "penalty", "forbidden"] = Field(
        "forbidden",
        description="U-turns (back along the street just driven): forbidden except at a dead end, penalised, or allowed",
    )
    uturn_penalty_s: float = Field(60.0, ge=0, description="seconds a U-turn costs when uturn=penalty")
    facility_max_snap_m: float = Field(
        150.0, gt=0, description="a depot, station or water point farther than this from every road is bad input"
    )
    utc_offset: str = Field("+08:00", description="local UTC offset of the plan's times")
    rate_classes: list[str] = Field(
        default_factory=list,
        description="highway classes counted in the planned mechanised-sweeping rate (empty: the planned classes)",
    )
    dump_minutes: float = Field(15.0, ge=0, description="minutes to empty the hopper at a transfer station")
