"""Track simulator: trucks driving real road paths, with GPS noise and injected violations.

Tests and benchmarks need tracks whose truth is known: which edges were driven,
and when each violation really started and ended. A truck's day is a timeline of
drives along shortest road paths and dwells; it is sampled at the terminal's
interval, noise is added, and terminal artefacts (duplicates, blind-area batches
uploaded late, invalid fixes, jumps) can be layered on top. The truth comes from
the noise-free timeline, never from the detector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
import shapely
import shapely.ops

from fleet.audit.inputs import Permit, TimeWindow, ZoneFeature
from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.violations import ViolationType
from fleet.settings import FleetSettings
from fleet.simulate.timeline import Timeline, node_xy, pick_route, pick_route_from, sample
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import epoch_s
from routing.localtime import CHINA_TZ, iso_local

VIOLATION_TYPES: tuple[str, ...] = get_args(ViolationType)  # every type the rules can raise
DAY = epoch_s(datetime(2026, 11, 21, tzinfo=CHINA_TZ))
NIGHT_WINDOW = [TimeWindow(start="21:00", end="06:00")]
SITE_RADIUS_M = 120.0


@dataclass
class TruthEvent:
    """One injected violation as it really happened (from the noise-free timeline)."""

    type: str
    device: str
    start_s: float
    end_s: float


@dataclass
class SimulatedTracks:
    """Simulated trucks as the audit's inputs (positions, permits, zones) with their ground truth."""

    positions: pd.DataFrame  # device, time (ISO +08:00), lon, lat, speed_kmh, heading, load, ignition
    permits: list[Permit]
    zones: list[ZoneFeature]
    truth: list[TruthEvent]
    true_edges: dict[str, list[int]]
    interval_s: float


# --- scenario building ---------------------------------------------------------------
def _polygon_lonlat(net, geom: shapely.Geometry) -> dict:
    xy = np.asarray(geom.exterior.coords)
    lon, lat = net.to_lonlat(xy[:, 0], xy[:, 1])
    return {"type": "Polygon", "coordinates": [np.column_stack([lon, lat]).round(7).tolist()]}


def _line_lonlat(net, edges: list[int]) -> dict:
    coords = [np.asarray(net.edge_geometry[edges[0]].coords)]
    coords += [np.asarray(net.edge_geometry[e].coords)[1:] for e in edges[1:]]
    xy = np.vstack(coords)
    lon, lat = net.to_lonlat(xy[:, 0], xy[:, 1])
    return {"type": "LineString", "coordinates": np.column_stack([lon, lat]).round(7).tolist()}


def _site(net, node: int) -> shapely.Geometry:
    return shapely.Point(*node_xy(net, node)).buffer(SITE_RADIUS_M, quad_segs=8)


def _runs_1s(mask: np.ndarray, t: np.ndarray, merge_s: float, min_s: float) -> list[tuple[float, float]]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(t[idx]) > merge_s) + 1
    return [(float(t[g[0]]), float(t[g[-1]])) for g in np.split(idx, cuts) if t[g[-1]] - t[g[0]] >= min_s]


def simulate_haul(
    network: object,
    *,
    violation: str | None = None,
    seed: int = 0,
    interval_s: float = 10.0,
    noise_m: float = 10.0,
    artefacts: bool = False,
    settings: FleetSettings,
    matcher: MapMatcher | None = None,
    zone: str = "crossing",
) -> SimulatedTracks:
    """One loaded haul from a construction site to its disposal site, with at most one injected violation.

    Parameters
    ----------
    network
        The ``RoadNetwork`` driven.
    violation
        One of ``VIOLATION_TYPES``, or None for a compliant haul.
    seed
        Makes the haul reproducible.
    interval_s, noise_m
        The terminal's reporting interval and GPS noise (σ, metres).
    artefacts
        Add duplicates, late blind-area batches, invalid fixes and a jump.
    settings
        The thresholds the audit will use: the truth's episodes follow ``settings.compliance``.
    matcher
        Shortest paths on ``network`` (kept between calls); built from ``settings.matching`` when None.
    zone
        The restricted zone of a ``restricted_zone`` haul: "crossing" (the route crosses it) or
        "edge" (the route runs along its edge, inside by a few metres — the alarm-storm case).

    Returns
    -------
    SimulatedTracks

    Raises
    ------
    ValueError
        An unknown violation type.
    RuntimeError
        No unambiguous injection found in 50 attempts.
    """
    if violation not in (None, *VIOLATION_TYPES):
        raise ValueError(f"unknown violation type {violation!r}; use one of {', '.join(VIOLATION_TYPES)}")
    matcher = matcher or MapMatcher(network, settings=settings.matching)
    for attempt in range(50):
        rng = np.random.default_rng([seed, attempt])
        scenario, clean = _haul(
            network,
            violation=violation,
            seed=seed,
            rng=rng,
            interval_s=interval_s,
            noise_m=noise_m,
            artefacts=artefacts,
            matcher=matcher,
            settings=settings.compliance,
            zone=zone,
        )
        if clean:
            return scenario
    raise RuntimeError(f"no unambiguous {violation} injection found for seed {seed}")


