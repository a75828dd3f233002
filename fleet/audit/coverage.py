"""Coverage of a collection plan: which planned stops a truck really visited, which streets it drove.

The plan (``plan.json`` of the planning issue) says where each truck should stop; the
track says where it went. A stop counts as visited when the truck stayed within
``visit_radius_m`` for at least ``visit_min_dwell_s`` at low speed; the streets of the
planned legs count as covered where the truck's map-matched roads run within
``street_buffer_m``. The clearance actually achieved scales the plan's own clearance
by the share of planned demand whose stop was visited.
"""

from __future__ import annotations

import numpy as np
import shapely
from pydantic import BaseModel, Field

from fleet.audit.settings import CoverageSettings
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import Projector, Track
from routing.localtime import iso_local
from routing.planning.document import PlanDocument, PlanRoute, PlanStop


# --- output ---------------------------------------------------------------------------
class StopVisit(BaseModel):
    stop_id: str
    status: str = Field(description="visited | missed")
    status_label: str
    planned_arrival: str | None
    visit_start: str | None
    visit_end: str | None
    dwell_s: float
    closest_m: float | None
    demand_kg: float


class RouteCoverage(BaseModel):
    vehicle_id: str
    has_track: bool
    stops_planned: int
    stops_visited: int
    stops: list[StopVisit]
    street_coverage: float | None = Field(
        description="share of planned street length driven (0–1); None without a road network"
    )
    planned_demand_kg: float
    visited_demand_kg: float


class CoverageReport(BaseModel):
    routes: list[RouteCoverage]
    stops_planned: int
    stops_visited: int
    visit_rate: float
    street_coverage: float | None
    planned_clearance_rate: float | None
    achieved_clearance_rate: float | None = Field(
        description="清运率 actually achieved: planned clearance × visited demand / planned demand"
    )


def _stop_demands(stops: list[PlanStop]) -> list[float]:
    """kg collected at each site stop: the rise of the truck's load over the stop."""
    demands = []
    before: dict[str, float] = {}
    for stop in stops:
        after = stop.load_kg
        if stop.kind == "site":
            demands.append(sum(max(after.get(k, 0.0) - before.get(k, 0.0), 0.0) for k in after))
        before = dict(after)
    return demands


def find_visit(track: Track, *, x: float, y: float, settings: CoverageSettings) -> tuple[int, int, float, float] | None:
    """The longest dwell near (x, y): (first, last, dwell_s, closest_m), or None when never within the radius.

    Parameters
    ----------
    track
        The vehicle's cleaned track (projected metres, Unix seconds).
    x, y
        The site's projected position (metres).
    settings
        ``visit_radius_m``, ``visit_max_speed_kmh`` and ``max_fix_weight_s`` define a visit.

    Returns
    -------
    tuple[int, int, float, float] or None
        First and last fix index of the longest run within the radius, its slow-fix dwell (s)
        and the track's closest approach (m); None for an empty track or one never within the radius.
    """
    if len(track) == 0:
        return None
    dist = np.hypot(track.x - x, track.y - y)
    near = dist <= settings.visit_radius_m
    closest = float(dist.min())
    if not near.any():
        return None
    t = track.t
    gap_prev = np.concatenate(([0.0], np.diff(t)))
    gap_next = np.concatenate((np.diff(t), [0.0]))
    weight = (np.minimum(gap_prev, settings.max_fix_weight_s) + np.minimum(gap_next, settings.max_fix_weight_s)) / 2
    slow = track.speed_kmh <= settings.visit_max_speed_kmh
    idx = np.flatnonzero(near)
    groups = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    best = None
    for g in groups:
        dwell = float(weight[g][slow[g]].sum())
        if best is None or dwell > best[2]:
            best = (int(g[0]), int(g[-1]), dwell, closest)
    return best


def _street_coverage(
    route: PlanRoute, track: Track, *, network: object, matcher: MapMatcher, settings: CoverageSettings
) -> float | None:
    from routing.network.matrix import road_path

    # a break or a wait stands at the next place: the drive into that place is on its first entry
    sites = [s for s in route.stops if s.lon is not None and s.lat is not None and s.kind not in ("break", "wait")]
    if len(sites) < 2 or len(track) < 2:
        return 0.0 if len(sites) >= 2 else None
    snapped = network.snap(
        ids=[f"{i}:{s.id}" for i, s in enumerate(sites)], lon=[s.lon for s in sites], lat=[s.lat for s in sites]
    )  # type: ignore[attr-defined]
    legs = [
        road_path(network, origin=a, destination=b).geometry_xy
        for a, b, stop in zip(snapped, snapped[1:], sites[1:])
        if stop.kind == "site"
    ]
    legs = [g for g in legs if g.length > 0]
    if not legs:
        return None
    matched = matcher.match(track)
    if not matched.edges:
        return 0.0
    counts = street_passes(
        legs,
        driven=network.edge_geometry[matched.edges],  # type: ignore[attr-defined]
        buffer_m=settings.street_buffer_m,
        sample_m=settings.street_sample_m,
    )
    total = sum(len(c) for c in counts)
    return sum(int((c > 0).sum()) for c in counts) / total if total else None


