"""Plans in the service: a scenario from the request or the stored catalogue, solved as a job.

The planning itself is ``routing.planning.pipeline.plan_day`` (the same pipeline as ``qingyun plan``:
network → matrices → solve → independent check); this module only moves data between the database
and the library: scenario rows in, ``plan.json`` rows out (:class:`routing.planning.document.PlanDocument`),
plus the GeoJSON and route sheets ``routing.planning.exports`` builds at solve time, so reading them
needs no network. A plan the checker rejects fails its job with the violations and is never stored.
"""

from __future__ import annotations

from datetime import date as Date
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete
from sqlmodel import Session, func, select

from api.jobs.engine import JobContext, job_status
from api.services.network import service_network
from api.services.replans import replan_outcome, store_rest_of_day
from api.settings import Settings
from api.tables import (
    DepotRow,
    FacilityRow,
    Job,
    PlanRouteRow,
    PlanRow,
    PlanStopRow,
    ScenarioRow,
    SiteRow,
    VehicleRow,
    VehicleTypeRow,
    local_iso,
    utc_now,
)
from routing.errors import ConflictError, InvalidInputError, NotFoundError
from routing.localtime import parse_utc_offset
from routing.planning.document import PlanDocument, PlanRoute, PlanStop, route_colour
from routing.planning.exports import plan_exports, sheet_csv
from routing.planning.scenario import BreakRule, Scenario, parse_scenario

if TYPE_CHECKING:
    from routing.network.settings import NetworkSettings


