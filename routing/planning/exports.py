"""What a plan is handed over as: plan.json, GeoJSON, per-truck route sheets, kpis.csv, a map and a timeline PNG.

Road geometry for every leg comes from the network (``routing.network.matrix.road_path`` between
the snapped places), so drawn routes follow real streets. :func:`plan_geojson` and
:func:`route_sheet_rows` build the data once for every consumer — the CLI writes it to files,
the service stores it with the plan. Route sheets are UTF-8 CSV (with a byte-order mark so
spreadsheet programs on Chinese Windows open them correctly) with bilingual headers a driver
can use: truck, sequence, local times, site name and address, stream, expected kg.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from routing.network.mapdraw import add_scale_bar, drawable, label, use_cjk_font
from routing.planning.document import PlanDocument
from routing.planning.kpis import KPI_CSV_HEADER, dispatcher_measures, kpi_csv_rows
from routing.planning.plan import Plan
from routing.planning.problem import Problem
from routing.planning.scenario import STREAM_LABELS_ZH
from routing.planning.territory_map import (
    Territories,
    Territory,
    draw_territories,
    legend_text,
    route_territories,
    territory_features,
)
from routing.planning.timed import Route, Stop
from routing.planning.timeline import write_timeline_png

if TYPE_CHECKING:
    from routing.planning.pipeline import PlanOutcome

KIND_LABELS = {
    "depot": "车场 / depot",
    "site": "收集点 / site",
    "facility": "处置设施 / facility",
    "break": "午休 / break",
    "wait": "等待 / waiting",
}
SHEET_HEADER = [
    "车辆 vehicle",
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
        from routing.network.matrix import road_path

        key = (a, b)
        if key not in self._cache:
            self._cache[key] = road_path(self.network, origin=self.points[a], destination=self.points[b])
        return self._cache[key]

    def route_paths(self, route) -> list:
        places = [s.id for s in route.stops if s.kind not in ("break", "wait")]
        return [self.path(a, b) for a, b in zip(places, places[1:]) if a != b]


def _road_line(route: Route, legs: LegGeometry) -> list[list[float]]:
    """The route's legs joined into one line (each leg starts where the previous one ended); 6 decimals ≈ 0.1 m."""
    line: list[list[float]] = []
    for leg in legs.route_paths(route):
        part = [[round(x, 6), round(y, 6)] for x, y in leg.geometry.coords]
        line.extend(part[1:] if line else part)
    return line


def _route_feature(route: Route, problem: Problem, *, legs: LegGeometry, territory: Territory) -> dict:
    """One truck's road path with its territory and totals (the map's route list and a GIS attribute table)."""
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": _road_line(route, legs)},
        "properties": {
            "kind": "route",
            "vehicle_id": route.vehicle_id,
            "colour": territory.colour,
            "territory": territory.id,
            "territory_label": territory.label(),
            "distance_km": round(route.distance_m / 1000.0, 3),
            "duration_h": round((route.end - route.start) / 3600.0, 3),
            "stops": sum(1 for s in route.stops if s.kind == "site"),
            "start": problem.at(route.start).isoformat(),
            "end": problem.at(route.end).isoformat(),
        },
    }


def _stop_features(route: Route, problem: Problem, *, colour: str) -> list[dict]:
    """The route's stops as Points; sites numbered 1..n in visiting order, as the driver sees them."""
    features, number = [], 0
    for seq, stop in enumerate(route.stops):
        if stop.node is None:
            continue
        number += stop.kind == "site"
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [float(problem.lon[stop.node]), float(problem.lat[stop.node])],
                },
                "properties": {
                    "kind": stop.kind,
                    "kind_label": KIND_LABELS[stop.kind],
                    "id": stop.id,
                    "vehicle_id": route.vehicle_id,
                    "colour": colour,
                    "number": number if stop.kind == "site" else None,
                    "seq": seq,
                    "arrival": problem.at(stop.arrival).isoformat(),
                    "departure": problem.at(stop.departure).isoformat(),
                    "load_kg": round(sum(stop.load_kg.values()), 1),
                },
            }
        )
    return features


