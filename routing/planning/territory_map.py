"""Which territory each route works, its colour, and its service area: what the plan map and GeoJSON draw.

Why: a dispatcher reads a plan by territory (网格化管理: one grid, one crew), so the map gives each
territory one colour, a legend naming it with its trucks, and its service area (the convex hull of
the sites its routes serve) lightly filled — 33 colours over the whole district tell nothing.
With grids (``Scenario.grids``), a route's territory is the grid that names its truck (by id or
vehicle type); a truck named by several grids takes the one holding most of its sites. Without
grids, and for a truck no grid names, every truck has a territory of its own
(:mod:`routing.planning.search.territories` cuts one per truck), so each keeps its own colour.
Territories are coloured in the order their first route appears in the plan: without grids that
is the route order, the same colours as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from routing.planning.document import ROUTE_COLOURS, route_colour
from routing.planning.plan import Plan
from routing.planning.problem import Problem

LINE_STYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))
"""Line styles of the plan map: the n-th territory has colour ``route_colour(n)`` and style ``n // 16``, so 64 differ."""

FILL_MAX, FILL_MIN, FILL_SUM = 0.12, 0.03, 1.0
"""Service-area fill opacity on the PNG: ``FILL_SUM`` shared by the territories, within [FILL_MIN, FILL_MAX]."""

POINT_AREA_M = 60.0
"""A service area of one or two sites is drawn as the buffer of its point or segment by this many metres."""


@dataclass
class Territory:
    """One territory of a plan: its id, its bilingual label, its colour and line style, its trucks and sites."""

    id: str
    zh: str
    en: str
    colour: str
    style: object
    grid: bool
    vehicles: list[str] = field(default_factory=list)
    sites: list[int] = field(default_factory=list)  # site indices served by its routes

    def label(self, *, cjk: bool = True) -> str:
        """``"网格 G1 北片 / grid G1"``; the English alone when Chinese cannot be drawn."""
        return f"{self.zh} / {self.en}" if cjk else self.en


@dataclass
class Territories:
    """The plan's territories in colour order, and each route's (by vehicle id)."""

    items: list[Territory]
    of: dict[str, Territory]


