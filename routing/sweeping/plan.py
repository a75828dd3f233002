"""Street plan: kerbs in scope → arc-routing problem → compiled search → independent checker → route rows.

Why this shape: the kerbs (:mod:`routing.sweeping.scope`) are the tasks, the road network's directed
edges are the graph, and :func:`routing.arcs.solve.solve_arcs` already certifies on the CARP
benchmarks. Costs are travel *time* in tenths of a second — deadheading at the truck profile
(``network.edge_time_s``), sweeping at ``sweeping_kmh`` — because a shift is bounded in hours, not km.
Each kerb (and each repetition of a kerb swept twice a shift) is its own required edge, served only
tail → head, parallel to the network edge it lies on. Demand is debris (kg per kerb-km) against the
hopper: as in the CARP convention of the solver, every route is one hopper load that starts and
ends at the depot, where the hopper is emptied (dump time ``dump_minutes``). A vehicle drives its
routes one after another; the solver does not bound a vehicle's day, so each vehicle's duration is
reported and a day longer than the shift is flagged, never hidden.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from routing.arcs.check import check_solution
from routing.arcs.problem import ArcProblem
from routing.arcs.settings import ArcSettings
from routing.arcs.solution import ArcSolution, Step
from routing.arcs.solve import solve_arcs
from routing.errors import InvalidInputError, PlanCheckError
from routing.localtime import parse_utc_offset
from routing.sweeping.scope import Kerb
from routing.sweeping.settings import SweepingSettings

TIME_UNIT_S = 0.1
"""Seconds per cost unit of the arc-routing problem (integer costs, tenths of a second)."""

_COMPASS = [("东行", "eastbound"), ("东北行", "northeast"), ("北行", "northbound"), ("西北行", "northwest")]
_COMPASS += [("西行", "westbound"), ("西南行", "southwest"), ("南行", "southbound"), ("东南行", "southeast")]


class PlanRow(BaseModel):
    """One line of a route sheet: consecutive edges on one street, all swept or all driven."""

    seq: int
    trip: int = Field(description="hopper load of the vehicle this row belongs to (1, 2, …)")
    action: str = Field(description="serve (sweeping at working speed) | drive (deadhead) | dump (at the depot)")
    street: str
    direction: str = Field(description="compass direction of travel, zh / en")
    side: str = Field(description="kerb swept: right | left (wide one-way) | '' when driving")
    start: str = Field(description="ISO 8601 local time with offset")
    end: str
    km: float
    edges: list[int] = Field(description="network edge indices driven, in order")
    kerbs: list[str] = Field(default_factory=list, description="kerb ids swept")


class VehiclePlan(BaseModel):
    vehicle_id: str
    trips: int
    load_kg: list[float] = Field(description="debris per trip (hopper load)")
    km_served: float = Field(description="km driven while sweeping (a kerb swept twice counts twice)")
    km_driven: float
    duration_h: float
    over_shift: bool = Field(description="the vehicle's trips take longer than the shift (reported, not bounded)")
    rows: list[PlanRow]


class SweepKpis(BaseModel):
    """The plan's numbers a supervision platform reports."""

    kerb_km_served: float = Field(description="distinct kerb-km swept at least once")
    service_km: float = Field(description="km driven while sweeping (kerb-km × frequency)")
    km_driven: float
    deadhead_ratio: float = Field(description="(km driven − service km) ÷ km driven")
    kerb_km_in_scope: float = Field(description="kerb-km of the counted classes in the area")
    planned_rate: float = Field(description="planned mechanised-sweeping rate: counted kerb-km served ÷ in scope")


class StreetPlan(BaseModel):
    """A certified sweeping plan (plan.json)."""

    name: str
    depot_node: int = Field(description="OSM node of the depot (start, end and dump point of every trip)")
    depot_lonlat: tuple[float, float]
    shift_start: str
    shift_hours: float
    kpis: SweepKpis
    certified: bool = Field(description="the independent checker found no violation")
    checker_cost_s: float = Field(description="walk cost recomputed by the checker, seconds")
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
    """Index of the network node nearest ``lon, lat`` along its nearest street (the depot).

    Raises
    ------
    OffRoadError
        If the point is farther from every street than the snapping limit (from ``network.snap``).
    """
    snapped = network.snap(ids=["depot"], lon=[lon], lat=[lat])[0]  # type: ignore[attr-defined]
    u, v, _ = snapped.edge
    return network.node_index(u if snapped.fraction < 0.5 else v)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SweepProblem:
    """The arc-routing problem of a sweep and what each of its edges is on the street network."""

    problem: ArcProblem
    network_edge: np.ndarray  # int64 per problem edge: the network edge it lies on; -1 for a split edge's far half
    kerb: np.ndarray  # int64 per problem edge: index of the kerb it serves in ``kerbs``; -1 when not a task


