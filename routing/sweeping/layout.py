"""A certified walk laid out as a vehicle's route sheet: rows of one street, one action, with clock times.

Why times come from the problem's costs: the costs are the times the search bounded by the shift and
the checker re-added (tenths of a second, U-turn penalties included), so a sheet never shows a
clock the checker did not see. Rows merge consecutive steps on one street with one action and side;
a facility visit is its own row (dump at a transfer station, refill at a water point).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from routing.arcs.solution import Step, step_costs
from routing.sweeping.problem import TIME_UNIT_S, SweepProblem, VehicleKind, kerb_need
from routing.sweeping.scope import Kerb

_COMPASS = [("东行", "eastbound"), ("东北行", "northeast"), ("北行", "northbound"), ("西北行", "northwest")]
_COMPASS += [("西行", "westbound"), ("西南行", "southwest"), ("南行", "southbound"), ("东南行", "southeast")]


class PlanRow(BaseModel):
    """One line of a route sheet: consecutive edges on one street, all served or all driven, or a facility visit."""

    seq: int
    trip: int = Field(description="load of the vehicle this row belongs to (1, 2, …): a hopper or a tank")
    action: str = Field(description="serve (at working speed) | drive (deadhead) | dump (station) | refill (water)")
    street: str
    direction: str = Field(description="compass direction of travel, zh / en")
    side: str = Field(description="kerb served: right | left (wide one-way) | '' when driving")
    start: str = Field(description="ISO 8601 local time with offset")
    end: str
    km: float
    edges: list[int] = Field(description="network edge indices driven, in order")
    kerbs: list[str] = Field(default_factory=list, description="kerb ids served")


class VehiclePlan(BaseModel):
    vehicle_id: str
    kind: str = Field("sweeper", description="sweeper | washer")
    trips: int = Field(description="loads: hopper loads emptied (sweeper) or tanks used (washer)")
    load_kg: list[float] = Field(description="per load: debris kg (sweeper) or water L (washer)")
    km_served: float = Field(description="km driven while serving (a kerb served twice counts twice)")
    km_driven: float
    duration_h: float
    over_shift: bool = Field(description="always False: the shift is a hard limit of the search and the checker")
    rows: list[PlanRow]


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


def vehicle_plan(
    network: object,
    walk: list[Step],
    *,
    vehicle_id: str,
    kind: VehicleKind,
    kerbs: list[Kerb],
    sweep: SweepProblem,
    facility_names: list[str],
    start: datetime,
) -> VehiclePlan:
    """One vehicle's walk (depot → … → depot) as timed rows, loads and km."""
    problem = sweep.problem
    seconds = [c * TIME_UNIT_S for c in step_costs(problem, walk)]
    groups: list[tuple[tuple, list[tuple[int, float, Kerb | None]]]] = []
    trip, loads, load = 1, [], 0.0
    for step, took in zip(walk, seconds):
        if step.facility >= 0:
            groups.append(((facility_names[step.facility], kind.visit, "", trip), [(-1, took, None)]))
            loads.append(load)
            trip, load = trip + 1, 0.0
            continue
        edge = int(sweep.network_edge[step.edge])
        kerb = kerbs[sweep.kerb[step.edge]] if step.serve else None
        load += kerb_need(kerb, kind) if kerb else 0.0
        if edge < 0:  # the far half of a split edge: no length of its own, its time joins the row
            if groups:
                groups[-1][1].append((-1, took, None))
            continue
        key = (_street(network, edge), "serve" if kerb else "drive", kerb.side if kerb else "", trip)
        if groups and groups[-1][0] == key:
            groups[-1][1].append((edge, took, kerb))
        else:
            groups.append((key, [(edge, took, kerb)]))
    if load > 0 or not loads:
        loads.append(load)
    rows, at = [], start
    for (street, action, side, number), items in groups:
        end = at + timedelta(seconds=sum(s for _, s, _ in items))
        edges = [e for e, _, _ in items if e >= 0]
        rows.append(
            PlanRow(
                seq=len(rows) + 1,
                trip=min(number, len(loads)),
                action=action,
                street=street,
                direction=_direction(network, edges) if edges else "",
                side=side,
                start=at.replace(microsecond=0).isoformat(),
                end=end.replace(microsecond=0).isoformat(),
                km=round(sum(float(network.edge_length_m[e]) for e in edges) / 1000.0, 3),
                edges=edges,
                kerbs=[k.kerb_id for _, _, k in items if k is not None],
            )
        )
        at = end
    return VehiclePlan(
        vehicle_id=vehicle_id,
        kind=kind.kind,
        trips=len([x for x in loads if x > 0]),
        load_kg=[round(x, 1) for x in loads if x > 0],
        km_served=round(sum(r.km for r in rows if r.action == "serve"), 3),
        km_driven=round(sum(r.km for r in rows), 3),
        duration_h=round((at - start).total_seconds() / 3600.0, 3),
        over_shift=False,
        rows=rows,
    )