def line_style(index: int) -> tuple[str, object]:
    """Colour and line style of the ``index``-th territory (colour as on the web map and in the GeoJSON)."""
    return route_colour(index), LINE_STYLES[(index // len(ROUTE_COLOURS)) % len(LINE_STYLES)]


def _grid_of(problem: Problem, vehicle_id: str, sites: list[int], grids: Sequence, shapes: list) -> int | None:
    """Index of the grid the route works: of the grids naming its truck, the one covering most of its sites."""
    from shapely import Point

    vehicle = problem.vehicles[problem.vehicle_index[vehicle_id]]
    named = [k for k, g in enumerate(grids) if vehicle_id in g.vehicles or vehicle.type_id in g.vehicle_types]
    if len(named) < 2:
        return named[0] if named else None
    points = [
        Point(float(problem.lon[problem.sites[i].node]), float(problem.lat[problem.sites[i].node])) for i in sites
    ]
    inside = [sum(shapes[k].covers(p) for p in points) for k in named]
    return named[max(range(len(named)), key=lambda j: (inside[j], -j))]


def route_territories(plan: Plan, problem: Problem, *, grids: Sequence | None = None) -> Territories:
    """Each route's territory: its grid when grids are given and one names its truck, else its truck's own.

    Parameters
    ----------
    plan : Plan
        The checked plan.
    problem : Problem
        Its problem (vehicle types, site coordinates).
    grids : sequence of routing.planning.scenario.Grid, optional
        The scenario's grids (id, name, vehicles, vehicle_types, geometry).

    Returns
    -------
    Territories
        Territories in the order their first route appears, each with its colour, trucks and served sites.
    """
    from shapely.geometry import shape

    grids = list(grids or ())
    shapes = [shape(g.geometry) for g in grids]
    items: list[Territory] = []
    by_id: dict[str, Territory] = {}
    of: dict[str, Territory] = {}
    for route in plan.routes:
        sites = [problem.site_index[s.id] for s in route.stops if s.kind == "site"]
        k = _grid_of(problem, route.vehicle_id, sites, grids, shapes) if grids else None
        key = f"grid:{grids[k].id}" if k is not None else f"truck:{route.vehicle_id}"
        if key not in by_id:
            colour, style = line_style(len(items))
            if k is not None:
                name = grids[k].name
                zh, en = f"网格 {grids[k].id}" + (f" {name}" if name else ""), f"grid {grids[k].id}"
                territory = Territory(grids[k].id, zh, en, colour, style, grid=True)
            else:
                v = route.vehicle_id
                territory = Territory(v, f"{v} 责任片区", f"territory of {v}", colour, style, grid=False)
            by_id[key] = territory
            items.append(territory)
        territory = by_id[key]
        territory.vehicles.append(route.vehicle_id)
        territory.sites.extend(sites)
        of[route.vehicle_id] = territory
    return Territories(items=items, of=of)


def service_area_xy(territory: Territory, problem: Problem, network: object):
    """The territory's service area in the network's metres: convex hull of its sites (a small buffer for one or
    two sites); None without sites or coordinates."""
    import numpy as np
    from shapely import MultiPoint

    if not territory.sites or not problem.geographic:
        return None
    nodes = [problem.sites[i].node for i in territory.sites]
    x, y = network.to_xy(problem.lon[nodes], problem.lat[nodes])
    hull = MultiPoint(np.column_stack([x, y])).convex_hull
    return hull if hull.area > 0 else hull.buffer(POINT_AREA_M)


def _lonlat_ring(network: object, ring) -> list[list[float]]:
    import numpy as np

    xy = np.asarray(ring.coords)
    lon, lat = network.to_lonlat(xy[:, 0], xy[:, 1])
    return [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat)]


def territory_features(territories: Territories, problem: Problem, network: object) -> list[dict]:
    """Each territory's service area as a GeoJSON Polygon (WGS-84) with its label, colour and trucks.

    Parameters
    ----------
    territories : Territories
        From :func:`route_territories`.
    problem : Problem
        The day (site coordinates).
    network : RoadNetwork
        For the projection (hulls are taken in metres).

    Returns
    -------
    list of dict
        Features of ``kind`` "territory", in colour order (territories without sites left out).
    """
    features = []
    for t in territories.items:
        area = service_area_xy(t, problem, network)
        if area is None:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [_lonlat_ring(network, area.exterior)]},
                "properties": {
                    "kind": "territory",
                    "territory": t.id,
                    "label": t.label(),
                    "grid": t.grid,
                    "colour": t.colour,
                    "vehicles": list(t.vehicles),
                    "sites": len(t.sites),
                    "area_km2": round(area.area / 1e6, 3),
                },
            }
        )
    return features


def legend_text(territory: Territory, *, cjk: bool, most: int = 6) -> str:
    """A territory's legend entry: its label and, for a grid, its trucks (the first ``most``, then how many more)."""
    text = territory.label(cjk=cjk)
    if not territory.grid:
        return text  # a truck's own territory already names its truck
    shown = ", ".join(territory.vehicles[:most])
    more = len(territory.vehicles) - most
    return f"{text}: {shown}" + (f" (+{more})" if more > 0 else "")


def draw_territories(
    ax, territories: Territories, problem: Problem, *, network: object, grids: Sequence | None
) -> None:
    """Each territory's service area lightly filled in its colour; a grid's own outline dashed in the same colour."""
    import numpy as np
    from matplotlib.patches import Polygon as Patch
    from shapely.geometry import shape

    fill = min(FILL_MAX, max(FILL_MIN, FILL_SUM / max(len(territories.items), 1)))  # many areas stay readable
    for t in territories.items:
        area = service_area_xy(t, problem, network)
        if area is not None:
            ring = np.asarray(area.exterior.coords)
            ax.add_patch(Patch(ring, closed=True, facecolor=t.colour, alpha=fill, edgecolor="none", zorder=1.5))
            ax.add_patch(Patch(ring, closed=True, fill=False, edgecolor=t.colour, lw=0.7, alpha=0.45, zorder=1.6))
    outlines = {t.id: t for t in territories.items if t.grid}
    for g in grids or ():
        if g.id not in outlines:
            continue
        polygon = shape(g.geometry)
        for part in getattr(polygon, "geoms", [polygon]):
            lonlat = np.asarray(part.exterior.coords)
            x, y = network.to_xy(lonlat[:, 0], lonlat[:, 1])
            ax.plot(x, y, color=outlines[g.id].colour, lw=1.0, ls=(0, (4, 3)), alpha=0.8, zorder=1.7)
