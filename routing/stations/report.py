"""Outputs of a station plan: CSV tables, GeoJSON of catchments, a PNG map and a printable HTML summary.

Labels are zh-CN with English ("转运站 / transfer station"). The PNG carries English only:
no CJK font is guaranteed on a user's machine and nothing may be downloaded at run time.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from shapely.geometry import MultiPoint, mapping

from routing.stations.catchment_map import draw_map
from routing.stations.plan import StationPlan
from routing.stations.records import CandidateSite, Community, PlanningParams

REASONS = {
    "beyond_radius": "超出所有站点服务半径 / beyond every station's service radius",
    "load_exceeds_classes": "产量超过半径内站点的最大类别 / load exceeds every class offered within the radius",
}
ACTIONS = {"new": "新建 / new", "keep": "保留 / keep", "upgrade": "扩建 / upgrade", "downgrade": "降级 / downgrade"}


def _fmt_yuan(value: float) -> str:
    return f"{value / 10_000:,.1f}"


def write_tables(plan: StationPlan, *, out_dir: Path) -> dict[str, Path]:
    """stations.csv, assignments.csv and unassigned.csv (UTF-8 with BOM so Excel reads Chinese).

    Parameters
    ----------
    plan : StationPlan
        The plan.
    out_dir : Path
        An existing folder.

    Returns
    -------
    dict of str to Path
        The files by kind: ``stations``, ``assignments``, ``unassigned``.
    """
    paths = {
        "stations": out_dir / "stations.csv",
        "assignments": out_dir / "assignments.csv",
        "unassigned": out_dir / "unassigned.csv",
    }
    with open(paths["stations"], "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "site_id",
                "lon",
                "lat",
                "action",
                "class",
                "current_class",
                "capacity_t_per_day",
                "design_load_t_per_day",
                "utilisation",
                "mean_t_per_day",
                "communities",
                "mean_haul_km",
                "max_haul_km",
                "disposal_id",
                "disposal_km",
                "station_cost_yuan",
                "collection_haul_cost_yuan",
                "transfer_haul_cost_yuan",
                "total_cost_yuan",
            ]
        )
        for s in plan.stations:
            w.writerow(
                [
                    s.site_id,
                    f"{s.lon:.6f}",
                    f"{s.lat:.6f}",
                    s.action,
                    s.station_class,
                    s.current_class or "",
                    s.capacity_t_per_day,
                    f"{s.design_load_t_per_day:.2f}",
                    f"{s.utilisation:.3f}",
                    f"{s.mean_t_per_day:.2f}",
                    len(s.community_ids),
                    f"{s.mean_haul_km:.3f}",
                    f"{s.max_haul_km:.3f}",
                    s.disposal_id or "",
                    "" if s.disposal_km is None else f"{s.disposal_km:.3f}",
                    f"{s.station_cost_yuan:.0f}",
                    f"{s.collection_haul_cost_yuan:.0f}",
                    f"{s.transfer_haul_cost_yuan:.0f}",
                    f"{s.total_cost_yuan:.0f}",
                ]
            )
    with open(paths["assignments"], "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["community_id", "site_id", "haul_km"])
        for cid, sid in plan.assignment.items():
            w.writerow([cid, sid, f"{plan.haul_km[cid]:.3f}"])
    with open(paths["unassigned"], "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["community_id", "reason", "nearest_site_id", "nearest_site_km", "design_t_per_day"])
        for u in plan.unassigned:
            w.writerow(
                [
                    u.id,
                    u.reason,
                    u.nearest_site_id or "",
                    "" if u.nearest_site_km is None else f"{u.nearest_site_km:.3f}",
                    f"{u.design_t_per_day:.2f}",
                ]
            )
    return paths


def plan_geojson(plan: StationPlan, *, communities: list[Community], params: PlanningParams) -> dict:
    """Stations, communities, catchment hulls and disposal sites as one WGS-84 FeatureCollection.

    Parameters
    ----------
    plan : StationPlan
        The plan.
    communities : list of Community
        All communities, served or not.
    params : PlanningParams
        Its disposal sites.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection; ``properties.kind`` tells the feature apart.
    """
    where = {c.id: (c.lon, c.lat) for c in communities}
    unassigned = {u.id: u for u in plan.unassigned}
    features = []
    for s in plan.stations:
        points = [(s.lon, s.lat)] + [where[c] for c in s.community_ids]
        hull = MultiPoint(points).convex_hull
        if hull.geom_type != "Polygon":
            hull = hull.buffer(0.0005)  # ~50 m around a one- or two-point catchment
        props = {
            "kind": "catchment",
            "site_id": s.site_id,
            "class": s.station_class,
            "communities": len(s.community_ids),
        }
        features.append({"type": "Feature", "geometry": mapping(hull), "properties": props})
        station_props = {k: v for k, v in asdict(s).items() if k not in ("community_ids", "lon", "lat")}
        station_props.update(
            kind="station",
            utilisation=round(s.utilisation, 4),
            communities=len(s.community_ids),
            total_cost_yuan=s.total_cost_yuan,
        )
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [s.lon, s.lat]},
                "properties": station_props,
            }
        )
    for c in communities:
        props: dict = {
            "kind": "community",
            "id": c.id,
            "site_id": plan.assignment.get(c.id),
            "haul_km": plan.haul_km.get(c.id),
        }
        if c.id in unassigned:
            props["unassigned_reason"] = unassigned[c.id].reason
        features.append(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]}, "properties": props}
        )
    for d in params.disposal_sites:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
                "properties": {"kind": "disposal", "id": d.id},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _overview_rows(plan: StationPlan, params: PlanningParams) -> list[list]:
    """Counts, yearly costs and, when solved, the solver's proven gap."""
    sol = plan.solution
    overview = [
        ["情景 / scenario", plan.scenario.label],
        ["转运站数 / stations", len(plan.stations)],
        ["服务社区 / communities served", len(plan.assignment)],
        ["未分配社区 / unassigned communities", len(plan.unassigned)],
        ["年度总费用（万元）/ yearly cost (10⁴ yuan)", _fmt_yuan(plan.total_cost_yuan)],
        ["  站点建设运营 / stations (build + operate)", _fmt_yuan(plan.station_cost_yuan)],
        ["  收集运输 / collection haul", _fmt_yuan(plan.collection_haul_cost_yuan)],
        ["  转运运输 / transfer haul to disposal", _fmt_yuan(plan.transfer_haul_cost_yuan)],
        ["设计规模合计（吨/日）/ design load (t/d)", f"{sum(s.design_load_t_per_day for s in plan.stations):,.1f}"],
    ]
    if sol is not None:
        overview += [
            ["求解器 / solver", f"OR-Tools MathOpt + {sol.solver}"],
            [
                "已证明最优间隙 / proven optimality gap",
                f"{sol.proven_gap:.3%} (目标 / target {params.relative_gap:.1%})",
            ],
            ["下界（万元）/ dual bound (10⁴ yuan)", _fmt_yuan(sol.dual_bound_yuan)],
            ["求解时间 / solve time", f"{sol.solve_seconds:.1f} s"],
        ]
    return overview


