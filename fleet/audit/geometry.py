"""Permits and zones compiled for the rules: geometry projected to metres, prepared for bulk point tests.

The inputs are WGS-84 GeoJSON; every rule works on the network's metric projection, so each
polygon and route is projected once here (and an approved route given as OSM road nodes is
turned into the roads' own geometry).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import shape

from fleet.audit.inputs import Permit, TimeWindow, ZoneFeature
from fleet.audit.rules.settings import ComplianceSettings
from fleet.tracks.track import Projector, epoch_s
from routing.errors import InvalidInputError


def project_geometry(geometry: dict, projector: Projector, *, what: str) -> shapely.Geometry:
    """A GeoJSON geometry projected to metres (made valid when the projection bends it).

    Parameters
    ----------
    geometry
        GeoJSON mapping in WGS-84 lon/lat.
    projector
        WGS-84 ↔ metric conversions (a ``RoadNetwork``).
    what
        The geometry's owner, for the message (``"permit P1 route"``).

    Returns
    -------
    shapely.Geometry

    Raises
    ------
    InvalidInputError
        The geometry is malformed or empty.
    """
    try:
        geom = shape(geometry)
    except Exception as exc:  # noqa: BLE001 - shapely raises several types for malformed coordinates
        raise InvalidInputError(f"{what}: malformed geometry ({exc})") from None
    if geom.is_empty:
        raise InvalidInputError(f"{what}: empty geometry")
    projected = shapely.transform(geom, lambda xy: np.column_stack(projector.to_xy(xy[:, 0], xy[:, 1])))
    if not projected.is_valid:
        projected = shapely.make_valid(projected)
    return projected


def points(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shapely points from coordinate arrays (the 2-column form is several times faster).

    Parameters
    ----------
    x, y
        Projected coordinates (metres), equal length.

    Returns
    -------
    numpy.ndarray
        Array of shapely Points.
    """
    return shapely.points(np.column_stack([x, y]))


def near(geom: shapely.Geometry | None, x: np.ndarray, y: np.ndarray, margin: float) -> np.ndarray:
    """Which points lie inside ``geom`` or within ``margin`` metres of it (all False without a geometry).

    Parameters
    ----------
    geom
        Projected geometry (metres), or None.
    x, y
        Projected point coordinates (metres).
    margin
        Tolerance outside ``geom`` (metres); 0 or less means strictly inside.

    Returns
    -------
    numpy.ndarray
        Boolean mask, one entry per point.
    """
    if geom is None or geom.is_empty:
        return np.zeros(len(x), dtype=bool)
    inside = shapely.contains_xy(geom, x, y)
    if margin <= 0:
        return inside
    out = ~inside
    if out.any():
        minx, miny, maxx, maxy = geom.bounds
        cand = out & (x >= minx - margin) & (x <= maxx + margin) & (y >= miny - margin) & (y <= maxy + margin)
        if cand.any():
            inside[cand] = shapely.distance(geom, points(x[cand], y[cand])) <= margin
    return inside


@dataclass
class Zone:
    """A zone with its polygon projected and prepared."""

    id: str
    name: str
    kind: str
    polygon: shapely.Geometry  # projected
    schedule: list[TimeWindow]
    deep: dict[float, shapely.Geometry] = field(default_factory=dict)  # polygon shrunk by a depth, prepared
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # bounds (minx, miny, maxx, maxy)

    def __post_init__(self) -> None:
        self.box = tuple(float(v) for v in self.polygon.bounds)

    def deeper_than(self, depth_m: float) -> shapely.Geometry:
        """The part of the zone at least ``depth_m`` inside it (computed once per depth)."""
        if depth_m not in self.deep:
            inner = self.polygon.buffer(-depth_m) if depth_m > 0 else self.polygon
            shapely.prepare(inner)
            self.deep[depth_m] = inner
        return self.deep[depth_m]


