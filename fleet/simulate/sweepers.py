"""A simulated sweeper shift over required kerbs, with known truth, for the sweeping audit's tests.

The sweeper sweeps its kerbs nearest first, each in its direction of travel at the sweeping speed
with the brushes on (JT/T 808 status bit ``work_status_bit`` and a ``work`` column), and drives
between them at road speed with the brushes off. Some kerbs it skips, some it sweeps too fast;
the terminal adds GPS noise and falls silent for a few reporting gaps. The truth says which kerbs
were really swept and the true mechanised-sweeping rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleet.simulate.timeline import Timeline, sample
from fleet.simulate.tracks import DAY, SimulatedTracks
from fleet.tracks.matching import MapMatcher
from routing.sweeping.scope import Kerb

DEADHEAD_KMH = (20.0, 30.0)
"""Between kerbs the sweeper drives at road speed kept within this range (km/h): a slow vehicle, clearly outside
the working band."""


@dataclass
class SweeperTruth:
    """What the simulated sweeper really did."""

    swept: dict[str, int]  # kerb id → passes at working speed
    skipped: list[str]  # kerb ids never swept
    too_fast: list[str]  # kerb ids swept with the brushes on but too fast
    rate: float  # true served kerb-km ÷ required kerb-km (× services per shift)
    gaps: list[tuple[float, float]]  # reporting gaps (Unix seconds)


def _drive(tl: Timeline, edges: list[int], *, kmh: float | None, rng: np.random.Generator) -> None:
    """Append ``edges`` to the timeline at ``kmh`` (±5 %), or at road speed within ``DEADHEAD_KMH``."""
    net = tl.matcher.network
    for e in edges:
        length = float(net.edge_length_m[e])
        road = length / max(float(net.edge_time_s[e]), 1e-6) * 3.6
        speed = kmh * rng.uniform(0.95, 1.05) if kmh else float(np.clip(road * rng.uniform(0.8, 1.0), *DEADHEAD_KMH))
        tl.t += length / (speed / 3.6)
        tl.times.append(tl.t)
        tl.dists.append(tl.distance + length)
        tl.edges.append(e)
        tl.node = int(net.edge_v[e])


def _shift(
    kerbs: list[Kerb], *, matcher: MapMatcher, rng: np.random.Generator, skip: set[str], fast: set[str], kmh: tuple
) -> tuple[Timeline, list[tuple[float, float, bool]]]:
    """Sweep every kerb not skipped (as often as its frequency), nearest first; the brushes-on intervals (too fast?)."""
    net = matcher.network
    todo = [k for k in kerbs if k.kerb_id not in skip for _ in range(k.frequency if k.kerb_id not in fast else 1)]
    start = int(net.edge_u[todo[0].edge])
    tl = Timeline(matcher, start, DAY + 5 * 3600)
    brushes = []
    while todo:
        dist = matcher.distances_from(tl.node, limit_m=20000.0)
        k = min(range(len(todo)), key=lambda i: dist[int(net.edge_u[todo[i].edge])])
        kerb = todo.pop(k)
        _drive(tl, matcher.shortest_edges(tl.node, int(net.edge_u[kerb.edge])), kmh=None, rng=rng)
        t0 = tl.t
        _drive(tl, [kerb.edge], kmh=kmh[1] if kerb.kerb_id in fast else kmh[0], rng=rng)
        brushes.append((t0, tl.t, kerb.kerb_id in fast))
    tl.dwell(60.0)
    return tl, brushes


def _sweeping_runs(brushes: list[tuple[float, float, bool]], *, gap_s: float) -> list[tuple[float, float]]:
    """Start times of a gap that falls wholly while sweeping at working speed (consecutive kerbs joined)."""
    runs: list[list[float]] = []
    for t0, t1, fast in brushes:
        if fast:
            runs.append([t1, t1])  # a kerb swept too fast ends the run: a gap must not hide it
        elif runs and t0 - runs[-1][1] < 1.0:
            runs[-1][1] = t1
        else:
            runs.append([t0, t1])
    margin = 15.0  # a fix on either side of the gap still reports the brushes on
    return [(a + margin, b - margin - gap_s) for a, b in runs if b - a > gap_s + 2 * margin]


def simulate_sweeper(
    network: object,
    kerbs: list[Kerb],
    *,
    matcher: MapMatcher,
    seed: int = 0,
    skip: int = 3,
    too_fast: int = 1,
    gaps: int = 3,
    gap_s: float = 90.0,
    interval_s: float = 10.0,
    noise_m: float = 8.0,
    sweep_kmh: float = 8.0,
    fast_kmh: float = 25.0,
    work_status_bit: int = 10,
) -> tuple[SimulatedTracks, SweeperTruth]:
    """One sweeper's shift over ``kerbs``: some skipped, some swept too fast, with noise and reporting gaps.

    Parameters
    ----------
    network
        The ``RoadNetwork`` the kerbs are on.
    kerbs
        The required kerbs (:mod:`routing.sweeping.scope`).
    matcher
        A map matcher over the network (its shortest paths drive the sweeper).
    seed
        Makes the shift reproducible.
    skip, too_fast
        How many kerbs (at least 60 m long, on different edges) are never swept / swept at ``fast_kmh``.
    gaps, gap_s
        Reporting gaps: how many, and how long each (s); each falls while sweeping (a gap that
        hides a whole street between two fixes driving fast cannot be proven swept by anyone).
    interval_s, noise_m
        Reporting interval (s) and GPS noise σ (m).
    sweep_kmh, fast_kmh
        Sweeping speed and the too-fast speed (km/h).
    work_status_bit
        Status-word bit set while the brushes run (also written as a 0/1 ``work`` column).

    Returns
    -------
    tuple
        The positions (columns of the audit's positions CSV plus ``status`` and ``work``) and the truth.
    """
    rng = np.random.default_rng(seed)
    by_edge: dict[int, list[Kerb]] = {}
    for k in kerbs:
        by_edge.setdefault(k.edge, []).append(k)
    long_edges = [e for e, ks in by_edge.items() if ks[0].length_m >= 60.0]
    chosen = rng.choice(long_edges, size=skip + too_fast, replace=False).tolist()
    skip_ids = {k.kerb_id for e in chosen[:skip] for k in by_edge[e]}
    fast_ids = {k.kerb_id for e in chosen[skip:] for k in by_edge[e]}
    tl, brushes = _shift(kerbs, matcher=matcher, rng=rng, skip=skip_ids, fast=fast_ids, kmh=(sweep_kmh, fast_kmh))
    frame, _, t = sample(tl, device=f"S{seed:04d}", interval_s=interval_s, noise_m=noise_m, rng=rng)
    runs = _sweeping_runs(brushes, gap_s=gap_s)
    picks = rng.choice(len(runs), size=min(gaps, len(runs)), replace=False) if runs else []
    windows = sorted((float(s), float(s + gap_s)) for s in (rng.uniform(*runs[p]) for p in picks))
    on = np.zeros(len(t), dtype=bool)
    for t0, t1, _ in brushes:
        on |= (t >= t0) & (t <= t1)
    frame["work"] = on.astype(int)
    frame["status"] = 3 | (on.astype(int) << work_status_bit)  # ACC on, positioned, brushes
    keep = np.ones(len(t), dtype=bool)
    for t0, t1 in windows:
        keep &= (t < t0) | (t > t1)
    frame = frame[keep].reset_index(drop=True)
    swept = {k.kerb_id: 0 if k.kerb_id in skip_ids | fast_ids else k.frequency for k in kerbs}
    required = sum(k.length_m * k.frequency for k in kerbs)
    rate = sum(k.length_m * swept[k.kerb_id] for k in kerbs) / required if required else 0.0
    truth = SweeperTruth(swept, sorted(skip_ids), sorted(fast_ids), rate, windows)
    return SimulatedTracks(frame, [], [], [], {f"S{seed:04d}": list(tl.edges)}, interval_s), truth