def _stations_table(plan: StationPlan) -> str:
    return _table(
        [
            "站点 / site",
            "方案 / action",
            "类别 / class",
            "设计规模 t/d / capacity",
            "设计负荷 t/d / design load",
            "负荷率 / utilisation",
            "社区数 / communities",
            "平均运距 km / mean haul",
            "最大运距 km / max haul",
            "处置场 / disposal",
            "年费用（万元）/ yearly cost: 站 station · 收集 collection · 转运 transfer",
        ],
        [
            [
                s.site_id,
                ACTIONS[s.action] + (f" ({s.current_class}→{s.station_class})" if s.action == "upgrade" else ""),
                s.station_class,
                f"{s.capacity_t_per_day:,.0f}",
                f"{s.design_load_t_per_day:,.1f}",
                f"{s.utilisation:.0%}",
                len(s.community_ids),
                f"{s.mean_haul_km:.2f}",
                f"{s.max_haul_km:.2f}",
                f"{s.disposal_id} ({s.disposal_km:.1f} km)" if s.disposal_id else "—",
                f"{_fmt_yuan(s.station_cost_yuan)} · {_fmt_yuan(s.collection_haul_cost_yuan)} · "
                f"{_fmt_yuan(s.transfer_haul_cost_yuan)}",
            ]
            for s in plan.stations
        ],
    )


