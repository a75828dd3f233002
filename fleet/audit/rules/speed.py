"""Speed (超速): over the permit's speed limit (or the default) for long enough."""

from __future__ import annotations

import numpy as np

from fleet.audit.rules.context import RuleContext, minutes, runs, violation
from fleet.audit.violations import Violation


def speeding(ctx: RuleContext, limit_kmh: np.ndarray) -> list[Violation]:
    """Runs over the limit lasting at least ``speeding_min_s``; severity by the peak's ratio to the limit.

    Parameters
    ----------
    ctx
        A whole device track.
    limit_kmh
        The speed limit in force at each fix.

    Returns
    -------
    list of Violation
    """
    s, tr = ctx.settings, ctx.track
    over = tr.speed_kmh > limit_kmh
    out = []
    for a, b in runs(over, tr.t, s.merge_gap_s):
        dur = tr.t[b] - tr.t[a]
        if dur < s.speeding_min_s:
            continue
        peak = a + int(np.argmax(tr.speed_kmh[a : b + 1]))
        ratio = tr.speed_kmh[peak] / limit_kmh[peak]
        sev = "high" if ratio >= s.speeding_high_ratio else "medium" if ratio >= s.speeding_medium_ratio else "low"
        out.append(
            violation(
                ctx,
                "speeding",
                sev,
                a,
                b,
                f"超速 {minutes(dur)} 分钟，最高 {tr.speed_kmh[peak]:.0f} km/h（限速 {limit_kmh[peak]:.0f} km/h）。",
                f"Over the limit for {minutes(dur)} min, peak {tr.speed_kmh[peak]:.0f} km/h (limit {limit_kmh[peak]:.0f} km/h).",
                at=peak,
                details={"peak_kmh": round(float(tr.speed_kmh[peak]), 1), "limit_kmh": float(limit_kmh[peak])},
            )
        )
    return out
