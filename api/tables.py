"""The service's database tables (SQLModel). Terminals and positions are ``fleet.tracks.store``'s.

Planning inputs (depots, facilities, vehicle types, vehicles, sites) mirror the fields of
``routing.planning.scenario`` so a scenario is assembled from rows without translation. Jobs carry the
background-work state machine (queued → running → succeeded | failed) with a lease that a
live worker keeps renewing. Times are stored UTC and read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as Date

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from fleet.supervise.store import AlarmEventRow, AlarmRow, LiveFix  # noqa: F401  (same metadata: migrations see them)
from fleet.tracks.commands import TerminalCommand  # noqa: F401  (same metadata: migrations see it)
from fleet.tracks.store import Position, Terminal, UtcDateTime  # noqa: F401  (same metadata: migrations see them)
from routing.localtime import CHINA_TZ


def utc_now() -> datetime:
    """The current time, aware and in UTC, for the service's record timestamps (created, finished, revoked …).

    Returns
    -------
    datetime
        Now, with ``tzinfo=UTC``.
    """
    return datetime.now(UTC)


def local_iso(moment: datetime | None) -> str | None:
    """A stored time as the API answers it: ISO 8601 in China time with its offset (``…+08:00``).

    Parameters
    ----------
    moment
        An aware time (stored UTC); None passes through.

    Returns
    -------
    str or None
        ``2026-11-22T06:00:00.123456+08:00``, or None.
    """
    return None if moment is None else moment.astimezone(CHINA_TZ).isoformat()


def _json(**kwargs) -> object:
    return Field(sa_column=Column(JSON, nullable=False), **kwargs)


def _time(*, nullable: bool = True, index: bool = False) -> object:
    return Field(default=None, sa_column=Column(UtcDateTime, nullable=nullable, index=index))


# --- planning inputs ------------------------------------------------------------------
class DepotRow(SQLModel, table=True):
    __tablename__ = "depot"

    id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    lon: float
    lat: float


class FacilityRow(SQLModel, table=True):
    __tablename__ = "facility"

    id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    kind: str = "transfer_station"
    lon: float
    lat: float
    streams: list = _json(default_factory=list)
    opening_hours: list = _json(default_factory=list)
    unload_min: float = 15.0
    daily_capacity_t: float | None = None


class VehicleTypeRow(SQLModel, table=True):
    __tablename__ = "vehicle_type"

    id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    streams: list = _json(default_factory=list)
    capacity_kg: float
    capacity_m3: float | None = None
    access: str = "large"
    fixed_cost: float = 300.0
    cost_per_km: float = 3.0
    cost_per_hour: float = 60.0
    max_shift_h: float | None = None
    max_stops: int | None = None
    max_daily_kg: float | None = None
    ends_empty: bool = True


class VehicleRow(SQLModel, table=True):
    __tablename__ = "vehicle"

    id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=64)
    depot: str = Field(max_length=64)
    shift_start: str = "06:00"
    shift_end: str = "18:00"
    terminal: str | None = Field(default=None, max_length=20, description="JT/T 808 terminal phone of its GPS box")


class SiteRow(SQLModel, table=True):
    __tablename__ = "site"

    id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    address: str = ""
    lon: float
    lat: float
    stream: str = Field(max_length=16, index=True)
    demand_kg: float
    demand_l: float = 0.0
    service_s: float = 40.0
    windows: list = _json(default_factory=list)
    access: str = "large"
    attributes: dict = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=True), description="the sites file's other columns"
    )


# --- jobs, scenarios, plans ------------------------------------------------------------
class Job(SQLModel, table=True):
    """Background work, the database being the source of truth for its state.

    Running: ``lease_expires_at`` is renewed by the worker's heartbeat (past it, the worker is lost and
    the job is queued again). Queued: it is when the job is sent again if no worker claimed it.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_lease", "status", "lease_expires_at"),)

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=16, description="plan, audit, stations, sweep_plan or sweep_audit")
    status: str = Field(default="queued", max_length=16)
    attempts: int = 0
    max_attempts: int = 3
    params: dict = _json(default_factory=dict)
    progress: dict = _json(default_factory=dict)
    result: dict = _json(default_factory=dict)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    retryable: bool = False
    worker: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    started_at: datetime | None = _time()
    heartbeat_at: datetime | None = _time()
    lease_expires_at: datetime | None = _time()
    finished_at: datetime | None = _time()


