"""Kerbs of one vehicle kind → the arc-routing problem with intermediate facilities, its shift and U-turn rule.

Why two kinds and one shape: a sweeper and a washer both serve kerbs in their direction of travel
at a working speed and deadhead at the truck profile; they differ in what fills (debris in the
hopper, kg, emptied at a transfer station; water out of the tank, litres, refilled at a water
point), in speed and in window. So each kind is one :class:`routing.arcs.problem.ArcProblem` —
costs in tenths of a second, so that the route bound is the shift — and the same search, checker
and layout serve both.

Bad input is named before any search: a depot, station or water point off the road network (with
its distance), and a tank or hopper smaller than any kerb needs. A single kerb that needs more
than the tank or hopper is left out and reported with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from routing.arcs.problem import ArcProblem
from routing.errors import InvalidInputError, OffRoadError
from routing.sweeping.scope import Kerb
from routing.sweeping.settings import SweepingSettings

TIME_UNIT_S = 0.1
"""Seconds per cost unit of the arc-routing problem (integer costs, tenths of a second)."""

OVER_CAPACITY_REASON = "over_capacity"


class Facility(BaseModel):
    """A transfer station (sweepers dump) or a water point (washers refill), by its place."""

    id: str
    name: str = ""
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


@dataclass(frozen=True)
class VehicleKind:
    """What a kind of vehicle fills, how fast it works and when (from :class:`SweepingSettings`)."""

    kind: str  # sweeper | washer
    label: str  # zh / en
    prefix: str  # vehicle ids: S1, S2 … / W1, W2 …
    kmh: float
    per_kerb_km: float  # demand per kerb-km: debris kg or water L
    capacity: float
    unit: str
    visit_minutes: float
    visit: str  # row action at a facility: dump | refill
    window: tuple[str, str]  # HH:MM local; an end not after the start is the next morning
    end_at_facility: bool  # a sweeper comes home with an empty hopper; a washer need not empty its tank


def vehicle_kinds(settings: SweepingSettings) -> dict[str, VehicleKind]:
    """The sweeper and the washer as the settings describe them."""
    return {
        "sweeper": VehicleKind(
            kind="sweeper",
            label="清扫车 / sweeper",
            prefix="S",
            kmh=settings.sweeping_kmh,
            per_kerb_km=settings.debris_kg_per_kerb_km,
            capacity=settings.hopper_kg,
            unit="kg",
            visit_minutes=settings.dump_minutes,
            visit="dump",
            window=(settings.shift_start, settings.sweep_end),
            end_at_facility=True,
        ),
        "washer": VehicleKind(
            kind="washer",
            label="冲洗车 / washer",
            prefix="W",
            kmh=settings.washing_kmh,
            per_kerb_km=settings.water_l_per_kerb_km,
            capacity=settings.tank_l,
            unit="L",
            visit_minutes=settings.refill_minutes,
            visit="refill",
            window=(settings.wash_start, settings.wash_end),
            end_at_facility=False,
        ),
    }


def window_times(kind: VehicleKind, *, date: str, tz) -> tuple[datetime, datetime]:
    """The kind's window on ``date`` as local times (an end not after the start is the next day)."""
    try:
        start = datetime.fromisoformat(f"{date}T{kind.window[0]}:00").replace(tzinfo=tz)
        end = datetime.fromisoformat(f"{date}T{kind.window[1]}:00").replace(tzinfo=tz)
    except ValueError:
        raise InvalidInputError(f"--date: 日期无效 / not a date YYYY-MM-DD: {date!r}") from None
    return start, end if end > start else end + timedelta(days=1)


def snap_node(network: object, *, point_id: str, lon: float, lat: float, max_m: float) -> int:
    """Index of the network node nearest a point along its nearest street.

    Raises
    ------
    InvalidInputError
        If the point is farther than ``max_m`` from every street (named, with its distance).
    """
    try:
        snapped = network.snap(ids=[point_id], lon=[lon], lat=[lat], max_distance_m=max_m)[0]  # type: ignore[attr-defined]
    except OffRoadError as exc:
        raise InvalidInputError(
            f"{point_id} 不在路网上 / {point_id} is off the road network: {exc.distances_m[0]:.0f} m from the "
            f"nearest road at ({lon}, {lat}), limit {max_m:.0f} m"
        ) from None
    u, v, _ = snapped.edge
    return network.node_index(u if snapped.fraction < 0.5 else v)  # type: ignore[attr-defined]


def kerb_need(kerb: Kerb, kind: VehicleKind) -> int:
    """What one service of a kerb fills (debris kg or water L), rounded up."""
    return int(np.ceil(kerb.length_m / 1000.0 * kind.per_kerb_km))


def split_by_capacity(kerbs: list[Kerb], kind: VehicleKind) -> tuple[list[Kerb], list[Kerb]]:
    """(kerbs one load can hold, kerbs that alone need more than the tank or hopper).

    Raises
    ------
    InvalidInputError
        If no kerb fits: the tank or hopper is smaller than any street needs (the smallest need named).
    """
    fits = [k for k in kerbs if kerb_need(k, kind) <= kind.capacity]
    if kerbs and not fits:
        least = min(kerbs, key=lambda k: kerb_need(k, kind))
        raise InvalidInputError(
            f"{kind.label}: 容量 {kind.capacity:g} {kind.unit} 小于任何一条路沿的需要 / the capacity is smaller than "
            f"any kerb needs; the least is {least.name or least.kerb_id} ({least.length_m:.0f} m): "
            f"{kerb_need(least, kind)} {kind.unit}"
        )
    return fits, [k for k in kerbs if kerb_need(k, kind) > kind.capacity]


