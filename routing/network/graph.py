"""The road network: a drivable, strongly connected, metric graph built offline.

``load_network`` reads a local OSM file (no network access), keeps the
drivable ways (osmnx "drive" rules), builds the osmnx graph, keeps the largest
strongly connected component (every stop must be reachable from every other),
sets truck speeds per road class and travel times, projects to the local UTM
zone and caches the result on disk keyed by file content and speed profile.

The ``RoadNetwork`` also holds compact arrays (edge endpoints, times, lengths,
an STRtree of edge geometries) for fast snapping and matrix computation.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import shapely
from pyproj import CRS
from shapely.geometry import LineString

from routing.errors import InputFileError, InvalidInputError, OffRoadError
from routing.network.projection import UtmProjector
from routing.network.settings import NetworkSettings
from routing.network.speeds import SpeedProfile

DEFAULT_SNAP_DISTANCE_M = 300.0
_CACHE_FORMAT = 6  # bump when the cached structure changes


@dataclass(frozen=True)
class SnappedPoint:
    """A point placed on the nearest road edge.

    ``offset_m`` is measured along the edge from its start node ``u``;
    ``fraction`` is the same as a share of the edge; ``x``/``y`` is the snapped
    position in the network's UTM coordinates.
    """

    id: str
    lon: float
    lat: float
    edge: tuple[int, int, int]
    edge_index: int
    offset_m: float
    fraction: float
    distance_m: float
    x: float
    y: float


@dataclass
class BuildReport:
    """What the build kept and dropped, for ``qingyun network info``."""

    source: str
    ways_read: int
    ways_drivable: int
    nodes_before_scc: int
    edges_before_scc: int
    nodes_dropped: int
    edges_dropped: int
    km_dropped: float

    @property
    def strongly_connected_share(self) -> float:
        kept = self.nodes_before_scc - self.nodes_dropped
        return kept / self.nodes_before_scc if self.nodes_before_scc else 0.0


@dataclass
class RoadNetwork:
    """A projected, strongly connected drivable graph and its edge arrays."""

    graph: nx.MultiDiGraph
    crs: CRS
    profile: SpeedProfile
    report: BuildReport
    node_ids: np.ndarray  # index -> OSM node id
    edge_keys: list[tuple[int, int, int]]  # index -> (u, v, key)
    edge_u: np.ndarray  # node index of each edge's start
    edge_v: np.ndarray  # node index of each edge's end
    edge_length_m: np.ndarray
    edge_time_s: np.ndarray
    edge_twin: np.ndarray  # index of the reverse edge with the same geometry, -1 if one-way
    edge_geometry: np.ndarray  # projected shapely LineStrings
    edge_highway: np.ndarray
    _node_index: dict[int, int] = field(default_factory=dict, repr=False)
    _tree: shapely.STRtree | None = field(default=None, repr=False)
    _projector: UtmProjector | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._node_index = {int(n): i for i, n in enumerate(self.node_ids)}
        self._tree = shapely.STRtree(self.edge_geometry)
        self._projector = UtmProjector(self.crs)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for transient in ("_node_index", "_tree", "_projector"):
            state[transient] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    # --- coordinates ---------------------------------------------------------
    def to_xy(self, lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
        """WGS-84 lon/lat → UTM x/y (metres)."""
        return self._projector.to_xy(lon, lat)

    def to_lonlat(self, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
        """UTM x/y (metres) → WGS-84 lon/lat."""
        return self._projector.to_lonlat(x, y)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the nodes."""
        lon, lat = np.array([(d["lon"], d["lat"]) for _, d in self.graph.nodes(data=True)]).T
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def node_index(self, node_id: int) -> int:
        return self._node_index[int(node_id)]

    # --- snapping ------------------------------------------------------------
    def snap(
        self,
        *,
        ids: Sequence[object],
        lon: Sequence[float],
        lat: Sequence[float],
        max_distance_m: float = DEFAULT_SNAP_DISTANCE_M,
    ) -> list[SnappedPoint]:
        """Place each point on its nearest edge; error naming every point beyond ``max_distance_m``."""
        ids = [str(i) for i in ids]
        lon_a = np.asarray(lon, dtype=float)
        lat_a = np.asarray(lat, dtype=float)
        if not (len(ids) == len(lon_a) == len(lat_a)):
            raise InvalidInputError(f"snap: {len(ids)} ids but {len(lon_a)} lon and {len(lat_a)} lat values")
        bad = [pid for pid, lo, la in zip(ids, lon_a, lat_a) if not (-180 <= lo <= 180 and -90 <= la <= 90)]
        if bad:
            raise InvalidInputError(f"invalid WGS-84 coordinates for point(s): {', '.join(bad)}")
        if not ids:
            return []
        x, y = self.to_xy(lon_a, lat_a)
        points = shapely.points(x, y)
        (point_idx, edge_idx), dist = self._tree.query_nearest(points, return_distance=True, all_matches=False)
        order = np.argsort(point_idx, kind="stable")
        edge_idx = edge_idx[order]
        dist = dist[order]
        far = np.flatnonzero(dist > max_distance_m)
        if far.size:
            raise OffRoadError([ids[i] for i in far], [float(dist[i]) for i in far], max_distance_m)
        geoms = self.edge_geometry[edge_idx]
        along = shapely.line_locate_point(geoms, points)
        lengths = shapely.length(geoms)
        fraction = np.clip(np.divide(along, lengths, out=np.zeros_like(along), where=lengths > 0), 0.0, 1.0)
        on_road = shapely.line_interpolate_point(geoms, along)
        return [
            SnappedPoint(
                id=ids[i],
                lon=float(lon_a[i]),
                lat=float(lat_a[i]),
                edge=self.edge_keys[e],
                edge_index=int(e),
                offset_m=float(fraction[i] * self.edge_length_m[e]),
                fraction=float(fraction[i]),
                distance_m=float(dist[i]),
                x=float(shapely.get_x(on_road[i])),
                y=float(shapely.get_y(on_road[i])),
            )
            for i, e in enumerate(edge_idx)
        ]

    def random_points(self, *, n: int, seed: int = 0, prefix: str = "p") -> list[SnappedPoint]:
        """``n`` points on random edges (chosen by length), for generators and benchmarks."""
        rng = np.random.default_rng(seed)
        weights = self.edge_length_m / self.edge_length_m.sum()
        edges = rng.choice(len(self.edge_keys), size=n, p=weights)
        fractions = rng.uniform(0.05, 0.95, size=n)
        geoms = self.edge_geometry[edges]
        on_road = shapely.line_interpolate_point(geoms, fractions, normalized=True)
        x, y = shapely.get_x(on_road), shapely.get_y(on_road)
        lon, lat = self.to_lonlat(x, y)
        return [
            SnappedPoint(
                id=f"{prefix}{i}",
                lon=float(lon[i]),
                lat=float(lat[i]),
                edge=self.edge_keys[e],
                edge_index=int(e),
                offset_m=float(fractions[i] * self.edge_length_m[e]),
                fraction=float(fractions[i]),
                distance_m=0.0,
                x=float(x[i]),
                y=float(y[i]),
            )
            for i, e in enumerate(edges)
        ]

    # --- summary -------------------------------------------------------------
    def km_by_class(self) -> dict[str, float]:
        """Kilometres of road per highway class; a two-way street counts once."""
        km: dict[str, float] = defaultdict(float)
        for i, hw in enumerate(self.edge_highway):
            twin = self.edge_twin[i]
            if twin >= 0 and twin < i:
                continue
            km[str(hw)] += self.edge_length_m[i] / 1000.0
        return dict(sorted(km.items(), key=lambda kv: -kv[1]))


