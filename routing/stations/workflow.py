"""One planning run on a road network: snap, measure, solve the base case and the sweep, write outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.network.graph import RoadNetwork
from routing.stations.distances import PlanningDistances, road_distances, snap_inputs
from routing.stations.plan import StationPlan, base_scenario, plan_scenario, scenarios_of
from routing.stations.records import CandidateSite, Community, PlanningParams
from routing.stations.report import write_report


@dataclass(frozen=True)
class PlanningRun:
    """The base plan, the scenario sweep (empty when not asked for) and the files written."""

    plan: StationPlan
    sweep: list[StationPlan]
    distances: PlanningDistances
    files: dict[str, Path]


def roads_lonlat(network: RoadNetwork) -> list[np.ndarray]:
    """Every street once (a two-way street's twin skipped), as lon/lat polylines for the map."""
    lines = [geom for i, geom in enumerate(network.edge_geometry) if not 0 <= network.edge_twin[i] < i]
    coords = [np.asarray(line.coords) for line in lines]
    lon, lat = network.to_lonlat(*np.concatenate(coords).T)
    stacked = np.column_stack([lon, lat])
    splits = np.cumsum([len(c) for c in coords])[:-1]
    return np.split(stacked, splits)


def run_planning(
    network: RoadNetwork,
    *,
    communities: list[Community],
    sites: list[CandidateSite],
    params: PlanningParams,
    out_dir: Path,
    sweep: bool,
) -> PlanningRun:
    """Plan the base scenario (and every sweep scenario when asked) and write the report.

    Parameters
    ----------
    network, communities, sites, params
        As for :func:`routing.stations.distances.snap_inputs`; ``params`` also holds costs and solver limits.
    out_dir : Path
        Output folder.
    sweep : bool
        Also plan every scenario of the sweep.

    Returns
    -------
    PlanningRun
        The base plan, sweep plans, distances and files written.

    Raises
    ------
    OffRoadError
        Naming every input point too far from a road.
    UnreachableError
        Naming every pair without a road path.
    InfeasibleError
        If no plan serves every community within reach.
    QingyunError
        If the solver finds no plan within ``params.time_limit_s``.
    """
    snapped = snap_inputs(network, communities=communities, sites=sites, params=params)
    distances = road_distances(network, snapped=snapped)
    plan = plan_scenario(
        communities=communities, sites=sites, params=params, distances=distances, scenario=base_scenario(params)
    )
    sweep_plans = (
        [
            plan
            if scenario == plan.scenario
            else plan_scenario(
                communities=communities, sites=sites, params=params, distances=distances, scenario=scenario
            )
            for scenario in scenarios_of(params)
        ]
        if sweep
        else []
    )
    files = write_report(
        plan,
        out_dir=out_dir,
        communities=communities,
        sites=sites,
        params=params,
        sweep=sweep_plans,
        roads_lonlat=roads_lonlat(network),
    )
    return PlanningRun(plan=plan, sweep=sweep_plans, distances=distances, files=files)
