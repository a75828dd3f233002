"""The catchment map of a station plan (PNG): communities coloured by their station, stations sized by class.

Labels are Chinese with English beside when the machine has a CJK font, English otherwise
(:mod:`routing.network.mapdraw`); a scale bar gives the distances.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from shapely.geometry import MultiPoint

from routing.network.mapdraw import add_scale_bar, label, use_cjk_font
from routing.stations.plan import StationPlan
from routing.stations.records import CandidateSite, Community, PlanningParams


def _draw_catchments(ax, plan: StationPlan, *, where: dict, cmap) -> None:
    """Each station as a square sized by class, its communities as dots inside a shaded hull, one colour each."""
    size = {"V": 40, "IV": 70, "III": 110, "II": 160, "I": 220}
    for i, s in enumerate(plan.stations):
        colour = cmap(i % 20)
        pts = np.array([where[c] for c in s.community_ids]) if s.community_ids else np.empty((0, 2))
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=6, color=colour, zorder=3)
            hull = MultiPoint([(s.lon, s.lat), *map(tuple, pts)]).convex_hull
            if hull.geom_type == "Polygon":
                hx, hy = hull.exterior.xy
                ax.fill(hx, hy, color=colour, alpha=0.15, zorder=2)
        ax.scatter(
            [s.lon],
            [s.lat],
            marker="s",
            s=size.get(s.station_class, 80),
            color=colour,
            edgecolors="black",
            linewidths=0.8,
            zorder=5,
        )
        ax.annotate(
            f"{s.site_id} ({s.station_class})",
            (s.lon, s.lat),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
            zorder=6,
        )


def _draw_markers(ax, plan: StationPlan, *, sites: list, params: PlanningParams, where: dict, cjk: bool) -> list:
    """Candidates not chosen (hollow), unassigned communities (x) and disposal sites (triangle); returns the unused."""
    unused = [site for site in sites if site.id not in {s.site_id for s in plan.stations}]
    if unused:
        ax.scatter(
            [u.lon for u in unused],
            [u.lat for u in unused],
            marker="s",
            s=20,
            facecolors="none",
            edgecolors="grey",
            linewidths=0.6,
            zorder=4,
            label=label("未选中的候选站址", "candidate not chosen", cjk=cjk),
        )
    if plan.unassigned:
        ax.scatter(
            [where[u.id][0] for u in plan.unassigned],
            [where[u.id][1] for u in plan.unassigned],
            marker="x",
            s=30,
            color="red",
            zorder=6,
            label=label("未分配的小区", "unassigned community", cjk=cjk),
        )
    if params.disposal_sites:
        ax.scatter(
            [d.lon for d in params.disposal_sites],
            [d.lat for d in params.disposal_sites],
            marker="^",
            s=120,
            color="black",
            zorder=6,
            label=label("处置场", "disposal site", cjk=cjk),
        )
    return unused


def draw_map(
    plan: StationPlan,
    *,
    communities: list[Community],
    sites: list[CandidateSite],
    params: PlanningParams,
    path: Path,
    roads_lonlat: list[np.ndarray] | None = None,
) -> Path:
    """PNG of the catchments: communities coloured by station, stations sized by class.

    Parameters
    ----------
    plan : StationPlan
        The plan.
    communities : list of Community
        All communities.
    sites : list of CandidateSite
        All candidates; those not chosen are drawn hollow.
    params : PlanningParams
        Its disposal sites.
    path : Path
        The PNG file.
    roads_lonlat : list of numpy.ndarray, optional
        Road lines (lon, lat) drawn underneath.

    Returns
    -------
    Path
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    cjk = use_cjk_font()
    fig, ax = plt.subplots(figsize=(10, 10), dpi=110)
    if roads_lonlat:
        ax.add_collection(LineCollection(roads_lonlat, colors="#d0d0d0", linewidths=0.4, zorder=1))
    where = {c.id: (c.lon, c.lat) for c in communities}
    _draw_catchments(ax, plan, where=where, cmap=plt.get_cmap("tab20"))
    unused = _draw_markers(ax, plan, sites=sites, params=params, where=where, cjk=cjk)
    lats = [c.lat for c in communities] + [s.lat for s in sites]
    ax.set_aspect(1.0 / np.cos(np.radians(np.mean(lats))))
    ax.autoscale_view()
    ax.set_xlabel(label("经度", "longitude (WGS-84)", cjk=cjk))
    ax.set_ylabel(label("纬度", "latitude (WGS-84)", cjk=cjk))
    gap = plan.solution.proven_gap if plan.solution else 0.0
    zh = (
        f"转运站服务范围: {len(plan.stations)} 座转运站, 服务 {len(plan.assignment)} 个小区, "
        f"未分配 {len(plan.unassigned)} 个; 年成本 {plan.total_cost_yuan / 1e4:,.0f} 万元\n"
    )
    ax.set_title(
        (zh if cjk else "") + f"Transfer-station catchments: {len(plan.stations)} stations, "
        f"{len(plan.assignment)} communities served, {len(plan.unassigned)} unassigned\n"
        f"q={plan.scenario.q_kg_per_person_day:g} kg/person/day, +{plan.scenario.years_ahead} years; "
        f"yearly cost {plan.total_cost_yuan / 1e6:,.2f} M yuan (proven gap {gap:.2%})",
        fontsize=9,
    )
    ax.text(
        0.99,
        0.01,
        "Road data © OpenStreetMap contributors (ODbL)",
        transform=ax.transAxes,
        fontsize=6,
        color="grey",
        ha="right",
    )
    if unused or plan.unassigned or params.disposal_sites:
        ax.legend(loc="upper right", fontsize=7)
    add_scale_bar(ax, metres_per_unit=111_320.0 * float(np.cos(np.radians(np.mean(lats)))))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
