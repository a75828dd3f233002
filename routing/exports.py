"""What a plan is handed over as: plan.json, GeoJSON, per-truck route sheets, a map PNG.

Road geometry for every leg comes from the network (``routing.matrix.road_path`` between
the snapped places), so drawn routes follow real streets. Route sheets are UTF-8 CSV (with
a byte-order mark so spreadsheet programs on Chinese Windows open them correctly) with
bilingual headers a driver can use: sequence, times, site name and address, stream,
expected kg.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

from routing.model import STREAM_LABELS_ZH
from routing.plan import Plan
from routing.problem import Problem

KIND_ZH = {"depot": "车场 depot", "site": "收集点 site", "facility": "卸料 unload", "break": "午休 break"}
SHEET_HEADER = [
    "序号 seq",
    "类型 kind",
    "到达 arrival",
    "开始 start",
    "离开 departure",
    "编号 id",
    "名称 name",
    "地址 address",
    "品类 stream",
    "预计重量(kg) expected_kg",
    "车上重量(kg) load_kg",
    "卸下重量(kg) unloaded_kg",
    "经度 lon",
    "纬度 lat",
]


class LegGeometry:
    """Road geometry of legs between snapped places, computed once per pair."""

    def __init__(self, network, snapped) -> None:
        self.network = network
        self.points = {p.id: p for p in snapped}
        self._cache: dict[tuple[str, str], object] = {}

    def path(self, a: str, b: str):
        from routing.matrix import road_path

        key = (a, b)
        if key not in self._cache:
            self._cache[key] = road_path(self.network, origin=self.points[a], destination=self.points[b])
        return self._cache[key]

    def route_paths(self, route) -> list:
        places = [s.id for s in route.stops if s.kind != "break"]
        return [self.path(a, b) for a, b in zip(places, places[1:]) if a != b]


def write_geojson(plan: Plan, problem: Problem, legs: LegGeometry, path: Path) -> None:
    """Routes as road-following LineStrings, stops as Points (WGS-84)."""
    features = []
    for route in plan.routes:
        coords: list = []
        for leg in legs.route_paths(route):
            part = [list(c) for c in leg.geometry.coords]
            coords.extend(part if not coords else part[1:])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {
                    "vehicle_id": route.vehicle_id,
                    "distance_km": round(route.distance_m / 1000.0, 3),
                    "start": problem.at(route.start).isoformat(),
                    "end": problem.at(route.end).isoformat(),
                    "sites": sum(1 for s in route.stops if s.kind == "site"),
                },
            }
        )
        for seq, stop in enumerate(route.stops):
            if stop.node is None:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [float(problem.lon[stop.node]), float(problem.lat[stop.node])]},
                    "properties": {
                        "vehicle_id": route.vehicle_id,
                        "seq": seq,
                        "kind": stop.kind,
                        "id": stop.id,
                        "arrival": problem.at(stop.arrival).isoformat(),
                        "load_kg": round(sum(stop.load_kg.values()), 1),
                    },
                }
            )
    doc = {"type": "FeatureCollection", "features": features}
    Path(path).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def write_route_sheets(plan: Plan, problem: Problem, folder: Path) -> list[Path]:
    """One CSV per truck: ``route_<vehicle>.csv``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sites = {s.id: s for s in problem.sites}
    facilities = {f.id: f for f in problem.facilities}
    depots = {d.id: d for d in problem.depots}
    written = []
    for route in plan.routes:
        out = folder / f"route_{route.vehicle_id}.csv"
        with out.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(SHEET_HEADER)
            for seq, stop in enumerate(route.stops):
                site = sites.get(stop.id) if stop.kind == "site" else None
                name = site.name if site else facilities[stop.id].name if stop.kind == "facility" else depots[stop.id].name if stop.kind == "depot" else "午休 / meal break"
                writer.writerow(
                    [
                        seq,
                        KIND_ZH[stop.kind],
                        problem.at(stop.arrival).strftime("%H:%M"),
                        problem.at(stop.start).strftime("%H:%M"),
                        problem.at(stop.departure).strftime("%H:%M"),
                        stop.id,
                        name,
                        site.address if site else "",
                        f"{STREAM_LABELS_ZH[site.stream]} {site.stream}" if site else "",
                        round(site.demand_kg, 1) if site else "",
                        round(sum(stop.load_kg.values()), 1),
                        round(sum(stop.unloaded_kg.values()), 1) if stop.unloaded_kg else "",
                        round(float(problem.lon[stop.node]), 6) if stop.node is not None else "",
                        round(float(problem.lat[stop.node]), 6) if stop.node is not None else "",
                    ]
                )
        written.append(out)
    return written


