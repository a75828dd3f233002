"""Street sweeping in the service: a night's plan (``routing.sweeping``) and its audit from stored tracks, as jobs.

A thin shell, like ``api/services/planning.py``: the request is validated now (every bad field named,
answered 422), the work runs as a background job (queued, progress, retry by ``POST …/retry``) and
calls the library — :func:`routing.sweeping.plan.plan_streets` for the plan (kerbs in the area →
arc routing → independent checker) and :func:`fleet.audit.sweeping.sweep_audit` for the audit
(stored positions of a period → matched paths → kerbs swept at working speed). A job's parameters
and its result (plan.json, GeoJSON, route sheets; or the audit) are stored on the job row, so
reading them needs neither the network nor a solver.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session

from api.jobs.engine import JobContext, job_status, new_job
from api.services.records import IsoDateTime
from api.settings import Settings
from api.tables import Job
from routing.errors import ConflictError, InvalidInputError, NotFoundError

PLAN_KIND = "sweep_plan"
AUDIT_KIND = "sweep_audit"
WHAT = {PLAN_KIND: "清扫计划 / sweeping plan", AUDIT_KIND: "清扫核查 / sweeping audit"}


class SweepPlanRequest(BaseModel):
    """``POST /sweeping/plans``: one night's scenario (the document of ``qingyun sweep plan --scenario``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    scenario: dict = Field(
        description="name, osm, area (GeoJSON polygon), classes, date, depot, stations, water_points, "
        "sweepers, washers, settings (routing.sweeping.scenario.SweepScenario)"
    )
    time_limit_s: float | None = Field(
        None, gt=0, le=86_400, description="search seconds; default the arc search's, at most the service's limit"
    )
    seed: int | None = Field(None, ge=0, description="search seed (default QINGYUN_ARCS_SEED)")