def sweep_problem(
    network: object, kerbs: list[Kerb], *, depot: int, settings: SweepingSettings, name: str = "sweep"
) -> SweepProblem:
    """The arc-routing problem of the kerbs: network edges to drive, one required edge per kerb service.

    Vertices are the network's nodes, labelled with their OSM ids. Network edges that share both ends
    with another edge (two roads between the same junctions) are split by a vertex of their own
    (labelled ``-1 - edge``; the far half costs nothing), so that a walk's (from, to) steps name one
    road and the checker credits each service to the kerb really swept.

    Raises
    ------
    InvalidInputError
        If a kerb alone holds more debris than the hopper (the street named).
    """
    net = network
    n_nodes, n_edges = len(net.node_ids), len(net.edge_keys)  # type: ignore[attr-defined]
    u, v = np.asarray(net.edge_u, dtype=np.int64), np.asarray(net.edge_v, dtype=np.int64)  # type: ignore[attr-defined]
    pair = u * n_nodes + v
    _, inverse, count = np.unique(pair, return_inverse=True, return_counts=True)
    split = np.flatnonzero(count[inverse] > 1)
    middle = np.full(n_edges, -1, dtype=np.int64)
    middle[split] = n_nodes + np.arange(len(split))
    near_head = np.where(middle >= 0, middle, v)
    task_kerb = np.array([i for i, k in enumerate(kerbs) for _ in range(k.frequency)], dtype=np.int64)
    on = np.array([kerbs[i].edge for i in task_kerb], dtype=np.int64)
    drive = np.rint(np.asarray(net.edge_time_s, dtype=float) / TIME_UNIT_S).astype(np.int64)  # type: ignore[attr-defined]
    length = np.asarray(net.edge_length_m, dtype=float)  # type: ignore[attr-defined]
    sweep = np.rint(length[on] / (settings.sweeping_kmh / 3.6) / TIME_UNIT_S).astype(np.int64)
    debris = np.ceil(length[on] / 1000.0 * settings.debris_kg_per_kerb_km).astype(np.int64)
    heavy = [kerbs[task_kerb[j]] for j in np.flatnonzero(debris > settings.hopper_kg)]
    if heavy:
        named = ", ".join(f"{k.name or k.kerb_id} ({k.length_m:.0f} m)" for k in heavy[:10])
        raise InvalidInputError(
            f"{len(heavy)} 条路沿超过料斗容量 / kerb(s) hold more debris than the hopper {settings.hopper_kg:g} kg: {named}"
        )
    n_all = n_edges + len(split) + len(on)
    required = np.zeros(n_all, dtype=np.bool_)
    required[n_edges + len(split) :] = True
    none = np.zeros(n_all, dtype=np.bool_)
    zeros = np.zeros(n_edges + len(split), dtype=np.int64)
    problem = ArcProblem(
        name=name,
        vertex_ids=np.concatenate([np.asarray(net.node_ids, dtype=np.int64), -1 - split]),  # type: ignore[attr-defined]
        tail=np.concatenate([u, middle[split], u[on]]),
        head=np.concatenate([near_head, v[split], near_head[on]]),
        cost=np.concatenate([drive, zeros[: len(split)], drive[on]]),
        serve_cost=np.concatenate([drive, zeros[: len(split)], sweep]),
        demand=np.concatenate([zeros, debris]),
        required=required,
        two_way=none,
        serve_forward=required.copy(),
        serve_backward=none,
        depot=depot,
        capacity=int(settings.hopper_kg),
    )
    return SweepProblem(
        problem=problem,
        network_edge=np.concatenate([np.arange(n_edges), np.full(len(split), -1), on]).astype(np.int64),
        kerb=np.concatenate([np.full(n_edges + len(split), -1), task_kerb]).astype(np.int64),
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
) -> StreetPlan:
    """Plan, certify and lay out the sweeping of ``kerbs`` by ``vehicles`` sweepers from one depot.

    Parameters
    ----------
    scope_kerbs
        The kerbs of the counted classes in the area: the denominator of the planned rate.
    date
        Local date of the shift (YYYY-MM-DD); times start at ``settings.shift_start``.

    Raises
    ------
    InvalidInputError
        If there is no kerb, no vehicle, or a kerb holds more than the hopper.
    PlanCheckError
        If the independent checker rejects the solver's walks (nothing is written then).
    """
    if not kerbs:
        raise InvalidInputError("没有需要清扫的路沿 / no kerb to sweep")
    if vehicles < 1:
        raise InvalidInputError(f"--vehicles: 至少一辆车 / at least one vehicle, got {vehicles}")
    depot = depot_node(network, lon=depot_lonlat[0], lat=depot_lonlat[1])
    sweep = sweep_problem(network, kerbs, depot=depot, settings=settings, name=name)
    problem = sweep.problem
    started = time.monotonic()
    solution = solve_arcs(problem, arc_settings)
    solve_s = time.monotonic() - started
    report = check_solution(problem, solution.document())
    if not report.ok:
        raise PlanCheckError(report.violations)
    tz = parse_utc_offset(settings.utc_offset, field="utc_offset")
    try:
        clock = datetime.fromisoformat(f"{date}T{settings.shift_start}:00").replace(tzinfo=tz)
    except ValueError:
        raise InvalidInputError(f"--date: 日期无效 / not a date YYYY-MM-DD: {date!r}") from None
    fleet = _vehicle_plans(network, solution, kerbs, sweep, vehicles=vehicles, start=clock, settings=settings)
    served_ids = {k.kerb_id for k in kerbs}
    counted = sum(k.length_m for k in scope_kerbs if k.kerb_id in served_ids) / 1000.0
    kpis = sweep_kpis(
        service_km=sum(v.km_served for v in fleet),
        km_driven=sum(v.km_driven for v in fleet),
        kerb_km_served=counted,
        kerb_km_in_scope=sum(k.length_m for k in scope_kerbs) / 1000.0,
    )
    lon, lat = network.to_lonlat(*_node_xy(network, depot))  # type: ignore[attr-defined]
    return StreetPlan(
        name=name,
        depot_node=int(network.node_ids[depot]),  # type: ignore[attr-defined]
        depot_lonlat=(round(float(lon), 7), round(float(lat), 7)),
        shift_start=clock.isoformat(),
        shift_hours=settings.shift_hours,
        kpis=kpis,
        certified=True,
        checker_cost_s=round(report.cost * TIME_UNIT_S, 1),
        solve_s=round(solve_s, 2),
        vehicles=fleet,
    )


