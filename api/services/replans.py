"""Re-plans in the service: ``POST /plans/{id}/replan`` validates the events at once, the job plans the rest of the day.

The re-plan is ``routing.planning.replan.replan_day`` (the same as ``qingyun plan --replan``): trucks are
placed where their latest stored fix shows them (the vehicle's ``terminal``, no older than
``routing.planning.replan_state.FIX_MAX_AGE_S``), else where the plan puts them. The new plan is a plan like
any other (a ``plan`` job, its own id); its ``plan.json`` carries ``replans`` naming the plan it replaces,
and ``GET /plans/{id}/changes.csv`` gives each driver only what changed. This module imports nothing of
:mod:`api.services.planning`: the routes and the plan job hand it the documents it needs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, select

from api.jobs.engine import JobContext, new_job
from api.services.network import service_network
from api.settings import Settings
from api.tables import Job, PlanRow, ScenarioRow, VehicleRow, utc_now
from fleet.tracks.store import Position, normalise_phone
from routing.errors import ConflictError, InvalidInputError, NotFoundError
from routing.planning.changes import CHANGE_HEADER
from routing.planning.document import PlanDocument
from routing.planning.exports import sheet_csv
from routing.planning.replan_events import check_events, check_plan_matches, parse_events, replan_time
from routing.planning.replan_state import FIX_MAX_AGE_S, DayClock, Fix
from routing.planning.scenario import Scenario, parse_scenario


class ReplanRequest(BaseModel):
    """``POST /plans/{id}/replan``: when, and what happened (``events.json``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    at: str = Field(
        min_length=4, max_length=40, description="re-plan time: HH:MM on the plan's day, or ISO 8601 with its offset"
    )
    events: dict = Field(
        default_factory=dict,
        description="breakdowns, finished, positions, new_sites, cancelled (routing.planning.replan_events)",
    )
    time_limit_s: float | None = Field(
        None, gt=0, le=86_400, description="search seconds; default routing.planning.replan.REPLAN_TIME_LIMIT_S"
    )


def _scenario_of(session: Session, plan: PlanRow) -> Scenario:
    stored = session.get(ScenarioRow, plan.scenario_id)
    if stored is None:
        raise NotFoundError(f"plan {plan.id}: its scenario {plan.scenario_id} no longer exists")
    return parse_scenario(stored.document, source=f"scenario {stored.id}")


def latest_fixes(session: Session, *, scenario: Scenario, at: datetime) -> dict[str, dict]:
    """Each truck's latest stored fix in the :data:`FIX_MAX_AGE_S` before ``at``, by the vehicle's terminal.

    Parameters
    ----------
    session
        The request's session (catalogue and positions share the database).
    scenario
        The day: its vehicle ids are looked up in the catalogue for their ``terminal``.
    at
        The re-plan time (aware).

    Returns
    -------
    dict
        Vehicle id → ``{"lon", "lat", "time"}`` (ISO 8601), JSON-ready for the job's parameters.
    """
    ids = [v.id for v in scenario.vehicles]
    phones = {
        normalise_phone(row.terminal): row.id
        for row in session.exec(select(VehicleRow).where(VehicleRow.id.in_(ids)))
        if row.terminal
    }
    if not phones:
        return {}
    query = (
        select(Position)
        .where(Position.terminal_phone.in_(list(phones)))
        .where(Position.gps_time <= at, Position.gps_time >= at - timedelta(seconds=FIX_MAX_AGE_S))
        .order_by(Position.gps_time)
    )
    latest = {phones[p.terminal_phone]: p for p in session.exec(query)}  # later fixes overwrite earlier ones
    tz = at.tzinfo
    return {v: {"lon": p.lon, "lat": p.lat, "time": p.gps_time.astimezone(tz).isoformat()} for v, p in latest.items()}


def submit_replan(
    session: Session, *, plan: PlanRow, document: dict, request: ReplanRequest, settings: Settings
) -> PlanRow:
    """Check a re-plan request against the plan's day and store its queued job (dispatch separately).

    Parameters
    ----------
    session
        The request's session; committed.
    plan
        The solved plan to re-plan.
    document
        Its ``plan.json`` (``api.services.planning.plan_document``).
    request
        When, what happened, the time limit.
    settings
        The service's settings (largest time limit, attempts).

    Returns
    -------
    PlanRow
        The new plan, its job queued; its scenario is the replaced plan's until the job stores the rest of the day.

    Raises
    ------
    InvalidInputError
        A time outside the day, an event naming an unknown truck or site, a malformed event (each named).
    """
    from routing.planning.replan import REPLAN_TIME_LIMIT_S

    limit = request.time_limit_s or REPLAN_TIME_LIMIT_S
    if limit > settings.service.plan_time_limit_max_s:
        raise InvalidInputError(
            f"time_limit_s: {limit:g} s is above this service's limit of {settings.service.plan_time_limit_max_s:g} s"
        )
    scenario = _scenario_of(session, plan)
    old = PlanDocument.model_validate(document)
    check_plan_matches(old, scenario, source=f"plan {plan.id}")
    at_s = replan_time(request.at, scenario=scenario)
    check_events(parse_events(request.events, source="events"), scenario=scenario, at_s=at_s, source="events")
    fixes = latest_fixes(session, scenario=scenario, at=DayClock(scenario).moment(at_s))
    replan = {"from_plan": plan.id, "at": request.at, "events": request.events, "positions": fixes}
    job = new_job(
        kind="plan",
        params={"time_limit_s": limit, "scenario_id": plan.scenario_id, "replan": replan},
        max_attempts=settings.service.job_max_attempts,
    )
    row = PlanRow(
        id=job.id,
        scenario_id=plan.scenario_id,
        name=f"{plan.name} @ {request.at}",
        utc_offset=plan.utc_offset,
        created_at=utc_now(),
    )
    session.add(job)
    session.flush()
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def replan_outcome(ctx: JobContext, *, scenario: Scenario, document: dict):
    """Run a re-plan job's planning: the replaced plan's day and ``plan.json`` in, a checked re-plan out.

    Parameters
    ----------
    ctx
        The job: ``params["replan"]`` (``from_plan``, ``at``, ``events``, ``positions``) and ``params["time_limit_s"]``.
    scenario
        The replaced plan's scenario.
    document
        The replaced plan's ``plan.json``.

    Returns
    -------
    routing.planning.replan.ReplanOutcome

    Raises
    ------
    PlanCheckError
        The checker rejected the re-plan: the job fails, nothing is stored.
    """
    from routing.planning.pipeline import solve_params
    from routing.planning.replan import replan_day  # loads OR-Tools: only in the job

    replan = ctx.params["replan"]
    positions = {
        v: Fix(lon=f["lon"], lat=f["lat"], time=datetime.fromisoformat(f["time"]))
        for v, f in replan["positions"].items()
    }
    return replan_day(
        scenario=scenario,
        plan=PlanDocument.model_validate(document),
        at=replan["at"],
        events=parse_events(replan["events"], source="events"),
        params=solve_params(ctx.settings.planning, time_limit_s=float(ctx.params["time_limit_s"])),
        from_plan=replan["from_plan"],
        positions=positions,
        network=service_network(ctx.settings.network, osm=scenario.osm),
        progress=lambda p: ctx.progress(
            stage="solving", best_cost=round(p.best_cost, 2), elapsed_s=round(p.elapsed_s, 1)
        ),
    )


def store_rest_of_day(session: Session, *, plan_id: str, scenario: Scenario) -> None:
    """The re-plan's scenario (the rest of the day, start sites included) under the plan's id, the plan pointed at it.

    Idempotent: a retried job writes the same row once.
    """
    session.merge(
        ScenarioRow(
            id=plan_id,
            name=scenario.name,
            date=scenario.date,
            document=scenario.model_dump(mode="json"),
            created_at=utc_now(),
        )
    )
    session.flush()
    session.get(PlanRow, plan_id).scenario_id = plan_id


def changes_csv(job: Job, *, vehicle_id: str | None = None) -> str | None:
    """A re-plan's change sheets as CSV: every truck's, or one truck's (None if nothing changed for it).

    Raises
    ------
    ConflictError
        The plan is not a re-plan.
    """
    rows = job.result.get("changes")
    if rows is None:
        raise ConflictError(f"plan {job.id} is not a re-plan: it has no change sheets (POST /plans/{{id}}/replan)")
    mine = [r for r in rows if vehicle_id is None or r[0] == vehicle_id]
    return None if vehicle_id is not None and not mine else sheet_csv([CHANGE_HEADER, *mine])