def _crisp(
    signal: np.ndarray, t: np.ndarray, events: list[TruthEvent], *, threshold: float, band: float, interval_s: float
) -> bool:
    """Whether every event boundary is crossed decisively: ``band`` below/above ``threshold`` one interval either side."""
    at = lambda moment: float(np.interp(moment, t, signal))  # noqa: E731
    return all(
        at(e.start_s - interval_s) < threshold - band
        and at(e.start_s + interval_s) > threshold + band
        and at(e.end_s - interval_s) > threshold + band
        and at(e.end_s + interval_s) < threshold - band
        for e in events
    )


@dataclass
class _HaulPlan:
    """The haul to drive: the truck, its route between the two sites, the sites' polygons (projected)."""

    device: str
    source_node: int
    dest_node: int
    route: list[int]
    route_len: np.ndarray
    route_line: shapely.Geometry
    source: shapely.Geometry
    dest: shapely.Geometry


@dataclass
class _Driven:
    """A driven haul: its timeline, when it left, when it stopped midway and when it reached the disposal site."""

    timeline: Timeline
    depart: float
    arrive: float | None = None  # at the midway stop (dumping, trip not closed)
    arrive_dest: float | None = None
    truth: list[TruthEvent] = field(default_factory=list)


def _plan_haul(net, matcher: MapMatcher, rng: np.random.Generator, *, seed: int, violation: str | None) -> _HaulPlan:
    min_m = 6000.0 if violation == "speeding" else 3000.0
    s_node, d_node, route = pick_route(matcher, rng, min_m=min_m, max_m=min_m + 4000.0)
    return _HaulPlan(
        device=f"T{seed:04d}",
        source_node=s_node,
        dest_node=d_node,
        route=route,
        route_len=np.cumsum(net.edge_length_m[route]),
        route_line=shapely.linestrings(np.vstack([np.asarray(net.edge_geometry[e].coords) for e in route])),
        source=_site(net, s_node),
        dest=_site(net, d_node),
    )


def _detour(net, plan: _HaulPlan, tl: Timeline, rng: np.random.Generator) -> None:
    """Leave the route at 30 % for a node 400 m+ off it, then drive on to the disposal site."""
    route, route_len = plan.route, plan.route_len
    x_node = int(net.edge_v[route[int(np.searchsorted(route_len, route_len[-1] * 0.3))]])
    xs = np.array([net.graph.nodes[n]["x"] for n in net.node_ids])
    ys = np.array([net.graph.nodes[n]["y"] for n in net.node_ids])
    xx, xy_ = node_xy(net, x_node)
    far = shapely.distance(plan.route_line, shapely.points(xs, ys))
    gap = np.hypot(xs - xx, ys - xy_)
    choices = np.flatnonzero((far > 400) & (gap > 800) & (gap < 1500))
    tl.drive_to(x_node, rng=rng)
    tl.drive_to(int(rng.choice(choices)), rng=rng)
    tl.drive_to(plan.dest_node, rng=rng)


def _drive_haul(
    net, plan: _HaulPlan, matcher: MapMatcher, rng: np.random.Generator, *, violation: str | None
) -> _Driven:
    """Load at the source site, drive (with the injected violation), unload at the disposal site."""
    start = DAY + (13 * 3600 if violation == "outside_hours" else 21.5 * 3600)
    tl = Timeline(matcher, plan.source_node, start)
    tl.dwell(480.0)
    tl.set_load(1)
    tl.dwell(120.0)
    driven = _Driven(tl, depart=tl.t)
    route, route_len = plan.route, plan.route_len
    mid_node = int(net.edge_v[route[int(np.searchsorted(route_len, route_len[-1] * 0.5))]])
    if violation == "off_route":
        _detour(net, plan, tl, rng)
    elif violation == "speeding":
        i0 = int(np.searchsorted(route_len, route_len[-1] * 0.3))
        i1 = int(np.searchsorted(route_len, route_len[i0] + 2200.0))
        tl.drive_to(plan.dest_node, rng=rng, speed_kmh={e: 80.0 for e in route[i0 + 1 : i1 + 1]})
    elif violation in ("suspected_dumping", "trip_not_closed"):
        tl.drive_to(mid_node, rng=rng)
        driven.arrive = tl.t
        if violation == "trip_not_closed":
            tl.dwell(60.0)
            tl.set_ignition(0)
            tl.dwell(2400.0)
            return driven
        tl.dwell(150.0)
        tl.set_load(0)
        tl.dwell(150.0)
        driven.truth.append(TruthEvent(violation, plan.device, driven.arrive, tl.t))
        tl.drive_to(plan.dest_node, rng=rng)
    else:
        tl.drive_to(plan.dest_node, rng=rng)
    driven.arrive_dest = tl.t
    tl.dwell(360.0)
    tl.set_load(0)
    tl.dwell(240.0)
    tl.set_ignition(0)
    tl.dwell(60.0)
    return driven


