"""Plans in the service: a scenario from the request or the stored catalogue, solved as a job.

The solve itself is ``routing`` (``problem_from_scenario`` → ``solve``); this module only moves
data between the database and the library: scenario rows in, ``plan.json`` rows out, with the
road geometry of every leg so the map and GeoJSON need no network at read time.
"""

from __future__ import annotations

import csv
import io
from datetime import date as Date
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete
from sqlmodel import Session, select

from api.jobs import JobContext, runner
from api.models import (
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
    utc_now,
)
from routing.errors import QingyunError
from routing.model import STREAM_LABELS_ZH, BreakRule, Scenario, parse_scenario

ROUTE_COLOURS = (  # distinguishable on a light map, colour-blind friendly order first
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    "#bcbd22", "#7f7f7f", "#393b79", "#ad494a", "#637939", "#e6550d", "#7b4173", "#3182bd",
)
KIND_LABELS = {"depot": "车场 / depot", "site": "收集点 / site", "facility": "处置设施 / facility", "break": "午休 / break"}


class PlanRequest(BaseModel):
    """``POST /plans``: a whole scenario, or a day to plan from the stored sites, vehicles, depots and facilities."""

    model_config = ConfigDict(extra="forbid")

    scenario: dict | None = Field(None, description="a scenario document (`qingyun plan --schema`); none = build from the catalogue")
    name: str = Field("plan", min_length=1, max_length=200, description="plan name when built from the catalogue")
    date: Date | None = Field(None, description="service day when built from the catalogue (required then)")
    break_rule: BreakRule | None = Field(default_factory=BreakRule, description="meal break when built from the catalogue")
    time_limit_s: float | None = Field(None, gt=0, description="solve time limit; default from settings")


@lru_cache(maxsize=4)
def service_network(osm: str | None):
    """The road network the service plans on (loaded once per process)."""
    from routing.network import load_network

    return load_network(Path(osm)) if osm else load_network()


def catalogue_scenario(session: Session, *, name: str, day: Date, break_rule: BreakRule | None) -> dict:
    """A scenario document from the stored depots, facilities, vehicle types, vehicles and sites."""

    def rows(table) -> list[dict]:
        return [r.model_dump() for r in session.exec(select(table).order_by(table.id))]

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


def validated_scenario(request: PlanRequest, *, session: Session, service_osm: str | None) -> Scenario:
    """The request's scenario, validated; raises ``QingyunError`` naming every bad field."""
    if request.scenario is None:
        if request.date is None:
            raise QingyunError("date: required when no scenario is given (the day to plan from the stored catalogue)")
        raw = catalogue_scenario(session, name=request.name, day=request.date, break_rule=request.break_rule)
        scenario = parse_scenario(raw, source="stored catalogue (sites, vehicles, depots, facilities)")
    else:
        scenario = parse_scenario(request.scenario, source="scenario")
    if scenario.osm is not None and Path(scenario.osm).name != Path(service_osm or "").name:
        raise QingyunError(
            f"scenario.osm: {scenario.osm!r} — this service plans on {service_osm or 'the shipped Shenzhen network'}; leave osm empty"
        )
    return scenario


def create_plan(session: Session, *, scenario: Scenario, time_limit_s: float, max_attempts: int) -> PlanRow:
    """Store the scenario, a queued solve job and its plan row (one transaction); dispatch separately."""
    from api.jobs import new_job

    job = new_job(kind="plan", params={"time_limit_s": time_limit_s}, max_attempts=max_attempts)
    document = scenario.model_dump(mode="json")
    row = ScenarioRow(id=job.id, name=scenario.name, date=scenario.date, document=document, created_at=utc_now())
    job.params["scenario_id"] = row.id
    plan = PlanRow(id=job.id, scenario_id=row.id, name=scenario.name, utc_offset=scenario.utc_offset, created_at=utc_now())
    session.add(job)
    session.add(row)
    session.flush()
    session.add(plan)
    session.commit()
    session.refresh(plan)
    return plan


def _offset(text: str) -> timezone:
    sign = -1 if text.startswith("-") else 1
    hours, minutes = (int(x) for x in text[1:].split(":"))
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