def plan_geojson(plan: Plan, problem: Problem, *, legs: LegGeometry, grids: Sequence | None = None) -> dict:
    """Territories' service areas as Polygons, routes as road-following LineStrings and numbered stops as Points
    (WGS-84), one colour per territory (:mod:`routing.planning.territory_map`).

    Parameters
    ----------
    plan : Plan
        The checked plan.
    problem : Problem
        Its problem (place names, windows, coordinates).
    legs : LegGeometry
        Road geometry of every leg.
    grids : sequence of routing.planning.scenario.Grid, optional
        The scenario's grids: a route's territory is its grid; without, its truck's own.

    Returns
    -------
    dict
        A GeoJSON FeatureCollection named after the scenario: ``kind`` territory (first, drawn below), route,
        and the stop kinds.
    """
    territories = route_territories(plan, problem, grids=grids)
    features = territory_features(territories, problem, legs.network)
    for route in plan.routes:
        territory = territories.of[route.vehicle_id]
        features.append(_route_feature(route, problem, legs=legs, territory=territory))
        features.extend(_stop_features(route, problem, colour=territory.colour))
    return {"type": "FeatureCollection", "name": plan.scenario, "features": features}


def write_geojson(
    plan: Plan, problem: Problem, legs: LegGeometry, path: Path, *, grids: Sequence | None = None
) -> None:
    """:func:`plan_geojson` as a file.

    Parameters
    ----------
    plan, problem, legs, grids
        As in :func:`plan_geojson`.
    path : Path
        The file to write (UTF-8).
    """
    document = plan_geojson(plan, problem, legs=legs, grids=grids)
    Path(path).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def _place_names(problem: Problem) -> dict[tuple[str, str], str]:
    """Names by (kind, id): depot and facility ids may repeat a site's."""
    names = {("site", s.id): s.name for s in problem.sites}
    names.update({("facility", f.id): f.name for f in problem.facilities})
    names.update({("depot", d.id): d.name for d in problem.depots})
    return names


def _sheet_row(vehicle_id: str, seq: int, stop: Stop, *, problem: Problem, names: dict, sites: dict) -> list[str]:
    """One stop as a driver reads it: local clock times, place, stream, weights, position.

    A break or wait names the place where the truck stands (its name and address); stream and expected weight are
    the service's, so they stay empty there.
    """
    place_kind = stop.at if stop.kind in ("break", "wait") else stop.kind
    place = sites.get(stop.id) if place_kind == "site" else None
    site = place if stop.kind == "site" else None

    def clock(seconds: int) -> str:
        return problem.at(seconds).strftime("%H:%M")

    def coordinate(values) -> str:
        return "" if stop.node is None else str(round(float(values[stop.node]), 6))

    return [
        vehicle_id,
        str(seq),
        KIND_LABELS[stop.kind],
        clock(stop.arrival),
        clock(stop.start),
        clock(stop.departure),
        stop.id,
        names.get((place_kind, stop.id), ""),
        place.address if place else "",
        f"{STREAM_LABELS_ZH[site.stream]} {site.stream}" if site else "",
        str(round(site.demand_kg, 1)) if site else "",
        str(round(sum(stop.load_kg.values()), 1)),
        str(round(sum(stop.unloaded_kg.values()), 1)) if stop.unloaded_kg else "",
        coordinate(problem.lon),
        coordinate(problem.lat),
    ]


def route_sheet_rows(plan: Plan, problem: Problem, *, vehicle_id: str | None = None) -> list[list[str]]:
    """Rows under :data:`SHEET_HEADER`: every stop of every truck, or of ``vehicle_id`` only.

    Parameters
    ----------
    plan : Plan
        The checked plan.
    problem : Problem
        Its problem (place names, clock times).
    vehicle_id : str, optional
        Only this truck's stops.

    Returns
    -------
    list of list of str
        One row per stop in route order.
    """
    names = _place_names(problem)
    sites = {s.id: s for s in problem.sites}
    return [
        _sheet_row(route.vehicle_id, seq, stop, problem=problem, names=names, sites=sites)
        for route in plan.routes
        if vehicle_id is None or route.vehicle_id == vehicle_id
        for seq, stop in enumerate(route.stops)
    ]


def sheet_csv(rows: list[list[str]]) -> str:
    """Rows as CSV text for spreadsheets: byte-order mark first, CRLF line ends."""
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def remove_old_sheets(folder: Path) -> list[Path]:
    """Delete the route sheets an earlier plan left in ``folder``, so a new plan's sheets are never mixed with them.

    Only files this module wrote are removed: ``route_*.csv`` whose first row is :data:`SHEET_HEADER`. Any other
    file (a user's notes, a CSV with other columns) stays.

    Parameters
    ----------
    folder : Path
        The route-sheet folder.

    Returns
    -------
    list of Path
        The files removed.
    """
    header = sheet_csv([SHEET_HEADER]).encode("utf-8")
    removed = []
    for path in sorted(Path(folder).glob("route_*.csv")):
        try:
            with open(path, "rb") as f:
                ours = path.is_file() and f.read(len(header)) == header
        except OSError:
            continue
        if ours:
            path.unlink()
            removed.append(path)
    return removed