def load_network(
    path: Path | str | None = None,
    *,
    profile: SpeedProfile | None = None,
    settings: NetworkSettings | None = None,
    use_cache: bool = True,
) -> RoadNetwork:
    """Build (or load from the disk cache) the drivable network of a local OSM file.

    Parameters
    ----------
    path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file; none = ``settings.default_osm()`` (the shipped
        Shenzhen network unless ``QINGYUN_NETWORK_OSM`` names another).
    profile
        Truck speeds per road class; none = the default profile.
    settings
        Where the cache is kept and the default file; none = :class:`NetworkSettings` from the environment.
    use_cache
        Read and write the built network in ``settings.cache_dir / "networks"``.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    InputFileError
        The file is missing, unreadable, or holds no drivable roads.
    """
    settings = settings or NetworkSettings()
    path = Path(path) if path is not None else settings.default_osm()
    profile = profile or SpeedProfile()
    if not path.exists():
        raise InputFileError(f"OSM file not found: {path}")
    cache_file = settings.cache_dir / "networks" / f"{_cache_key(path, profile)}.pickle"
    if use_cache and cache_file.exists():
        try:
            with open(cache_file, "rb") as f:
                return pickle.load(f)
        except Exception:  # a stale or truncated cache entry is rebuilt, never fatal
            cache_file.unlink(missing_ok=True)
    network = build_network(path, profile=profile)
    if use_cache:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump(network, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache_file)
    return network


def _cache_key(path: Path, profile: SpeedProfile) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    digest.update(profile.cache_key().encode())
    digest.update(f"format={_CACHE_FORMAT}".encode())
    return digest.hexdigest()[:32]