def _node_xy(network: object, node: int) -> tuple[float, float]:
    data = network.graph.nodes[int(network.node_ids[node])]  # type: ignore[attr-defined]
    return float(data["x"]), float(data["y"])


def _vehicle_plans(
    network, solution: ArcSolution, kerbs, sweep: SweepProblem, *, vehicles, start, settings
) -> list[VehiclePlan]:
    """Routes (hopper loads) dealt to vehicles longest first onto the least busy, then laid out in rows."""
    durations = [_walk_seconds(network, walk, kerbs, sweep, settings) for walk in solution.walks]
    busy = [0.0] * vehicles
    trips: list[list[int]] = [[] for _ in range(vehicles)]
    for r in sorted(range(len(durations)), key=lambda r: -durations[r]):
        v = min(range(vehicles), key=lambda v: busy[v])
        trips[v].append(r)
        busy[v] += durations[r] + settings.dump_minutes * 60
    out = []
    for v, routes in enumerate(trips):
        rows: list[PlanRow] = []
        at = start
        loads = []
        for trip, r in enumerate(sorted(routes), start=1):
            if trip > 1:
                end = at + timedelta(minutes=settings.dump_minutes)
                rows.append(_dump_row(len(rows) + 1, trip - 1, at, end))
                at = end
            trip_rows, at = _rows(network, solution.walks[r], kerbs, sweep, trip=trip, at=at, settings=settings)
            for row in trip_rows:
                row.seq = len(rows) + 1
                rows.append(row)
            served = [kerbs[sweep.kerb[s.edge]] for s in solution.walks[r] if s.serve]
            loads.append(round(sum(k.length_m for k in served) / 1000.0 * settings.debris_kg_per_kerb_km, 1))
        if routes:
            end = at + timedelta(minutes=settings.dump_minutes)
            rows.append(_dump_row(len(rows) + 1, len(routes), at, end))
            at = end
        hours = (at - start).total_seconds() / 3600.0
        out.append(
            VehiclePlan(
                vehicle_id=f"S{v + 1}",
                trips=len(routes),
                load_kg=loads,
                km_served=round(sum(r.km for r in rows if r.action == "serve"), 3),
                km_driven=round(sum(r.km for r in rows), 3),
                duration_h=round(hours, 3),
                over_shift=hours > settings.shift_hours,
                rows=rows,
            )
        )
    return out


