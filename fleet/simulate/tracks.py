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

from fleet.audit.rules import ComplianceSettings, Permit, TimeWindow, ViolationType, ZoneFeature
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import LOCAL_TZ, epoch_s

VIOLATION_TYPES: tuple[str, ...] = get_args(ViolationType)  # every type the rules can raise
DAY = epoch_s(datetime(2026, 11, 21, tzinfo=LOCAL_TZ))
NIGHT_WINDOW = [TimeWindow(start="21:00", end="06:00")]
SITE_RADIUS_M = 120.0
TRUCK_KMH = 45.0


@dataclass
class TruthEvent:
    type: str
    device: str
    start_s: float
    end_s: float


@dataclass
class Scenario:
    positions: pd.DataFrame  # device, time (ISO +08:00), lon, lat, speed_kmh, heading, load, ignition
    permits: list[Permit]
    zones: list[ZoneFeature]
    truth: list[TruthEvent]
    true_edges: dict[str, list[int]]
    interval_s: float


@dataclass
class Timeline:
    """A truck's continuous motion: distance along its driven polyline as a function of time."""

    matcher: MapMatcher
    node: int
    t: float
    times: list[float] = field(default_factory=list)
    dists: list[float] = field(default_factory=list)
    edges: list[int] = field(default_factory=list)
    load: list[tuple[float, int]] = field(default_factory=list)
    ignition: list[tuple[float, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.times.append(self.t)
        self.dists.append(0.0)
        self.load.append((self.t, 0))
        self.ignition.append((self.t, 1))
        self._start_node = self.node

    @property
    def distance(self) -> float:
        return self.dists[-1]

    def drive_to(self, node: int, *, rng: np.random.Generator, speed_kmh: dict[int, float] | None = None) -> list[int]:
        """Drive the shortest road path to ``node``; ``speed_kmh`` overrides the speed on given edges."""
        edges = self.matcher.shortest_edges(self.node, node)
        net = self.matcher.network
        for e in edges:
            length = float(net.edge_length_m[e])
            road_kmh = length / max(float(net.edge_time_s[e]), 1e-6) * 3.6
            kmh = (speed_kmh or {}).get(e) or min(road_kmh, TRUCK_KMH) * rng.uniform(0.8, 1.0)
            self.t += length / (kmh / 3.6)
            self.times.append(self.t)
            self.dists.append(self.distance + length)
            self.edges.append(e)
        self.node = node
        return edges

    def follow(self, edges: list[int], *, rng: np.random.Generator) -> None:
        """Drive a given sequence of edges (must start at the current node)."""
        net = self.matcher.network
        for e in edges:
            length = float(net.edge_length_m[e])
            road_kmh = length / max(float(net.edge_time_s[e]), 1e-6) * 3.6
            self.t += length / (min(road_kmh, TRUCK_KMH) * rng.uniform(0.8, 1.0) / 3.6)
            self.times.append(self.t)
            self.dists.append(self.distance + length)
            self.edges.append(e)
            self.node = int(net.edge_v[e])

    def dwell(self, seconds: float) -> None:
        self.t += seconds
        self.times.append(self.t)
        self.dists.append(self.distance)

    def set_load(self, value: int, at: float | None = None) -> None:
        self.load.append((self.t if at is None else at, value))

    def set_ignition(self, value: int, at: float | None = None) -> None:
        self.ignition.append((self.t if at is None else at, value))

    def polyline(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Concatenated driven geometry: x, y and cumulative distance of each vertex (edge lengths)."""
        net = self.matcher.network
        xs, ys, cum = (
            [np.array([net.graph.nodes[net.node_ids[self._start_node]]["x"]])],
            [np.array([net.graph.nodes[net.node_ids[self._start_node]]["y"]])],
            [np.array([0.0])],
        )
        total = 0.0
        for e in self.edges:
            coords = np.asarray(net.edge_geometry[e].coords)[1:]
            seg = np.hypot(*np.diff(np.vstack([[xs[-1][-1], ys[-1][-1]], coords]), axis=0).T)
            scale = float(net.edge_length_m[e]) / max(float(seg.sum()), 1e-9)
            xs.append(coords[:, 0])
            ys.append(coords[:, 1])
            cum.append(total + np.cumsum(seg) * scale)
            total += float(net.edge_length_m[e])
        return np.concatenate(xs), np.concatenate(ys), np.concatenate(cum)

    def state(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Noise-free position, speed, edge, load and ignition at times ``t``."""
        bt, bd = np.asarray(self.times), np.asarray(self.dists)
        d = np.interp(t, bt, bd)
        k = np.clip(np.searchsorted(bt, t, side="right") - 1, 0, len(bt) - 2)
        speed = (bd[k + 1] - bd[k]) / np.maximum(bt[k + 1] - bt[k], 1e-9) * 3.6
        x, y, cum = self.polyline()
        px, py = np.interp(d, cum, x), np.interp(d, cum, y)
        edge_start = np.concatenate(([0.0], np.cumsum(self.matcher.network.edge_length_m[self.edges])))
        ei = np.clip(np.searchsorted(edge_start, d, side="right") - 1, 0, max(len(self.edges) - 1, 0))
        edge = np.asarray(self.edges)[ei] if self.edges else np.full(len(t), -1)
        return {
            "x": px,
            "y": py,
            "speed": speed,
            "edge": edge,
            "load": _step(self.load, t),
            "ignition": _step(self.ignition, t),
        }


def _step(changes: list[tuple[float, int]], t: np.ndarray) -> np.ndarray:
    ordered = sorted(changes, key=lambda c: c[0])
    times = np.array([c[0] for c in ordered])
    values = np.array([c[1] for c in ordered])
    return values[np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(values) - 1)]


# --- scenario building ---------------------------------------------------------------
def _pick_route(
    matcher: MapMatcher, rng: np.random.Generator, *, min_m: float, max_m: float
) -> tuple[int, int, list[int]]:
    n = len(matcher.network.node_ids)
    for _ in range(200):
        found = _pick_route_from(matcher, rng, node=int(rng.integers(n)), min_m=min_m, max_m=max_m)
        if found is not None:
            return found
    raise RuntimeError("no route of the requested length in this network")


def _pick_route_from(
    matcher: MapMatcher, rng: np.random.Generator, *, node: int, min_m: float, max_m: float
) -> tuple[int, int, list[int]] | None:
    dist = matcher.distances_from(node, limit_m=max_m)
    ok = np.flatnonzero((dist >= min_m) & (dist <= max_m))
    if not ok.size:
        return None
    target = int(rng.choice(ok))
    return node, target, matcher.shortest_edges(node, target)


def _node_xy(net, node: int) -> tuple[float, float]:
    data = net.graph.nodes[net.node_ids[node]]
    return float(data["x"]), float(data["y"])


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
    return shapely.Point(*_node_xy(net, node)).buffer(SITE_RADIUS_M, quad_segs=8)


def _sample(
    timeline: Timeline,
    *,
    device: str,
    interval_s: float,
    noise_m: float,
    rng: np.random.Generator,
    t_end: float | None = None,
    drop: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    start = timeline.times[0]
    end = timeline.t if t_end is None else t_end
    t = start + np.arange(0.0, end - start + 1e-9, interval_s)
    if drop is not None:
        t = t[(t < drop[0]) | (t > drop[1])]
    st = timeline.state(t)
    x = st["x"] + rng.normal(0.0, noise_m, len(t))
    y = st["y"] + rng.normal(0.0, noise_m, len(t))
    lon, lat = timeline.matcher.network.to_lonlat(x, y)
    speed = np.where(
        st["speed"] > 0.5,
        np.maximum(st["speed"] + rng.normal(0.0, 1.0, len(t)), 0.0),
        np.abs(rng.normal(0, 0.3, len(t))),
    )
    heading = (
        np.degrees(np.arctan2(np.gradient(st["x"]), np.gradient(st["y"]))) % 360 if len(t) > 1 else np.zeros(len(t))
    )
    frame = pd.DataFrame(
        {
            "device": device,
            "time": pd.to_datetime(t, unit="s", utc=True)
            .tz_convert("Asia/Shanghai")
            .strftime("%Y-%m-%dT%H:%M:%S+08:00"),
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "speed_kmh": np.round(speed, 1),
            "heading": np.round(heading, 0),
            "load": st["load"],
            "ignition": st["ignition"],
        }
    )
    return frame, st, t


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
    matcher: MapMatcher | None = None,
    settings: ComplianceSettings | None = None,
    zone: str = "crossing",
) -> Scenario:
    """One loaded haul from a construction site to its disposal site, with at most one injected violation.

    ``violation`` is one of ``VIOLATION_TYPES`` or None (compliant). ``zone`` shapes the
    restricted zone of a ``restricted_zone`` haul: "crossing" (the route crosses it) or
    "edge" (the route runs along its edge, inside by a few metres — the alarm-storm case).
    ``artefacts`` adds duplicates, late blind-area batches, invalid fixes and jumps.
    """
    if violation not in (None, *VIOLATION_TYPES):
        raise ValueError(f"unknown violation type {violation!r}; use one of {', '.join(VIOLATION_TYPES)}")
    settings = settings or ComplianceSettings()
    matcher = matcher or MapMatcher(network)
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
            settings=settings,
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


def _haul(
    network, *, violation, seed, rng, interval_s, noise_m, artefacts, matcher, settings, zone
) -> tuple[Scenario, bool]:
    net = network
    device = f"T{seed:04d}"
    clean = True
    min_m = 6000.0 if violation == "speeding" else 3000.0
    s_node, d_node, route = _pick_route(matcher, rng, min_m=min_m, max_m=min_m + 4000.0)
    route_len = np.cumsum(net.edge_length_m[route])
    route_line = shapely.linestrings(np.vstack([np.asarray(net.edge_geometry[e].coords) for e in route]))
    source, dest = _site(net, s_node), _site(net, d_node)
    start = DAY + (13 * 3600 if violation == "outside_hours" else 21.5 * 3600)

    tl = Timeline(matcher, s_node, start)
    tl.dwell(480.0)
    tl.set_load(1)
    tl.dwell(120.0)
    depart = tl.t
    truth: list[TruthEvent] = []
    mid = route[int(np.searchsorted(route_len, route_len[-1] * 0.5))]
    mid_node = int(net.edge_v[mid])
    ends_at_destination = True

    if violation == "off_route":
        x_node = int(net.edge_v[route[int(np.searchsorted(route_len, route_len[-1] * 0.3))]])
        xs = np.array([net.graph.nodes[n]["x"] for n in net.node_ids])
        ys = np.array([net.graph.nodes[n]["y"] for n in net.node_ids])
        xx, xy_ = _node_xy(net, x_node)
        far = shapely.distance(route_line, shapely.points(xs, ys))
        gap = np.hypot(xs - xx, ys - xy_)
        choices = np.flatnonzero((far > 400) & (gap > 800) & (gap < 1500))
        tl.drive_to(x_node, rng=rng)
        tl.drive_to(int(rng.choice(choices)), rng=rng)
        tl.drive_to(d_node, rng=rng)
    elif violation == "speeding":
        i0 = int(np.searchsorted(route_len, route_len[-1] * 0.3))
        i1 = int(np.searchsorted(route_len, route_len[i0] + 2200.0))
        fast = {e: 80.0 for e in route[i0 + 1 : i1 + 1]}
        tl.drive_to(d_node, rng=rng, speed_kmh=fast)
    elif violation in ("suspected_dumping", "trip_not_closed"):
        tl.drive_to(mid_node, rng=rng)
        arrive = tl.t
        if violation == "suspected_dumping":
            tl.dwell(150.0)
            tl.set_load(0)
            tl.dwell(150.0)
            truth.append(TruthEvent(violation, device, arrive, tl.t))
            tl.drive_to(d_node, rng=rng)
        else:
            tl.dwell(60.0)
            tl.set_ignition(0)
            tl.dwell(2400.0)
            ends_at_destination = False
    else:
        tl.drive_to(d_node, rng=rng)
    if ends_at_destination:
        arrive_dest = tl.t
        tl.dwell(360.0)
        tl.set_load(0)
        tl.dwell(240.0)
        tl.set_ignition(0)
        tl.dwell(60.0)

    drop = None
    if violation == "reporting_gap":
        g0 = depart + (arrive_dest - depart) * 0.4
        drop = (g0, g0 + 480.0)
    frame, _, t = _sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng, drop=drop)

    # --- truth from the noise-free timeline ---------------------------------------
    fine_t = np.arange(tl.times[0], tl.t, 1.0)
    fine = tl.state(fine_t)
    moving = fine["speed"] > 1.0
    loaded = fine["load"] == 1
    zones: list[ZoneFeature] = []
    if violation == "off_route":
        pts = shapely.points(fine["x"], fine["y"])
        at_site = (shapely.distance(source, pts) <= settings.site_margin_m) | (
            shapely.distance(dest, pts) <= settings.site_margin_m
        )
        away = shapely.distance(route_line, pts)
        off = (away > settings.corridor_m) & loaded & ~at_site
        truth += [
            TruthEvent(violation, device, a, b)
            for a, b in _runs_1s(off, fine_t, settings.merge_gap_s, settings.off_route_min_s)
        ]
        clean = len(truth) == 1 and _crisp(
            away, fine_t, truth, threshold=settings.corridor_m, band=20.0, interval_s=interval_s
        )
    elif violation == "speeding":
        truth += [
            TruthEvent(violation, device, a, b)
            for a, b in _runs_1s(
                fine["speed"] > settings.default_speed_limit_kmh, fine_t, settings.merge_gap_s, settings.speeding_min_s
            )
        ]
    elif violation == "restricted_zone":
        polygon = _zone_polygon(net, route, route_len, kind=zone)
        inside = shapely.contains_xy(polygon, fine["x"], fine["y"])
        truth += [TruthEvent(violation, device, a, b) for a, b in _runs_1s(inside, fine_t, settings.zone_rejoin_s, 0.0)]
        if zone == "crossing":
            depth = shapely.distance(polygon.boundary, shapely.points(fine["x"], fine["y"])) * np.where(
                inside, 1.0, -1.0
            )
            clean = len(truth) == 1 and _crisp(
                depth, fine_t, truth, threshold=0.0, band=settings.zone_margin_m, interval_s=interval_s
            )
        zones.append(_zone_feature(net, polygon, zone_id=f"Z{seed}", kind="restricted", schedule=[]))
    elif violation in ("outside_hours", "no_permit"):
        truth += [
            TruthEvent(violation, device, a, b) for a, b in _runs_1s(loaded & moving, fine_t, settings.merge_gap_s, 0.0)
        ]
    elif violation == "trip_not_closed":
        pts = shapely.points(fine["x"], fine["y"])
        outside = shapely.distance(source, pts) > settings.site_margin_m
        left = float(fine_t[np.argmax(outside)])
        truth.append(TruthEvent(violation, device, left, arrive))
    elif violation == "reporting_gap":
        before = float(t[t < drop[0]][-1])
        after = float(t[t > drop[1]][0])
        truth.append(TruthEvent(violation, device, before, after))

    # a compliant decoy: a restricted zone on the route but outside its schedule
    if violation is None:
        polygon = _zone_polygon(net, route, route_len, kind="crossing")
        zones.append(
            _zone_feature(
                net,
                polygon,
                zone_id=f"Z{seed}-day",
                kind="restricted",
                schedule=[TimeWindow(start="07:00", end="20:00")],
            )
        )

    permits = []
    if violation == "no_permit":
        for k, site in enumerate((source, dest)):
            zones.append(_zone_feature(net, site, zone_id=f"S{seed}-{k}", kind="approved_site", schedule=[]))
    else:
        permits.append(
            Permit(
                permit_id=f"P{seed:04d}",
                device=device,
                company=f"C{seed % 3}",
                valid_from=datetime.fromtimestamp(DAY - 86400, tz=LOCAL_TZ),
                valid_until=datetime.fromtimestamp(DAY + 2 * 86400, tz=LOCAL_TZ),
                source_site=_polygon_lonlat(net, source),
                destination_sites=[_polygon_lonlat(net, dest)],
                route=_line_lonlat(net, route),
                time_windows=NIGHT_WINDOW,
            )
        )
    if artefacts:
        frame = add_artefacts(frame, rng=rng)
    return Scenario(frame, permits, zones, truth, {device: list(tl.edges)}, interval_s), clean


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
    """Terminal artefacts: 5 % duplicates, three blind-area batches uploaded last, invalid fixes, one jump."""
    n = len(frame)
    rows = frame.copy()
    dup = rows.iloc[rng.choice(n, size=max(1, n // 20), replace=False)]
    bad = rows.iloc[rng.choice(n, size=3, replace=False)].copy()
    bad[["lon", "lat"]] = 0.0
    jump = rows.iloc[[n // 3]].copy()
    jump["time"] = pd.to_datetime(jump["time"]) + pd.Timedelta(seconds=1)
    jump["time"] = jump["time"].dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
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
    matcher: MapMatcher | None = None,
) -> Scenario:
    """24 hours of a permitted truck shuttling between its site and disposal site (8,640 fixes at 10 s)."""
    matcher = matcher or MapMatcher(network)
    net = network
    rng = np.random.default_rng(seed)
    device = f"D{seed:05d}"
    s_node, d_node, route = _pick_route(matcher, rng, min_m=4000.0, max_m=9000.0)
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
    frame, _, _ = _sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng, t_end=end - interval_s)
    permit = Permit(
        permit_id=f"P{device}",
        device=device,
        company=f"C{seed % 7}",
        valid_from=datetime.fromtimestamp(DAY - 86400, tz=LOCAL_TZ),
        valid_until=datetime.fromtimestamp(DAY + 2 * 86400, tz=LOCAL_TZ),
        source_site=_polygon_lonlat(net, source),
        destination_sites=[_polygon_lonlat(net, dest)],
        route=_line_lonlat(net, route),
    )
    return Scenario(frame, [permit], [], [], {device: list(tl.edges)}, interval_s)


def simulate_drive(
    network: object,
    *,
    seed: int = 0,
    km: float = 30.0,
    interval_s: float = 10.0,
    noise_m: float = 10.0,
    matcher: MapMatcher | None = None,
) -> Scenario:
    """A truck driving a chain of random shortest-path trips of ``km`` in total (for map-matching accuracy)."""
    matcher = matcher or MapMatcher(network)
    rng = np.random.default_rng(seed)
    device = f"M{seed:05d}"
    node, _, _ = _pick_route(matcher, rng, min_m=100.0, max_m=3000.0)
    tl = Timeline(matcher, node, DAY + 8 * 3600)
    while tl.distance < km * 1000.0:
        _, target, _ = _pick_route_from(matcher, rng, node=tl.node, min_m=1500.0, max_m=5000.0)
        tl.drive_to(target, rng=rng)
    frame, _, _ = _sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng)
    return Scenario(frame, [], [], [], {device: list(tl.edges)}, interval_s)


def simulate_collection(
    network: object,
    *,
    seed: int = 0,
    stops: int = 8,
    skip: tuple[int, ...] = (),
    interval_s: float = 10.0,
    noise_m: float = 10.0,
    matcher: MapMatcher | None = None,
) -> tuple[Scenario, dict]:
    """A kitchen-waste truck's round and its ``plan.json``: depot → stops → facility → depot.

    The truck follows the plan's own road paths; at stops listed in ``skip`` (0-based) it drives
    past without stopping, so they are the ones a coverage audit must report missed.
    """
    from routing.network.matrix import road_path

    matcher = matcher or MapMatcher(network)
    net = network
    rng = np.random.default_rng(seed)
    device = f"K{seed:04d}"
    node, _, _ = _pick_route(matcher, rng, min_m=100.0, max_m=2000.0)
    chain = [node]
    while len(chain) < stops + 2:
        found = _pick_route_from(matcher, rng, node=chain[-1], min_m=400.0, max_m=1500.0)
        if found is not None and found[1] not in chain:
            chain.append(found[1])
    chain.append(node)  # back to the depot
    kinds = ["depot"] + ["site"] * stops + ["facility", "depot"]
    lon, lat = net.to_lonlat(*np.array([_node_xy(net, n) for n in chain]).T)
    snapped = net.snap(ids=[str(i) for i in range(len(chain))], lon=lon, lat=lat)
    tl = Timeline(matcher, node, DAY + 6 * 3600)
    plan_stops = []
    load = 0.0
    iso = lambda t: datetime.fromtimestamp(t, tz=LOCAL_TZ).isoformat()  # noqa: E731
    for k, kind in enumerate(kinds):
        arrival = tl.t
        if k > 0:
            path = road_path(net, origin=snapped[k - 1], destination=snapped[k])
            idx = [net.node_index(n) for n in path.nodes] or [tl.node]
            edges = (
                matcher.shortest_edges(tl.node, idx[0])
                + matcher.edges_along(idx)
                + matcher.shortest_edges(idx[-1], chain[k])
            )
            tl.follow(edges, rng=rng)
            arrival = tl.t
        demand = float(rng.uniform(100.0, 300.0)) if kind == "site" else 0.0
        unloaded = 0.0
        if kind == "site" and (k - 1) not in skip:
            tl.dwell(45.0)
        if kind == "site":
            load += demand
        if kind == "facility":
            tl.dwell(900.0)
            unloaded, load = load, 0.0
        plan_stops.append(
            {
                "kind": kind,
                "id": f"{kind}-{k}",
                "lon": round(float(lon[k]), 7),
                "lat": round(float(lat[k]), 7),
                "arrival": iso(arrival),
                "start": iso(arrival),
                "departure": iso(tl.t),
                "load_kg": {"kitchen": round(load, 3)},
                "unloaded_kg": {"kitchen": round(unloaded, 3)},
            }
        )
    tl.dwell(60.0)
    frame, _, _ = _sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng)
    plan = {
        "scenario": f"sim-{seed}",
        "objective": {},
        "kpi": {"clearance_rate": 1.0},
        "routes": [{"vehicle_id": device, "stops": plan_stops}],
        "unserved": [],
    }
    return Scenario(frame, [], [], [], {device: list(tl.edges)}, interval_s), plan


def write_inputs(scenarios: list[Scenario], folder: Path, *, plan: dict | None = None) -> dict[str, Path]:
    """Write the simulated trucks as the audit's input files: positions.csv, permits.json, zones.geojson[, plan.json]."""
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
