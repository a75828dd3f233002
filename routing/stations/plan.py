"""From inputs to a station plan: build the model for one scenario, solve it, evaluate the plan.

The plan's figures (loads, utilisation, haul distances, cost split) are recomputed here
from the inputs and the chosen sites/assignment, not copied from the solver's objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routing.stations.capacity import class_rank
from routing.stations.distances import PlanningDistances
from routing.stations.records import CandidateSite, Community, PlanningParams
from routing.stations.solve import LocationProblem, LocationSolution, SiteOption, solve_location

DAYS_PER_YEAR = 365.0
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class DemandCase:
    """One planning case: waste per person and how many years of growth ahead."""

    q_kg_per_person_day: float
    years_ahead: int

    @property
    def label(self) -> str:
        return f"q={self.q_kg_per_person_day:g} kg/人·日, +{self.years_ahead} 年/years"


@dataclass(frozen=True)
class UnassignedCommunity:
    """A community no station may serve, with the reason and the nearest site by road."""

    id: str
    reason: str  # "beyond_radius" | "load_exceeds_classes"
    nearest_site_id: str | None
    nearest_site_km: float | None
    design_t_per_day: float


@dataclass(frozen=True)
class PlannedStation:
    """An opened (or kept) station: its class, load, catchment, haul and yearly cost."""

    site_id: str
    lon: float
    lat: float
    action: str  # "new" | "keep" | "upgrade"
    station_class: str
    current_class: str | None
    capacity_t_per_day: float
    design_load_t_per_day: float
    mean_t_per_day: float
    community_ids: tuple[str, ...]
    mean_haul_km: float  # tonnage-weighted, community → station
    max_haul_km: float
    disposal_id: str | None
    disposal_km: float | None
    station_cost_yuan: float
    collection_haul_cost_yuan: float
    transfer_haul_cost_yuan: float

    @property
    def utilisation(self) -> float:
        return self.design_load_t_per_day / self.capacity_t_per_day

    @property
    def total_cost_yuan(self) -> float:
        return self.station_cost_yuan + self.collection_haul_cost_yuan + self.transfer_haul_cost_yuan


@dataclass(frozen=True)
class StationPlan:
    """The plan for one scenario, with the solver's proof of quality."""

    scenario: DemandCase
    stations: tuple[PlannedStation, ...]
    assignment: dict[str, str]  # community id → site id
    haul_km: dict[str, float]  # community id → road km to its station
    unassigned: tuple[UnassignedCommunity, ...]
    unusable_sites: dict[str, str]  # site id → why no class fits there
    closed_existing: tuple[str, ...]
    solution: LocationSolution | None

    @property
    def station_cost_yuan(self) -> float:
        return sum(s.station_cost_yuan for s in self.stations)

    @property
    def collection_haul_cost_yuan(self) -> float:
        return sum(s.collection_haul_cost_yuan for s in self.stations)

    @property
    def transfer_haul_cost_yuan(self) -> float:
        return sum(s.transfer_haul_cost_yuan for s in self.stations)

    @property
    def total_cost_yuan(self) -> float:
        return self.station_cost_yuan + self.collection_haul_cost_yuan + self.transfer_haul_cost_yuan


def site_options(site: CandidateSite, *, params: PlanningParams) -> tuple[tuple[SiteOption, ...], str | None]:
    """The classes a site may run (max class, land area, costs given, no downgrade), or why none.

    Parameters
    ----------
    site : CandidateSite
        The candidate site.
    params : PlanningParams
        Station classes and the downgrade rule.

    Returns
    -------
    options : tuple of SiteOption
        Class, capacity (t/d) and yearly cost (yuan) of each allowed class, smallest first.
    reason : str or None
        Why no class fits, when ``options`` is empty.
    """
    floor = class_rank(site.current_class) if site.existing and not params.allow_downgrade_existing else 0
    options = []
    for station_class in sorted(params.classes, key=lambda c: c.rank):
        name = station_class.name
        if name not in site.yearly_cost_yuan or not floor <= station_class.rank <= class_rank(site.max_class):
            continue
        is_current = site.existing and name == site.current_class
        if not is_current and site.land_area_m2 < station_class.min_land_area_m2:
            continue
        options.append(SiteOption(name, station_class.max_t_per_day, site.yearly_cost_yuan[name]))
    if options:
        return tuple(options), None
    return (), (
        f"land {site.land_area_m2:.0f} m² / max class {site.max_class}: no priced class fits "
        "(用地或最大类别不足 / land area or max class too small)"
    )


def _straight_line_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(np.asarray(lon2) - np.asarray(lon1)) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))