def _truth(
    net,
    plan: _HaulPlan,
    driven: _Driven,
    *,
    violation: str | None,
    settings: ComplianceSettings,
    zone: str,
    seed: int,
    sampled_t: np.ndarray,
    drop: tuple[float, float] | None,
    interval_s: float,
) -> tuple[list[TruthEvent], list[ZoneFeature], bool]:
    """The injected violation's true episodes (from the noise-free timeline), its zone, and whether it is crisp."""
    tl, device, truth, clean = driven.timeline, plan.device, list(driven.truth), True
    fine_t = np.arange(tl.times[0], tl.t, 1.0)
    fine = tl.state(fine_t)
    loaded = fine["load"] == 1
    zones: list[ZoneFeature] = []
    runs = lambda mask, merge_s, min_s: [  # noqa: E731
        TruthEvent(violation, device, a, b) for a, b in _runs_1s(mask, fine_t, merge_s, min_s)
    ]
    if violation == "off_route":
        pts = shapely.points(fine["x"], fine["y"])
        margin = settings.site_margin_m
        at_site = (shapely.distance(plan.source, pts) <= margin) | (shapely.distance(plan.dest, pts) <= margin)
        away = shapely.distance(plan.route_line, pts)
        truth += runs((away > settings.corridor_m) & loaded & ~at_site, settings.merge_gap_s, settings.off_route_min_s)
        clean = len(truth) == 1 and _crisp(
            away, fine_t, truth, threshold=settings.corridor_m, band=20.0, interval_s=interval_s
        )
    elif violation == "speeding":
        over = fine["speed"] > settings.default_speed_limit_kmh
        truth += runs(over, settings.merge_gap_s, settings.speeding_min_s)
    elif violation == "restricted_zone":
        polygon = _zone_polygon(net, plan.route, plan.route_len, kind=zone)
        inside = shapely.contains_xy(polygon, fine["x"], fine["y"])
        truth += runs(inside, settings.zone_rejoin_s, 0.0)
        if zone == "crossing":
            depth = shapely.distance(polygon.boundary, shapely.points(fine["x"], fine["y"])) * np.where(
                inside, 1.0, -1.0
            )
            clean = len(truth) == 1 and _crisp(
                depth, fine_t, truth, threshold=0.0, band=settings.zone_margin_m, interval_s=interval_s
            )
        zones.append(_zone_feature(net, polygon, zone_id=f"Z{seed}", kind="restricted", schedule=[]))
    elif violation in ("outside_hours", "no_permit"):
        truth += runs(loaded & (fine["speed"] > 1.0), settings.merge_gap_s, 0.0)
    elif violation == "trip_not_closed":
        outside = shapely.distance(plan.source, shapely.points(fine["x"], fine["y"])) > settings.site_margin_m
        truth.append(TruthEvent(violation, device, float(fine_t[np.argmax(outside)]), driven.arrive))
    elif violation == "reporting_gap":
        before = float(sampled_t[sampled_t < drop[0]][-1])
        after = float(sampled_t[sampled_t > drop[1]][0])
        truth.append(TruthEvent(violation, device, before, after))
    return truth, zones, clean