def build_network(path: Path, *, profile: SpeedProfile) -> RoadNetwork:
    """Build the network from the file, without the cache.

    Reads the drivable ways, builds the graph with osmnx, keeps the largest strongly connected part
    and projects it to UTM, with a speed and a travel time on every edge.

    Parameters
    ----------
    path : Path
        An OSM file (``.osm``, ``.osm.pbf`` …).
    profile : SpeedProfile
        Speeds (km/h) per road class and the ``maxspeed`` rules.

    Returns
    -------
    RoadNetwork
        The projected network with its build report.

    Raises
    ------
    InputFileError
        If the file is missing, unsupported or malformed, or its drivable ways form no graph.
    """
    import osmnx as ox

    from routing.network.osm import read_drivable, write_osm_xml

    extract = read_drivable(path)
    with tempfile.TemporaryDirectory(prefix="qingyun-osm-") as tmp:
        xml_path = Path(tmp) / "drivable.osm"
        write_osm_xml(extract, xml_path)
        try:
            graph = ox.graph_from_xml(xml_path, simplify=True, retain_all=True, bidirectional=False)
        except Exception as exc:  # osmnx raises several types for degenerate inputs
            raise InputFileError(f"{path}: drivable ways could not be built into a graph ({exc})") from None
    if graph.number_of_edges() == 0:
        raise InputFileError(f"{path}: drivable ways form no road edges")

    nodes_before, edges_before = graph.number_of_nodes(), graph.number_of_edges()
    km_before = sum(d["length"] for _, _, d in graph.edges(data=True)) / 1000.0
    largest = max(nx.strongly_connected_components(graph), key=len)
    graph = graph.subgraph(largest).copy()
    km_after = sum(d["length"] for _, _, d in graph.edges(data=True)) / 1000.0
    report = BuildReport(
        source=str(path),
        ways_read=extract.ways_read,
        ways_drivable=extract.ways_kept,
        nodes_before_scc=nodes_before,
        edges_before_scc=edges_before,
        nodes_dropped=nodes_before - graph.number_of_nodes(),
        edges_dropped=edges_before - graph.number_of_edges(),
        km_dropped=km_before - km_after,
    )

    for _, _, data in graph.edges(data=True):
        highway = data.get("highway", "road")
        if isinstance(highway, list):  # merged ways: osmnx lists their classes in set order
            highway = max(sorted(highway), key=lambda h: profile.speeds_kph.get(h, profile.fallback_kph))
        data["highway"] = str(highway)
        data["speed_kph"] = profile.speed_for(highway=data["highway"], maxspeed=data.get("maxspeed"))
        data["travel_time"] = data["length"] / (data["speed_kph"] / 3.6)

    for _, data in graph.nodes(data=True):  # keep WGS-84 beside the projected x/y
        data["lon"], data["lat"] = data["x"], data["y"]
    graph = ox.project_graph(graph)
    crs = CRS.from_user_input(graph.graph["crs"])
    for u, v, data in graph.edges(data=True):
        if "geometry" not in data:
            data["geometry"] = LineString(
                [(graph.nodes[u]["x"], graph.nodes[u]["y"]), (graph.nodes[v]["x"], graph.nodes[v]["y"])]
            )
    return _with_arrays(graph, crs=crs, profile=profile, report=report)


def _with_arrays(graph: nx.MultiDiGraph, *, crs: CRS, profile: SpeedProfile, report: BuildReport) -> RoadNetwork:
    node_ids = np.array(list(graph.nodes), dtype=np.int64)
    index = {int(n): i for i, n in enumerate(node_ids)}
    edge_keys = [(int(u), int(v), int(k)) for u, v, k in graph.edges(keys=True)]
    data = [graph.edges[e] for e in edge_keys]
    edge_u = np.array([index[u] for u, _, _ in edge_keys], dtype=np.int32)
    edge_v = np.array([index[v] for _, v, _ in edge_keys], dtype=np.int32)
    length = np.array([d["length"] for d in data], dtype=float)
    geometry = np.empty(len(data), dtype=object)
    geometry[:] = [d["geometry"] for d in data]
    twin = np.full(len(edge_keys), -1, dtype=np.int64)
    by_pair: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (u, v, _) in enumerate(edge_keys):
        by_pair[(u, v)].append(i)
    for i, (u, v, _) in enumerate(edge_keys):
        for j in by_pair.get((v, u), ()):
            if abs(length[j] - length[i]) < 1e-6 * max(1.0, length[i]):
                twin[i] = j
                break
    return RoadNetwork(
        graph=graph,
        crs=crs,
        profile=profile,
        report=report,
        node_ids=node_ids,
        edge_keys=edge_keys,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length_m=length,
        edge_time_s=np.array([d["travel_time"] for d in data], dtype=float),
        edge_twin=twin,
        edge_geometry=geometry,
        edge_highway=np.array([d["highway"] for d in data], dtype=object),
    )