class ScenarioRow(SQLModel, table=True):
    """A scenario as solved: the validated ``routing.planning.scenario.Scenario`` document."""

    __tablename__ = "scenario"

    id: str = Field(primary_key=True, max_length=36)
    name: str
    date: Date
    document: dict = _json(default_factory=dict)
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class PlanRow(SQLModel, table=True):
    """A plan; its id is its solve job's id. Results are filled when the job succeeds."""

    __tablename__ = "plan"

    id: str = Field(primary_key=True, max_length=36, foreign_key="job.id")
    scenario_id: str = Field(foreign_key="scenario.id", max_length=36)
    name: str
    utc_offset: str = "+08:00"
    kpi: dict = _json(default_factory=dict)
    objective: dict = _json(default_factory=dict)
    unserved: list = _json(default_factory=list)
    search: dict = _json(default_factory=dict)
    geojson: dict | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="routes.geojson, built by routing.planning.exports at solve time; none before 0002",
    )
    sheets: list | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="route-sheet rows, header first (routing.planning.exports.SHEET_HEADER); none before 0002",
    )
    measures: dict | None = Field(
        default=None,
        sa_column=Column(JSON, nullable=True),
        description="plan.json's dispatcher measures (routing.planning.document.PlanMeasures); none before 0005",
    )
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class PlanRouteRow(SQLModel, table=True):
    __tablename__ = "plan_route"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: str = Field(foreign_key="plan.id", index=True, max_length=36)
    seq: int
    vehicle_id: str = Field(max_length=64)
    distance_m: float = 0.0
    duration_s: float = 0.0


class PlanStopRow(SQLModel, table=True):
    __tablename__ = "plan_stop"

    id: int | None = Field(default=None, primary_key=True)
    route_id: int = Field(foreign_key="plan_route.id", index=True)
    seq: int
    kind: str = Field(max_length=16)
    place_id: str = Field(max_length=64)
    at: str | None = Field(default=None, max_length=16, description="break and wait: the kind of place it is taken at")
    lon: float | None = None
    lat: float | None = None
    arrival: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    start: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    departure: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    load_kg: dict = _json(default_factory=dict)
    unloaded_kg: dict = _json(default_factory=dict)
    leg_distance_m: float = 0.0
    leg_duration_s: float = 0.0


# --- supervision ---------------------------------------------------------------------
class CompanyRow(SQLModel, table=True):
    __tablename__ = "company"

    id: str = Field(primary_key=True, max_length=128, description="the company's name as on its permits")
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


class PermitRow(SQLModel, table=True):
    """A construction-waste transport permit (核准证); ``document`` is the ``fleet.audit.inputs.Permit``."""

    __tablename__ = "permit"

    permit_id: str = Field(primary_key=True, max_length=64)
    device: str = Field(index=True, max_length=64)
    company: str = Field(foreign_key="company.id", max_length=128, index=True)
    valid_from: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    valid_until: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    document: dict = _json(default_factory=dict)


class ZoneRow(SQLModel, table=True):
    """A geofence; ``document`` is the ``fleet.audit.inputs.ZoneFeature``."""

    __tablename__ = "zone"

    id: str = Field(primary_key=True, max_length=64)
    name: str = ""
    kind: str = Field(max_length=16)
    document: dict = _json(default_factory=dict)


class ViolationRow(SQLModel, table=True):
    """One violation; (device, type, start) identifies it, so re-auditing a period adds nothing twice."""

    __tablename__ = "violation"
    __table_args__ = (
        UniqueConstraint("device", "type", "start", name="uq_violation_device_type_start"),
        Index("ix_violation_company_start", "company", "start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    device: str = Field(max_length=64, index=True)
    company: str | None = Field(default=None, max_length=128)
    permit_id: str | None = Field(default=None, max_length=64)
    type: str = Field(max_length=32, index=True)
    severity: str = Field(max_length=16)
    start: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    end: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    lon: float
    lat: float
    audit_id: str | None = Field(default=None, max_length=36)
    document: dict = _json(default_factory=dict)


class CompanyScoreRow(SQLModel, table=True):
    __tablename__ = "company_score"

    company: str = Field(primary_key=True, max_length=128)
    period: str = Field(primary_key=True, max_length=16)
    score: float
    blacklisted: bool
    violations: int
    deductions: list = _json(default_factory=list)
    updated_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


# --- station planning -------------------------------------------------------------------
class StationStudyRow(SQLModel, table=True):
    """A transfer-station study; its id is its job's id."""

    __tablename__ = "station_study"

    id: str = Field(primary_key=True, max_length=36, foreign_key="job.id")
    inputs: dict = _json(default_factory=dict)
    result: dict = _json(default_factory=dict)
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))


# --- access -------------------------------------------------------------------------
class ApiKeyRow(SQLModel, table=True):
    """An API key: only its SHA-256 is stored; ``id`` is the public prefix shown in listings."""

    __tablename__ = "api_key"

    id: str = Field(primary_key=True, max_length=16)
    name: str = ""
    roles: str = Field(max_length=128, description="comma-separated roles")
    terminals: str | None = Field(
        default=None,
        sa_column=Column(Text, nullable=True),
        description="a device key's terminals (comma-separated normalised phones, '*' = every terminal)",
    )
    key_hash: str = Field(max_length=64, index=True, unique=True)
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    revoked_at: datetime | None = _time()