def _dump_row(seq: int, trip: int, start: datetime, end: datetime) -> PlanRow:
    return PlanRow(
        seq=seq,
        trip=trip,
        action="dump",
        street="车场卸料 / depot: empty the hopper",
        direction="",
        side="",
        start=start.isoformat(),
        end=end.isoformat(),
        km=0.0,
        edges=[],
    )


def _step_facts(network, step: Step, kerbs, sweep: SweepProblem, settings) -> tuple[int, float, Kerb | None]:
    """Network edge (-1: the far half of a split edge), seconds and the kerb (when swept) of one step of a walk."""
    edge = int(sweep.network_edge[step.edge])
    if edge < 0:
        return edge, 0.0, None
    if not step.serve:
        return edge, float(network.edge_time_s[edge]), None
    kerb = kerbs[sweep.kerb[step.edge]]
    return edge, float(network.edge_length_m[edge]) / (settings.sweeping_kmh / 3.6), kerb


def _walk_seconds(network, walk: list[Step], kerbs, sweep: SweepProblem, settings) -> float:
    return sum(_step_facts(network, s, kerbs, sweep, settings)[1] for s in walk)


def _street(network, edge: int) -> str:
    names = network.graph.edges[network.edge_keys[edge]].get("name")
    names = names if isinstance(names, list) else [names] if names else []
    return " / ".join(dict.fromkeys(str(n) for n in names)) or "无名道路 / unnamed"


def _direction(network, edges: list[int]) -> str:
    first = np.asarray(network.edge_geometry[edges[0]].coords)[0]
    last = np.asarray(network.edge_geometry[edges[-1]].coords)[-1]
    angle = math.degrees(math.atan2(last[1] - first[1], last[0] - first[0])) % 360
    zh, en = _COMPASS[int((angle + 22.5) // 45) % 8]
    return f"{zh} / {en}"


def _rows(network, walk, kerbs, sweep: SweepProblem, *, trip, at, settings) -> tuple[list[PlanRow], datetime]:
    """One trip's steps merged into rows (same street, same action, same side)."""
    groups: list[tuple[tuple, list[tuple[int, float, Kerb | None]]]] = []
    for step in walk:
        edge, seconds, kerb = _step_facts(network, step, kerbs, sweep, settings)
        if edge < 0:
            continue
        key = (_street(network, edge), "serve" if kerb else "drive", kerb.side if kerb else "")
        if groups and groups[-1][0] == key:
            groups[-1][1].append((edge, seconds, kerb))
        else:
            groups.append((key, [(edge, seconds, kerb)]))
    rows = []
    for (street, action, side), items in groups:
        end = at + timedelta(seconds=sum(s for _, s, _ in items))
        edges = [e for e, _, _ in items]
        rows.append(
            PlanRow(
                seq=0,
                trip=trip,
                action=action,
                street=street,
                direction=_direction(network, edges),
                side=side,
                start=at.replace(microsecond=0).isoformat(),
                end=end.replace(microsecond=0).isoformat(),
                km=round(sum(float(network.edge_length_m[e]) for e in edges) / 1000.0, 3),
                edges=edges,
                kerbs=[k.kerb_id for _, _, k in items if k is not None],
            )
        )
        at = end
    return rows, at
