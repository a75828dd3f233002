"""Street plan: kerbs in scope → one arc-routing problem per vehicle kind → search → independent checker → sheets.

Why this shape: every kerb in scope is swept by a sweeper in the morning window, and the kerbs of the
washed classes are also washed by a washer in the night window (``SweepingSettings.wash_classes``):
two services by two kinds, each its own problem (:mod:`routing.sweeping.problem`) because they share
neither vehicles, nor capacities, nor windows. Each route is one vehicle's shift: it leaves the
depot, serves kerbs at working speed, empties its hopper at a transfer station (sweeper) or refills
its tank at a water point (washer) where the search chose, and returns within its window and the
shift — a hard limit, certified by :func:`routing.arcs.check.check_solution` with its own arithmetic.
What no vehicle can serve is listed per kerb with the reason (too big for the hopper or tank,
unreachable, longer than a shift alone, or no vehicle time left), never hidden.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from routing.arcs.check import check_solution
from routing.arcs.settings import ArcSettings
from routing.arcs.solve import NO_TIME_REASON, OVER_SHIFT_REASON, UNREACHABLE_REASON, solve_arcs
from routing.errors import InvalidInputError, PlanCheckError
from routing.localtime import parse_utc_offset
from routing.sweeping.layout import PlanRow, VehiclePlan, vehicle_plan
from routing.sweeping.problem import (
    OVER_CAPACITY_REASON,
    TIME_UNIT_S,
    Facility,
    SweepProblem,
    VehicleKind,
    snap_node,
    split_by_capacity,
    sweep_problem,
    vehicle_kinds,
    window_times,
)
from routing.sweeping.scope import Kerb
from routing.sweeping.settings import SweepingSettings

__all__ = ["PlanRow", "VehiclePlan", "SweepProblem", "depot_node", "plan_streets", "sweep_kpis", "sweep_problem"]

REASONS = {
    OVER_CAPACITY_REASON: "单条路沿超过料斗/水箱容量 / the kerb alone needs more than the hopper or tank holds",
    UNREACHABLE_REASON: "无法从车场到达并返回（含掉头规则）/ cannot be reached from the depot and back (U-turn rule included)",
    OVER_SHIFT_REASON: "单独往返也超过班次 / even alone, depot → kerb → facility → depot is longer than the shift",
    NO_TIME_REASON: "车辆班次已满 / the fleet's shifts are full: more vehicles or a longer shift needed",
}


class SweepKpis(BaseModel):
    """The plan's numbers a supervision platform reports (one set per vehicle kind)."""

    kerb_km_served: float = Field(description="distinct kerb-km served at least once")
    service_km: float = Field(description="km driven while serving (kerb-km × frequency)")
    km_driven: float
    deadhead_ratio: float = Field(description="(km driven − service km) ÷ km driven")
    kerb_km_in_scope: float = Field(description="kerb-km of the counted classes in the area")
    planned_rate: float = Field(description="planned mechanised rate: counted kerb-km served ÷ in scope")


class UnservedKerb(BaseModel):
    """A kerb no vehicle of a kind serves, and why."""

    kind: str
    kerb_id: str
    street: str
    highway: str
    length_m: float
    reason: str = Field(description="over_capacity | unreachable | over_shift | no_vehicle_time")
    reason_text: str = Field(description="zh / en")


class PlanFacility(BaseModel):
    kind: str = Field(description="depot | station | water")
    id: str
    name: str
    node: int
    lonlat: tuple[float, float]


class StreetPlan(BaseModel):
    """A certified sweeping (and washing) plan (plan.json)."""

    name: str
    depot_node: int = Field(description="OSM node of the depot (start and end of every route)")
    depot_lonlat: tuple[float, float]
    shift_start: str = Field(description="sweeping window start, local time with offset")
    shift_hours: float = Field(description="longest shift of a vehicle (hard)")
    kpis: SweepKpis = Field(description="sweeping: the planned mechanised-sweeping rate")
    wash_kpis: SweepKpis | None = Field(None, description="washing, when washers are planned")
    windows: dict[str, tuple[str, str]] = Field(default_factory=dict, description="kind → (start, end) local")
    facilities: list[PlanFacility] = Field(default_factory=list)
    unserved: list[UnservedKerb] = Field(default_factory=list)
    certified: bool = Field(description="the independent checker found no violation")
    checker_cost_s: float = Field(description="walk time recomputed by the checker, seconds, all vehicles")
    solve_s: float
    vehicles: list[VehiclePlan]