@runner("plan")
def run_plan(ctx: JobContext):
    """Solve a stored scenario; the writer stores routes, stops and KPIs."""
    from api.settings import api_settings
    from routing.matrix import road_path
    from routing.problem import problem_from_scenario
    from routing.solver import SolveSettings, solve

    with Session(ctx.engine) as session:
        stored = session.get(ScenarioRow, ctx.params["scenario_id"])
        if stored is None:
            raise QingyunError(f"scenario {ctx.params['scenario_id']} of job {ctx.job_id} no longer exists")
        scenario = parse_scenario(stored.document, source=f"scenario {stored.id}")
    network = service_network(api_settings().osm)
    problem, snapped = problem_from_scenario(scenario, network=network)
    ctx.progress(stage="solving", best_cost=None, elapsed_s=0.0)
    plan = solve(
        problem,
        SolveSettings(time_limit_s=float(ctx.params["time_limit_s"])),
        progress=lambda p: ctx.progress(stage="solving", best_cost=round(p.best_cost, 2), elapsed_s=round(p.elapsed_s, 1)),
    )
    document = plan.to_dict(problem)
    point = {p.id: p for p in snapped}
    legs: dict[tuple[str, str], list[list[float]]] = {}
    geometries = []
    for route in document["routes"]:
        line: list[list[float]] = []
        places = [s["id"] for s in route["stops"] if s["kind"] != "break"]
        for a, b in zip(places, places[1:]):
            if (a, b) not in legs:
                path = road_path(network, origin=point[a], destination=point[b])
                legs[(a, b)] = [[round(x, 6), round(y, 6)] for x, y in path.geometry.coords]
            line.extend(legs[(a, b)] if not line else legs[(a, b)][1:])
        geometries.append(line)

    def write(session: Session) -> None:
        write_plan_rows(session, plan_id=ctx.job_id, document=document, geometries=geometries)

    summary = {"routes": len(document["routes"]), "unserved": len(document["unserved"]), "kpi": document["kpi"]}
    return summary, write


def write_plan_rows(session: Session, *, plan_id: str, document: dict, geometries: list[list[list[float]]]) -> None:
    """Replace the plan's routes and stops (idempotent: a retried job writes the same rows once)."""
    route_ids = select(PlanRouteRow.id).where(PlanRouteRow.plan_id == plan_id)
    session.exec(delete(PlanStopRow).where(PlanStopRow.route_id.in_(route_ids)))
    session.exec(delete(PlanRouteRow).where(PlanRouteRow.plan_id == plan_id))
    plan = session.get(PlanRow, plan_id)
    plan.kpi, plan.objective, plan.search = document["kpi"], document["objective"], document.get("search", {})
    plan.unserved = document["unserved"]
    session.add(plan)
    for seq, (route, line) in enumerate(zip(document["routes"], geometries)):
        stops = route["stops"]
        row = PlanRouteRow(
            plan_id=plan_id, seq=seq, vehicle_id=route["vehicle_id"], geometry=line,
            distance_m=float(sum(s["leg_distance_m"] for s in stops)),
            duration_s=(datetime.fromisoformat(stops[-1]["arrival"]) - datetime.fromisoformat(stops[0]["departure"])).total_seconds(),
        )
        session.add(row)
        session.flush()
        for k, s in enumerate(stops):
            session.add(
                PlanStopRow(
                    route_id=row.id, seq=k, kind=s["kind"], place_id=s["id"], lon=s["lon"], lat=s["lat"],
                    arrival=datetime.fromisoformat(s["arrival"]), start=datetime.fromisoformat(s["start"]),
                    departure=datetime.fromisoformat(s["departure"]), load_kg=s["load_kg"], unloaded_kg=s["unloaded_kg"],
                    leg_distance_m=s["leg_distance_m"], leg_duration_s=s["leg_duration_s"],
                )
            )


def _routes(session: Session, plan_id: str) -> list[tuple[PlanRouteRow, list[PlanStopRow]]]:
    routes = list(session.exec(select(PlanRouteRow).where(PlanRouteRow.plan_id == plan_id).order_by(PlanRouteRow.seq)))
    stops: dict[int, list[PlanStopRow]] = {r.id: [] for r in routes}
    if routes:
        query = select(PlanStopRow).where(PlanStopRow.route_id.in_(list(stops))).order_by(PlanStopRow.route_id, PlanStopRow.seq)
        for stop in session.exec(query):
            stops[stop.route_id].append(stop)
    return [(r, stops[r.id]) for r in routes]