def conflicting_pairs(sites: list[CandidateSite], *, min_spacing_m: float | None) -> list[tuple[int, int]]:
    """Pairs of sites closer than the minimum spacing (two existing stations are never in conflict).

    Parameters
    ----------
    sites : list of CandidateSite
        The candidate sites.
    min_spacing_m : float or None
        Minimum straight-line spacing in metres; None or 0 means no rule.

    Returns
    -------
    list of tuple of int
        Index pairs (i < j) of sites too close together.
    """
    if not min_spacing_m:
        return []
    lon = np.array([s.lon for s in sites])
    lat = np.array([s.lat for s in sites])
    dist = _straight_line_m(lat1=lat[:, None], lon1=lon[:, None], lat2=lat[None, :], lon2=lon[None, :])
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(dist < min_spacing_m, k=1))):
        if not (sites[i].existing and sites[j].existing):
            pairs.append((int(i), int(j)))
    return pairs


def _nearest_disposal(distances: PlanningDistances, *, n_sites: int, params: PlanningParams):
    """Per site: index of its nearest disposal site (-1 when none is given) and the road km to it."""
    if distances.site_to_disposal_km.shape != (n_sites, len(params.disposal_sites)):
        raise ValueError("site_to_disposal_km must have one row per site and one column per disposal site")
    if not distances.site_to_disposal_km.shape[1]:
        return np.full(n_sites, -1), np.zeros(n_sites)
    disposal_index = np.argmin(distances.site_to_disposal_km, axis=1)
    return disposal_index, distances.site_to_disposal_km[np.arange(n_sites), disposal_index]


def _unassigned(communities, sites, *, km, usable, in_radius, fits, design) -> list[UnassignedCommunity]:
    """Communities no usable site can take (beyond the radius, or too large for every class), with the nearest."""
    unassigned = []
    for c, community in enumerate(communities):
        if fits[c].any():
            continue
        reachable = np.flatnonzero(usable & np.isfinite(km[c]))
        nearest = int(reachable[np.argmin(km[c, reachable])]) if reachable.size else None
        unassigned.append(
            UnassignedCommunity(
                id=community.id,
                reason="load_exceeds_classes" if in_radius[c].any() else "beyond_radius",
                nearest_site_id=sites[nearest].id if nearest is not None else None,
                nearest_site_km=float(km[c, nearest]) if nearest is not None else None,
                design_t_per_day=float(design[c]),
            )
        )
    return unassigned


def plan_scenario(
    *,
    communities: list[Community],
    sites: list[CandidateSite],
    params: PlanningParams,
    distances: PlanningDistances,
    scenario: DemandCase,
) -> StationPlan:
    """Solve one scenario and evaluate the resulting plan from the inputs.

    Parameters
    ----------
    communities, sites
        The communities and the candidate sites.
    params
        Classes, costs, radius and solver settings.
    distances
        Road km community → site and site → disposal.
    scenario
        Waste per person and years of growth.

    Returns
    -------
    StationPlan
        Stations opened, assignment, haul km, unassigned communities, costs.

    Raises
    ------
    InfeasibleError
        If no plan serves every community within reach.
    QingyunError
        If the solver finds no plan within ``params.time_limit_s``.
    """
    design, mean = _demand(communities, params=params, scenario=scenario)
    options, unusable = _offers(sites, params=params)
    usable = np.array([bool(o) for o in options])
    largest = np.array([max((o.capacity_t_per_day for o in opts), default=0.0) for opts in options])

    km = distances.community_to_site_km
    disposal_index, disposal_km = _nearest_disposal(distances, n_sites=len(sites), params=params)
    in_radius = (km <= params.service_radius_km) & usable[None, :] & np.isfinite(km)
    fits = in_radius & (design[:, None] <= largest[None, :])

    unassigned = _unassigned(communities, sites, km=km, usable=usable, in_radius=in_radius, fits=fits, design=design)
    served = np.flatnonzero(fits.any(axis=1))
    arc_c, arc_s = np.nonzero(fits[served])
    arc_cost = (
        mean[served][arc_c]
        * DAYS_PER_YEAR
        * (
            km[served][arc_c, arc_s] * params.haul_cost_yuan_per_tkm
            + disposal_km[arc_s] * params.transfer_cost_yuan_per_tkm
        )
    )
    must_open = tuple(s.existing and not params.allow_close_existing and bool(options[i]) for i, s in enumerate(sites))
    problem = LocationProblem(
        design_load_t_per_day=design[served],
        arc_community=arc_c.astype(np.int64),
        arc_site=arc_s.astype(np.int64),
        arc_yearly_cost_yuan=arc_cost,
        site_options=tuple(options),
        site_must_open=must_open,
        conflicting_sites=tuple(conflicting_pairs(sites, min_spacing_m=params.min_spacing_m)),
    )
    solution = None
    if served.size or any(must_open):
        limits = {"time_limit_s": params.time_limit_s, "relative_gap": params.relative_gap}
        solution = solve_location(problem, **limits, solver_log=params.solver_log)
    community_site = np.full(len(communities), -1, dtype=np.int64)
    if solution is not None:
        community_site[served] = solution.community_site
    chosen = {s: options[s][k] for s, k in enumerate(solution.site_option) if k is not None} if solution else {}
    stations = tuple(
        _evaluate_station(
            site=sites[s],
            option=option,
            members=np.flatnonzero(community_site == s),
            communities=communities,
            design=design,
            mean=mean,
            km=km[:, s],
            disposal_id=(params.disposal_sites[disposal_index[s]].id if disposal_index[s] >= 0 else None),
            disposal_km=(float(disposal_km[s]) if disposal_index[s] >= 0 else None),
            params=params,
        )
        for s, option in sorted(chosen.items())
    )
    assignment = {communities[c].id: sites[s].id for c, s in enumerate(community_site.tolist()) if s >= 0}
    haul = {communities[c].id: float(km[c, s]) for c, s in enumerate(community_site.tolist()) if s >= 0}
    closed = tuple(site.id for s, site in enumerate(sites) if site.existing and s not in chosen)
    return StationPlan(
        scenario=scenario,
        stations=stations,
        assignment=assignment,
        haul_km=haul,
        unassigned=tuple(unassigned),
        unusable_sites=unusable,
        closed_existing=closed,
        solution=solution,
    )


