"""Dispatcher measures of a plan: what makes a dispatcher send a cheap, checker-clean plan back.

A plan can be feasible and still not be signed off: routes whose service areas lie across each
other (no territories, 网格化管理), kitchen waste carried for hours, eight-hour shifts next to
one-hour ones of the same truck type, trucks sent out for a handful of sites, trucks parked
waiting. :func:`dispatcher_measures` measures each of them from the timed routes and the
problem alone, so every plan (CLI, service, benchmark) reports them the same way; they are
written into ``plan.json`` (``measures``), ``kpis.csv`` and the CLI summary.

Definitions (documented defaults, overridable by keyword):

- service area: convex hull of the route's sites, in metres of the area's UTM zone;
- overlapping pair: two routes collecting a common stream whose hulls intersect by more than
  ``overlap_fraction`` (half) of the smaller hull; the overlap share is overlapping / such pairs,
  and per route the share of its same-stream partners it overlaps (with its hull's outline in lon/lat);
- kitchen waste on board: from a kitchen site's service start to the start of the unload that
  empties it (to the depot arrival if it is never unloaded), max and 95th percentile over sites;
- shift spread: longest and shortest shift (depot departure to return) per vehicle type;
- short route: fewer than ``short_route_sites`` sites;
- waiting: the truck's ``wait`` entries (parked for a window or the break), the break excluded;
- overtime: shift hours beyond ``standard_shift_h``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from routing.planning.document import PlanMeasures, RouteMeasures, ShiftSpread

if TYPE_CHECKING:
    from routing.planning.problem import Problem
    from routing.planning.timed import Route

STANDARD_SHIFT_H = 8.0
"""Statutory working day; shift hours beyond it count as overtime."""
SHORT_ROUTE_SITES = 5
"""A truck sent out for fewer sites than this is a short route."""
OVERLAP_FRACTION = 0.5
"""Two service areas overlap when they share more than this fraction of the smaller one."""
HOLD_STREAM = "kitchen"
"""The stream whose time on board is measured (hygiene and smell)."""


def _service_areas(problem: Problem, routes: Sequence[Route]) -> tuple[list, list]:
    """The convex hull (shapely, UTM metres) of each route's sites, and its outline as [lon, lat] points; None for
    planar instances."""
    if not problem.geographic or not routes:
        return [None] * len(routes), [None] * len(routes)
    import shapely

    from routing.network.projection import UtmProjector

    projector = UtmProjector.around(lon=float(np.mean(problem.lon)), lat=float(np.mean(problem.lat)))
    hulls, outlines = [], []
    for route in routes:
        nodes = [s.node for s in route.stops if s.kind == "site"]
        x, y = projector.to_xy(problem.lon[nodes], problem.lat[nodes])
        hulls.append(shapely.MultiPoint(np.column_stack([x, y]).reshape(-1, 2)).convex_hull)
        outline = shapely.MultiPoint(np.column_stack([problem.lon[nodes], problem.lat[nodes]])).convex_hull
        ring = outline.exterior.coords if outline.geom_type == "Polygon" else outline.coords
        outlines.append([[round(lon, 6), round(lat, 6)] for lon, lat in ring])
    return hulls, outlines


def _holds(route: Route, problem: Problem, *, stream: str) -> list[int]:
    """Seconds each ``stream`` pickup of the route stays on board until the unload that empties it."""
    sites = {s.id: s for s in problem.sites}
    pending: list[int] = []
    holds: list[int] = []
    for stop in route.stops:
        if stop.kind == "site" and sites[stop.id].stream == stream:
            pending.append(sites[stop.id].picked_at(stop.start))
        elif stop.kind == "facility" or (stop.kind == "depot" and stop is route.stops[-1]):
            holds.extend((stop.arrival if stop.kind == "depot" else stop.start) - t for t in pending)
            pending = []
    return holds


def _overlaps(hulls: list, streams: list[set[str]], *, fraction: float) -> tuple[int, int, list[float | None]]:
    """(same-stream pairs, of them overlapping by more than ``fraction`` of the smaller service area, per route the
    share of its same-stream partners it overlaps so)."""
    pairs = overlapping = 0
    partners = [0] * len(hulls)
    crossed = [0] * len(hulls)
    for a, b in combinations(range(len(hulls)), 2):
        if not streams[a] & streams[b]:
            continue
        pairs += 1
        partners[a] += 1
        partners[b] += 1
        if hulls[a] is None or hulls[b] is None:
            continue
        smaller = min(hulls[a].area, hulls[b].area)
        if smaller > 0 and hulls[a].intersection(hulls[b]).area > fraction * smaller:
            overlapping += 1
            crossed[a] += 1
            crossed[b] += 1
    shares = [
        round(c / n, 4) if n and hull is not None else None for c, n, hull in zip(crossed, partners, hulls, strict=True)
    ]
    return pairs, overlapping, shares


def _spread(problem: Problem, routes: Sequence[Route]) -> list[ShiftSpread]:
    """Longest and shortest shift of the used trucks of each vehicle type."""
    shifts: dict[str, list[float]] = {}
    for route in routes:
        vehicle = problem.vehicles[problem.vehicle_index[route.vehicle_id]]
        shifts.setdefault(vehicle.type_id, []).append((route.end - route.start) / 3600.0)
    return [
        ShiftSpread(
            vehicle_type=kind,
            routes=len(hours),
            longest_h=round(max(hours), 3),
            shortest_h=round(min(hours), 3),
            ratio=round(max(hours) / min(hours), 3) if min(hours) > 0 else None,
        )
        for kind, hours in sorted(shifts.items())
    ]


def dispatcher_measures(
    problem: Problem,
    routes: Sequence[Route],
    *,
    standard_shift_h: float = STANDARD_SHIFT_H,
    short_route_sites: int = SHORT_ROUTE_SITES,
    overlap_fraction: float = OVERLAP_FRACTION,
    hold_stream: str = HOLD_STREAM,
) -> PlanMeasures:
    """Service areas and their overlap, time on board, shift spread, short routes, waiting and overtime of a plan.

    Parameters
    ----------
    problem : Problem
        The day (site coordinates and streams, vehicle types).
    routes : sequence of Route
        The plan's timed routes.
    standard_shift_h : float
        Shift hours beyond which time counts as overtime.
    short_route_sites : int
        A route with fewer sites is counted as short.
    overlap_fraction : float
        Share of the smaller service area two routes must share to count as overlapping.
    hold_stream : str
        The stream whose time on board is measured.

    Returns
    -------
    PlanMeasures
        The plan's figures and one :class:`RouteMeasures` per route (see the module docstring).
    """
    hulls, outlines = _service_areas(problem, routes)
    streams = [{problem.sites[problem.site_index[s.id]].stream for s in r.stops if s.kind == "site"} for r in routes]
    pairs, overlapping, shares = _overlaps(hulls, streams, fraction=overlap_fraction)
    measured, all_holds = [], []
    for route, hull, outline, share, collected in zip(routes, hulls, outlines, shares, streams, strict=True):
        vehicle = problem.vehicles[problem.vehicle_index[route.vehicle_id]]
        holds = _holds(route, problem, stream=hold_stream)
        all_holds.extend(holds)
        shift_h = (route.end - route.start) / 3600.0
        measured.append(
            RouteMeasures(
                vehicle_id=route.vehicle_id,
                vehicle_type=vehicle.type_id,
                streams=sorted(collected),
                sites=sum(1 for s in route.stops if s.kind == "site"),
                shift_h=round(shift_h, 3),
                service_area_km2=None if hull is None else round(hull.area / 1e6, 4),
                service_area=outline,
                overlap_share=share,
                waiting_h=round(sum(s.departure - s.arrival for s in route.stops if s.kind == "wait") / 3600.0, 3),
                overtime_h=round(max(0.0, shift_h - standard_shift_h), 3),
                kitchen_on_board_max_h=round(max(holds) / 3600.0, 3) if holds else None,
            )
        )
    return PlanMeasures(
        same_stream_pairs=pairs,
        overlapping_pairs=overlapping,
        overlap_share=round(overlapping / pairs, 4) if pairs and problem.geographic else None,
        kitchen_on_board_max_h=round(max(all_holds) / 3600.0, 3) if all_holds else None,
        kitchen_on_board_p95_h=round(float(np.percentile(all_holds, 95)) / 3600.0, 3) if all_holds else None,
        shift_spread=_spread(problem, routes),
        short_route_sites=short_route_sites,
        short_routes=sum(1 for r in measured if r.sites < short_route_sites),
        waiting_max_h=max((r.waiting_h for r in measured), default=0.0),
        overtime_h=round(sum(r.overtime_h for r in measured), 3),
        routes=measured,
    )


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def measure_rows(measures: PlanMeasures) -> list[tuple[str, str, str]]:
    """The plan's measures as (key, zh/en label, value) rows: the CLI summary and ``kpis.csv`` print these.

    Parameters
    ----------
    measures : PlanMeasures
        From :func:`dispatcher_measures`.

    Returns
    -------
    list of tuple of (str, str, str)
        One row per figure; shift spread one row per vehicle type.
    """
    m = measures
    share = "—" if m.overlap_share is None else f"{m.overlapping_pairs} / {m.same_stream_pairs} ({m.overlap_share:.0%})"
    rows = [
        ("overlap_share", "服务区重叠 same-stream service areas overlapping > ½", share),
        ("kitchen_on_board_max_h", "厨余在车最长 kitchen waste on board, max", _hours(m.kitchen_on_board_max_h)),
        ("kitchen_on_board_p95_h", "厨余在车 95 分位 kitchen waste on board, p95", _hours(m.kitchen_on_board_p95_h)),
    ]
    for spread in m.shift_spread:
        ratio = "—" if spread.ratio is None else f"{spread.ratio:.1f}×"
        rows.append(
            (
                f"shift_spread:{spread.vehicle_type}",
                f"班次差 shift spread {spread.vehicle_type} ({spread.routes})",
                f"{ratio} ({spread.shortest_h:.1f}–{spread.longest_h:.1f} h)",
            )
        )
    rows += [
        (
            "short_routes",
            f"少于 {m.short_route_sites} 点的车 routes under {m.short_route_sites} sites",
            str(m.short_routes),
        ),
        ("waiting_max_h", "单车等待最长 idle waiting per truck, max", _hours(m.waiting_max_h)),
        ("overtime_h", "加班合计 overtime, all trucks", _hours(m.overtime_h)),
    ]
    return rows


ROUTE_LABELS = {
    "sites": "点位 sites",
    "shift_h": "班次 shift (h)",
    "service_area_km2": "服务区 service area (km²)",
    "waiting_h": "等待 waiting (h)",
    "overtime_h": "加班 overtime (h)",
    "kitchen_on_board_max_h": "厨余在车最长 kitchen on board max (h)",
}
KPI_CSV_HEADER = ["范围 scope", "键 key", "指标 measure", "值 value"]


def kpi_csv_rows(measures: PlanMeasures) -> list[list[str]]:
    """``kpis.csv`` under :data:`KPI_CSV_HEADER`: the plan's rows (scope ``plan``), then each truck's figures.

    Parameters
    ----------
    measures : PlanMeasures
        From :func:`dispatcher_measures`.

    Returns
    -------
    list of list of str
        One long table a spreadsheet filters by scope or key.
    """
    rows = [["plan", key, label, value] for key, label, value in measure_rows(measures)]
    for route in measures.routes:
        for key, label in ROUTE_LABELS.items():
            value = getattr(route, key)
            rows.append([route.vehicle_id, key, label, "" if value is None else str(value)])
    return rows
