"""What must be cleaned: the kerbs of the streets in scope, read from the road network.

A kerb is one side of one graph edge, swept by driving that edge in its direction (the sweeper's
brush is on the right). A two-way street has two kerbs, one per direction of travel (the edge and its
twin); a one-way street has one, or two when it is wide (``wide_oneway_*`` settings): both kerbs are
then swept by driving its one direction twice. Kerbs are kept per graph edge and not merged further:
osmnx already joins the pieces of a way between junctions, and an edge is the unit the arc-routing
solver serves and the audit checks, so a kerb never spans a junction where a sweeper may turn.

Scope comes from an area (a GeoJSON polygon, WGS-84) and highway classes — an edge is in the area
when its midpoint is — or from a list of OSM way ids (GeoJSON or CSV). Bad input is named before any
solving: a malformed polygon, an area outside the network, an area without streets of the classes,
way ids the network does not have.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import shapely
from pydantic import BaseModel, Field

from routing.errors import InputFileError, InvalidInputError
from routing.sweeping.settings import SweepingSettings

CLASS_LABELS: dict[str, str] = {
    "motorway": "高速公路",
    "trunk": "快速路",
    "primary": "主干路",
    "secondary": "次干路",
    "tertiary": "支路",
    "residential": "居住区道路",
    "living_street": "生活街道",
    "unclassified": "其他道路",
}
"""Chinese names of the OSM highway classes (links are 匝道 of their class)."""


def class_label(highway: str) -> str:
    """``"主干路 / primary"``: the zh/en label of an OSM highway class."""
    base = highway.removesuffix("_link")
    zh = CLASS_LABELS.get(base, "道路") + ("匝道" if highway.endswith("_link") else "")
    return f"{zh} / {highway}"


class Kerb(BaseModel):
    """One kerb to sweep: a side of a directed graph edge and how often per shift."""

    kerb_id: str = Field(description="edge index and side, e.g. 1234R")
    edge: int = Field(description="index of the directed network edge driven to sweep it")
    u: int = Field(description="OSM node the edge starts at")
    v: int = Field(description="OSM node it ends at")
    side: str = Field(description="right (the side of the direction of travel) | left (wide one-way only)")
    way_id: int = Field(description="OSM way id (the first, where osmnx merged several)")
    way_ids: list[int]
    name: str
    highway: str
    oneway: bool
    length_m: float
    frequency: int = Field(ge=1, le=2, description="services per shift")


class ClassSummary(BaseModel):
    highway: str
    label: str = Field(description="zh / en")
    kerbs: int
    kerb_km: float
    service_km: float = Field(description="kerb-km × frequency: what a shift must sweep")


def _listed(value: object) -> list:
    return list(value) if isinstance(value, (list, tuple, set)) else [] if value is None else [value]


def _lanes(value: object) -> int:
    best = 0
    for item in _listed(value):
        try:
            best = max(best, int(float(str(item).split(";")[0])))
        except ValueError:
            continue
    return best


def _kerbs_of_edges(
    network: object, edges: np.ndarray, *, settings: SweepingSettings, freq: dict[int, int]
) -> list[Kerb]:
    net = network
    kerbs = []
    for e in edges.tolist():
        u, v, k = net.edge_keys[e]  # type: ignore[attr-defined]
        data = net.graph.edges[u, v, k]  # type: ignore[attr-defined]
        highway = str(net.edge_highway[e])  # type: ignore[attr-defined]
        ways = [int(w) for w in _listed(data.get("osmid"))]
        oneway = bool(data.get("oneway", False)) and int(net.edge_twin[e]) < 0  # type: ignore[attr-defined]
        wide = oneway and (
            _lanes(data.get("lanes")) >= settings.wide_oneway_min_lanes or highway in settings.wide_oneway_classes
        )
        frequency = max((freq.get(w, 0) for w in ways), default=0) or settings.frequency_by_class.get(
            highway, settings.default_frequency
        )
        names = [str(n) for n in _listed(data.get("name"))]
        for side in ("right", "left") if wide else ("right",):
            kerbs.append(
                Kerb(
                    kerb_id=f"{e}{side[0].upper()}",
                    edge=e,
                    u=u,
                    v=v,
                    side=side,
                    way_id=ways[0] if ways else -1,
                    way_ids=ways,
                    name=" / ".join(dict.fromkeys(names)),
                    highway=highway,
                    oneway=oneway,
                    length_m=round(float(net.edge_length_m[e]), 2),  # type: ignore[attr-defined]
                    frequency=min(max(int(frequency), 1), 2),
                )
            )
    return kerbs


def read_area(path: Path | str) -> shapely.Geometry:
    """The area polygon of a GeoJSON file (a Polygon/MultiPolygon geometry, Feature or FeatureCollection), WGS-84.

    Raises
    ------
    InputFileError
        If the file is missing, not JSON, holds no polygon, or the polygon is invalid or not in lon/lat.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"区域文件无法读取 / area file unreadable: {path}: {exc}") from None
    return area_of(doc, source=str(path))


