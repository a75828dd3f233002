"""Territories (网格化管理): which trucks may serve a site, from the grids a dispatcher draws.

In practice a district is cut into grids and each grid has its crews: one grid, one crew. A grid
is a WGS-84 polygon with the streams it applies to and the trucks (or vehicle types) that work
it; the sites of those streams inside it may be served only by those trucks (the problem's
per-site ``vehicles``, hard in the search and rejected by the checker when broken). Grids come
with the scenario (``grids``) or as a GeoJSON file (``qingyun plan --grids FILE``: a
FeatureCollection, one polygon feature per grid, properties ``id``, ``name``, ``streams``,
``vehicles``, ``vehicle_types``). Bad grids are named before solving: a broken polygon, two
grids of one stream that overlap, a site of a gridded stream outside every grid of its stream;
unknown trucks and types are named by the scenario's own validation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from routing.errors import InputFileError, ScenarioError
from routing.jsonfile import read_json

if TYPE_CHECKING:
    from routing.planning.scenario import Grid, Scenario

OVERLAP_M2 = 1.0  # two grids sharing more than this area (square metres) overlap; a shared border does not


def read_grids(path: Path) -> list[dict]:
    """The grids of a GeoJSON file as scenario ``grids`` entries (validated with the scenario).

    Parameters
    ----------
    path : Path
        A FeatureCollection of Polygon/MultiPolygon features whose properties name ``id``, ``streams``
        (optional: all), ``vehicles`` and/or ``vehicle_types``, ``name`` (optional).

    Returns
    -------
    list of dict
        One entry per feature.

    Raises
    ------
    InputFileError
        The file is missing, not JSON, not a FeatureCollection, or a feature has no geometry or properties.
    """
    doc = read_json(path, what="grids")
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        raise InputFileError(
            f"{path}: 网格文件须为 GeoJSON FeatureCollection / grids must be a GeoJSON FeatureCollection"
        )
    grids = []
    for i, feature in enumerate(doc["features"]):
        props = feature.get("properties") if isinstance(feature, dict) else None
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(props, dict) or not isinstance(geometry, dict):
            raise InputFileError(f"{path}: features.{i}: 缺少 properties 或 geometry / needs properties and a geometry")
        grids.append({**{k: v for k, v in props.items() if k in _FIELDS}, "geometry": geometry})
    return grids


_FIELDS = ("id", "name", "streams", "vehicles", "vehicle_types")


def _shapes(grids: list[Grid]) -> tuple[list, list[str]]:
    """Each grid's polygon (shapely), and the problems of those that are not valid polygons."""
    import shapely
    from shapely.geometry import shape

    shapes, problems = [], []
    for i, g in enumerate(grids):
        try:
            polygon = shape(g.geometry)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(f"grids.{i}.geometry (id {g.id}): 不是有效的 GeoJSON / not a GeoJSON geometry ({exc})")
            shapes.append(None)
            continue
        if polygon.geom_type not in ("Polygon", "MultiPolygon") or not polygon.is_valid or polygon.is_empty:
            reason = shapely.is_valid_reason(polygon) if polygon.geom_type in ("Polygon", "MultiPolygon") else ""
            problems.append(
                f"grids.{i}.geometry (id {g.id}): 须为有效多边形 / must be a valid Polygon or MultiPolygon "
                f"({polygon.geom_type} {reason})".rstrip()
            )
            shapes.append(None)
            continue
        shapes.append(polygon)
    return shapes, problems


def _overlaps(grids: list[Grid], shapes: list) -> list[str]:
    """Pairs of grids of a common stream whose polygons share an area (metres, in the grids' UTM zone)."""
    import numpy as np
    import shapely

    from routing.network.projection import UtmProjector

    valid = [p for p in shapes if p is not None]
    if len(valid) < 2:
        return []
    centre = shapely.union_all(valid).centroid
    projector = UtmProjector.around(lon=centre.x, lat=centre.y)

    def metric(polygon):
        return shapely.transform(polygon, lambda xy: np.column_stack(projector.to_xy(xy[:, 0], xy[:, 1])))

    flat = [None if p is None else metric(p) for p in shapes]
    problems = []
    for a in range(len(grids)):
        for b in range(a + 1, len(grids)):
            common = sorted(set(grids[a].streams) & set(grids[b].streams))
            if flat[a] is None or flat[b] is None or not common:
                continue
            area = flat[a].intersection(flat[b]).area
            if area > OVERLAP_M2:
                problems.append(
                    f"grids {grids[a].id} / {grids[b].id}: 网格重叠 {area / 1e6:.3f} km²（{', '.join(common)}）/ "
                    f"overlap by {area / 1e6:.3f} km² for {', '.join(common)}"
                )
    return problems


def grid_trucks(scenario: Scenario) -> dict[str, frozenset[str]]:
    """The trucks each gridded site may take: those of the grid of its stream that contains it.

    Parameters
    ----------
    scenario : Scenario
        The validated day with ``grids`` (trucks and types already known to exist).

    Returns
    -------
    dict
        Site id → truck ids; sites of streams no grid names are left out (any compatible truck).

    Raises
    ------
    ScenarioError
        Naming every broken polygon, every overlapping pair of grids of a stream and every site of a gridded
        stream outside all grids of its stream.
    """
    from shapely import Point

    grids = list(scenario.grids or ())
    if not grids:
        return {}
    shapes, problems = _shapes(grids)
    problems += _overlaps(grids, shapes)
    by_type: dict[str, list[str]] = {}
    for v in scenario.vehicles:
        by_type.setdefault(v.type, []).append(v.id)
    trucks = [frozenset(g.vehicles).union(*(by_type.get(t, ()) for t in g.vehicle_types)) for g in grids]
    gridded = {stream for g in grids for stream in g.streams}
    allowed: dict[str, frozenset[str]] = {}
    for i, site in enumerate(scenario.sites):
        if site.stream not in gridded:
            continue
        point = Point(site.lon, site.lat)
        inside = [k for k, g in enumerate(grids) if site.stream in g.streams and shapes[k] is not None]
        inside = [k for k in inside if shapes[k].covers(point)]
        if not inside:
            problems.append(
                f"sites.{i} (id {site.id}): 不在任何 {site.stream} 网格内 / outside every grid of stream {site.stream}"
            )
            continue
        allowed[site.id] = trucks[inside[0]]
    if problems:
        raise ScenarioError(problems, source=f"grids of {scenario.name}")
    return allowed