def write_route_sheets(plan: Plan, problem: Problem, folder: Path) -> list[Path]:
    """One CSV per truck: ``route_<vehicle>.csv``; an earlier plan's sheets in ``folder`` are removed first.

    Parameters
    ----------
    plan : Plan
        The checked plan.
    problem : Problem
        Its problem.
    folder : Path
        Where the sheets go; created if missing.

    Returns
    -------
    list of Path
        The files written, one per route.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_old_sheets(folder)
    written = []
    for route in plan.routes:
        out = folder / f"route_{route.vehicle_id}.csv"
        rows = route_sheet_rows(plan, problem, vehicle_id=route.vehicle_id)
        out.write_text(sheet_csv([SHEET_HEADER, *rows]), encoding="utf-8", newline="")
        written.append(out)
    return written


LEGEND_ROWS = 30
"""Territories per legend column on the plan map."""


def _draw_routes(ax, plan: Plan, legs: LegGeometry, *, lines, territories: Territories, cjk: bool) -> list:
    """Each route in its territory's colour and style; returns the legend handles, one per territory."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    for route in plan.routes:
        t = territories.of[route.vehicle_id]
        paths = [leg.geometry_xy for leg in legs.route_paths(route)]
        ax.add_collection(
            LineCollection(lines(paths), colors=[t.colour], linestyles=[t.style], linewidths=1.4, alpha=0.9, zorder=2)
        )
    return [
        Line2D([], [], color=t.colour, linestyle=t.style, linewidth=1.8, label=legend_text(t, cjk=cjk))
        for t in territories.items
    ]


def _draw_places(ax, problem: Problem, legs: LegGeometry, *, cjk: bool) -> list:
    """Sites, facilities and depots with their names; returns the legend handles of the three kinds."""
    import numpy as np

    site_pts = np.array([[legs.points[s.id].x, legs.points[s.id].y] for s in problem.sites]).reshape(-1, 2)
    handles = [ax.scatter(site_pts[:, 0], site_pts[:, 1], s=4, color="#333333", zorder=3)]
    for f in problem.facilities:
        p = legs.points[f.id]
        mark = ax.scatter([p.x], [p.y], marker="s", s=90, color="#d62728", edgecolor="black", zorder=4)
        name = drawable(f.name, cjk=cjk, fallback=f.id)
        ax.annotate(name, (p.x, p.y), fontsize=8, xytext=(4, 4), textcoords="offset points", zorder=6)
    handles.append(mark if problem.facilities else None)
    for d in problem.depots:
        p = legs.points[d.id]
        mark = ax.scatter([p.x], [p.y], marker="*", s=220, color="#ffbf00", edgecolor="black", zorder=5)
        name = drawable(d.name, cjk=cjk, fallback=d.id)
        ax.annotate(name, (p.x, p.y), fontsize=8, xytext=(4, -10), textcoords="offset points", zorder=6)
    handles.append(mark if problem.depots else None)
    labels = [
        label("收集点", "site", cjk=cjk),
        label("处置设施", "facility", cjk=cjk),
        label("车场", "depot", cjk=cjk),
    ]
    return [(h, text) for h, text in zip(handles, labels) if h is not None]