def sweep_kpis(*, service_km: float, km_driven: float, kerb_km_served: float, kerb_km_in_scope: float) -> SweepKpis:
    """Deadhead ratio and planned rate from the plan's km (issue 20's definitions).

    Raises
    ------
    InvalidInputError
        If nothing is in scope (the rate would divide by zero).
    """
    if kerb_km_in_scope <= 0:
        raise InvalidInputError("范围内没有路沿 / no kerb-km in scope: the planned rate is undefined")
    deadhead = (km_driven - service_km) / km_driven if km_driven > 0 else 0.0
    return SweepKpis(
        kerb_km_served=round(kerb_km_served, 3),
        service_km=round(service_km, 3),
        km_driven=round(km_driven, 3),
        deadhead_ratio=round(deadhead, 4),
        kerb_km_in_scope=round(kerb_km_in_scope, 3),
        planned_rate=round(kerb_km_served / kerb_km_in_scope, 4),
    )


def depot_node(network: object, *, lon: float, lat: float) -> int:
    """Index of the network node nearest ``lon, lat`` along its nearest street (the depot, default snapping)."""
    snapped = network.snap(ids=["depot"], lon=[lon], lat=[lat])[0]  # type: ignore[attr-defined]
    u, v, _ = snapped.edge
    return network.node_index(u if snapped.fraction < 0.5 else v)  # type: ignore[attr-defined]


def _places(network, points: list[Facility] | None, *, kind: str, depot: PlanFacility, settings) -> list[PlanFacility]:
    """Facilities snapped to the network (each named with its distance if off it); none given: the depot."""
    if not points:
        return [depot.model_copy(update={"kind": kind})]
    out = []
    for point in points:
        node = snap_node(network, point_id=point.id, lon=point.lon, lat=point.lat, max_m=settings.facility_max_snap_m)
        out.append(_facility(network, node, kind=kind, id=point.id, name=point.name or point.id))
    return out


def _facility(network, node: int, *, kind: str, id: str, name: str) -> PlanFacility:
    data = network.graph.nodes[int(network.node_ids[node])]
    lon, lat = network.to_lonlat(float(data["x"]), float(data["y"]))
    return PlanFacility(
        kind=kind,
        id=id,
        name=name,
        node=int(network.node_ids[node]),
        lonlat=(round(float(lon), 7), round(float(lat), 7)),
    )


def plan_streets(
    network: object,
    *,
    kerbs: list[Kerb],
    scope_kerbs: list[Kerb],
    vehicles: int,
    depot_lonlat: tuple[float, float],
    settings: SweepingSettings,
    arc_settings: ArcSettings,
    date: str,
    name: str = "sweep",
    washers: int = 0,
    stations: list[Facility] | None = None,
    water_points: list[Facility] | None = None,
) -> StreetPlan:
    """Plan, certify and lay out the sweeping of ``kerbs`` by ``vehicles`` sweepers (and washing by ``washers``).

    Parameters
    ----------
    scope_kerbs
        The kerbs of the counted classes in the area: the denominator of the planned rate.
    date
        Local date (YYYY-MM-DD): sweeping from ``settings.shift_start`` that day, washing the night from
        ``settings.wash_start``.
    washers
        Washers (0: a sweeping plan only); they wash the kerbs of ``settings.wash_classes``.
    stations, water_points
        Transfer stations accepting sweepings and water points; none given: the depot is both.
    arc_settings
        The search; its time limit is shared between the kinds by their number of kerbs.

    Raises
    ------
    InvalidInputError
        No kerb, no vehicle, no kerb of the washed classes, a depot/station/water point off the
        network (named with its distance), a hopper or tank smaller than any kerb needs.
    PlanCheckError
        If the independent checker rejects the solver's walks (nothing is written then).
    """
    if not kerbs:
        raise InvalidInputError("没有需要清扫的路沿 / no kerb to sweep")
    if vehicles < 1 or washers < 0:
        raise InvalidInputError(
            f"--vehicles: 至少一辆清扫车 / at least one sweeper, got {vehicles} (washers {washers})"
        )
    tz = parse_utc_offset(settings.utc_offset, field="utc_offset")
    depot = snap_node(
        network, point_id="depot", lon=depot_lonlat[0], lat=depot_lonlat[1], max_m=settings.facility_max_snap_m
    )
    home = _facility(network, depot, kind="depot", id="depot", name="车场 / depot")
    jobs = _jobs(
        network, kerbs, home=home, settings=settings, counts=(vehicles, washers), places=(stations, water_points)
    )
    fitting = [(spec, *split_by_capacity(todo, spec), count, places) for spec, todo, count, places in jobs]
    total = sum(len(fits) for _, fits, _, _, _ in fitting)
    started = time.monotonic()
    fleet, unserved, checked, served = [], [], 0, {}
    windows = {}
    for spec, fits, heavy, count, places in fitting:
        begin, end = window_times(spec, date=date, tz=tz)
        windows[spec.kind] = (begin.isoformat(), end.isoformat())
        unserved += [_unserved(spec, k, OVER_CAPACITY_REASON) for k in heavy]
        if not fits:
            continue
        share = arc_settings.model_copy(update={"time_limit_s": arc_settings.time_limit_s * len(fits) / total})
        plans, missed, cost = _plan_kind(
            network,
            spec,
            fits,
            places,
            depot=depot,
            count=count,
            window_s=(end - begin).total_seconds(),
            settings=settings,
            arc_settings=share,
            name=name,
            start=begin,
        )
        fleet += plans
        unserved += missed
        checked += cost
        served[spec.kind] = {k.kerb_id for k in fits} - {u.kerb_id for u in missed}
    solve_s = time.monotonic() - started
    washed_scope = [k for k in scope_kerbs if k.highway in settings.wash_classes]
    return StreetPlan(
        name=name,
        depot_node=home.node,
        depot_lonlat=home.lonlat,
        shift_start=windows["sweeper"][0],
        shift_hours=settings.shift_hours,
        kpis=_kind_kpis(fleet, scope_kerbs, served.get("sweeper", set()), kind="sweeper"),
        wash_kpis=_kind_kpis(fleet, washed_scope, served.get("washer", set()), kind="washer") if washers else None,
        windows=windows,
        facilities=[home] + [p for *_, places in fitting for p in places if p.kind != "depot"],
        unserved=unserved,
        certified=True,
        checker_cost_s=round(checked * TIME_UNIT_S, 1),
        solve_s=round(solve_s, 2),
        vehicles=fleet,
    )


