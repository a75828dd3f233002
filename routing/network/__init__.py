"""Stage 1, the road network: a drivable, strongly connected, projected graph of a local OSM file.

Modules: ``osm`` (reading ``.osm``/``.osm.bz2``/``.osm.pbf``, osmnx's drive rules), ``speeds``
(truck speeds per road class), ``projection`` (WGS-84 ↔ UTM), ``graph`` (:func:`load_network`,
the disk cache, :class:`RoadNetwork` with snapping), ``matrix`` (duration/distance matrices,
road paths), ``points`` (point CSV files), ``summary`` (``qingyun network info``), ``settings``
(:class:`NetworkSettings`: ``QINGYUN_NETWORK_OSM``, ``QINGYUN_NETWORK_CACHE_DIR``; the shipped
networks are found in the source tree or under ``<sys.prefix>/share/qingyun/osm``), ``cli``.

The names below are re-exported lazily; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "routing.network.graph": ("load_network", "RoadNetwork", "SnappedPoint"),
        "routing.network.matrix": ("travel_matrices", "road_path"),
        "routing.network.speeds": ("SpeedProfile",),
        "routing.network.settings": ("NetworkSettings", "shipped_osm"),
    },
)
