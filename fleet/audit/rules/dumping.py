"""Stops and unloading (疑似偷倒): loaded stops and load drops away from every approved site."""

from __future__ import annotations

import numpy as np

from fleet.audit.rules.context import RuleContext, minutes, violation
from fleet.audit.violations import Violation
from fleet.tracks.track import find_stops


def suspected_dumping(ctx: RuleContext, at_site: np.ndarray, trip_last: set[int]) -> list[Violation]:
    """Loaded stops of at least ``dumping_min_stop_s`` away from sites, and loaded→empty changes away from sites.

    A stop followed within ``unload_window_s`` by a load drop is severe; a loaded stop alone is
    moderate (to be checked); a stop that ends a trip is the trip rule's business.

    Parameters
    ----------
    ctx
        One permit's share of a truck's track (or its unpermitted share).
    at_site
        Per fix: at a registered or permitted site.
    trip_last
        Indices of the last fix of each trip.

    Returns
    -------
    list of Violation
    """
    s, tr = ctx.settings, ctx.track
    out = []
    drops = np.flatnonzero((tr.load[:-1] == 1) & (tr.load[1:] == 0)) + 1 if tr.has_load else np.array([], dtype=int)
    used_drops: set[int] = set()
    trip_ends = sorted(trip_last)
    for stop in find_stops(tr, settings=ctx.track_settings, min_s=s.dumping_min_stop_s):
        ends_trip = any(stop.first <= e <= stop.last for e in trip_ends) or stop.last >= len(tr) - 1
        if ends_trip or not ctx.loaded[stop.first] or at_site[stop.first : stop.last + 1].mean() > 0.5:
            continue
        horizon = tr.t[stop.last] + s.unload_window_s
        unload = [int(d) for d in drops if stop.first < d and tr.t[d] <= horizon]
        used_drops.update(unload)
        dur = stop.duration_s
        if unload:
            zh = f"载重在核准场地外停留 {minutes(dur)} 分钟，期间载重状态由重车变为空车：疑似偷倒。"
            en = f"Stopped loaded for {minutes(dur)} min outside approved sites and the load state went from loaded to empty: suspected dumping."
        else:
            zh = f"载重在核准场地外停留 {minutes(dur)} 分钟（≥ {minutes(s.dumping_min_stop_s)} 分钟）：疑似偷倒，需核查。"
            en = f"Stopped loaded for {minutes(dur)} min (≥ {minutes(s.dumping_min_stop_s)} min) outside approved sites: possible dumping, to be checked."
        out.append(
            violation(
                ctx,
                "suspected_dumping",
                "high" if unload else "medium",
                stop.first,
                stop.last,
                zh,
                en,
                at=(stop.first + stop.last) // 2,
                details={"stop_s": round(dur, 1), "unloaded": "yes" if unload else "no"},
            )
        )
    for d in drops:
        if int(d) in used_drops or at_site[d] or at_site[d - 1]:
            continue
        out.append(
            violation(
                ctx,
                "suspected_dumping",
                "high",
                int(d) - 1,
                int(d),
                "载重状态在核准场地外由重车变为空车：疑似偷倒。",
                "The load state went from loaded to empty outside approved sites: suspected dumping.",
                at=int(d),
                details={"unloaded": "yes"},
            )
        )
    return out
