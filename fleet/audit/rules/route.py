"""Route corridor (偏离核准路线): a loaded truck off its permit's approved route for too long."""

from __future__ import annotations

import numpy as np
import shapely

from fleet.audit.geometry import points
from fleet.audit.rules.context import RuleContext, majority3, minutes, runs, violation
from fleet.audit.violations import Violation


def off_route(ctx: RuleContext, at_site: np.ndarray) -> list[Violation]:
    """Loaded drives outside the approved corridor, away from sites, longer than ``off_route_min_s``.

    Parameters
    ----------
    ctx
        One permit's share of a truck's track (no violation without a permit or a route).
    at_site
        Per fix: at a registered or permitted site (stops there never count as off route).

    Returns
    -------
    list of Violation
        Severity by duration: ``off_route_medium_s`` and ``off_route_high_s``.
    """
    p, s, tr = ctx.permit, ctx.settings, ctx.track
    if p is None or p.route is None:
        return []
    outside = ~p.in_corridor(tr.x, tr.y)
    off = ctx.loaded & ~at_site & majority3(outside)
    out = []
    for a, b in runs(off, tr.t, s.merge_gap_s):
        dur = tr.t[b] - tr.t[a]
        if dur < s.off_route_min_s:
            continue
        sev = "high" if dur > s.off_route_high_s else "medium" if dur > s.off_route_medium_s else "low"
        dist = np.zeros(len(tr))
        dist[a : b + 1] = shapely.distance(p.route, points(tr.x[a : b + 1], tr.y[a : b + 1]))
        far = a + int(np.argmax(dist[a : b + 1]))
        out.append(
            violation(
                ctx,
                "off_route",
                sev,
                a,
                b,
                f"载重行驶偏离核准路线 {minutes(dur)} 分钟，最远偏离 {dist[far]:.0f} 米（走廊 {p.corridor_m:.0f} 米）。",
                f"Drove loaded off the approved route for {minutes(dur)} min, up to {dist[far]:.0f} m away (corridor {p.corridor_m:.0f} m).",
                at=far,
                details={"max_distance_m": round(float(dist[far]), 1), "corridor_m": p.corridor_m},
            )
        )
    return out