def area_of(doc: object, *, source: str) -> shapely.Geometry:
    """The area polygon of decoded GeoJSON (geometry, Feature or FeatureCollection), WGS-84; ``source`` names it.

    Raises
    ------
    InputFileError
        If it holds no polygon, or the polygon is invalid or not in lon/lat.
    """
    geoms = doc.get("features", [doc]) if isinstance(doc, dict) else []
    polygons = []
    for i, item in enumerate(geoms):
        geometry = item.get("geometry", item) if isinstance(item, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        try:
            polygons.append(shapely.geometry.shape(geometry))
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise InputFileError(f"区域多边形格式错误 / malformed polygon: {source}: feature {i}: {exc}") from None
    if not polygons:
        raise InputFileError(f"区域文件中没有多边形 / no Polygon or MultiPolygon in the area: {source}")
    area = shapely.union_all(polygons)
    if not area.is_valid or area.is_empty or area.area == 0:
        reason = shapely.is_valid_reason(area)
        raise InputFileError(f"区域多边形无效 / invalid polygon in {source}: {reason}")
    x0, y0, x1, y1 = area.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise InputFileError(
            f"区域坐标不是经纬度 / area coordinates are not WGS-84 lon/lat: {source}: bounds {area.bounds}"
        )
    return area


def read_way_ids(path: Path | str) -> dict[int, int]:
    """OSM way ids (→ frequency, 0 = the default) from a CSV (column ``way_id``[, ``frequency``]) or GeoJSON.

    GeoJSON features give the id in ``properties.way_id`` (or ``osmid``, or ``id`` such as ``way/123``).

    Raises
    ------
    InputFileError
        If the file is unreadable or a row has no integer way id (file and row named).
    """
    path = Path(path)
    rows: list[tuple[str, object, object]] = []
    try:
        text = path.read_text(encoding="utf-8-sig")
        if path.suffix.lower() in (".json", ".geojson"):
            for i, feature in enumerate(json.loads(text).get("features", [])):
                props = feature.get("properties") or {}
                raw = props.get("way_id", props.get("osmid", feature.get("id", props.get("id"))))
                rows.append((f"feature {i}", raw, props.get("frequency")))
        else:
            reader = csv.DictReader(text.splitlines())
            if "way_id" not in (reader.fieldnames or []):
                raise InputFileError(f"{path}: 缺少 way_id 列 / missing column way_id (have {reader.fieldnames})")
            rows = [(f"line {i + 2}", r.get("way_id"), r.get("frequency")) for i, r in enumerate(reader)]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise InputFileError(f"道路清单无法读取 / way list unreadable: {path}: {exc}") from None
    ways: dict[int, int] = {}
    for where, raw, freq in rows:
        try:
            way = int(str(raw).strip().removeprefix("way/"))
            frequency = int(freq) if freq not in (None, "") else 0
        except ValueError:
            raise InputFileError(
                f"{path}: {where}: way_id 或 frequency 不是整数 / not an integer: {raw!r}, {freq!r}"
            ) from None
        if frequency not in (0, 1, 2):
            raise InputFileError(f"{path}: {where}: frequency 只能是 1 或 2 / must be 1 or 2: {frequency}")
        ways[way] = frequency
    if not ways:
        raise InputFileError(f"道路清单为空 / the way list is empty: {path}")
    return ways


def kerbs_in_area(network: object, *, area: shapely.Geometry, settings: SweepingSettings) -> list[Kerb]:
    """The kerbs of the streets of ``settings.classes`` whose edge midpoint lies in ``area`` (WGS-84).

    Raises
    ------
    InvalidInputError
        If the area lies outside the network or holds no street of the classes (the classes it does hold named).
    """
    net = network
    mid = shapely.line_interpolate_point(net.edge_geometry, 0.5, normalized=True)  # type: ignore[attr-defined]
    lon, lat = net.to_lonlat(shapely.get_x(mid), shapely.get_y(mid))  # type: ignore[attr-defined]
    inside = shapely.contains_xy(area, lon, lat)
    if not inside.any():
        x0, y0, x1, y1 = net.bbox  # type: ignore[attr-defined]
        raise InvalidInputError(
            f"区域在路网之外 / the area lies outside the road network: area bounds "
            f"{tuple(round(b, 5) for b in area.bounds)}, network bounds {(x0, y0, x1, y1)}"
        )
    wanted = np.isin(net.edge_highway.astype(str), list(settings.classes))  # type: ignore[attr-defined]
    edges = np.flatnonzero(inside & wanted)
    if len(edges) == 0:
        present = sorted(set(net.edge_highway[inside].astype(str)))  # type: ignore[attr-defined]
        raise InvalidInputError(
            f"区域内没有所选等级的道路 / no street of the classes {', '.join(settings.classes)} in the area "
            f"(it has: {', '.join(present)})"
        )
    return _kerbs_of_edges(net, edges, settings=settings, freq={})


def kerbs_of_ways(network: object, *, ways: dict[int, int], settings: SweepingSettings) -> list[Kerb]:
    """The kerbs of every network edge of the listed OSM ways (any class).

    Raises
    ------
    InvalidInputError
        If a listed way id is not in the network (all unknown ids named).
    """
    net = network
    by_way: dict[int, list[int]] = {}
    for e, key in enumerate(net.edge_keys):  # type: ignore[attr-defined]
        for w in _listed(net.graph.edges[key].get("osmid")):  # type: ignore[attr-defined]
            by_way.setdefault(int(w), []).append(e)
    unknown = [w for w in ways if w not in by_way]
    if unknown:
        shown = ", ".join(str(w) for w in unknown[:20]) + (" …" if len(unknown) > 20 else "")
        raise InvalidInputError(f"路网中没有这些道路 / way ids not in the road network ({len(unknown)}): {shown}")
    edges = np.array(sorted({e for w in ways for e in by_way[w]}), dtype=np.int64)
    return _kerbs_of_edges(net, edges, settings=settings, freq=ways)


def kerb_summary(kerbs: list[Kerb]) -> list[ClassSummary]:
    """Kerb-km per highway class (zh/en labels), largest first, for the scope report."""
    rows: dict[str, list[float]] = {}
    for kerb in kerbs:
        row = rows.setdefault(kerb.highway, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += kerb.length_m / 1000.0
        row[2] += kerb.length_m * kerb.frequency / 1000.0
    return [
        ClassSummary(
            highway=h, label=class_label(h), kerbs=int(r[0]), kerb_km=round(r[1], 3), service_km=round(r[2], 3)
        )
        for h, r in sorted(rows.items(), key=lambda item: -item[1][1])
    ]


def kerbs_geojson(network: object, kerbs: list[Kerb]) -> dict:
    """The kerbs as a GeoJSON FeatureCollection (WGS-84 lines in the direction of travel)."""
    features = []
    for kerb in kerbs:
        xy = np.asarray(network.edge_geometry[kerb.edge].coords)  # type: ignore[attr-defined]
        lon, lat = network.to_lonlat(xy[:, 0], xy[:, 1])  # type: ignore[attr-defined]
        coords = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat)]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": kerb.model_dump(),
            }
        )
    return {"type": "FeatureCollection", "features": features}
