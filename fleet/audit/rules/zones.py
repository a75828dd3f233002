"""Restricted zones (闯禁区): debounced entries into a zone during its schedule."""

from __future__ import annotations

import numpy as np
import shapely

from fleet.audit.geometry import Zone, points
from fleet.audit.rules.context import RuleContext, in_windows, minutes, runs, violation
from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.violations import Violation
from fleet.tracks.track import Track


def _deep_paths(track: Track, zone: Zone, active: np.ndarray, *, settings: ComplianceSettings) -> np.ndarray:
    """Indices ``i`` whose straight path to fix ``i + 1`` reaches ``zone_path_depth_m`` inside the zone.

    Only fixes at most ``zone_path_max_s`` apart, both during the schedule, are judged: a truck
    crossing a small zone between two fixes (or with one fix inside) is caught, while GPS noise on
    a road along the edge never puts the straight path that deep.
    """
    x, y, t = track.x, track.y, track.t
    if len(t) < 2:
        return np.array([], dtype=int)
    minx, miny, maxx, maxy = zone.box
    x0, x1, y0, y1 = x[:-1], x[1:], y[:-1], y[1:]
    near_box = (np.minimum(x0, x1) <= maxx) & (np.maximum(x0, x1) >= minx)
    near_box &= (np.minimum(y0, y1) <= maxy) & (np.maximum(y0, y1) >= miny)
    cand = np.flatnonzero(near_box & (np.diff(t) <= settings.zone_path_max_s) & active[:-1] & active[1:])
    if cand.size == 0:
        return cand
    inner = zone.deeper_than(settings.zone_path_depth_m)
    if inner.is_empty:
        return np.array([], dtype=int)
    lines = shapely.linestrings(
        np.stack([np.column_stack([x0[cand], y0[cand]]), np.column_stack([x1[cand], y1[cand]])], axis=1)
    )
    return cand[shapely.intersects(inner, lines)]


def zone_entries(track: Track, zone: Zone, *, settings: ComplianceSettings) -> list[tuple[int, int]]:
    """Debounced entries into a zone during its schedule, as (first, last) fix indices.

    Hysteresis: an entry starts only ``zone_margin_m`` deep inside, ends only that far
    outside, needs ``zone_enter_min_fixes`` deep fixes (or a path between two fixes reaching
    ``zone_path_depth_m`` inside), and re-entries within ``zone_rejoin_s`` join the previous
    entry — a road along the edge gives one entry, not a storm.

    Parameters
    ----------
    track
        One truck's cleaned fixes.
    zone
        The compiled zone.
    settings
        The hysteresis thresholds.

    Returns
    -------
    list of tuple
        Inclusive (first, last) fix indices of each entry.
    """
    x, y, t = track.x, track.y, track.t
    m = settings.zone_margin_m
    minx, miny, maxx, maxy = zone.box
    close = (x >= minx - m) & (x <= maxx + m) & (y >= miny - m) & (y <= maxy + m)
    active = np.ones(len(t), dtype=bool)
    if zone.schedule:  # judged only where it matters: fixes near the zone and the ends of paths across it
        seg = (np.minimum(x[:-1], x[1:]) <= maxx) & (np.maximum(x[:-1], x[1:]) >= minx)
        seg &= (np.minimum(y[:-1], y[1:]) <= maxy) & (np.maximum(y[:-1], y[1:]) >= miny)
        near_path = close.copy()
        near_path[:-1] |= seg
        near_path[1:] |= seg
        judged = np.flatnonzero(near_path)
        active[:] = False
        active[judged] = in_windows(t[judged], zone.schedule)
    paths = _deep_paths(track, zone, active, settings=settings)
    if not close.any() and paths.size == 0:
        return []
    depth = np.full(len(t), -np.inf)
    idx = np.flatnonzero(close)
    inside = shapely.contains_xy(zone.polygon, x[idx], y[idx])
    dist = shapely.distance(zone.polygon.boundary, points(x[idx], y[idx]))
    depth[idx] = np.where(inside, dist, -dist)
    depth[~active] = -np.inf
    # hysteresis state: in after a deep fix, out after a fix clearly outside
    event = np.where(depth >= m, 1, np.where(depth <= -m, 0, -1))
    last_event = np.where(event >= 0, np.arange(len(t)), -1)
    np.maximum.accumulate(last_event, out=last_event)
    state = np.where(last_event >= 0, event[np.maximum(last_event, 0)], 0) == 1
    candidates: list[tuple[int, int]] = []
    for a, b in runs(state, t, 0.0):
        inside_idx = np.flatnonzero(depth[a : b + 1] > 0) + a
        b = int(inside_idx[-1])
        while a > 0 and depth[a - 1] > 0:  # the entry began at the boundary crossing
            a -= 1
        candidates.append((a, b))
    for i in paths.tolist():  # the fixes of the crossing that lie inside, else the two either side
        inner = [k for k in (i, i + 1) if depth[k] > 0]
        candidates.append((inner[0], inner[-1]) if inner else (i, i + 1))
    episodes: list[list[int]] = []
    for a, b in sorted(candidates):
        if episodes and (a <= episodes[-1][1] or t[a] - t[episodes[-1][1]] <= settings.zone_rejoin_s):
            episodes[-1][1] = max(episodes[-1][1], b)
        else:
            episodes.append([a, b])
    deep_path = np.zeros(len(t) + 1, dtype=np.int64)
    deep_path[paths + 1] = 1
    deep_path = np.cumsum(deep_path)  # deep_path[k]: deep paths starting before fix k
    return [
        (a, b)
        for a, b in episodes
        if np.count_nonzero(depth[a : b + 1] >= m) >= settings.zone_enter_min_fixes
        or deep_path[b + 1] - deep_path[max(a - 1, 0)] > 0
    ]


def restricted_zones(ctx: RuleContext, zones: list[Zone]) -> list[Violation]:
    """One violation per debounced entry into each restricted zone during its schedule.

    Parameters
    ----------
    ctx
        A whole device track.
    zones
        Every compiled zone (registered sites are skipped).

    Returns
    -------
    list of Violation
    """
    out = []
    tr = ctx.track
    m = ctx.settings.zone_margin_m
    xmin, xmax, ymin, ymax = tr.x.min(), tr.x.max(), tr.y.min(), tr.y.max()
    for zone in zones:
        minx, miny, maxx, maxy = zone.box
        if zone.kind != "restricted" or minx - m > xmax or maxx + m < xmin or miny - m > ymax or maxy + m < ymin:
            continue  # the zone is nowhere near the track (nor any path between its fixes)
        for a, b in zone_entries(tr, zone, settings=ctx.settings):
            dur = tr.t[b] - tr.t[a]
            label = zone.name or zone.id
            out.append(
                violation(
                    ctx,
                    "restricted_zone",
                    "high",
                    a,
                    b,
                    f"在禁行时段驶入禁区「{label}」，停留 {minutes(dur)} 分钟。",
                    f"Entered restricted zone '{label}' during its schedule and stayed {minutes(dur)} min.",
                    details={"zone_id": zone.id},
                )
            )
    return out
