"""Generated Shenzhen inputs for ``qingyun stations demo`` and the benchmark.

Population comes from a documented density assumption, not from real community data:
Nanshan (1.80 M) + Futian (1.55 M) districts had about 3.35 M residents on about 266 km²
in the 7th census (2020), ≈ 12,600 residents/km². The demo spreads that density over the
convex hull of the road network, split across communities with log-normal weights
(σ = 0.5), so denser road areas get more communities. Candidate sites, their land areas
and yearly costs are assumptions for illustration, documented below; disposal sites are
road points at the network's edge standing for the hand-over towards the plants.
"""

from __future__ import annotations

import numpy as np
import shapely

from routing.network.graph import RoadNetwork
from routing.stations.capacity import CLASS_NAMES
from routing.stations.records import CandidateSite, Community, DisposalSite, PlanningParams

RESIDENTS_PER_KM2 = 12_600.0  # (1.80 M + 1.55 M) / 266 km², 7th census 2020
#: Yearly cost per class (yuan): annualised build (20 years, 5 %) + operation; an assumption for the demo.
DEMO_YEARLY_COST_YUAN = {"V": 0.65e6, "IV": 1.6e6, "III": 5.7e6, "II": 13e6, "I": 32e6}
#: An existing station's yearly cost at its current class: operation only (already built).
EXISTING_COST_SHARE = 0.6


def generated_communities(network: RoadNetwork, *, n: int, seed: int) -> list[Community]:
    """``n`` communities on random streets; populations sum to density × network hull area.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    n : int
        Number of communities.
    seed : int
        Random seed.

    Returns
    -------
    list of Community
        Ids ``C…``, lon/lat to 6 decimals, log-normal populations.
    """
    points = network.random_points(n=n, seed=seed, prefix="C")
    xy = np.concatenate([np.asarray(g.coords) for g in network.edge_geometry])
    hull = shapely.MultiPoint(xy).convex_hull
    total = RESIDENTS_PER_KM2 * hull.area / 1e6
    weights = np.random.default_rng(seed).lognormal(0.0, 0.5, size=n)
    population = np.round(total * weights / weights.sum())
    return [
        Community(p.id, round(p.lon, 6), round(p.lat, 6), population=float(pop)) for p, pop in zip(points, population)
    ]


def generated_sites(network: RoadNetwork, *, n: int, seed: int, existing: int) -> list[CandidateSite]:
    """``n`` candidate sites; land area log-normal (median 3,000 m²) sets the largest class.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    n : int
        Number of candidate sites.
    seed : int
        Random seed.
    existing : int
        How many of them (the first) are existing stations, at a reduced yearly cost.

    Returns
    -------
    list of CandidateSite
        Ids ``S…`` with land area (m²), largest class and yearly cost (yuan) per class.
    """
    rng = np.random.default_rng(seed + 1)
    points = network.random_points(n=n, seed=seed + 1, prefix="S")
    params = PlanningParams()
    sites = []
    for i, p in enumerate(points):
        area = float(np.clip(rng.lognormal(np.log(3_000.0), 1.0), 500.0, 25_000.0))
        fitting = [c for c in params.classes if c.min_land_area_m2 <= area]
        max_class = max(fitting, key=lambda c: c.rank).name
        factor = rng.uniform(0.85, 1.15)  # land price and access differ between sites
        costs = {
            name: round(DEMO_YEARLY_COST_YUAN[name] * factor, -3)
            for name in CLASS_NAMES
            if CLASS_NAMES.index(name) <= CLASS_NAMES.index(max_class)
        }
        current = None
        if i < existing:
            current = "IV" if max_class != "V" else "V"
            costs[current] = round(costs[current] * EXISTING_COST_SHARE, -3)
        sites.append(
            CandidateSite(
                p.id,
                round(p.lon, 6),
                round(p.lat, 6),
                round(area),
                max_class,
                costs,
                existing=current is not None,
                current_class=current,
            )
        )
    return sites


def edge_disposal_sites(network: RoadNetwork) -> tuple[DisposalSite, ...]:
    """Two road points at the network's west and north-east edges (assumed hand-over points)."""
    lon = np.array([d["lon"] for _, d in network.graph.nodes(data=True)])
    lat = np.array([d["lat"] for _, d in network.graph.nodes(data=True)])
    west = int(np.argmin(lon - 0.3 * lat))
    north_east = int(np.argmax(lon + lat))
    return (
        DisposalSite("D-west", round(float(lon[west]), 6), round(float(lat[west]), 6)),
        DisposalSite("D-northeast", round(float(lon[north_east]), 6), round(float(lat[north_east]), 6)),
    )


def demo_params(network: RoadNetwork, *, time_limit_s: float) -> PlanningParams:
    """Documented defaults plus the demo's disposal points, 2 %/year growth and a 0 / 10-year sweep.

    Parameters
    ----------
    network : RoadNetwork
        The road network (disposal points are placed at its edge).
    time_limit_s : float
        Solver time per scenario, in seconds.

    Returns
    -------
    PlanningParams
        The demo's parameters.
    """
    return PlanningParams(
        disposal_sites=edge_disposal_sites(network),
        growth_rate_per_year=0.02,
        sweep_years_ahead=(0, 10),
        time_limit_s=time_limit_s,
    )
