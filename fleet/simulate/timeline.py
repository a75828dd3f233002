"""A simulated truck's motion: the road routes it picks, its timeline, and the terminal's sampling of it.

A :class:`Timeline` is the distance along the driven road polyline as a function of time; the
truth of every simulated track comes from it (positions, speed, edge, load and ignition at any
time, noise-free), never from the detector. :func:`sample` turns it into the positions a
terminal would report, with GPS noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fleet.tracks.matching import MapMatcher
from routing.localtime import iso_local

TRUCK_KMH = 45.0
"""Top speed of a simulated truck (slower roads are driven at 80–100 % of their speed)."""


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


def pick_route(
    matcher: MapMatcher, rng: np.random.Generator, *, min_m: float, max_m: float
) -> tuple[int, int, list[int]]:
    """A random shortest road route whose length lies in [``min_m``, ``max_m``] (up to 200 random origins).

    Parameters
    ----------
    matcher
        Shortest paths on the road network.
    rng
        Random generator.
    min_m, max_m
        Bounds on the route's road length (metres).

    Returns
    -------
    tuple[int, int, list[int]]
        Origin and destination node indices and the edge indices between them.

    Raises
    ------
    RuntimeError
        No route of the requested length from 200 random origins.
    """
    n = len(matcher.network.node_ids)
    for _ in range(200):
        found = pick_route_from(matcher, rng, node=int(rng.integers(n)), min_m=min_m, max_m=max_m)
        if found is not None:
            return found
    raise RuntimeError("no route of the requested length in this network")


def pick_route_from(
    matcher: MapMatcher, rng: np.random.Generator, *, node: int, min_m: float, max_m: float
) -> tuple[int, int, list[int]] | None:
    """A random shortest road route from ``node`` whose length lies in [``min_m``, ``max_m``].

    Parameters
    ----------
    matcher, rng
        As for :func:`pick_route`.
    node
        Origin node index.
    min_m, max_m
        Bounds on the route's road length (metres).

    Returns
    -------
    tuple[int, int, list[int]] or None
        Origin and destination node indices and the edge indices between them; None when no
        node lies within the bounds.
    """
    dist = matcher.distances_from(node, limit_m=max_m)
    ok = np.flatnonzero((dist >= min_m) & (dist <= max_m))
    if not ok.size:
        return None
    target = int(rng.choice(ok))
    return node, target, matcher.shortest_edges(node, target)


def node_xy(net, node: int) -> tuple[float, float]:
    """Projected position of a node, by index.

    Parameters
    ----------
    net
        The ``RoadNetwork``.
    node
        Node index (into ``net.node_ids``).

    Returns
    -------
    tuple[float, float]
        x, y in metres.
    """
    data = net.graph.nodes[net.node_ids[node]]
    return float(data["x"]), float(data["y"])


def sample(
    timeline: Timeline,
    *,
    device: str,
    interval_s: float,
    noise_m: float,
    rng: np.random.Generator,
    t_end: float | None = None,
    drop: tuple[float, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """The fixes a terminal would report from ``timeline``: regular times, GPS noise, noisy speed.

    Parameters
    ----------
    timeline
        The truck's true motion.
    device
        Device id written in every row.
    interval_s
        Reporting interval (s).
    noise_m
        GPS noise, σ of each coordinate (metres).
    rng
        Random generator.
    t_end
        Last time sampled (Unix seconds); None for the end of the timeline.
    drop
        (start, end) Unix seconds with no fixes (a signal gap); None for none.

    Returns
    -------
    tuple[pandas.DataFrame, dict[str, numpy.ndarray], numpy.ndarray]
        The fixes (device, local ISO time, lon, lat, speed_kmh, heading, load, ignition),
        the noise-free state at each fix and the fix times (Unix seconds).
    """
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
            "time": [iso_local(float(s)) for s in t],
            "lon": np.round(lon, 7),
            "lat": np.round(lat, 7),
            "speed_kmh": np.round(speed, 1),
            "heading": np.round(heading, 0),
            "load": st["load"],
            "ignition": st["ignition"],
        }
    )
    return frame, st, t
