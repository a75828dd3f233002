"""The road networks the service works on: each built once per process, shared by plans, audits, studies and the map."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.network.graph import RoadNetwork
    from routing.network.settings import NetworkSettings

_LOCK = threading.Lock()
_NETWORKS: dict[tuple[str, str], RoadNetwork] = {}


def service_network(settings: NetworkSettings, *, osm: str | None = None) -> RoadNetwork:
    """The network a scenario names (default: ``settings.osm``, else the shipped Shenzhen file), loaded on first use.

    Parameters
    ----------
    settings
        The service's network settings (data folder, default file and cache folder).
    osm
        A scenario's ``osm`` field: the file name of a road network in the data folder
        (:meth:`~routing.network.settings.NetworkSettings.named_osm`); none = the default network.

    Returns
    -------
    RoadNetwork
        The same object for every caller of this process asking for the same file with the same cache.

    Raises
    ------
    InvalidInputError
        ``osm`` names no road network of the data folder (the message lists the ones there).
    """
    from routing.network.graph import load_network  # osmnx: only when a network is needed

    path = settings.named_osm(osm)
    key = (str(path.resolve()), str(settings.cache_dir))
    with _LOCK:  # one build at a time: two jobs starting together share the first one's network
        if key not in _NETWORKS:
            _NETWORKS[key] = load_network(path, settings=settings)
        return _NETWORKS[key]
