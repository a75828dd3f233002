"""What a street plan is handed over as: plan.json, one route sheet CSV per sweeper, routes.geojson, map.png.

Why these: the dispatcher prints the sheet (zh/en headers, as the collection sheets of
:mod:`routing.planning.exports`), the web map reads the GeoJSON, and the PNG shows at a glance which
kerbs each sweeper brushes (its colour, solid) and where it only drives (dashed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from routing.planning.document import route_colour
from routing.planning.exports import sheet_csv
from routing.sweeping.plan import StreetPlan

SHEET_HEADER = ["序号 seq", "道路 street", "方向 direction", "作业 serve/drive", "开始 start", "结束 end", "公里 km"]
"""Route sheet columns, zh and en."""

ACTIONS = {"serve": "清扫 / serve", "drive": "空驶 / drive", "dump": "卸料 / dump", "refill": "加水 / refill"}
WASH = "冲洗 / wash"
SIDES = {"right": "右侧路沿 / right kerb", "left": "左侧路沿 / left kerb", "": ""}


def sheet_rows(plan: StreetPlan, vehicle_index: int) -> list[list[str]]:
    """One sweeper's route sheet as rows under :data:`SHEET_HEADER` (clock times HH:MM:SS local)."""
    rows = []
    vehicle = plan.vehicles[vehicle_index]
    for row in vehicle.rows:
        direction = " ".join(part for part in (row.direction, SIDES[row.side]) if part)
        rows.append(
            [
                str(row.seq),
                row.street,
                direction,
                WASH if vehicle.kind == "washer" and row.action == "serve" else ACTIONS[row.action],
                row.start[11:19],
                row.end[11:19],
                f"{row.km:.3f}",
            ]
        )
    return rows


def _lonlat(network, edges: list[int]) -> list[list[float]]:
    xy = np.concatenate([np.asarray(network.edge_geometry[e].coords) for e in edges])
    lon, lat = network.to_lonlat(xy[:, 0], xy[:, 1])
    return [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]


def _features(vehicle, *, colour: str, network: object) -> list[dict]:
    """One vehicle's lines: each served kerb its own feature (its edge, with its row's street, side and times),
    each deadhead row one; the map page counts and draws them one by one."""
    features = []
    for row in vehicle.rows:
        if not row.edges:
            continue
        props = row.model_dump(exclude={"edges", "kerbs"})
        props.update(vehicle_id=vehicle.vehicle_id, vehicle_kind=vehicle.kind, colour=colour)
        if row.action != "serve":
            line = {"type": "LineString", "coordinates": _lonlat(network, row.edges)}
            features.append({"type": "Feature", "geometry": line, "properties": {**props, "kind": "deadhead"}})
            continue
        for edge, kerb in zip(row.edges, row.kerbs, strict=True):
            line = {"type": "LineString", "coordinates": _lonlat(network, [edge])}
            km = round(float(network.edge_length_m[edge]) / 1000.0, 3)
            kerb_props = {**props, "kind": "kerb", "kerb_id": kerb, "km": km}
            features.append({"type": "Feature", "geometry": line, "properties": kerb_props})
    return features


def plan_geojson(plan: StreetPlan, network: object) -> dict:
    """The plan as GeoJSON (WGS-84): served kerbs and deadheading per vehicle, depot, stations and water points.

    Parameters
    ----------
    plan : StreetPlan
        The certified plan.
    network : RoadNetwork
        Its road network (edge geometry, projection).

    Returns
    -------
    dict
        A FeatureCollection: ``kind`` kerb (one per kerb served, ``action`` serve, a kerb served twice twice),
        deadhead (one per driven row, ``action`` drive), each with ``vehicle_id``, ``vehicle_kind`` (sweeper |
        washer) and the vehicle's ``colour``; then the depot, stations and water points as Points. The plan's
        ``kpis`` and ``wash_kpis`` are in the collection's properties.
    """
    features = []
    for v, vehicle in enumerate(plan.vehicles):
        features.extend(_features(vehicle, colour=route_colour(v), network=network))
    depot = {"type": "Point", "coordinates": list(plan.depot_lonlat)}
    features.append({"type": "Feature", "geometry": depot, "properties": {"kind": "depot", "node": plan.depot_node}})
    for place in plan.facilities:
        if place.kind != "depot":
            point = {"type": "Point", "coordinates": list(place.lonlat)}
            features.append({"type": "Feature", "geometry": point, "properties": place.model_dump(exclude={"lonlat"})})
    kpis = {"kpis": plan.kpis.model_dump(), "wash_kpis": plan.wash_kpis.model_dump() if plan.wash_kpis else None}
    return {"type": "FeatureCollection", "name": plan.name, "properties": kpis, "features": features}


