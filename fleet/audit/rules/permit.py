"""The permit itself: loaded without a valid permit (无证运输), and a manifest left open (联单未闭合)."""

from __future__ import annotations

import numpy as np

from fleet.audit.geometry import near
from fleet.audit.rules.context import RuleContext, minutes, moving_episodes, violation
from fleet.audit.violations import Violation


def no_permit(ctx: RuleContext, valid: np.ndarray) -> list[Violation]:
    """Loaded movement while no permit is valid, for at least ``no_permit_min_s``.

    Parameters
    ----------
    ctx
        A whole device track.
    valid
        Per fix: some permit of the device is valid.

    Returns
    -------
    list of Violation
    """
    return [
        violation(
            ctx,
            "no_permit",
            "high",
            a,
            b,
            f"无有效核准证载重行驶 {minutes(dur)} 分钟（未经核准）。",
            f"Moved loaded for {minutes(dur)} min without a valid permit.",
        )
        for a, b, dur in moving_episodes(ctx, ctx.loaded & ~valid, ctx.settings.no_permit_min_s)
    ]


def trip_not_closed(ctx: RuleContext, trips: list[tuple[int, int]]) -> list[Violation]:
    """Trips that left the source site loaded and ended away from every permitted disposal site.

    Parameters
    ----------
    ctx
        One permit's share of a truck's track (nothing without a permit).
    trips
        Trips as (first, last) fix indices (``fleet.tracks.track.find_trips``).

    Returns
    -------
    list of Violation
        A trip the data ends before (still driving, or the engine not switched off, and no
        ``trip_stop_s`` park yet) is not judged: live, a loaded truck at a red light is no alarm.
    """
    p, s, tr = ctx.permit, ctx.settings, ctx.track
    if p is None:
        return []
    at_dest = near(p.destinations, tr.x, tr.y, s.site_margin_m)
    at_source = near(p.source, tr.x, tr.y, s.site_margin_m)
    out = []
    for first, last in trips:
        if not ctx.loaded[last] or at_dest[last] or at_source[last]:
            continue
        if last == len(tr) - 1 and (ctx.moving[last] or tr.ignition[last] != 0):
            continue  # the data ends before the trip does (still driving, or engine not off): not judged yet
        loaded = ctx.loaded[first : last + 1]
        start = last - int(np.argmin(loaded[::-1])) + 1 if not loaded.all() else first
        haul = np.arange(start, last + 1)
        if at_source[haul].all():
            continue
        left = int(haul[np.argmax(~at_source[haul])])
        dur = tr.t[last] - tr.t[left]
        out.append(
            violation(
                ctx,
                "trip_not_closed",
                "medium",
                left,
                last,
                f"载重出场后行程在核准消纳场之外结束（{minutes(dur)} 分钟后），电子联单未闭合。",
                f"Left the site loaded and the trip ended {minutes(dur)} min later away from the permitted disposal site: the manifest is not closed.",
                at=last,
            )
        )
    return out