@dataclass
class CompiledPermit:
    """A permit with its sites and route projected, its validity in epoch seconds and its limits resolved."""

    permit: Permit
    start_s: float
    end_s: float
    source: shapely.Geometry
    destinations: shapely.Geometry  # union, projected
    route: shapely.Geometry | None  # projected LineString
    corridor_m: float
    speed_limit_kmh: float
    corridor: shapely.Geometry | None = None  # route buffered by the corridor width, prepared

    def in_corridor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each point lies within the corridor of the approved route (bulk point-in-polygon)."""
        if self.corridor is None:
            self.corridor = self.route.buffer(self.corridor_m, quad_segs=8)
            shapely.prepare(self.corridor)
        return shapely.contains_xy(self.corridor, x, y)


def compile_zones(zones: list[ZoneFeature], *, projector: Projector) -> list[Zone]:
    """Zones with projected, prepared polygons.

    Parameters
    ----------
    zones
        Zone features as read from zones.geojson.
    projector
        WGS-84 ↔ metric conversions.

    Returns
    -------
    list of Zone

    Raises
    ------
    InvalidInputError
        A zone's geometry is malformed or empty (named by its id).
    """
    out = []
    for z in zones:
        poly = project_geometry(z.geometry.model_dump(), projector, what=f"zone {z.properties.id}")
        shapely.prepare(poly)
        out.append(Zone(z.properties.id, z.properties.name, z.properties.kind, poly, z.properties.schedule))
    return out


def compile_permit(
    permit: Permit, *, projector: Projector, settings: ComplianceSettings, route_xy: np.ndarray | None = None
) -> CompiledPermit:
    """Project one permit's geometry; ``route_xy`` is the approved route when given as road nodes.

    Parameters
    ----------
    permit
        The permit as issued.
    projector
        WGS-84 ↔ metric conversions.
    settings
        Default corridor width and speed limit where the permit sets none.
    route_xy
        Projected coordinates of a route given as ``route_nodes`` (see :func:`route_from_nodes`).

    Returns
    -------
    CompiledPermit

    Raises
    ------
    InvalidInputError
        A geometry is malformed, or ``route_nodes`` is given without a road network.
    """
    what = f"permit {permit.permit_id}"
    source = project_geometry(permit.source_site.model_dump(), projector, what=f"{what} source_site")
    dests = shapely.union_all(
        [
            project_geometry(d.model_dump(), projector, what=f"{what} destination_sites.{i}")
            for i, d in enumerate(permit.destination_sites)
        ]
    )
    route = None
    if permit.route is not None:
        route = project_geometry(permit.route.model_dump(), projector, what=f"{what} route")
    elif route_xy is not None:
        route = shapely.linestrings(route_xy)
    elif permit.route_nodes is not None:
        raise InvalidInputError(f"{what}: route_nodes needs a road network (--osm) to become a line")
    for geom in (source, dests, route):
        if geom is not None:
            shapely.prepare(geom)
    return CompiledPermit(
        permit=permit,
        start_s=epoch_s(permit.valid_from),
        end_s=epoch_s(permit.valid_until),
        source=source,
        destinations=dests,
        route=route,
        corridor_m=permit.corridor_m or settings.corridor_m,
        speed_limit_kmh=permit.speed_limit_kmh or settings.default_speed_limit_kmh,
    )


def route_from_nodes(permit: Permit, *, network: object) -> np.ndarray:
    """An approved route given as OSM node ids, as projected coordinates along the roads between them.

    Parameters
    ----------
    permit
        A permit with ``route_nodes``.
    network
        The ``RoadNetwork`` the node ids belong to.

    Returns
    -------
    numpy.ndarray
        (n, 2) projected coordinates.

    Raises
    ------
    InvalidInputError
        A node is not in the network, two consecutive nodes share no road, or fewer than two nodes.
    """
    graph = network.graph  # type: ignore[attr-defined]
    coords: list[tuple[float, float]] = []
    nodes = permit.route_nodes or []
    for a, b in zip(nodes, nodes[1:]):
        if a not in graph or b not in graph:
            bad = a if a not in graph else b
            raise InvalidInputError(
                f"permit {permit.permit_id}: route_nodes: OSM node {bad} is not in the road network"
            )
        if not graph.has_edge(a, b):
            raise InvalidInputError(f"permit {permit.permit_id}: route_nodes: no road from node {a} to node {b}")
        key = min(graph[a][b], key=lambda k: graph[a][b][k]["length"])
        part = list(graph[a][b][key]["geometry"].coords)
        coords.extend(part if not coords else part[1:])
    if len(coords) < 2:
        raise InvalidInputError(f"permit {permit.permit_id}: route_nodes needs at least two connected nodes")
    return np.asarray(coords, dtype=float)


def compile_permits(
    permits: list[Permit], *, projector: Projector, settings: ComplianceSettings, network: object | None = None
) -> dict[str, list[CompiledPermit]]:
    """Permits projected and grouped by device, earliest first.

    Parameters
    ----------
    permits
        Permits as issued.
    projector
        WGS-84 ↔ metric conversions.
    settings
        Default corridor width and speed limit.
    network
        The road network on which ``route_nodes`` are resolved (None: such permits are refused).

    Returns
    -------
    dict
        Device → its compiled permits.

    Raises
    ------
    InvalidInputError
        A permit's geometry or road-node route cannot be used.
    """
    by_device: dict[str, list[CompiledPermit]] = {}
    for p in sorted(permits, key=lambda p: epoch_s(p.valid_from)):
        route_xy = route_from_nodes(p, network=network) if p.route_nodes is not None and network is not None else None
        by_device.setdefault(p.device, []).append(
            compile_permit(p, projector=projector, settings=settings, route_xy=route_xy)
        )
    return by_device