def _paperwork(net, plan: _HaulPlan, *, violation: str | None, seed: int) -> tuple[list[Permit], list[ZoneFeature]]:
    """The haul's permit (none for ``no_permit``: its sites become registered sites instead), and a decoy zone."""
    zones: list[ZoneFeature] = []
    if violation is None:  # a compliant decoy: a restricted zone on the route but outside its schedule
        polygon = _zone_polygon(net, plan.route, plan.route_len, kind="crossing")
        day = [TimeWindow(start="07:00", end="20:00")]
        zones.append(_zone_feature(net, polygon, zone_id=f"Z{seed}-day", kind="restricted", schedule=day))
    if violation == "no_permit":
        for k, site in enumerate((plan.source, plan.dest)):
            zones.append(_zone_feature(net, site, zone_id=f"S{seed}-{k}", kind="approved_site", schedule=[]))
        return [], zones
    permit = Permit(
        permit_id=f"P{seed:04d}",
        device=plan.device,
        company=f"C{seed % 3}",
        valid_from=datetime.fromtimestamp(DAY - 86400, tz=CHINA_TZ),
        valid_until=datetime.fromtimestamp(DAY + 2 * 86400, tz=CHINA_TZ),
        source_site=_polygon_lonlat(net, plan.source),
        destination_sites=[_polygon_lonlat(net, plan.dest)],
        route=_line_lonlat(net, plan.route),
        time_windows=NIGHT_WINDOW,
    )
    return [permit], zones


def _haul(
    network, *, violation, seed, rng, interval_s, noise_m, artefacts, matcher, settings, zone
) -> tuple[SimulatedTracks, bool]:
    plan = _plan_haul(network, matcher, rng, seed=seed, violation=violation)
    driven = _drive_haul(network, plan, matcher, rng, violation=violation)
    drop = None
    if violation == "reporting_gap":
        g0 = driven.depart + (driven.arrive_dest - driven.depart) * 0.4
        drop = (g0, g0 + 480.0)
    tl = driven.timeline
    frame, _, t = sample(tl, device=plan.device, interval_s=interval_s, noise_m=noise_m, rng=rng, drop=drop)
    truth, zones, clean = _truth(
        network,
        plan,
        driven,
        violation=violation,
        settings=settings,
        zone=zone,
        seed=seed,
        sampled_t=t,
        drop=drop,
        interval_s=interval_s,
    )
    permits, more_zones = _paperwork(network, plan, violation=violation, seed=seed)
    if artefacts:
        frame = add_artefacts(frame, rng=rng)
    edges = {plan.device: list(tl.edges)}
    return SimulatedTracks(frame, permits, zones + more_zones, truth, edges, interval_s), clean


def _zone_polygon(net, route: list[int], route_len: np.ndarray, *, kind: str) -> shapely.Geometry:
    line = shapely.linestrings(np.vstack([np.asarray(net.edge_geometry[e].coords) for e in route]))
    centre = line.interpolate(float(route_len[-1]) * 0.5)
    if kind == "crossing":
        return shapely.box(centre.x - 250, centre.y - 250, centre.x + 250, centre.y + 250)
    # "edge": the zone's boundary follows 1 km of the road 5 m to one side: the road runs just inside it
    a = max(float(route_len[-1]) * 0.5 - 500.0, 0.0)
    part = shapely.ops.substring(line, a, a + 1000.0)
    return part.buffer(200.0, single_sided=True).buffer(5.0)


def _zone_feature(
    net, polygon: shapely.Geometry, *, zone_id: str, kind: str, schedule: list[TimeWindow]
) -> ZoneFeature:
    if polygon.geom_type == "MultiPolygon":
        polygon = max(polygon.geoms, key=lambda g: g.area)
    return ZoneFeature.model_validate(
        {
            "type": "Feature",
            "properties": {
                "id": zone_id,
                "name": zone_id,
                "kind": kind,
                "schedule": [w.model_dump(mode="json") for w in schedule],
            },
            "geometry": _polygon_lonlat(net, polygon),
        }
    )