def plan_document(session: Session, plan: PlanRow) -> dict:
    """The stored plan as the ``plan.json`` contract (times with the scenario's UTC offset)."""
    tz = _offset(plan.utc_offset)
    routes = []
    for route, stops in _routes(session, plan.id):
        routes.append({
            "vehicle_id": route.vehicle_id,
            "colour": ROUTE_COLOURS[route.seq % len(ROUTE_COLOURS)],
            "stops": [
                {"kind": s.kind, "id": s.place_id, "lon": s.lon, "lat": s.lat,
                 "arrival": s.arrival.astimezone(tz).isoformat(), "start": s.start.astimezone(tz).isoformat(),
                 "departure": s.departure.astimezone(tz).isoformat(), "load_kg": s.load_kg, "unloaded_kg": s.unloaded_kg,
                 "leg_distance_m": s.leg_distance_m, "leg_duration_s": s.leg_duration_s}
                for s in stops
            ],
        })
    return {"scenario": plan.name, "objective": plan.objective, "kpi": plan.kpi, "routes": routes, "unserved": plan.unserved}


def routes_geojson(session: Session, plan: PlanRow) -> dict:
    """Routes as LineStrings along the roads and numbered stops as Points (WGS-84), colour per truck."""
    tz = _offset(plan.utc_offset)
    features = []
    for route, stops in _routes(session, plan.id):
        colour = ROUTE_COLOURS[route.seq % len(ROUTE_COLOURS)]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": route.geometry},
            "properties": {"kind": "route", "vehicle_id": route.vehicle_id, "colour": colour,
                           "distance_km": round(route.distance_m / 1000, 3), "duration_h": round(route.duration_s / 3600, 3),
                           "stops": sum(1 for s in stops if s.kind == "site")},
        })
        number = 0
        for s in stops:
            if s.lon is None:
                continue
            number += s.kind == "site"
            features.append({
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": {"kind": s.kind, "kind_label": KIND_LABELS[s.kind], "id": s.place_id, "vehicle_id": route.vehicle_id,
                               "colour": colour, "number": number if s.kind == "site" else None,
                               "arrival": s.arrival.astimezone(tz).isoformat(), "departure": s.departure.astimezone(tz).isoformat()},
            })
    return {"type": "FeatureCollection", "name": plan.name, "features": features}


SHEET_COLUMNS = (
    "车辆 vehicle", "序号 seq", "类型 kind", "到达 arrival", "开始 start", "离开 departure", "编号 id",
    "名称 name", "地址 address", "品类 stream", "预计重量 expected_kg", "卸载 unloaded_kg",
)


def route_sheet_csv(session: Session, plan: PlanRow, *, vehicle_id: str | None = None) -> str:
    """Route sheets for drivers (UTF-8 with BOM so spreadsheet software reads the Chinese)."""
    tz = _offset(plan.utc_offset)
    stored = session.get(ScenarioRow, plan.scenario_id)
    sites = {s["id"]: s for s in stored.document["sites"]} if stored else {}
    named = {p["id"]: p for key in ("depots", "facilities") for p in (stored.document[key] if stored else [])}
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SHEET_COLUMNS)
    for route, stops in _routes(session, plan.id):
        if vehicle_id is not None and route.vehicle_id != vehicle_id:
            continue
        for s in stops:
            site = sites.get(s.place_id, {})
            place = site or named.get(s.place_id, {})
            stream = site.get("stream", "")
            writer.writerow([
                route.vehicle_id, s.seq, KIND_LABELS[s.kind], s.arrival.astimezone(tz).strftime("%H:%M"),
                s.start.astimezone(tz).strftime("%H:%M"), s.departure.astimezone(tz).strftime("%H:%M"), s.place_id,
                place.get("name", ""), place.get("address", ""),
                f"{STREAM_LABELS_ZH[stream]} {stream}" if stream else "",
                f"{site['demand_kg']:.0f}" if site else "", f"{sum(s.unloaded_kg.values()):.0f}" if s.unloaded_kg else "",
            ])
    return out.getvalue()


def plan_status(session: Session, plan: PlanRow, job: Job) -> dict:
    """Status, progress and, when done, the plan."""
    body = {
        "id": plan.id, "name": plan.name, "status": job.status, "progress": job.progress, "attempts": job.attempts,
        "retryable": job.retryable, "error": job.error,
        "created_at": job.created_at.isoformat(), "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    if job.status == "succeeded":
        body["plan"] = plan_document(session, plan)
    return body
