"""Permitted hours (非核准时段运输): moving loaded outside the permit's daily windows."""

from __future__ import annotations

from fleet.audit.rules.context import RuleContext, in_windows, minutes, moving_episodes, violation
from fleet.audit.violations import Violation


def outside_hours(ctx: RuleContext) -> list[Violation]:
    """Loaded movement outside the permit's time windows for at least ``hours_min_s``.

    Parameters
    ----------
    ctx
        One permit's share of a truck's track (nothing without a permit or without windows).

    Returns
    -------
    list of Violation
    """
    p, s = ctx.permit, ctx.settings
    if p is None or not p.permit.time_windows:
        return []
    outside = ctx.loaded & ~in_windows(ctx.track.t, p.permit.time_windows)
    windows = ", ".join(f"{w.start:%H:%M}–{w.end:%H:%M}" for w in p.permit.time_windows)
    return [
        violation(
            ctx,
            "outside_hours",
            "medium",
            a,
            b,
            f"在核准时段（{windows}）之外载重行驶 {minutes(dur)} 分钟。",
            f"Moved loaded for {minutes(dur)} min outside the permitted hours ({windows}).",
            details={"permitted_hours": windows},
        )
        for a, b, dur in moving_episodes(ctx, outside, s.hours_min_s)
    ]