def write_plan_outputs(plan: StreetPlan, *, network: object, out: Path) -> list[Path]:
    """Write plan.json, ``route_<vehicle>.csv`` (UTF-8 with BOM, for spreadsheet programs), routes.geojson, map.png.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "plan.json", out / "routes.geojson"]
    written[0].write_text(plan.model_dump_json(indent=1), encoding="utf-8")
    written[1].write_text(json.dumps(plan_geojson(plan, network), ensure_ascii=False), encoding="utf-8")
    for v, vehicle in enumerate(plan.vehicles):
        path = out / f"route_{vehicle.vehicle_id}.csv"
        path.write_text(sheet_csv([SHEET_HEADER, *sheet_rows(plan, v)]), encoding="utf-8", newline="")
        written.append(path)
    written.append(draw_plan_map(plan, network=network, path=out / "map.png"))
    return written


def draw_plan_map(plan: StreetPlan, *, network: object, path: Path) -> Path:
    """The plan map: swept kerbs solid in the sweeper's colour, deadheading dashed, depot, legend, scale bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    from routing.network.mapdraw import add_scale_bar, drawable, label, use_cjk_font

    cjk = use_cjk_font()
    fig, ax = plt.subplots(figsize=(10, 10), dpi=110)
    handles = []
    for v, vehicle in enumerate(plan.vehicles):
        colour = route_colour(v)
        for action, style, width in (("drive", (0, (3, 2)), 0.8), ("serve", "-", 2.0)):
            lines = [
                np.asarray(network.edge_geometry[e].coords) for r in vehicle.rows if r.action == action for e in r.edges
            ]
            if lines:
                ax.add_collection(LineCollection(lines, colors=colour, linestyles=style, linewidths=width))
        handles.append(Line2D([], [], color=colour, lw=2, label=f"{vehicle.vehicle_id} ({vehicle.km_served:.1f} km)"))
    handles.append(Line2D([], [], color="grey", lw=2, label=label("清扫", "swept kerb", cjk=cjk)))
    handles.append(Line2D([], [], color="grey", lw=0.8, ls=(0, (3, 2)), label=label("空驶", "deadhead", cjk=cjk)))
    x, y = network.to_xy([plan.depot_lonlat[0]], [plan.depot_lonlat[1]])
    ax.plot(x, y, marker="s", color="black", ms=9, ls="")
    handles.append(Line2D([], [], marker="s", color="black", ls="", label=label("车场", "depot", cjk=cjk)))
    for kind, marker, zh, en in (
        ("station", "^", "转运站", "transfer station"),
        ("water", "o", "取水点", "water point"),
    ):
        places = [p.lonlat for p in plan.facilities if p.kind == kind]
        if places:
            x, y = network.to_xy([p[0] for p in places], [p[1] for p in places])
            ax.plot(x, y, marker=marker, color="black", mfc="white", ms=9, ls="")
            handles.append(
                Line2D([], [], marker=marker, color="black", mfc="white", ls="", label=label(zh, en, cjk=cjk))
            )
    ax.autoscale()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    k = plan.kpis
    ax.set_title(
        drawable(plan.name, cjk=cjk, fallback="sweep")
        + f"\n{k.service_km:.1f} km swept, {k.km_driven:.1f} km driven, deadhead {k.deadhead_ratio:.0%}, "
        f"rate {k.planned_rate:.0%}",
        fontsize=10,
    )
    ax.legend(handles=handles, loc="upper right", fontsize=8, ncol=1 + len(handles) // 30)
    add_scale_bar(ax, metres_per_unit=1.0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
