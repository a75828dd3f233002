"""Reporting gaps (行驶中断线): silences while moving, or with a jump across them."""

from __future__ import annotations

from fleet.audit.rules.context import RuleContext, minutes, violation
from fleet.audit.violations import Violation
from fleet.tracks.track import find_gaps


def reporting_gaps(ctx: RuleContext) -> list[Violation]:
    """One violation per reporting gap (``fleet.tracks.track.find_gaps``, jumps after ``gap_jump_min_s``); severe beyond ``gap_high_s``.

    Parameters
    ----------
    ctx
        A whole device track.

    Returns
    -------
    list of Violation
    """
    s, tr = ctx.settings, ctx.track
    out = []
    for gap in find_gaps(tr, settings=ctx.track_settings, jump_min_s=s.gap_jump_min_s):
        sev = "high" if gap.duration_s > s.gap_high_s else "medium"
        out.append(
            violation(
                ctx,
                "reporting_gap",
                sev,
                gap.before,
                gap.after,
                f"行驶中 {minutes(gap.duration_s)} 分钟无定位上报，前后位置相距 {gap.distance_m:.0f} 米。",
                f"No position reported for {minutes(gap.duration_s)} min while moving; the truck reappeared {gap.distance_m:.0f} m away.",
                details={"gap_s": gap.duration_s, "jump_m": round(gap.distance_m, 1)},
            )
        )
    return out