def _tangents(lines: np.ndarray, along: np.ndarray) -> np.ndarray:
    """Unit direction (dx, dy) of each line at distance ``along`` (metres from its start)."""
    length = shapely.length(lines)
    a = shapely.line_interpolate_point(lines, np.clip(along - 1.0, 0.0, length))
    b = shapely.line_interpolate_point(lines, np.clip(along + 1.0, 0.0, length))
    d = np.column_stack([shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)])
    norm = np.hypot(d[:, 0], d[:, 1])
    return d / np.where(norm > 0, norm, 1.0)[:, None]


def street_passes(
    targets: list[shapely.LineString],
    *,
    driven: np.ndarray,
    buffer_m: float,
    sample_m: float,
    heading_tolerance_deg: float | None = None,
    order: np.ndarray | None = None,
    road_ids: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[np.ndarray]:
    """How many separate passes drove past each check point of each target street: the one street-coverage rule.

    Collection trucks (planned legs) and sweepers (kerbs) are judged by this same function: check
    points every ``sample_m`` along each target; a point is passed by a driven road within
    ``buffer_m`` (DOMAIN: 10 m each side). ``driven`` is the driven path in order, one geometry per
    traversal; consecutive traversals near one point are one pass where the point is at their junction,
    so a kerb swept twice (a loop, or there and back) counts two while a junction still counts one.

    Parameters
    ----------
    targets
        Projected street lines to check (a kerb in its direction of travel).
    driven
        Projected geometries of the edges driven, in driving order (a repeat is a new traversal).
    buffer_m, sample_m
        Buffer each side and check-point spacing (metres).
    heading_tolerance_deg
        When set, a traversal passes a point only when driven within this angle of the target's
        direction there (a kerb is swept from its own side); None ignores direction.
    order
        Position of each traversal in the driving order (default 0, 1, 2 …); traversals left out of
        ``driven`` (driven too fast, another vehicle) leave a hole, so the passes on either side stay two.
    road_ids
        (id per target, id per traversal): when given, along a target's middle only a traversal of
        its own road passes it; within ``buffer_m`` of its two ends (the junctions, which a sweeper
        brushes whichever way it turns) any traversal does. A sweeper's kerb is a directed edge that
        the matcher has already told from its neighbours: the buffer alone would also credit a
        skipped carriageway or a merging slip road 8 m beside the one swept, while a kerb of a few
        metres inside a junction is swept between two fixes. None: any road within the buffer
        passes (planned legs of trucks).

    Returns
    -------
    list[numpy.ndarray]
        Per target, the number of passes at each of its check points.
    """
    if not targets:
        return []
    lengths = shapely.length(np.asarray(targets, dtype=object))
    n = np.maximum(2, np.ceil(lengths / sample_m).astype(np.int64) + 1)
    owner = np.repeat(np.arange(len(targets)), n)
    starts = np.concatenate(([0], np.cumsum(n)[:-1]))
    along = (np.arange(owner.size) - starts[owner]) / np.maximum(n[owner] - 1, 1) * lengths[owner]
    lines = np.asarray(targets, dtype=object)[owner]
    samples = shapely.line_interpolate_point(lines, along)
    counts = np.zeros(owner.size, dtype=np.int64)
    if len(driven):
        hit, pos = shapely.STRtree(driven).query(samples, predicate="dwithin", distance=buffer_m)
        if road_ids is not None:
            own = np.asarray(road_ids[0])[owner[hit]] == np.asarray(road_ids[1])[pos]
            at_junction = (along[hit] <= buffer_m) | (along[hit] >= lengths[owner[hit]] - buffer_m)
            hit, pos = hit[own | at_junction], pos[own | at_junction]
        if heading_tolerance_deg is not None and hit.size:
            mine = _tangents(lines[hit], along[hit])
            on = shapely.line_locate_point(driven[pos], samples[hit])
            theirs = _tangents(driven[pos], on)
            keep = (mine * theirs).sum(axis=1) >= np.cos(np.radians(heading_tolerance_deg))
            hit, pos = hit[keep], pos[keep]
        # the next traversal continues the same pass only where the point is at the junction between them
        at_end = shapely.distance(samples[hit], shapely.get_point(driven[pos], -1)) <= buffer_m
        pos = pos if order is None else np.asarray(order, dtype=np.int64)[pos]
        rank = np.lexsort((pos, hit))
        hit, pos, at_end = hit[rank], pos[rank], at_end[rank]
        new_pass = np.ones(hit.size, dtype=bool)
        new_pass[1:] = (hit[1:] != hit[:-1]) | (pos[1:] - pos[:-1] > 1) | ~at_end[:-1]
        counts = np.bincount(hit[new_pass], minlength=owner.size)
    return np.split(counts, np.cumsum(n)[:-1])


def plan_coverage(
    plan: PlanDocument,
    *,
    tracks: dict[str, Track],
    projector: Projector,
    network: object | None = None,
    matcher: MapMatcher | None = None,
    settings: CoverageSettings,
) -> CoverageReport:
    """Stop visits, street coverage and achieved clearance of every planned route.

    Parameters
    ----------
    plan
        The collection plan.
    tracks
        Cleaned tracks by device (a route's ``vehicle_id``).
    projector
        WGS-84 ↔ metric conversions of the tracks.
    network, matcher
        The road network and a map matcher on it; without both, street coverage is None.
    settings
        Visit and street thresholds.

    Returns
    -------
    CoverageReport
    """
    routes = []
    street_num = street_den = 0.0
    for route in plan.routes:
        track = tracks.get(route.vehicle_id)
        site_stops = [s for s in route.stops if s.kind == "site"]
        demands = _stop_demands(route.stops)
        xs, ys = projector.to_xy([s.lon for s in site_stops], [s.lat for s in site_stops])
        visits = []
        for stop, demand, x, y in zip(site_stops, demands, np.atleast_1d(xs), np.atleast_1d(ys)):
            found = find_visit(track, x=float(x), y=float(y), settings=settings) if track is not None else None
            ok = found is not None and found[2] >= settings.visit_min_dwell_s
            visits.append(
                StopVisit(
                    stop_id=stop.id,
                    status="visited" if ok else "missed",
                    status_label="已清运 / visited" if ok else "漏收 / missed",
                    planned_arrival=stop.arrival.isoformat() if stop.arrival else None,
                    visit_start=iso_local(float(track.t[found[0]])) if ok else None,
                    visit_end=iso_local(float(track.t[found[1]])) if ok else None,
                    dwell_s=round(found[2], 1) if found else 0.0,
                    closest_m=round(found[3], 1)
                    if found
                    else (
                        round(float(np.min(np.hypot(track.x - x, track.y - y))), 1)
                        if track is not None and len(track)
                        else None
                    ),
                    demand_kg=round(demand, 3),
                )
            )
        streets = None
        if network is not None and matcher is not None and track is not None:
            streets = _street_coverage(route, track, network=network, matcher=matcher, settings=settings)
            if streets is not None:
                street_num += streets * len(site_stops)
                street_den += len(site_stops)
        planned = sum(demands)
        routes.append(
            RouteCoverage(
                vehicle_id=route.vehicle_id,
                has_track=track is not None,
                stops_planned=len(visits),
                stops_visited=sum(v.status == "visited" for v in visits),
                stops=visits,
                street_coverage=None if streets is None else round(streets, 4),
                planned_demand_kg=round(planned, 3),
                visited_demand_kg=round(sum(v.demand_kg for v in visits if v.status == "visited"), 3),
            )
        )
    planned_total = sum(r.planned_demand_kg for r in routes)
    visited_total = sum(r.visited_demand_kg for r in routes)
    n_planned = sum(r.stops_planned for r in routes)
    n_visited = sum(r.stops_visited for r in routes)
    plan_rate = plan.kpi.get("clearance_rate")
    plan_rate = float(plan_rate) if isinstance(plan_rate, (int, float)) else None
    achieved = None
    if planned_total > 0:
        achieved = (plan_rate if plan_rate is not None else 1.0) * visited_total / planned_total
    elif n_planned:
        achieved = (plan_rate if plan_rate is not None else 1.0) * n_visited / n_planned
    return CoverageReport(
        routes=routes,
        stops_planned=n_planned,
        stops_visited=n_visited,
        visit_rate=round(n_visited / n_planned, 4) if n_planned else 0.0,
        street_coverage=round(street_num / street_den, 4) if street_den else None,
        planned_clearance_rate=plan_rate,
        achieved_clearance_rate=None if achieved is None else round(achieved, 4),
    )