def _add_legends(fig, ax, *, trucks: list, places: list, cjk: bool, vehicles: int) -> None:
    """The place legend inside the map (lower right) and the territory legend beside it, in columns of 30."""
    inside = ax.legend(
        [h for h, _ in places], [t for _, t in places], loc="lower right", fontsize=8, framealpha=0.85, markerscale=0.8
    )
    ax.add_artist(inside)
    if trucks:
        fig.legend(
            handles=trucks,
            title=label("片区", "territories", cjk=cjk)
            + f" ({len(trucks)}) · "
            + label("车辆", "trucks", cjk=cjk)
            + f" ({vehicles})",
            loc="upper left",
            bbox_to_anchor=(0.9, 0.88),
            ncol=-(-len(trucks) // LEGEND_ROWS),
            fontsize=7,
            title_fontsize=8,
            handlelength=2.6,
            frameon=False,
        )


def write_map_png(
    plan: Plan, problem: Problem, legs: LegGeometry, path: Path, *, title: str = "", grids: Sequence | None = None
) -> None:
    """All routes over the road network (UTM metres), one colour per territory, each territory's service area
    lightly filled, a territory legend with its trucks and a scale bar; depot, facilities, sites.

    Labels are Chinese with English beside when the machine has a CJK font, English otherwise
    (:mod:`routing.network.mapdraw`). Each territory keeps its web-map colour; territories beyond the
    16 colours differ by line style.

    Parameters
    ----------
    plan, problem
        The checked plan and its problem.
    legs : LegGeometry
        Road geometry of every leg and the network.
    path : Path
        The PNG file.
    title : str
        Map title; by default the scenario name with trucks, km and clearance rate.
    grids : sequence of routing.planning.scenario.Grid, optional
        The scenario's grids (territories; see :func:`routing.planning.territory_map.route_territories`).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import shapely
    from matplotlib.collections import LineCollection

    cjk = use_cjk_font()
    network = legs.network
    fig, ax = plt.subplots(figsize=(14, 12), dpi=110)
    fig.subplots_adjust(left=0.02, right=0.88, top=0.94, bottom=0.02)

    def lines(geometries) -> list:
        xy, index = shapely.get_coordinates(np.asarray(geometries), return_index=True)
        return np.split(xy, np.flatnonzero(np.diff(index)) + 1) if len(xy) else []

    ax.add_collection(LineCollection(lines(network.edge_geometry), colors="#cccccc", linewidths=0.4, zorder=1))
    territories = route_territories(plan, problem, grids=grids)
    draw_territories(ax, territories, problem, network=network, grids=grids)
    trucks = _draw_routes(ax, plan, legs, lines=lines, territories=territories, cjk=cjk)
    ax.autoscale_view()
    places = _draw_places(ax, problem, legs, cjk=cjk)
    kpi = plan.kpi
    name = drawable(problem.name, cjk=cjk, fallback=plan.scenario)
    ax.set_title(
        title
        or f"{name}: {kpi.get('vehicles_used', 0)} {label('车', 'trucks', cjk=cjk)}, {kpi.get('distance_km', 0):.0f} km, "
        f"{label('清运率', 'clearance', cjk=cjk)} {kpi.get('clearance_rate', 0) * 100:.1f} %"
    )
    ax.set_aspect("equal")
    ax.set_axis_off()
    add_scale_bar(ax, metres_per_unit=1.0)  # the network is projected (UTM metres)
    _add_legends(fig, ax, trucks=trucks, places=places, cjk=cjk, vehicles=len(plan.routes))
    ax.text(
        0.5, 0.005, "© OpenStreetMap contributors (ODbL)", transform=ax.transAxes, fontsize=6, color="grey", ha="center"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs a user's id may have that no installed font draws
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def plan_exports(outcome: PlanOutcome) -> tuple[dict, list[list[str]]]:
    """``routes.geojson`` and the route-sheet rows (header first) of a checked plan, as the service stores them.

    Parameters
    ----------
    outcome
        The result of :func:`routing.planning.pipeline.plan_day`.

    Returns
    -------
    tuple of (dict, list of list of str)
    """
    legs = LegGeometry(outcome.network, outcome.snapped)
    geojson = plan_geojson(outcome.plan, outcome.problem, legs=legs, grids=outcome.grids)
    return geojson, [SHEET_HEADER, *route_sheet_rows(outcome.plan, outcome.problem)]


def write_plan_json(document: PlanDocument, path: Path) -> None:
    """``plan.json`` (UTF-8, Chinese text as is) from its document.

    Parameters
    ----------
    document : PlanDocument
        The plan in its published form.
    path : Path
        The file to write.
    """
    Path(path).write_text(json.dumps(document.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")


def write_all(outcome: PlanOutcome, *, out: Path) -> dict[str, Path]:
    """plan.json, routes.geojson, route sheets, kpis.csv, map.png and timeline.png of a checked plan in ``out``.

    Parameters
    ----------
    outcome
        The result of :func:`routing.planning.pipeline.plan_day`.
    out
        The folder (created if missing).

    Returns
    -------
    dict
        Paths by kind: ``plan``, ``geojson``, ``sheets`` (a folder), ``kpis``, ``map``, ``timeline``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plan, problem = outcome.plan, outcome.problem
    legs = LegGeometry(outcome.network, outcome.snapped)
    files = {
        "plan": out / "plan.json",
        "geojson": out / "routes.geojson",
        "kpis": out / "kpis.csv",
        "map": out / "map.png",
        "timeline": out / "timeline.png",
    }
    write_plan_json(outcome.document, files["plan"])
    measures = plan.measures or dispatcher_measures(problem, plan.routes)
    files["kpis"].write_text(sheet_csv([KPI_CSV_HEADER, *kpi_csv_rows(measures)]), encoding="utf-8", newline="")
    grids = outcome.grids
    write_geojson(plan, problem, legs, files["geojson"], grids=grids)
    files["sheets"] = out / "route_sheets"
    write_route_sheets(plan, problem, files["sheets"])
    write_map_png(plan, problem, legs, files["map"], grids=grids)
    write_timeline_png(plan, problem, files["timeline"])
    return files
