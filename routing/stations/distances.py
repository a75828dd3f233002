"""Road distances for station planning: communities → sites and sites → disposal sites.

Only the two rectangles the model needs are computed (one Dijkstra per origin),
never the full square matrix over every point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing.network.graph import RoadNetwork, SnappedPoint
from routing.network.matrix import travel_matrices
from routing.stations.records import CandidateSite, Community, PlanningParams


@dataclass(frozen=True)
class PlanningDistances:
    """Road distances in km along the fastest path (rows = origins)."""

    community_to_site_km: np.ndarray  # (communities, sites)
    site_to_disposal_km: np.ndarray  # (sites, disposal sites); zero columns when none given


@dataclass(frozen=True)
class SnappedInputs:
    """Where each input sits on the road network (for maps and for the matrices)."""

    communities: list[SnappedPoint]
    sites: list[SnappedPoint]
    disposal_sites: list[SnappedPoint]


def snap_inputs(
    network: RoadNetwork,
    *,
    communities: list[Community],
    sites: list[CandidateSite],
    params: PlanningParams,
) -> SnappedInputs:
    """Snap communities, candidate sites and the parameters' disposal sites to their nearest roads.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    communities : list of Community
        The communities.
    sites : list of CandidateSite
        The candidate sites.
    params : PlanningParams
        Disposal sites and ``snap_max_distance_m``.

    Returns
    -------
    SnappedInputs
        The snapped points of each kind.

    Raises
    ------
    OffRoadError
        Naming every point farther than ``params.snap_max_distance_m`` from a road.
    """

    def snap(items) -> list[SnappedPoint]:
        return network.snap(
            ids=[i.id for i in items],
            lon=[i.lon for i in items],
            lat=[i.lat for i in items],
            max_distance_m=params.snap_max_distance_m,
        )

    return SnappedInputs(communities=snap(communities), sites=snap(sites), disposal_sites=snap(params.disposal_sites))


def road_distances(network: RoadNetwork, *, snapped: SnappedInputs) -> PlanningDistances:
    """Distances community → site (collection haul) and site → disposal (transfer haul).

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    snapped : SnappedInputs
        The snapped communities, sites and disposal sites.

    Returns
    -------
    PlanningDistances
        Road km along the fastest path; no disposal columns when none are given.

    Raises
    ------
    UnreachableError
        Naming every pair without a road path.
    """
    to_sites = travel_matrices(network, points=snapped.communities, destinations=snapped.sites)
    if snapped.disposal_sites:
        to_disposal = travel_matrices(network, points=snapped.sites, destinations=snapped.disposal_sites).distance_m
    else:
        to_disposal = np.zeros((len(snapped.sites), 0))
    return PlanningDistances(
        community_to_site_km=to_sites.distance_m / 1000.0, site_to_disposal_km=to_disposal / 1000.0
    )