def add_artefacts(frame: pd.DataFrame, *, rng: np.random.Generator) -> pd.DataFrame:
    """Terminal artefacts: 5 % duplicates, three blind-area batches uploaded last, invalid fixes, one jump.

    Parameters
    ----------
    frame
        Clean fixes in time order (``device``, ``time``, ``lon``, ``lat`` … columns).
    rng
        Random generator.

    Returns
    -------
    pandas.DataFrame
        A new frame with the artefacts, no longer in time order.
    """
    n = len(frame)
    rows = frame.copy()
    dup = rows.iloc[rng.choice(n, size=max(1, n // 20), replace=False)]
    bad = rows.iloc[rng.choice(n, size=3, replace=False)].copy()
    bad[["lon", "lat"]] = 0.0
    jump = rows.iloc[[n // 3]].copy()
    jump["time"] = [iso_local(datetime.fromisoformat(x).timestamp() + 1) for x in jump["time"]]
    jump["lat"] = jump["lat"] + 0.03  # about 3.3 km north within a second
    order = np.arange(n)
    late = []
    for start in rng.choice(max(1, n - 30), size=3, replace=False):
        late.extend(range(start, min(start + 30, n)))
    late = sorted(set(late))
    on_time = np.setdiff1d(order, late)
    return pd.concat([rows.iloc[on_time], dup, bad, jump, rows.iloc[late]], ignore_index=True)


def truck_day(
    network: object,
    *,
    seed: int = 0,
    interval_s: float = 10.0,
    noise_m: float = 10.0,
    matcher: MapMatcher,
) -> SimulatedTracks:
    """24 hours of a permitted truck shuttling between its site and disposal site (8,640 fixes at 10 s).

    Parameters
    ----------
    network
        The ``RoadNetwork`` driven.
    seed
        Makes the day reproducible.
    interval_s, noise_m, matcher
        As for :func:`simulate_haul`.

    Returns
    -------
    SimulatedTracks
        One truck, one permit, no violation.
    """
    net = network
    rng = np.random.default_rng(seed)
    device = f"D{seed:05d}"
    s_node, d_node, route = pick_route(matcher, rng, min_m=4000.0, max_m=9000.0)
    source, dest = _site(net, s_node), _site(net, d_node)
    tl = Timeline(matcher, s_node, DAY)
    end = DAY + 86400.0
    while tl.t < end:
        tl.dwell(600.0)
        tl.set_load(1)
        tl.drive_to(d_node, rng=rng)
        tl.dwell(300.0)
        tl.set_load(0)
        tl.dwell(300.0)
        tl.drive_to(s_node, rng=rng)
    frame, _, _ = sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng, t_end=end - interval_s)
    permit = Permit(
        permit_id=f"P{device}",
        device=device,
        company=f"C{seed % 7}",
        valid_from=datetime.fromtimestamp(DAY - 86400, tz=CHINA_TZ),
        valid_until=datetime.fromtimestamp(DAY + 2 * 86400, tz=CHINA_TZ),
        source_site=_polygon_lonlat(net, source),
        destination_sites=[_polygon_lonlat(net, dest)],
        route=_line_lonlat(net, route),
    )
    return SimulatedTracks(frame, [permit], [], [], {device: list(tl.edges)}, interval_s)


def simulate_drive(
    network: object,
    *,
    matcher: MapMatcher,
    km: float = 30.0,
    seed: int = 0,
    interval_s: float = 10.0,
    noise_m: float = 10.0,
) -> SimulatedTracks:
    """A truck driving a chain of random shortest-path trips of ``km`` in total (for map-matching accuracy).

    Parameters
    ----------
    km
        Distance driven.
    network, seed, interval_s, noise_m, matcher
        As for :func:`truck_day` (the seed makes the drive reproducible).

    Returns
    -------
    SimulatedTracks
        ``true_edges`` holds the edges really driven.
    """
    rng = np.random.default_rng(seed)
    device = f"M{seed:05d}"
    node, _, _ = pick_route(matcher, rng, min_m=100.0, max_m=3000.0)
    tl = Timeline(matcher, node, DAY + 8 * 3600)
    while tl.distance < km * 1000.0:
        _, target, _ = pick_route_from(matcher, rng, node=tl.node, min_m=1500.0, max_m=5000.0)
        tl.drive_to(target, rng=rng)
    frame, _, _ = sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng)
    return SimulatedTracks(frame, [], [], [], {device: list(tl.edges)}, interval_s)


def write_inputs(scenarios: list[SimulatedTracks], folder: Path, *, plan: dict | None = None) -> dict[str, Path]:
    """Write simulated trucks as the audit's input files: positions.csv, permits.json, zones.geojson[, plan.json].

    Parameters
    ----------
    scenarios
        Simulated trucks.
    folder
        Where to write (created).
    plan
        A plan.json document to write too.

    Returns
    -------
    dict
        ``tracks``, ``permits``, ``zones`` (and ``plan``) → path.
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"tracks": folder / "positions.csv", "permits": folder / "permits.json", "zones": folder / "zones.geojson"}
    pd.concat([s.positions for s in scenarios], ignore_index=True).to_csv(paths["tracks"], index=False)
    permits = [p.model_dump(mode="json", exclude_none=True) for s in scenarios for p in s.permits]
    paths["permits"].write_text(json.dumps({"permits": permits}, ensure_ascii=False), encoding="utf-8")
    features = [z.model_dump(mode="json") for s in scenarios for z in s.zones]
    paths["zones"].write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), encoding="utf-8"
    )
    if plan is not None:
        paths["plan"] = folder / "plan.json"
        paths["plan"].write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    return paths