class PlanRequest(BaseModel):
    """``POST /plans``: a whole scenario, or a day to plan from the stored sites, vehicles, depots and facilities."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    scenario: dict | None = Field(
        None, description="a scenario document (`qingyun plan --schema`); none = build from the catalogue"
    )
    name: str = Field("plan", min_length=1, max_length=200, description="plan name when built from the catalogue")
    date: Date | None = Field(None, description="service day when built from the catalogue (required then)")
    break_rule: BreakRule | None = Field(
        default_factory=BreakRule, description="meal break when built from the catalogue"
    )
    time_limit_s: float | None = Field(
        None, gt=0, le=86_400, description="solve time limit, s; default and largest from the service's settings"
    )


def catalogue_scenario(session: Session, *, name: str, day: Date, break_rule: BreakRule | None) -> dict:
    """A scenario document from the stored depots, facilities, vehicle types, vehicles and sites.

    Parameters
    ----------
    session
        The request's session.
    name
        The scenario's name.
    day
        The service day.
    break_rule
        The meal break; None = no break.

    Returns
    -------
    dict
        The scenario document, not yet validated; records in id order, vehicles without their ``terminal``.
    """

    def rows(table) -> list[dict]:  # unset columns (NULL) take the scenario's defaults
        return [
            {k: v for k, v in r.model_dump().items() if v is not None}
            for r in session.exec(select(table).order_by(table.id))
        ]

    vehicles = [{k: v for k, v in r.items() if k != "terminal"} for r in rows(VehicleRow)]
    return {
        "name": name,
        "date": day.isoformat(),
        "depots": rows(DepotRow),
        "facilities": rows(FacilityRow),
        "vehicle_types": rows(VehicleTypeRow),
        "vehicles": vehicles,
        "break_rule": None if break_rule is None else break_rule.model_dump(),
        "sites": rows(SiteRow),
    }


def validated_scenario(request: PlanRequest, *, session: Session, network: NetworkSettings) -> Scenario:
    """The request's scenario, validated; raises ``QingyunError`` naming every bad field.

    Parameters
    ----------
    request
        The ``POST /plans`` body: a scenario, or a date to build one from the stored catalogue.
    session
        The request's session (the catalogue is read from it).
    network
        The service's road networks: a scenario's ``osm`` names a file of its data folder (``QINGYUN_DATA_DIR``).

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    InvalidInputError
        Neither a scenario nor a date, or a scenario naming a road network not in the data folder.
    ScenarioError
        The scenario breaks a rule (every bad field named).
    """
    if request.scenario is None:
        if request.date is None:
            raise InvalidInputError(
                "date: required when no scenario is given (the day to plan from the stored catalogue)"
            )
        raw = catalogue_scenario(session, name=request.name, day=request.date, break_rule=request.break_rule)
        scenario = parse_scenario(raw, source="stored catalogue (sites, vehicles, depots, facilities)")
    else:
        scenario = parse_scenario(request.scenario, source="scenario")
    network.named_osm(scenario.osm)  # refused with the names of the data folder's road networks
    return scenario


def submit_plan(session: Session, *, request: PlanRequest, settings: Settings) -> PlanRow:
    """Validate a ``POST /plans`` request and store its scenario and queued job (dispatch separately).

    Parameters
    ----------
    session
        The request's database session.
    request
        The scenario (or the catalogue day) and the time limit asked for.
    settings
        The service's settings: default and largest time limit, attempts, road network.

    Returns
    -------
    PlanRow
        The new plan, its job queued.

    Raises
    ------
    InvalidInputError
        A time limit above the service's, or a bad scenario (every bad field named).
    """
    limit = request.time_limit_s or settings.planning.time_limit_s
    most = settings.service.plan_time_limit_max_s
    if limit > most:
        raise InvalidInputError(f"time_limit_s: {limit:g} s is above this service's limit of {most:g} s")
    scenario = validated_scenario(request, session=session, network=settings.network)
    return create_plan(session, scenario=scenario, time_limit_s=limit, max_attempts=settings.service.job_max_attempts)


def list_plans(session: Session, *, limit: int, offset: int) -> dict:
    """A page of plans, newest first: ``{"total": n, "items": [{id, name, status, created_at, kpi}, …]}``.

    Parameters
    ----------
    session
        The request's session.
    limit, offset
        The page: at most ``limit`` plans, after skipping ``offset``.

    Returns
    -------
    dict
        The total number of plans and this page's items (without the large GeoJSON and route sheets).
    """
    total = session.exec(select(func.count()).select_from(PlanRow)).one()
    # the listed columns only: a plan row also holds its GeoJSON and route sheets (large)
    rows = session.exec(
        select(PlanRow.id, PlanRow.name, Job.status, PlanRow.created_at, PlanRow.kpi)
        .join(Job, Job.id == PlanRow.id)
        .order_by(PlanRow.created_at.desc())
        .offset(offset)
        .limit(limit)
    )
    items = [
        {"id": plan_id, "name": name, "status": status, "created_at": local_iso(created), "kpi": kpi}
        for plan_id, name, status, created, kpi in rows
    ]
    return {"total": total, "items": items}


def create_plan(session: Session, *, scenario: Scenario, time_limit_s: float, max_attempts: int) -> PlanRow:
    """Store the scenario, a queued solve job and its plan row (one transaction); dispatch separately.

    Parameters
    ----------
    session
        The request's session; committed.
    scenario
        The validated scenario.
    time_limit_s
        The solve time limit, seconds.
    max_attempts
        How many times the job may run before it stays failed.

    Returns
    -------
    PlanRow
        The new plan; its id is also the job's and the stored scenario's.
    """
    from api.jobs.engine import new_job

    job = new_job(kind="plan", params={"time_limit_s": time_limit_s}, max_attempts=max_attempts)
    document = scenario.model_dump(mode="json")
    row = ScenarioRow(id=job.id, name=scenario.name, date=scenario.date, document=document, created_at=utc_now())
    job.params["scenario_id"] = row.id
    plan = PlanRow(
        id=job.id, scenario_id=row.id, name=scenario.name, utc_offset=scenario.utc_offset, created_at=utc_now()
    )
    session.add(job)
    session.add(row)
    session.flush()
    session.add(plan)
    session.commit()
    session.refresh(plan)
    return plan


def run_plan(ctx: JobContext):
    """Plan a stored scenario with the planning pipeline; only a plan the independent checker passed is stored.

    Parameters
    ----------
    ctx
        The job: ``params["scenario_id"]`` and ``params["time_limit_s"]``; ``ctx.settings.planning`` gives the
        other search settings, ``ctx.settings.network`` the road network. With ``params["replan"]`` the job
        re-plans that plan's day (:mod:`api.services.replans`); its link and change sheets go with the job's result.

    Returns
    -------
    tuple of (dict, callable)
        The job's summary (routes, unserved, KPIs) and the writer of the plan's rows.

    Raises
    ------
    PlanCheckError
        The checker rejected the plan: the job fails with a message naming the violations, nothing is stored.
    """
    from routing.planning.pipeline import plan_day, solve_params  # loads OR-Tools: only in the job

    with Session(ctx.engine) as session:
        stored = session.get(ScenarioRow, ctx.params["scenario_id"])
        if stored is None:
            raise NotFoundError(f"scenario {ctx.params['scenario_id']} of job {ctx.job_id} no longer exists")
        scenario = parse_scenario(stored.document, source=f"scenario {stored.id}")
        replaced = None  # a re-plan (POST /plans/{id}/replan): the plan.json it replaces
        if "replan" in ctx.params:
            replaced = plan_document(session, session.get(PlanRow, ctx.params["replan"]["from_plan"]))
    ctx.progress(stage="solving", best_cost=None, elapsed_s=0.0)
    result = None  # a re-plan's outcome: the rest of the day as solved and the drivers' changes
    if replaced is not None:
        result = replan_outcome(ctx, scenario=scenario, document=replaced)
        outcome = result.outcome
    else:
        outcome = plan_day(
            scenario,
            params=solve_params(ctx.settings.planning, time_limit_s=float(ctx.params["time_limit_s"])),
            network=service_network(ctx.settings.network, osm=scenario.osm),
            progress=lambda p: ctx.progress(
                stage="solving", best_cost=round(p.best_cost, 2), elapsed_s=round(p.elapsed_s, 1)
            ),
        )
    document = outcome.document
    geojson, sheets = plan_exports(outcome)

    def write(session: Session) -> None:
        if result is not None:
            store_rest_of_day(session, plan_id=ctx.job_id, scenario=result.scenario)
        write_plan_rows(session, plan_id=ctx.job_id, document=document, geojson=geojson, sheets=sheets)

    summary = {"routes": len(document.routes), "unserved": len(document.unserved), "kpi": document.kpi}
    if result is not None:
        summary |= {"replans": document.replans.model_dump(mode="json"), "changes": result.changes}
    return summary, write


def write_plan_rows(
    session: Session, *, plan_id: str, document: PlanDocument, geojson: dict, sheets: list[list[str]]
) -> None:
    """Replace the plan's routes, stops and exports (idempotent: a retried job writes the same rows once).

    Parameters
    ----------
    session
        The job writer's session; not committed here (the job's status is committed with the rows).
    plan_id
        The plan, which is also the job's id.
    document
        The solved plan.
    geojson
        ``routes.geojson`` as built at solve time.
    sheets
        The route sheets, header row first, the vehicle id in column 0.
    """
    route_ids = select(PlanRouteRow.id).where(PlanRouteRow.plan_id == plan_id)
    session.exec(delete(PlanStopRow).where(PlanStopRow.route_id.in_(route_ids)))
    session.exec(delete(PlanRouteRow).where(PlanRouteRow.plan_id == plan_id))
    plan = session.get(PlanRow, plan_id)
    plan.kpi, plan.objective, plan.search = document.kpi, document.objective, document.search
    plan.unserved = [u.model_dump(mode="json") for u in document.unserved]
    plan.measures = None if document.measures is None else document.measures.model_dump(mode="json")
    plan.geojson, plan.sheets = geojson, sheets
    session.add(plan)
    for seq, route in enumerate(document.routes):
        stops = route.stops
        row = PlanRouteRow(
            plan_id=plan_id,
            seq=seq,
            vehicle_id=route.vehicle_id,
            distance_m=float(sum(s.leg_distance_m for s in stops)),
            duration_s=(stops[-1].arrival - stops[0].departure).total_seconds(),
        )
        session.add(row)
        session.flush()
        for k, s in enumerate(stops):
            session.add(
                PlanStopRow(
                    route_id=row.id,
                    seq=k,
                    kind=s.kind,
                    place_id=s.id,
                    at=s.at,
                    lon=s.lon,
                    lat=s.lat,
                    arrival=s.arrival,
                    start=s.start,
                    departure=s.departure,
                    load_kg=s.load_kg,
                    unloaded_kg=s.unloaded_kg,
                    leg_distance_m=s.leg_distance_m,
                    leg_duration_s=s.leg_duration_s,
                )
            )


def _routes(session: Session, plan_id: str) -> list[tuple[PlanRouteRow, list[PlanStopRow]]]:
    routes = list(session.exec(select(PlanRouteRow).where(PlanRouteRow.plan_id == plan_id).order_by(PlanRouteRow.seq)))
    stops: dict[int, list[PlanStopRow]] = {r.id: [] for r in routes}
    if routes:
        query = (
            select(PlanStopRow)
            .where(PlanStopRow.route_id.in_(list(stops)))
            .order_by(PlanStopRow.route_id, PlanStopRow.seq)
        )
        for stop in session.exec(query):
            stops[stop.route_id].append(stop)
    return [(r, stops[r.id]) for r in routes]


def plan_document(session: Session, plan: PlanRow) -> dict:
    """The stored plan as the ``plan.json`` contract (:class:`PlanDocument`), times with the scenario's UTC offset.

    Parameters
    ----------
    session
        The request's session.
    plan
        The stored plan.

    Returns
    -------
    dict
        The ``plan.json`` document: KPIs, routes with their stops, unserved sites, search settings.
    """
    tz = parse_utc_offset(plan.utc_offset)
    routes = [
        PlanRoute(
            vehicle_id=route.vehicle_id,
            colour=route_colour(route.seq),
            stops=[
                PlanStop(
                    kind=s.kind,
                    id=s.place_id,
                    at=s.at,
                    lon=s.lon,
                    lat=s.lat,
                    arrival=s.arrival.astimezone(tz),
                    start=s.start.astimezone(tz),
                    departure=s.departure.astimezone(tz),
                    load_kg=s.load_kg,
                    unloaded_kg=s.unloaded_kg,
                    leg_distance_m=round(s.leg_distance_m),
                    leg_duration_s=round(s.leg_duration_s),
                )
                for s in stops
            ],
        )
        for route, stops in _routes(session, plan.id)
    ]
    job = session.get(Job, plan.id)
    document = PlanDocument(
        scenario=plan.name,
        objective=plan.objective,
        kpi=plan.kpi,
        routes=routes,
        unserved=plan.unserved,
        measures=plan.measures,
        search=plan.search or {},
        replans=None if job is None else job.result.get("replans"),  # a re-plan's link, stored with its job
    )
    return document.to_json()


def _exported(plan: PlanRow) -> PlanRow:
    """The plan, if its exports were stored when it was solved (every plan solved since migration 0002)."""
    if plan.geojson is None or plan.sheets is None:
        raise ConflictError(
            f"plan {plan.id} was solved before GeoJSON and route sheets were stored with plans: submit its scenario again"
        )
    return plan


def stored_geojson(plan: PlanRow) -> dict:
    """``routes.geojson`` as ``routing.planning.exports.plan_geojson`` built it at solve time."""
    return _exported(plan).geojson


def stored_sheet_csv(plan: PlanRow, *, vehicle_id: str | None = None) -> str | None:
    """The route sheets stored at solve time as CSV: every truck's, or one truck's (None if it has no route).

    Parameters
    ----------
    plan
        A solved plan.
    vehicle_id
        One truck's sheet; None = every truck's.

    Returns
    -------
    str or None
        The CSV, header first; None when ``vehicle_id`` has no route in the plan.

    Raises
    ------
    ConflictError
        The plan was solved before route sheets were stored with plans.
    """
    header, *rows = _exported(plan).sheets
    rows = [r for r in rows if vehicle_id is None or r[0] == vehicle_id]  # column 0 is the vehicle
    return None if vehicle_id is not None and not rows else sheet_csv([header, *rows])


def plan_status(session: Session, plan: PlanRow, job: Job) -> dict:
    """Status, progress and, when done, the plan.

    Parameters
    ----------
    session
        The request's session.
    plan
        The plan row.
    job
        Its job (the same id).

    Returns
    -------
    dict
        id, name, status, progress, attempts, retryable, error, created_at and finished_at (ISO 8601),
        and ``plan`` (:func:`plan_document`) once the job succeeded.
    """
    body = {
        **job_status(job),
        "id": plan.id,
        "name": plan.name,
        "created_at": local_iso(job.created_at),
        "finished_at": local_iso(job.finished_at),
    }
    if job.status == "succeeded":
        body["plan"] = plan_document(session, plan)
    return body