@dataclass(frozen=True)
class SweepProblem:
    """The arc-routing problem of one kind and what each of its edges is on the street network."""

    problem: ArcProblem
    network_edge: np.ndarray  # int64 per problem edge: the network edge it lies on; -1 for a split edge's far half
    kerb: np.ndarray  # int64 per problem edge: index of the kerb it serves in ``kerbs``; -1 when not a task


def _streets(net, n_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Per network edge, its street (the smaller of it and its twin) and which way along it it runs."""
    twin = np.asarray(net.edge_twin, dtype=np.int64)
    own = np.arange(n_edges, dtype=np.int64)
    road = np.where(twin >= 0, np.minimum(own, twin), own)
    return road, np.where(road == own, 1, -1).astype(np.int64)


def sweep_problem(
    network: object,
    kerbs: list[Kerb],
    *,
    depot: int,
    settings: SweepingSettings,
    name: str = "sweep",
    kind: str = "sweeper",
    facilities: list[int] | None = None,
    facility_ids: tuple[str, ...] = (),
    vehicles: int | None = None,
    window_s: float | None = None,
) -> SweepProblem:
    """The arc-routing problem of the kerbs: network edges to drive, one required edge per kerb service.

    Vertices are the network's nodes, labelled with their OSM ids. Network edges that share both ends
    with another edge (two roads between the same junctions) are split by a vertex of their own
    (labelled ``-1 - edge``; the far half costs nothing), so that a walk's (from, to) steps name one
    road and the checker credits each service to the kerb really swept. An edge and its twin are one
    street for the U-turn rule. Without ``facilities`` the depot is the only dump site.

    Raises
    ------
    InvalidInputError
        If a kerb alone holds more than the hopper or tank (the street named).
    """
    net, spec = network, vehicle_kinds(settings)[kind]
    n_nodes, n_edges = len(net.node_ids), len(net.edge_keys)  # type: ignore[attr-defined]
    u, v = np.asarray(net.edge_u, dtype=np.int64), np.asarray(net.edge_v, dtype=np.int64)  # type: ignore[attr-defined]
    _, inverse, count = np.unique(u * n_nodes + v, return_inverse=True, return_counts=True)
    split = np.flatnonzero(count[inverse] > 1)
    middle = np.full(n_edges, -1, dtype=np.int64)
    middle[split] = n_nodes + np.arange(len(split))
    near_head = np.where(middle >= 0, middle, v)
    task_kerb = np.array([i for i, k in enumerate(kerbs) for _ in range(k.frequency)], dtype=np.int64)
    on = np.array([kerbs[i].edge for i in task_kerb], dtype=np.int64)
    drive = np.rint(np.asarray(net.edge_time_s, dtype=float) / TIME_UNIT_S).astype(np.int64)  # type: ignore[attr-defined]
    length = np.asarray(net.edge_length_m, dtype=float)  # type: ignore[attr-defined]
    work = np.rint(length[on] / (spec.kmh / 3.6) / TIME_UNIT_S).astype(np.int64)
    need = np.array([kerb_need(kerbs[i], spec) for i in task_kerb], dtype=np.int64)
    heavy = [kerbs[task_kerb[j]] for j in np.flatnonzero(need > spec.capacity)]
    if heavy:
        named = ", ".join(f"{k.name or k.kerb_id} ({k.length_m:.0f} m)" for k in heavy[:10])
        raise InvalidInputError(
            f"{len(heavy)} 条路沿超过容量 / kerb(s) need more than the {spec.label} holds "
            f"({spec.capacity:g} {spec.unit}): {named}"
        )
    road, way = _streets(net, n_edges)
    n_all = n_edges + len(split) + len(on)
    required = np.zeros(n_all, dtype=np.bool_)
    required[n_edges + len(split) :] = True
    none = np.zeros(n_all, dtype=np.bool_)
    zeros = np.zeros(n_edges + len(split), dtype=np.int64)
    places = [depot] if facilities is None else list(facilities)
    shift = int(round(settings.shift_hours * 3600 / TIME_UNIT_S))
    problem = ArcProblem(
        name=name,
        vertex_ids=np.concatenate([np.asarray(net.node_ids, dtype=np.int64), -1 - split]),  # type: ignore[attr-defined]
        tail=np.concatenate([u, middle[split], u[on]]),
        head=np.concatenate([near_head, v[split], near_head[on]]),
        cost=np.concatenate([drive, zeros[: len(split)], drive[on]]),
        serve_cost=np.concatenate([drive, zeros[: len(split)], work]),
        demand=np.concatenate([zeros, need]),
        required=required,
        two_way=none,
        serve_forward=required.copy(),
        serve_backward=none,
        depot=depot,
        capacity=int(spec.capacity),
        facilities=np.array(places, dtype=np.int64),
        facility_cost=np.full(len(places), int(round(spec.visit_minutes * 60 / TIME_UNIT_S)), dtype=np.int64),
        facility_ids=facility_ids or tuple(f"F{i + 1}" for i in range(len(places))),
        end_at_facility=spec.end_at_facility,
        max_route_cost=shift,
        window_end=None if window_s is None else int(round(window_s / TIME_UNIT_S)),
        max_routes=vehicles,
        uturn=settings.uturn,
        uturn_cost=int(round(settings.uturn_penalty_s / TIME_UNIT_S)) if settings.uturn == "penalty" else 0,
        road=np.concatenate([road, road[split], road[on]]),
        road_dir=np.concatenate([way, way[split], way[on]]),
    )
    return SweepProblem(
        problem=problem,
        network_edge=np.concatenate([np.arange(n_edges), np.full(len(split), -1), on]).astype(np.int64),
        kerb=np.concatenate([np.full(n_edges + len(split), -1), task_kerb]).astype(np.int64),
    )