def _demand(
    communities: list[Community], *, params: PlanningParams, scenario: DemandCase
) -> tuple[np.ndarray, np.ndarray]:
    """(design load, mean load) per community in t/d for the scenario's waste rate and growth years."""
    growth = params.growth_factor(scenario.years_ahead)
    q = scenario.q_kg_per_person_day
    design = np.array(
        [
            c.design_t_per_day(q_kg_per_person_day=q, peak_factor=params.peak_factor, growth_factor=growth)
            for c in communities
        ]
    )
    mean = np.array([c.mean_t_per_day(q_kg_per_person_day=q, growth_factor=growth) for c in communities])
    return design, mean


def _offers(sites: list[CandidateSite], *, params: PlanningParams) -> tuple[list[tuple[SiteOption, ...]], dict]:
    """Each site's class options, and why a site offers none (site id → reason)."""
    options: list[tuple[SiteOption, ...]] = []
    unusable: dict[str, str] = {}
    for site in sites:
        offered, why = site_options(site, params=params)
        options.append(offered)
        if why:
            unusable[site.id] = why
    return options, unusable


def _evaluate_station(
    *,
    site: CandidateSite,
    option: SiteOption,
    members: np.ndarray,
    communities: list[Community],
    design: np.ndarray,
    mean: np.ndarray,
    km: np.ndarray,
    disposal_id: str | None,
    disposal_km: float | None,
    params: PlanningParams,
) -> PlannedStation:
    tonnes = float(mean[members].sum())
    haul = km[members]
    if not site.existing:
        action = "new"
    elif option.class_name == site.current_class:
        action = "keep"
    else:
        action = "upgrade" if class_rank(option.class_name) > class_rank(site.current_class) else "downgrade"
    return PlannedStation(
        site_id=site.id,
        lon=site.lon,
        lat=site.lat,
        action=action,
        station_class=option.class_name,
        current_class=site.current_class,
        capacity_t_per_day=option.capacity_t_per_day,
        design_load_t_per_day=float(design[members].sum()),
        mean_t_per_day=tonnes,
        community_ids=tuple(communities[c].id for c in members),
        mean_haul_km=float((haul * mean[members]).sum() / tonnes) if tonnes > 0 else 0.0,
        max_haul_km=float(haul.max()) if members.size else 0.0,
        disposal_id=disposal_id,
        disposal_km=disposal_km,
        station_cost_yuan=option.yearly_cost_yuan,
        collection_haul_cost_yuan=float((mean[members] * haul).sum() * DAYS_PER_YEAR * params.haul_cost_yuan_per_tkm),
        transfer_haul_cost_yuan=(tonnes * DAYS_PER_YEAR * (disposal_km or 0.0) * params.transfer_cost_yuan_per_tkm),
    )


def scenarios_of(params: PlanningParams) -> list[DemandCase]:
    """The sweep: every q of ``sweep_q_kg_per_person_day`` × every year of ``sweep_years_ahead``."""
    return [DemandCase(q, years) for years in params.sweep_years_ahead for q in params.sweep_q_kg_per_person_day]


def base_scenario(params: PlanningParams) -> DemandCase:
    """The planning case the parameters name (the one planned without a sweep).

    Parameters
    ----------
    params : PlanningParams
        Its ``q_kg_per_person_day`` and ``years_ahead``.

    Returns
    -------
    DemandCase
        The base case.
    """
    return DemandCase(params.q_kg_per_person_day, params.years_ahead)