def _unassigned_table(plan: StationPlan) -> str:
    return (
        _table(
            [
                "社区 / community",
                "原因 / reason",
                "最近站点 / nearest site",
                "距离 km / road km",
                "设计负荷 t/d / design load",
            ],
            [
                [
                    u.id,
                    REASONS[u.reason],
                    u.nearest_site_id or "—",
                    "—" if u.nearest_site_km is None else f"{u.nearest_site_km:.2f}",
                    f"{u.design_t_per_day:.1f}",
                ]
                for u in plan.unassigned
            ],
        )
        if plan.unassigned
        else "<p>无 / none</p>"
    )


def _extra_sections(plan: StationPlan, params: PlanningParams, sweep: list[StationPlan] | None) -> str:
    """Notes on disposal costs, unusable and closed sites, and the scenario sweep when there is one."""
    extra = ""
    if not params.disposal_sites:
        extra += (
            "<p><b>未给出处置场，转运运输未计费 / no disposal sites given: the transfer haul is not costed.</b></p>"
        )
    if plan.unusable_sites:
        extra += "<h2>不可用候选站点 / Unusable candidate sites</h2>" + _table(
            ["站点 / site", "原因 / reason"], [[k, v] for k, v in plan.unusable_sites.items()]
        )
    if plan.closed_existing:
        extra += f"<p>关闭的现有站点 / existing stations closed: {html.escape(', '.join(plan.closed_existing))}</p>"
    if sweep:
        extra += "<h2>情景分析 / Scenario sweep</h2>" + _table(
            [
                "q kg/人·日 / q",
                "规划年 / years ahead",
                "站数 / stations",
                "类别 / classes",
                "年费用（万元）/ yearly cost",
                "未分配 / unassigned",
                "间隙 / proven gap",
            ],
            [
                [
                    f"{p.scenario.q_kg_per_person_day:g}",
                    p.scenario.years_ahead,
                    len(p.stations),
                    " ".join(f"{k}×{n}" for k, n in _class_counts(p).items()),
                    _fmt_yuan(p.total_cost_yuan),
                    len(p.unassigned),
                    f"{p.solution.proven_gap:.2%}" if p.solution else "—",
                ]
                for p in sweep
            ],
        )
    return extra


def _settings_table(params: PlanningParams) -> str:
    return _table(
        ["参数 / setting", "值 / value"],
        [
            ["人均产量 q / waste per person (kg/day)", params.q_kg_per_person_day],
            ["高峰系数 δ / peak factor", params.peak_factor],
            ["服务半径（道路距离）/ service radius (road km)", params.service_radius_km],
            ["收集运费 / collection haul (yuan per t·km)", params.haul_cost_yuan_per_tkm],
            ["转运运费 / transfer haul (yuan per t·km)", params.transfer_cost_yuan_per_tkm],
            ["最小站距 / minimum spacing (m)", params.min_spacing_m if params.min_spacing_m else "—"],
            ["年增长率 / growth per year", f"{params.growth_rate_per_year:.1%}"],
            [
                "类别 / classes (t/d, land m²)",
                "; ".join(
                    f"{c.name}: {c.min_t_per_day:g}–{c.max_t_per_day:g} t/d, ≥{c.min_land_area_m2:g} m²"
                    for c in params.classes
                ),
            ],
        ],
    )


def _map_image(map_png: Path | None) -> str:
    image = ""
    if map_png is not None and map_png.exists():
        encoded = base64.b64encode(map_png.read_bytes()).decode("ascii")
        image = f'<img alt="catchment map" src="data:image/png;base64,{encoded}">'
    return image


def summary_html(
    plan: StationPlan,
    *,
    params: PlanningParams,
    map_png: Path | None,
    sweep: list[StationPlan] | None = None,
    title: str = "转运站规划 / Transfer-station plan",
) -> str:
    """A self-contained printable page (map embedded) in zh-CN with English.

    Parameters
    ----------
    plan : StationPlan
        The plan.
    params : PlanningParams
        The settings, listed on the page.
    map_png : Path or None
        The map to embed.
    sweep : list of StationPlan, optional
        Plans of the other scenarios, compared on the page.
    title : str
        Page title.

    Returns
    -------
    str
        The HTML text.
    """
    overview = _overview_rows(plan, params)
    stations = _stations_table(plan)
    unassigned = _unassigned_table(plan)
    extra = _extra_sections(plan, params, sweep)
    settings = _settings_table(params)
    image = _map_image(map_png)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }}
