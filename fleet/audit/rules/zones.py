"""Restricted zones (闯禁区): debounced entries into a zone during its schedule."""

from __future__ import annotations

import numpy as np
import shapely

from fleet.audit.geometry import Zone, points
from fleet.audit.rules.context import RuleContext, in_windows, minutes, runs, violation
from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.violations import Violation
from fleet.tracks.track import Track


def zone_entries(track: Track, zone: Zone, *, settings: ComplianceSettings) -> list[tuple[int, int]]:
    """Debounced entries into a zone during its schedule, as (first, last) fix indices.

    Hysteresis: an entry starts only ``zone_margin_m`` deep inside, ends only that far
    outside, needs ``zone_enter_min_fixes`` deep fixes, and re-entries within
    ``zone_rejoin_s`` join the previous entry — a road along the edge gives one entry, not a storm.

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
    minx, miny, maxx, maxy = zone.polygon.bounds
    close = (x >= minx - m) & (x <= maxx + m) & (y >= miny - m) & (y <= maxy + m)
    if not close.any():
        return []
    depth = np.full(len(t), -np.inf)
    idx = np.flatnonzero(close)
    inside = shapely.contains_xy(zone.polygon, x[idx], y[idx])
    dist = shapely.distance(zone.polygon.boundary, points(x[idx], y[idx]))
    depth[idx] = np.where(inside, dist, -dist)
    depth[~in_windows(t, zone.schedule)] = -np.inf
    # hysteresis state: in after a deep fix, out after a fix clearly outside
    event = np.where(depth >= m, 1, np.where(depth <= -m, 0, -1))
    last_event = np.where(event >= 0, np.arange(len(t)), -1)
    np.maximum.accumulate(last_event, out=last_event)
    state = np.where(last_event >= 0, event[np.maximum(last_event, 0)], 0) == 1
    episodes: list[list[int]] = []
    for a, b in runs(state, t, 0.0):
        inside_idx = np.flatnonzero(depth[a : b + 1] > 0) + a
        b = int(inside_idx[-1])
        while a > 0 and depth[a - 1] > 0:  # the entry began at the boundary crossing
            a -= 1
        if episodes and t[a] - t[episodes[-1][1]] <= settings.zone_rejoin_s:
            episodes[-1][1] = b
        else:
            episodes.append([a, b])
    return [(a, b) for a, b in episodes if np.count_nonzero(depth[a : b + 1] >= m) >= settings.zone_enter_min_fixes]


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
    for zone in zones:
        if zone.kind != "restricted":
            continue
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
