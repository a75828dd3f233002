"""The road network the service works on: built once per process, shared by plans, audits, studies and the map."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.network.graph import RoadNetwork
    from routing.network.settings import NetworkSettings

_LOCK = threading.Lock()
_NETWORKS: dict[tuple[str, str], RoadNetwork] = {}


def service_network(settings: NetworkSettings) -> RoadNetwork:
    """The network of ``settings.osm`` (default: the shipped Shenzhen file), loaded on first use.

    Parameters
    ----------
    settings
        The service's network settings (default file and cache folder).

    Returns
    -------
    RoadNetwork
        The same object for every caller of this process with the same settings.
    """
    from routing.network.graph import load_network  # osmnx: only when a network is needed

    key = (str(settings.osm), str(settings.cache_dir))
    with _LOCK:  # one build at a time: two jobs starting together share the first one's network
        if key not in _NETWORKS:
            _NETWORKS[key] = load_network(settings=settings)
        return _NETWORKS[key]