th, td {{ border: 1px solid #999; padding: 3px 6px; text-align: left; }}
th {{ background: #eee; }}
img {{ max-width: 100%; }}
@media print {{ body {{ margin: 0.5cm; }} h2 {{ page-break-after: avoid; }} table {{ page-break-inside: auto; }} }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>设计规模按 CJJ/T 47-2016：Q = δ·n·q/1000（吨/日）；运距为道路网最快路径距离。/ Design capacity per
CJJ/T 47-2016, Q = δ·n·q/1000 t/d; distances are road distances along the fastest path.
道路数据 © OpenStreetMap contributors (ODbL).</p>
<h2>概览 / Overview</h2>{_table(["项目 / item", "值 / value"], overview)}
<h2>转运站 / Stations</h2>{stations}
<h2>未分配社区 / Unassigned communities</h2>{unassigned}
{extra}
<h2>服务范围图 / Catchment map</h2>{image}
<h2>参数 / Settings</h2>{settings}
</body></html>
"""


def _class_counts(plan: StationPlan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for s in plan.stations:
        counts[s.station_class] = counts.get(s.station_class, 0) + 1
    return counts


def write_report(
    plan: StationPlan,
    *,
    out_dir: Path,
    communities: list[Community],
    sites: list[CandidateSite],
    params: PlanningParams,
    sweep: list[StationPlan] | None = None,
    roads_lonlat: list[np.ndarray] | None = None,
) -> dict[str, Path]:
    """Every output file of one plan in ``out_dir``; returns their paths by kind.

    Parameters
    ----------
    plan : StationPlan
        The plan.
    out_dir : Path
        Output folder; created if missing.
    communities : list of Community
        All communities.
    sites : list of CandidateSite
        All candidate sites.
    params : PlanningParams
        The settings.
    sweep : list of StationPlan, optional
        Scenario sweep plans; adds ``sweep.csv``.
    roads_lonlat : list of numpy.ndarray, optional
        Road lines for the map.

    Returns
    -------
    dict of str to Path
        ``stations``, ``assignments``, ``unassigned``, ``geojson``, ``map``, ``html`` and ``sweep`` when given.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_tables(plan, out_dir=out_dir)
    paths["geojson"] = out_dir / "plan.geojson"
    paths["geojson"].write_text(
        json.dumps(plan_geojson(plan, communities=communities, params=params), ensure_ascii=False), encoding="utf-8"
    )
    paths["map"] = draw_map(
        plan,
        communities=communities,
        sites=sites,
        params=params,
        path=out_dir / "catchments.png",
        roads_lonlat=roads_lonlat,
    )
    if sweep:
        paths["sweep"] = out_dir / "sweep.csv"
        with open(paths["sweep"], "w", newline="", encoding="utf-8-sig") as f:
            w = csv.writer(f)
            w.writerow(
                [
                    "q_kg_per_person_day",
                    "years_ahead",
                    "stations",
                    "classes",
                    "total_cost_yuan",
                    "station_cost_yuan",
                    "collection_haul_cost_yuan",
                    "transfer_haul_cost_yuan",
                    "unassigned",
                    "proven_gap",
                ]
            )
            for p in sweep:
                w.writerow(
                    [
                        p.scenario.q_kg_per_person_day,
                        p.scenario.years_ahead,
                        len(p.stations),
                        " ".join(f"{k}x{n}" for k, n in _class_counts(p).items()),
                        f"{p.total_cost_yuan:.0f}",
                        f"{p.station_cost_yuan:.0f}",
                        f"{p.collection_haul_cost_yuan:.0f}",
                        f"{p.transfer_haul_cost_yuan:.0f}",
                        len(p.unassigned),
                        f"{p.solution.proven_gap:.5f}" if p.solution else "",
                    ]
                )
    paths["html"] = out_dir / "summary.html"
    paths["html"].write_text(summary_html(plan, params=params, map_png=paths["map"], sweep=sweep), encoding="utf-8")
    return paths