CJK_FONT_GLOBS = ("/usr/share/fonts/**/wqy-*.tt[cf]", "/usr/share/fonts/**/NotoSansCJK*.tt[cf]", "/usr/share/fonts/**/*CJK*.otf")


def _use_chinese_font(matplotlib) -> None:
    """Register a system CJK font if one exists (the labels are bilingual either way)."""
    import glob

    from matplotlib import font_manager

    for pattern in CJK_FONT_GLOBS:
        for path in sorted(glob.glob(pattern, recursive=True)):
            font_manager.fontManager.addfont(path)
            name = font_manager.FontProperties(fname=path).get_name()
            matplotlib.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
            return


def write_map_png(plan: Plan, problem: Problem, legs: LegGeometry, path: Path, *, title: str = "") -> None:
    """All routes over the road network (UTM metres), depot, facilities and sites."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.collections import LineCollection
    import shapely

    _use_chinese_font(matplotlib)
    network = legs.network
    fig, ax = plt.subplots(figsize=(12, 12), dpi=110)
    def lines(geometries) -> list:
        xy, index = shapely.get_coordinates(np.asarray(geometries), return_index=True)
        return np.split(xy, np.flatnonzero(np.diff(index)) + 1) if len(xy) else []

    ax.add_collection(LineCollection(lines(network.edge_geometry), colors="#cccccc", linewidths=0.4, zorder=1))
    cmap = plt.get_cmap("tab20")
    for k, route in enumerate(plan.routes):
        paths = [leg.geometry_xy for leg in legs.route_paths(route)]
        ax.add_collection(LineCollection(lines(paths), colors=[cmap(k % 20)], linewidths=1.3, alpha=0.85, zorder=2))
    ax.autoscale_view()
    site_pts = np.array([[legs.points[s.id].x, legs.points[s.id].y] for s in problem.sites])
    ax.scatter(site_pts[:, 0], site_pts[:, 1], s=4, color="#333333", zorder=3, label="收集点 sites")
    for f in problem.facilities:
        p = legs.points[f.id]
        ax.scatter([p.x], [p.y], marker="s", s=90, color="#d62728", edgecolor="black", zorder=4)
        ax.annotate(f.name or f.id, (p.x, p.y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    for d in problem.depots:
        p = legs.points[d.id]
        ax.scatter([p.x], [p.y], marker="*", s=220, color="#ffbf00", edgecolor="black", zorder=5)
        ax.annotate(d.name or d.id, (p.x, p.y), fontsize=8, xytext=(4, -10), textcoords="offset points")
    kpi = plan.kpi
    ax.set_title(
        title
        or f"{problem.name}: {kpi.get('vehicles_used', 0)} 车 trucks, {kpi.get('distance_km', 0):.0f} km, 清运率 clearance {kpi.get('clearance_rate', 0) * 100:.1f} %"
    )
    ax.set_aspect("equal")
    ax.set_axis_off()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing CJK glyphs on machines without a Chinese font
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def write_all(plan: Plan, problem: Problem, *, network, snapped, out: Path) -> dict[str, Path]:
    """plan.json, routes.geojson, route sheets and map.png in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    legs = LegGeometry(network, snapped)
    files = {"plan": out / "plan.json", "geojson": out / "routes.geojson", "map": out / "map.png"}
    plan.write_json(files["plan"], problem)
    write_geojson(plan, problem, legs, files["geojson"])
    files["sheets"] = out / "route_sheets"
    write_route_sheets(plan, problem, files["sheets"])
    write_map_png(plan, problem, legs, files["map"])
    return files