class SweepAuditRequest(BaseModel):
    """``POST /sweeping/audits``: the sweepers' stored positions over a period against a finished sweeping plan."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    plan_id: str = Field(min_length=1, max_length=36, description="a sweeping plan that succeeded")
    start: IsoDateTime = Field(alias="from", description="ISO 8601 with offset, inclusive")
    end: IsoDateTime = Field(alias="to", description="ISO 8601 with offset, exclusive")
    devices: list[str] | None = Field(
        None, min_length=1, max_length=1000, description="the sweepers' terminal phones; none = every terminal"
    )

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no UTC offset; write e.g. 2026-11-21T05:00:00+08:00")
        return value


def _scenario(document: dict, *, settings: Settings):
    """The validated scenario, its sweeping settings and area; raises naming the bad field (``scenario.…``)."""
    from routing.jsonfile import validated
    from routing.sweeping.scenario import SweepScenario, scenario_settings
    from routing.sweeping.scope import area_of
    from routing.sweeping.settings import SweepingSettings

    scenario = validated(SweepScenario, document, source="scenario")
    validated(SweepingSettings, {**settings.sweeping.model_dump(), **scenario.settings}, source="scenario.settings")
    area = area_of(scenario.area, source="scenario.area")
    if scenario.osm is not None:
        settings.network.named_osm(scenario.osm)  # refused with the data folder's road networks
    return scenario, scenario_settings(scenario, settings.sweeping), area


def _queue(session: Session, *, kind: str, params: dict, settings: Settings) -> Job:
    job = new_job(kind=kind, params=params, max_attempts=settings.service.job_max_attempts)
    session.add(job)
    session.commit()
    session.refresh(job)
    return job


def submit_sweep_plan(session: Session, *, request: SweepPlanRequest, settings: Settings) -> Job:
    """Validate a ``POST /sweeping/plans`` request and store its queued job (dispatch separately).

    Parameters
    ----------
    session
        The request's session; committed.
    request
        The scenario, the time limit and the seed asked for.
    settings
        The service's settings: largest time limit, attempts, road networks, sweeping defaults.

    Returns
    -------
    Job
        The queued job; its id is the plan's.

    Raises
    ------
    InvalidInputError
        A time limit above the service's, a road network not in the data folder, or a bad scenario
        field (``InputFileError``, every field named by its path).
    """
    most = settings.service.plan_time_limit_max_s
    if request.time_limit_s is not None and request.time_limit_s > most:
        raise InvalidInputError(
            f"time_limit_s: {request.time_limit_s:g} s 超过服务上限 / is above this service's limit of {most:g} s"
        )
    _scenario(request.scenario, settings=settings)
    params = {"scenario": request.scenario, "time_limit_s": request.time_limit_s, "seed": request.seed}
    return _queue(session, kind=PLAN_KIND, params=params, settings=settings)


def submit_sweep_audit(session: Session, *, request: SweepAuditRequest, settings: Settings) -> Job:
    """Validate a ``POST /sweeping/audits`` request against its plan and store the queued job.

    Raises
    ------
    NotFoundError
        ``plan_id`` names no sweeping plan, or a device no terminal.
    ConflictError
        The plan has not succeeded.
    InvalidInputError
        ``to`` is not after ``from``.
    """
    if request.end <= request.start:
        raise InvalidInputError(
            f"to ({request.end.isoformat()}) 不晚于 from / is not after from ({request.start.isoformat()})"
        )
    sweep_job(session, job_id=request.plan_id, kind=PLAN_KIND, finished=True)
    if request.devices is not None:
        from fleet.tracks.store import normalise_phone, unknown_terminals

        unknown = unknown_terminals(session.get_bind(), [normalise_phone(d.strip()) for d in request.devices])
        if unknown:
            raise NotFoundError(f"devices: 没有这些终端 / no terminal {', '.join(unknown[:20])} in the database")
    params = {
        "plan_id": request.plan_id,
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "devices": request.devices,
    }
    return _queue(session, kind=AUDIT_KIND, params=params, settings=settings)


def sweep_job(session: Session, *, job_id: str, kind: str, finished: bool = False) -> Job:
    """The sweeping job ``job_id`` of ``kind``; with ``finished``, only one that succeeded.

    Raises
    ------
    NotFoundError
        No job of that kind has the id (answered 404 naming it).
    ConflictError
        ``finished`` and the job has not succeeded (yet).
    """
    job = session.get(Job, job_id)
    if job is None or job.kind != kind:
        raise NotFoundError(f"{WHAT[kind]} {job_id!r} 不存在 / does not exist")
    if finished and job.status != "succeeded":
        base = "/sweeping/plans" if kind == PLAN_KIND else "/sweeping/audits"
        raise ConflictError(
            f"{WHAT[kind]} {job_id} 尚未完成 / is {job.status}, not finished: follow GET {base}/{job_id}"
        )
    return job


def list_sweep_plans(session: Session, *, limit: int, offset: int) -> dict:
    """A page of sweeping plans, newest first: ``{"total": n, "items": [{id, name, status, created_at}, …]}``.

    Why: the map page's sweeping layer offers the finished plans to pick from; the stored results
    (GeoJSON, sheets) are large, so only the job's columns and its scenario's name are read.

    Parameters
    ----------
    session
        The request's session.
    limit, offset
        The page: at most ``limit`` plans, after skipping ``offset``.
    """
    from sqlmodel import func, select

    from api.tables import local_iso

    total = session.exec(select(func.count()).select_from(Job).where(Job.kind == PLAN_KIND)).one()
    rows = session.exec(
        select(Job.id, Job.status, Job.created_at, Job.params)
        .where(Job.kind == PLAN_KIND)
        .order_by(Job.created_at.desc(), Job.id)
        .offset(offset)
        .limit(limit)
    )
    items = [
        {
            "id": job_id,
            "name": str((params.get("scenario") or {}).get("name", "")),
            "status": status,
            "created_at": local_iso(created),
        }
        for job_id, status, created, params in rows
    ]
    return {"total": total, "items": items}


def job_body(job: Job, *, result_key: str) -> dict:
    """Status, progress, error and attempts of a job; ``result_key`` holds its result once it succeeded."""
    body = job_status(job)
    if job.status == "succeeded":
        body[result_key] = job.result[result_key]
    return body


def sheet_text(job: Job, *, vehicle: str) -> str:
    """One vehicle's route sheet of a finished plan as CSV text (zh/en header).

    Raises
    ------
    NotFoundError
        The plan has no vehicle ``vehicle`` (the message lists the plan's vehicles).
    """
    from routing.planning.exports import sheet_csv

    sheets = job.result["sheets"]
    if vehicle not in sheets:
        raise NotFoundError(
            f"vehicle: 计划 {job.id} 中没有车辆 / plan has no vehicle {vehicle!r}; it has {', '.join(sheets) or '(none)'}"
        )
    return sheet_csv(sheets[vehicle])


def _plan_kerbs(network: object, *, scenario, settings, area) -> tuple[list, list]:
    """The kerbs to sweep in the area, and those of the counted classes (the planned rate's denominator)."""
    from routing.sweeping.scope import kerbs_in_area

    kerbs = kerbs_in_area(network, area=area, settings=settings)
    if settings.rate_classes and settings.rate_classes != settings.classes:
        counted = settings.model_copy(update={"classes": settings.rate_classes})
        return kerbs, kerbs_in_area(network, area=area, settings=counted)
    return kerbs, kerbs


def run_sweep_plan(ctx: JobContext):
    """Plan the scenario's night with :func:`routing.sweeping.plan.plan_streets`; the result is stored on the job.

    Returns
    -------
    tuple of (dict, callable)
        The result (plan.json, routes GeoJSON, route sheets per vehicle) and a writer with nothing
        more to store. A plan the checker rejects fails the job (``PlanCheckError``), nothing is kept.
    """
    from api.services.network import service_network
    from routing.arcs.settings import ArcSettings
    from routing.localtime import parse_utc_offset
    from routing.sweeping.exports import SHEET_HEADER, plan_geojson, sheet_rows
    from routing.sweeping.plan import plan_streets

    scenario, settings, area = _scenario(ctx.params["scenario"], settings=ctx.settings)
    network = service_network(ctx.settings.network, osm=scenario.osm)
    kerbs, scope_kerbs = _plan_kerbs(network, scenario=scenario, settings=settings, area=area)
    ctx.progress(stage="solving", kerbs=len(kerbs))
    wanted = {"time_limit_s": ctx.params.get("time_limit_s"), "seed": ctx.params.get("seed")}
    arcs = ArcSettings().model_copy(update={k: v for k, v in wanted.items() if v is not None})
    today = datetime.now(parse_utc_offset(settings.utc_offset, field="utc_offset")).date().isoformat()
    plan = plan_streets(
        network,
        kerbs=kerbs,
        scope_kerbs=scope_kerbs,
        vehicles=scenario.sweepers,
        depot_lonlat=(scenario.depot.lon, scenario.depot.lat),
        settings=settings,
        arc_settings=arcs,
        date=scenario.date or today,
        name=scenario.name,
        washers=scenario.washers,
        stations=scenario.stations or None,
        water_points=scenario.water_points or None,
    )
    result = {
        "plan": json.loads(plan.model_dump_json()),
        "geojson": plan_geojson(plan, network),
        "sheets": {v.vehicle_id: [SHEET_HEADER, *sheet_rows(plan, i)] for i, v in enumerate(plan.vehicles)},
    }
    return result, lambda session: None


def run_sweep_audit(ctx: JobContext):
    """Audit the sweepers' stored positions of the period against the plan's kerbs (:mod:`fleet.audit.sweeping`).

    The kerbs are the plan's scope (its scenario's area and classes on the same road network), so the
    achieved rate is measured against what the plan was asked to sweep.
    """
    from api.services.network import service_network
    from fleet.audit.sweeping import sweep_audit
    from fleet.tracks.matching import MapMatcher
    from fleet.tracks.sources import Period, db_positions
    from fleet.tracks.track import build_tracks

    with Session(ctx.engine) as session:
        plan = sweep_job(session, job_id=ctx.params["plan_id"], kind=PLAN_KIND, finished=True)
        document = plan.params["scenario"]
    scenario, settings, area = _scenario(document, settings=ctx.settings)
    network = service_network(ctx.settings.network, osm=scenario.osm)
    kerbs, _ = _plan_kerbs(network, scenario=scenario, settings=settings, area=area)
    period = Period(datetime.fromisoformat(ctx.params["from"]), datetime.fromisoformat(ctx.params["to"]))
    positions = db_positions(ctx.engine, period=period, devices=ctx.params.get("devices"))
    ctx.progress(stage="auditing", positions=positions.rows_read, kerbs=len(kerbs))
    fleet = ctx.settings.fleet
    tracks = build_tracks(positions.frame, projector=network, settings=fleet.track)
    audit = sweep_audit(
        kerbs,
        network=network,
        tracks=tracks,
        matcher=MapMatcher(network, settings=fleet.matching),
        positions=positions.frame,
        settings=settings,
    )
    result = {"audit": {"plan_id": plan.id, "positions": positions.rows_read, **audit.model_dump(mode="json")}}
    return result, lambda session: None