def _jobs(network, kerbs, *, home, settings, counts, places) -> list[tuple]:
    """Per kind with vehicles: (kind, its kerbs, how many vehicles, its facilities snapped).

    Raises
    ------
    InvalidInputError
        Washers but no kerb of the washed classes; a station or water point off the network.
    """
    kinds = vehicle_kinds(settings)
    sweepers, washers = counts
    washed = [k for k in kerbs if k.highway in settings.wash_classes] if washers else []
    if washers and not washed:
        raise InvalidInputError(
            f"没有需要冲洗的道路 / no kerb of the washed classes {', '.join(settings.wash_classes) or '(none)'} in scope"
        )
    stations = _places(network, places[0], kind="station", depot=home, settings=settings)
    jobs = [(kinds["sweeper"], kerbs, sweepers, stations)]
    if washers:
        jobs.append(
            (kinds["washer"], washed, washers, _places(network, places[1], kind="water", depot=home, settings=settings))
        )
    return jobs


def _plan_kind(
    network, spec: VehicleKind, kerbs, places, *, depot, count, window_s, settings, arc_settings, name, start
):
    """One kind's problem solved and certified: (vehicle plans, kerbs unserved, checker's total cost)."""
    nodes = [network.node_index(p.node) for p in places]
    sweep = sweep_problem(
        network,
        kerbs,
        depot=depot,
        settings=settings,
        name=f"{name}-{spec.kind}",
        kind=spec.kind,
        facilities=nodes,
        facility_ids=tuple(p.id for p in places),
        vehicles=count,
        window_s=window_s,
    )
    problem = sweep.problem
    solution = solve_arcs(problem, arc_settings, allow_unserved=True)
    report = check_solution(problem, solution.document())
    if not report.ok:
        raise PlanCheckError(report.violations)
    names = [p.name for p in places]
    plans = [
        vehicle_plan(
            network,
            solution.walks[v] if v < len(solution.walks) else [],
            vehicle_id=f"{spec.prefix}{v + 1}",
            kind=spec,
            kerbs=kerbs,
            sweep=sweep,
            facility_names=names,
            start=start,
        )
        for v in range(count)
    ]
    missed = []
    for t, why in sorted(solution.unserved.items()):
        kerb = kerbs[int(sweep.kerb[problem.tasks[t]])]
        missed.append(_unserved(spec, kerb, why))
    return plans, missed, report.cost


def _unserved(spec: VehicleKind, kerb: Kerb, reason: str) -> UnservedKerb:
    return UnservedKerb(
        kind=spec.kind,
        kerb_id=kerb.kerb_id,
        street=kerb.name or "无名道路 / unnamed",
        highway=kerb.highway,
        length_m=kerb.length_m,
        reason=reason,
        reason_text=REASONS[reason],
    )


def _kind_kpis(fleet: list[VehiclePlan], scope: list[Kerb], served: set[str], *, kind: str) -> SweepKpis:
    mine = [v for v in fleet if v.kind == kind]
    return sweep_kpis(
        service_km=sum(v.km_served for v in mine),
        km_driven=sum(v.km_driven for v in mine),
        kerb_km_served=sum(k.length_m for k in scope if k.kerb_id in served) / 1000.0,
        kerb_km_in_scope=sum(k.length_m for k in scope) / 1000.0,
    )
