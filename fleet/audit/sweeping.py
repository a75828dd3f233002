"""Audit of street sweeping from sweeper tracks: which kerbs were swept at working speed, the achieved rate.

Each sweeper's track is map-matched; every traversal of the matched path is judged working or not
from the fixes on it (a work signal from the JT/T 808 status word or a positions column filled from
an IO / additional item, chosen by ``work_signal``; without one the working-speed band), and the
edges the matcher filled in between two fixes (a reporting gap) from the speed implied between them.
The kerbs are then judged by :func:`fleet.audit.coverage.street_passes`, the street-coverage rule the
collection-truck audit uses, with direction (a kerb counts only when driven its own way) and by road:
along its middle a kerb is passed only by a traversal of its own edge, at its junction ends by any
(a carriageway or slip road 8 m beside it is another kerb). The achieved mechanised-sweeping rate
(机械化清扫率) is served kerb-km ÷ required kerb-km, each kerb weighted by its services per shift.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from pydantic import BaseModel, Field

from fleet.audit.coverage import street_passes
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import Track
from routing.sweeping.scope import Kerb, class_label
from routing.sweeping.settings import SweepingSettings

HEADING_KAPPA = 2.0
"""Weight of the reported heading when a sweeper's track is matched (von Mises κ): a fix put on the opposite
carriageway of a dual carriageway scores 2κ = 4 lower, as much as a fix 42 m off its road (σ 15 m), so each
kerb is credited on the side the sweeper really drove."""

LEAVE_SCOPE_COST = 2.5
"""Log-odds against a sweeper working off the streets in scope (about 12 : 1), charged by the matcher once where
it starts to (brushes on, or a turn off them): a slip road 5–10 m beside a street in scope is otherwise a coin toss
under 8 m noise, while fixes on the slip road for its length (10 m off the street) still outweigh it."""

BACKTRACK_SIGMAS = 2.0
"""A sweeper's fix may fall this many σ of two fixes' noise (σ√2) behind the last one on the same edge and be
noise, not a loop round the block (σ of the matcher's settings: 2 × 15 × √2 ≈ 42 m)."""

STATUS_LABELS = {
    "served": "已清扫 / swept",
    "partial": "清扫次数不足 / swept too few times",
    "too_fast": "车速过快 / driven too fast",
    "missed": "漏扫 / missed",
}


class KerbAudit(BaseModel):
    kerb_id: str
    edge: int
    name: str
    highway: str
    side: str
    length_m: float
    frequency: int
    passes: int = Field(description="passes at working speed over the kerb's direction")
    fast_passes: int = Field(description="passes faster than the working band (not counted)")
    status: str = Field(description="served | partial | too_fast | missed")
    status_label: str


class StreetAudit(BaseModel):
    street: str
    highway: str
    label: str
    kerbs: int
    required_km: float = Field(description="kerb-km × services per shift")
    served_km: float
    status: str = Field(description="served, or the worst of its kerbs: missed > too_fast > partial")
    status_label: str


class SweepAudit(BaseModel):
    vehicles: list[str]
    required_kerb_km: float
    served_kerb_km: float
    achieved_rate: float = Field(description="机械化清扫率: served ÷ required kerb-km (0–1)")
    kerb_coverage: float = Field(description="share of kerbs fully served")
    kerbs: list[KerbAudit]
    streets: list[StreetAudit]
    streets_missed: list[str]
    streets_too_fast: list[str]


def fix_work(track: Track, *, positions: pd.DataFrame, settings: SweepingSettings) -> np.ndarray:
    """Whether each fix of ``track`` reports working, from the signal the settings choose (speed band without one).

    Parameters
    ----------
    track
        One cleaned track.
    positions
        The typed positions (:func:`fleet.tracks.track.read_positions`: ``device``, ``t``, ``status``)
        with the ``work_column`` joined when ``work_signal`` is ``column``.
    settings
        The signal and the working-speed band.
    """
    speed = track.speed_kmh
    not_fast = speed <= settings.working_max_kmh
    if settings.work_signal == "speed":
        return not_fast & (speed >= settings.working_min_kmh)
    column = "status" if settings.work_signal == "status_bit" else settings.work_column
    value = fix_column(track, positions=positions, column=column)
    value = np.where(np.isnan(value), 0, value).astype(np.int64)
    on = ((value >> settings.work_status_bit) & 1) == 1 if settings.work_signal == "status_bit" else value != 0
    return on & not_fast


def fix_column(track: Track, *, positions: pd.DataFrame, column: str) -> np.ndarray:
    """The positions' ``column`` at each fix of ``track`` as floats (NaN where absent): cleaning keeps no extras."""
    rows = positions[positions["device"] == track.device].sort_values("t")
    t = rows["t"].to_numpy(dtype=float)
    if column not in rows or not len(t):
        return np.full(len(track), np.nan)
    raw = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
    at = np.clip(np.searchsorted(t, track.t), 0, len(t) - 1)
    return np.where(t[at] == track.t, raw[at], np.nan)


def _align(path: list[int], fix_edge: np.ndarray) -> np.ndarray:
    """Position in the matched path of each fix (-1 unmatched): path order follows fix order."""
    where = np.full(len(fix_edge), -1, dtype=np.int64)
    p = 0
    for i, e in enumerate(fix_edge.tolist()):
        if e < 0:
            continue
        j = p
        while j < len(path) and path[j] != e:
            j += 1
        if j < len(path):
            where[i] = p = j
    return where


def _split_stretch(
    lo: float,
    hi: float,
    *,
    dt: float,
    speeds: tuple[float, float],
    work: tuple[bool, bool],
    gap: bool,
    settings: SweepingSettings,
) -> list[tuple[float, float, bool, bool]]:
    """The path between two fixes (distances ``lo`` → ``hi``) as (from, to, swept, too fast) intervals.

    Where one fix works and the other does not, the vehicle is taken to keep each fix's speed and
    switch once, t₁ after the first fix (from the distance and the time between them, within the
    interval). The swept part is the working fix's speed × its time, laid from the working fix, even
    past the other fix: that one belongs to a run at road speed (80 m a fix, a median of few fixes),
    and its position is the worse of the two; the working speed bounds what can have been swept.
    Across a reporting gap two working fixes count only when the implied speed is in the working
    band; between fixes one interval apart the path may be up to two kerb buffers longer (noise),
    never a matcher's jump across a block.
    """
    dist = hi - lo
    kmh = dist / max(dt, 1.0) * 3.6
    fast_fix = [v > settings.working_max_kmh for v in speeds]
    if work[0] == work[1]:
        # between fixes a reporting interval apart the matched path may run a little longer than the
        # working speed allows (noise on the distances); far longer is a matcher's jump, never swept
        slack = 0.0 if gap else 2.0 * settings.kerb_buffer_m
        ok = work[0] and dist <= max(dt, 1.0) * settings.working_max_kmh / 3.6 + slack
        fast = not ok and (any(fast_fix) or (gap and kmh > settings.working_max_kmh))
        return [(lo, hi, ok, fast)]
    v0, v1 = speeds[0] / 3.6, speeds[1] / 3.6
    t1 = min(max((dist - v1 * dt) / (v0 - v1) if abs(v0 - v1) > 1e-6 else dt / 2, 0.0), dt)
    if work[0]:
        cut = lo + v0 * t1
        return [(lo, cut, True, False), (cut, hi, False, fast_fix[1])]
    cut = hi - v1 * (dt - t1)
    return [(lo, cut, False, fast_fix[0]), (cut, hi, True, False)]


def _shares(starts: np.ndarray, lo: float, hi: float) -> dict[int, float]:
    """Metres of each path position (edges starting at ``starts``) between distances ``lo`` and ``hi``."""
    if hi <= lo:
        return {}
    last_pos = len(starts) - 2
    first = int(np.clip(np.searchsorted(starts, lo, side="right") - 1, 0, last_pos))
    last = int(np.clip(np.searchsorted(starts, hi, side="left") - 1, first, last_pos))
    share = {p: min(hi, starts[p + 1]) - max(lo, starts[p]) for p in range(first, last + 1)}
    return {p: m for p, m in share.items() if m > 0}


def _fix_distances(
    track: Track, fixes: np.ndarray, *, path_start: np.ndarray, offset: np.ndarray, window: int, breaks: np.ndarray
) -> np.ndarray:
    """Distance along the matched path of each matched fix, smoothed with the reported speeds.

    Matched offsets carry the GPS noise (metres either way on a 30 m street); the reported speeds
    integrate to a smooth distance that drifts. Their difference is smoothed by a running median
    and added back, which keeps the path's length and the speeds' shape; distances never go back.
    The median never spans a break (``breaks``: True before a fix whose interval from the last one
    starts a new run): where the brushes switch, the speed steps (road speed to working speed) and
    the integral over that interval, which assumes a steady change, is off by up to half the step
    times the interval (30 m at 30 → 8 km/h over 10 s); across a reporting gap the matched path may
    differ from the one driven. Smoothed across either, that error moves the switch at a kerb end.
    """
    raw = path_start + offset
    v = track.speed_kmh[fixes] / 3.6
    integral = np.concatenate(([0.0], np.cumsum((v[1:] + v[:-1]) / 2.0 * np.diff(track.t[fixes]))))
    run = np.cumsum(breaks)
    drift = (
        pd.Series(raw - integral)
        .groupby(run)
        .transform(lambda d: d.rolling(window, center=True, min_periods=1).median())
        .to_numpy()
    )
    return np.maximum.accumulate(integral + drift)


def traversal_work(
    track: Track,
    *,
    matcher: MapMatcher,
    work: np.ndarray,
    positions: pd.DataFrame,
    settings: SweepingSettings,
    scope: np.ndarray | None = None,
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The matched path of one track and, per traversal, whether it was swept and whether it was driven too fast.

    The track is matched as a slow vehicle on dense streets: with the reported heading (so a kerb of a
    dual carriageway is not credited on the other carriageway), every fix a few metres on (not every
    other one), twice the candidate edges (slip roads crowd junctions), a prior against turning off
    the streets in ``scope`` (bool per edge) while working (:data:`LEAVE_SCOPE_COST`) and, across a
    reporting silence between working fixes, the road distance expected from the working speed
    rather than the straight line (sweeping round a corner is not the shortcut). Each fix gets a distance
    along the matched path (:func:`_fix_distances`); the path between two consecutive fixes is one
    stretch: swept when both fixes are working (across a reporting gap: either is, and the speed
    implied over the gap is in the working band), too fast when not swept and either fix or the
    implied speed is above the band (:func:`_split_stretch` where the state changes). A traversal is
    swept when swept stretches cover at least half its length and more of it than fast ones.

    Returns
    -------
    tuple
        Path edges in order, ``working`` and ``fast`` (bool per traversal).
    """
    heading = fix_column(track, positions=positions, column="heading")
    matched = matcher.match(
        track,
        heading_deg=np.where(track.speed_kmh >= settings.working_min_kmh, heading, np.nan),
        heading_kappa=HEADING_KAPPA,
        min_move_m=matcher.settings.sigma_m / 2.0,
        max_candidates=2 * matcher.settings.max_candidates,
        scope=scope,
        working=work,
        leave_scope_cost=LEAVE_SCOPE_COST,
        silence_speed_kmh=np.where(work, track.speed_kmh, np.nan),
        backtrack_m=BACKTRACK_SIGMAS * matcher.settings.sigma_m * math.sqrt(2.0),
    )
    path = matched.edges
    net = matcher.network
    lengths = np.asarray(net.edge_length_m)[path] if path else np.zeros(0)  # type: ignore[attr-defined]
    starts = np.concatenate(([0.0], np.cumsum(lengths)))
    work_m, fast_m = np.zeros(len(path)), np.zeros(len(path))
    where = _align(path, matched.fix_edge)
    fixes = np.flatnonzero(where >= 0)
    if len(fixes) < 2:
        return path, work_m > 0, fast_m > 0
    geoms = net.edge_geometry[np.asarray(path)[where[fixes]]]  # type: ignore[attr-defined]
    along = shapely.line_locate_point(geoms, shapely.points(track.x[fixes], track.y[fixes]))
    offset = np.clip(along * lengths[where[fixes]] / np.maximum(shapely.length(geoms), 1e-9), 0, lengths[where[fixes]])
    dt_all = np.diff(track.t[fixes])
    step = float(np.median(dt_all))
    dist = _fix_distances(
        track,
        fixes,
        path_start=starts[where[fixes]],
        offset=offset,
        window=settings.smoothing_fixes,
        breaks=np.concatenate(([False], (work[fixes][1:] != work[fixes][:-1]) | (dt_all > 2.0 * step))),
    )
    for n, (i, k) in enumerate(zip(fixes, fixes[1:])):
        for lo, hi, ok, fast in _split_stretch(
            dist[n],
            dist[n + 1],
            dt=float(dt_all[n]),
            speeds=(float(track.speed_kmh[i]), float(track.speed_kmh[k])),
            work=(bool(work[i]), bool(work[k])),
            gap=dt_all[n] > 2.0 * step,
            settings=settings,
        ):
            for p, metres in _shares(starts, lo, hi).items():
                if ok:
                    work_m[p] += metres
                elif fast:
                    fast_m[p] += metres
    working = (work_m >= 0.5 * lengths) & (work_m >= fast_m)
    return path, working, ~working & (fast_m > work_m)


def _passes(counts: np.ndarray, share: float) -> int:
    """Passes reached on at least ``share`` of the check points."""
    ranked = np.sort(counts)[::-1]
    return int(ranked[max(math.ceil(share * len(ranked)) - 1, 0)]) if len(ranked) else 0


def _road_ids(network: object, edges: list[int]) -> np.ndarray:
    """One id per directed node pair: a kerb is driven by any edge between its two junctions in its direction."""
    e = np.asarray(edges, dtype=np.int64)
    n = len(network.node_ids)  # type: ignore[attr-defined]
    return np.asarray(network.edge_u, dtype=np.int64)[e] * n + np.asarray(network.edge_v, dtype=np.int64)[e]  # type: ignore[attr-defined]


def _kerb_results(
    kerbs: list[Kerb], network: object, driven: dict[str, tuple[list, list, list]], settings: SweepingSettings
) -> list[KerbAudit]:
    by_edge: dict[int, list[Kerb]] = {}
    for kerb in kerbs:
        by_edge.setdefault(kerb.edge, []).append(kerb)
    edges = list(by_edge)
    targets = list(network.edge_geometry[edges])  # type: ignore[attr-defined]
    found = {}
    for kind, (geoms, order, driven_edges) in driven.items():
        counts = street_passes(
            targets,
            driven=np.asarray(geoms, dtype=object),
            buffer_m=settings.kerb_buffer_m,
            sample_m=settings.kerb_sample_m,
            heading_tolerance_deg=settings.heading_tolerance_deg,
            order=np.asarray(order, dtype=np.int64),
            road_ids=(_road_ids(network, edges), _road_ids(network, driven_edges)),
        )
        found[kind] = [_passes(c, settings.served_share) for c in counts]
    out = []
    for j, e in enumerate(edges):
        left, fast_left = found["work"][j], found["fast"][j]
        for kerb in sorted(by_edge[e], key=lambda k: k.side != "right"):
            passes, left = min(left, kerb.frequency), max(left - kerb.frequency, 0)
            fast, fast_left = min(fast_left, kerb.frequency), max(fast_left - kerb.frequency, 0)
            status = "served" if passes >= kerb.frequency else "partial" if passes else "too_fast" if fast else "missed"
            out.append(
                KerbAudit(
                    kerb_id=kerb.kerb_id,
                    edge=kerb.edge,
                    name=kerb.name,
                    highway=kerb.highway,
                    side=kerb.side,
                    length_m=kerb.length_m,
                    frequency=kerb.frequency,
                    passes=passes,
                    fast_passes=fast,
                    status=status,
                    status_label=STATUS_LABELS[status],
                )
            )
    return out


def _streets(results: list[KerbAudit], kerbs: list[Kerb]) -> list[StreetAudit]:
    way = {k.kerb_id: k.way_id for k in kerbs}
    groups: dict[tuple[str, str], list[KerbAudit]] = {}
    for r in results:
        groups.setdefault((r.name or f"way {way[r.kerb_id]}", r.highway), []).append(r)
    rows = []
    for (street, highway), items in sorted(groups.items()):
        statuses = {r.status for r in items}
        status = next((s for s in ("missed", "too_fast", "partial") if s in statuses), "served")
        rows.append(
            StreetAudit(
                street=street,
                highway=highway,
                label=class_label(highway),
                kerbs=len(items),
                required_km=round(sum(r.length_m * r.frequency for r in items) / 1000.0, 3),
                served_km=round(sum(r.length_m * r.passes for r in items) / 1000.0, 3),
                status=status,
                status_label=STATUS_LABELS[status],
            )
        )
    return rows


def sweep_audit(
    kerbs: list[Kerb],
    *,
    network: object,
    tracks: list[Track],
    matcher: MapMatcher,
    positions: pd.DataFrame,
    settings: SweepingSettings,
) -> SweepAudit:
    """Served kerb-km, the achieved sweeping rate and the streets missed or driven too fast.

    Parameters
    ----------
    kerbs
        The kerbs required (:mod:`routing.sweeping.scope`, or a plan's kerbs).
    network, matcher
        The road network the kerbs are on and a map matcher over it.
    tracks
        Cleaned sweeper tracks (all devices count together).
    positions
        The typed positions the tracks came from (for the work signal).
    settings
        Work signal, working-speed band, buffer and the served share.
    """
    driven: dict[str, tuple[list, list, list]] = {"work": ([], [], []), "fast": ([], [], [])}
    scope = np.zeros(len(network.edge_length_m), dtype=bool)  # type: ignore[attr-defined]
    scope[[k.edge for k in kerbs]] = True
    offset = 0
    for track in tracks:
        if len(track) < 2:
            continue
        work = fix_work(track, positions=positions, settings=settings)
        path, working, fast = traversal_work(
            track, matcher=matcher, work=work, positions=positions, settings=settings, scope=scope
        )
        for k, e in enumerate(path):
            kind = "work" if working[k] else "fast" if fast[k] else None
            if kind:
                driven[kind][0].append(network.edge_geometry[e])  # type: ignore[attr-defined]
                driven[kind][1].append(offset + k)
                driven[kind][2].append(e)
        offset += len(path) + 2  # two tracks never join into one pass
    results = _kerb_results(kerbs, network, driven, settings)
    required = sum(r.length_m * r.frequency for r in results) / 1000.0
    served = sum(r.length_m * r.passes for r in results) / 1000.0
    streets = _streets(results, kerbs)
    return SweepAudit(
        vehicles=[t.device for t in tracks],
        required_kerb_km=round(required, 3),
        served_kerb_km=round(served, 3),
        achieved_rate=round(served / required, 4) if required else 0.0,
        kerb_coverage=round(sum(r.status == "served" for r in results) / len(results), 4) if results else 0.0,
        kerbs=results,
        streets=streets,
        streets_missed=[s.street for s in streets if s.status == "missed"],
        streets_too_fast=[s.street for s in streets if s.status == "too_fast"],
    )
