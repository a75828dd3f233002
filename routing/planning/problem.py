"""The indexed numeric problem the solver, the plan evaluator and the checker share.

Every place (depot, facility, site) is a row/column ``node`` of two integer matrices:
``duration_s`` (travel time) and ``distance_m`` (travel distance). Times of day are integer
seconds after local midnight of ``day_start``. A :class:`Problem` is built either from a
:class:`routing.planning.scenario.Scenario` over a road network (:func:`problem_from_scenario`), or
directly from given matrices by constructing :class:`Problem` (the benchmark readers do this
with Euclidean matrices; they may use any consistent integer units, e.g. tenths of a
Solomon distance, as long as windows, service times and matrices agree).

Modelling conventions (the solver and :mod:`routing.planning.check` both follow them):
- a site is served once, by one truck, with service *starting* inside one of its windows;
- a truck carries only its streams and visits only sites whose ``access`` admits it and, where a
  site names its ``vehicles`` (a grid, a re-plan), only those; a site's ``preferred_vehicle`` is
  soft: another truck may serve it for ``preference_penalty`` currency, counted in the cost;
- a truck's body holds one load: at a facility it unloads everything, and the facility must
  accept every stream the truck is built for; with ``ends_empty`` the last visit before the
  depot is a facility; without it (plain VRP) the truck may return loaded;
- facility ``windows`` are when an unload may *start* (closing time minus unload time);
- a site's ``release_s`` (a release date) is when its load may first go: the trip that serves it
  leaves the depot, or its last facility, no earlier (multi-trip benchmarks; 0 = no release);
- the break (if any) lasts ``duration_s`` and starts in ``[earliest, latest]``; it is due on
  every route still running at ``latest_start_s`` that began before ``earliest + duration``;
- ``hold_s`` limits a stream's time on board: from a pickup's service start to the start of the
  unload that empties the truck (to the depot arrival for a truck that returns loaded).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

import numpy as np

from routing.errors import ScenarioError
from routing.localtime import CHINA_TZ, parse_utc_offset
from routing.planning.scenario import ACCESS_RANK, clock_to_seconds

if TYPE_CHECKING:
    from routing.network.graph import RoadNetwork, SnappedPoint
    from routing.planning.scenario import Scenario

DAY_S = 24 * 3600


@dataclass(frozen=True)
class DepotSpec:
    id: str
    node: int
    name: str = ""


@dataclass(frozen=True)
class FacilitySpec:
    id: str
    node: int
    streams: frozenset[str]
    windows: tuple[tuple[int, int], ...] = ((0, DAY_S),)  # unload START windows
    unload_s: int = 0
    capacity_kg: float | None = None  # what it can receive today; None = unlimited
    name: str = ""
    kind: str = ""


@dataclass(frozen=True)
class SiteSpec:
    id: str
    node: int
    stream: str
    demand_kg: float
    demand_l: float = 0.0
    service_s: int = 0
    windows: tuple[tuple[int, int], ...] = ((0, DAY_S),)  # service START windows
    access: str = "large"
    name: str = ""
    address: str = ""
    release_s: int = 0  # its trip leaves the depot or its last facility no earlier (see module docstring)
    # the only trucks that may serve it (its grid's, a re-plan's fixed assignment); None: any compatible truck
    vehicles: frozenset[str] | None = None
    # the truck that should serve it (its territory, its truck before a re-plan) and what serving it with
    # another truck costs, in currency: a soft assignment the search trades against distance
    preferred_vehicle: str | None = None
    preference_penalty: float = 0.0
    on_board_since: int | None = None  # its load has been on a truck since then (a re-plan's start site)

    def picked_at(self, start: int) -> int:
        """When its load came on board, served at ``start``: the hold time counts from there."""
        return start if self.on_board_since is None else min(start, self.on_board_since)


@dataclass(frozen=True)
class VehicleSpec:
    id: str
    depot: int  # index into Problem.depots: start and end of the route
    streams: frozenset[str]
    capacity_kg: float
    capacity_l: float | None = None
    shift_start: int = 0
    shift_end: int = DAY_S
    max_shift_s: int | None = None
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0  # per 1000 distance units
    cost_per_hour: float = 0.0  # per 3600 time units of shift (start to end)
    access: str = "large"
    ends_empty: bool = True
    max_stops: int | None = None  # sites per shift
    max_daily_kg: float | None = None  # weight collected per shift, over all trips
    type_id: str = ""


@dataclass(frozen=True)
class BreakSpec:
    duration_s: int
    earliest_start_s: int
    latest_start_s: int

    def due(self, route_start: int, route_end: int) -> bool:
        """Whether a route working ``[route_start, route_end]`` must contain the break."""
        return route_end > self.latest_start_s and route_start < self.earliest_start_s + self.duration_s


@dataclass
class Problem:
    """One day's routing problem in integer matrix form (see module docstring)."""

    name: str
    ids: list[str]
    lon: np.ndarray
    lat: np.ndarray
    duration_s: np.ndarray
    distance_m: np.ndarray
    depots: list[DepotSpec]
    facilities: list[FacilitySpec]
    sites: list[SiteSpec]
    vehicles: list[VehicleSpec]
    break_rule: BreakSpec | None = None
    day_start: datetime = field(default_factory=lambda: datetime(2026, 11, 22, tzinfo=CHINA_TZ))
    # lon/lat are WGS-84 (a city day); False for published instances whose coordinates are planar
    # (Solomon units, feet): plan.json then carries no coordinates, the search still uses them as x/y
    geographic: bool = True
    # longest time a stream may stay on board (seconds, pickup's service start to unload start); absent: no limit
    hold_s: dict[str, int] = field(default_factory=dict)
    # currency per hour a truck works beyond its vehicle type's mean shift or short of the floor of its work
    # (routing.planning.search.balance; 0: shifts are not balanced)
    balance_per_h: float = 0.0
    # currency per site served by another truck than its territory's (compact routes; 0: no territories)
    compactness_per_site: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.duration_s = _whole_units(self.duration_s)
        self.distance_m = _whole_units(self.distance_m)
        self.lon = np.asarray(self.lon, dtype=float)
        self.lat = np.asarray(self.lat, dtype=float)
        problems = []
        for label, matrix in (("duration_s", self.duration_s), ("distance_m", self.distance_m)):
            if matrix.shape != (n, n):
                problems.append(f"{label}: shape {matrix.shape}, expected ({n}, {n}) for {n} ids")
            elif (matrix < 0).any():
                problems.append(f"{label}: negative entries")
        if self.lon.shape != (n,) or self.lat.shape != (n,):
            problems.append(f"lon/lat: need {n} values each")
        for label, items in (("depots", self.depots), ("facilities", self.facilities), ("sites", self.sites)):
            for item in items:
                if not 0 <= item.node < n:
                    problems.append(f"{label} {item.id}: node {item.node} outside 0..{n - 1}")
        for v in self.vehicles:
            if not 0 <= v.depot < len(self.depots):
                problems.append(f"vehicle {v.id}: depot index {v.depot} outside 0..{len(self.depots) - 1}")
        if problems:
            raise ScenarioError(problems, source=f"problem {self.name}")
        self.site_index = {s.id: i for i, s in enumerate(self.sites)}
        self.facility_index = {f.id: i for i, f in enumerate(self.facilities)}
        self.vehicle_index = {v.id: i for i, v in enumerate(self.vehicles)}

    # --- compatibility rules shared by solver, evaluator and checker ------------------
    @staticmethod
    def serves(vehicle: VehicleSpec, site: SiteSpec) -> bool:
        """Truck built for the site's stream, small enough for its street, and one of its allowed trucks."""
        return (
            site.stream in vehicle.streams
            and ACCESS_RANK.get(vehicle.access, 2) <= ACCESS_RANK.get(site.access, 2)
            and (site.vehicles is None or vehicle.id in site.vehicles)
        )

    @staticmethod
    def preference_cost(vehicle: VehicleSpec, site: SiteSpec) -> float:
        """Currency the plan pays when ``vehicle`` serves ``site`` while the site prefers another truck."""
        if site.preferred_vehicle is None or site.preferred_vehicle == vehicle.id:
            return 0.0
        return site.preference_penalty

    @staticmethod
    def unloads_at(vehicle: VehicleSpec, facility: FacilitySpec) -> bool:
        """A facility takes a truck's load only if it accepts every stream the truck carries."""
        return vehicle.streams <= facility.streams

    def hold_limit(self, vehicle: VehicleSpec) -> int | None:
        """The strictest hold limit of the streams a truck carries (its one body holds them together), or None."""
        limits = [self.hold_s[s] for s in vehicle.streams if s in self.hold_s]
        return min(limits) if limits else None

    def at(self, seconds: float) -> datetime:
        """Local wall-clock time of a problem time."""
        return self.day_start + timedelta(seconds=float(seconds))

    def travel(self, a: int, b: int) -> tuple[int, int]:
        """(duration, distance) from node a to node b."""
        return int(self.duration_s[a, b]), int(self.distance_m[a, b])


def _whole_units(matrix) -> np.ndarray:
    """The matrix as int64, rounded half to even; an int64 matrix is kept as it is (no copy: a 10,000-stop
    day's two matrices are 1.5 GiB, and each float or int copy on the way would add 0.75 GiB)."""
    matrix = np.asarray(matrix)
    if matrix.dtype == np.int64:
        return matrix
    return np.rint(np.asarray(matrix, dtype=float)).astype(np.int64)


def _windows(windows: Sequence, *, shrink_end: int = 0) -> tuple[tuple[int, int], ...]:
    out = []
    for w in windows:
        start, end = w.seconds
        if end - shrink_end >= start:
            out.append((start, end - shrink_end))
    return tuple(sorted(out))


def _vehicle_specs(scenario: Scenario, *, depot_index: dict[str, int]) -> list[VehicleSpec]:
    """Each truck with its type's streams, capacities, costs and limits, shift times in seconds."""
    types = {t.id: t for t in scenario.vehicle_types}
    vehicles = []
    for v in scenario.vehicles:
        t = types[v.type]
        vehicles.append(
            VehicleSpec(
                id=v.id,
                depot=depot_index[v.depot],
                streams=frozenset(t.streams),
                capacity_kg=t.capacity_kg,
                capacity_l=None if t.capacity_m3 is None else t.capacity_m3 * 1000.0,
                shift_start=clock_to_seconds(v.shift_start),
                shift_end=clock_to_seconds(v.shift_end),
                max_shift_s=None if t.max_shift_h is None else round(t.max_shift_h * 3600),
                fixed_cost=t.fixed_cost,
                cost_per_km=t.cost_per_km,
                cost_per_hour=t.cost_per_hour,
                access=t.access,
                ends_empty=t.ends_empty,
                max_stops=t.max_stops,
                max_daily_kg=t.max_daily_kg,
                type_id=t.id,
            )
        )
    return vehicles


def _allowed(listed: list[str] | None, grid: frozenset[str] | None) -> frozenset[str] | None:
    """A site's allowed trucks: those it lists, those of its grid, or both at once."""
    if listed is None:
        return grid
    return frozenset(listed) if grid is None else frozenset(listed) & grid


def _site_specs(scenario: Scenario, *, node: dict[str, int], gridded: dict[str, frozenset[str]]) -> list[SiteSpec]:
    """Each site with its matrix node, windows in seconds, allowed trucks (its own and its grid's) and preference."""
    return [
        SiteSpec(
            id=s.id,
            node=node[s.id],
            stream=s.stream,
            demand_kg=s.demand_kg,
            demand_l=s.demand_l,
            service_s=round(s.service_s),
            windows=_windows(s.windows),
            access=s.access,
            name=s.name,
            address=s.address,
            vehicles=_allowed(s.vehicles, gridded.get(s.id)),
            preferred_vehicle=s.preferred_vehicle,
            on_board_since=None if s.on_board_since is None else clock_to_seconds(s.on_board_since),
            preference_penalty=(scenario.stability_penalty if s.preference_penalty is None else s.preference_penalty),
        )
        for s in scenario.sites
    ]


def _break_spec(rule) -> BreakSpec | None:
    if rule is None:
        return None
    return BreakSpec(
        duration_s=round(rule.duration_min * 60),
        earliest_start_s=clock_to_seconds(rule.earliest_start),
        latest_start_s=clock_to_seconds(rule.latest_start),
    )


def problem_from_scenario(
    scenario: Scenario, *, network: RoadNetwork, snap_distance_m: float = 300.0, matrix_memory_gib: float | None = None
) -> tuple[Problem, list[SnappedPoint]]:
    """Snap every place to the road network, compute road matrices, index everything.

    Parameters
    ----------
    scenario : Scenario
        The validated day.
    network : RoadNetwork
        The road network.
    snap_distance_m : float
        Farthest a place may lie from a road, in metres.
    matrix_memory_gib : float, optional
        Largest matrix build allowed (default ``routing.network.settings.MATRIX_MEMORY_GIB``).

    Returns
    -------
    problem : Problem
        The indexed day with its duration (s) and distance (m) matrices.
    snapped : list of SnappedPoint
        Depots, facilities and sites as snapped, in that order.

    Raises
    ------
    OffRoadError
        Naming every place farther than ``snap_distance_m`` from a road.
    UnreachableError
        Naming every pair of places with no road path.
    ScenarioError
        For trucks whose shift cannot reach any site they could serve, bad grids
        (:func:`routing.planning.grids.grid_trucks`), sites farther than their hold time from every facility.
    InvalidInputError
        The matrices would need more memory than ``matrix_memory_gib`` (refused before they are built).
    """
    from routing.network.matrix import travel_matrices
    from routing.network.settings import MATRIX_MEMORY_GIB
    from routing.planning.grids import grid_trucks

    gridded = grid_trucks(scenario)  # bad grids are named before the network work starts
    places = [*scenario.depots, *scenario.facilities, *scenario.sites]
    snapped = network.snap(
        ids=[p.id for p in places],
        lon=[p.lon for p in places],
        lat=[p.lat for p in places],
        max_distance_m=snap_distance_m,
    )
    limit = MATRIX_MEMORY_GIB if matrix_memory_gib is None else matrix_memory_gib
    # int64 seconds and metres straight from the build (no float copy): what Problem holds
    matrices = travel_matrices(network, points=snapped, memory_limit_gib=limit, rounded=True)
    node = {p.id: i for i, p in enumerate(places)}
    depots = [DepotSpec(id=d.id, node=node[d.id], name=d.name) for d in scenario.depots]
    depot_index = {d.id: i for i, d in enumerate(depots)}
    facilities = [
        FacilitySpec(
            id=f.id,
            node=node[f.id],
            streams=frozenset(f.streams),
            windows=_windows(f.opening_hours, shrink_end=round(f.unload_min * 60)),
            unload_s=round(f.unload_min * 60),
            capacity_kg=None if f.daily_capacity_t is None else f.daily_capacity_t * 1000.0,
            name=f.name,
            kind=f.kind,
        )
        for f in scenario.facilities
    ]
    sites = _site_specs(scenario, node=node, gridded=gridded)
    vehicles = _vehicle_specs(scenario, depot_index=depot_index)
    break_rule = _break_spec(scenario.break_rule)
    tz = parse_utc_offset(scenario.utc_offset)
    problem = Problem(
        name=scenario.name,
        ids=list(matrices.ids),
        lon=np.array([p.lon for p in places]),
        lat=np.array([p.lat for p in places]),
        duration_s=matrices.duration_s,
        distance_m=matrices.distance_m,
        depots=depots,
        facilities=facilities,
        sites=sites,
        vehicles=vehicles,
        break_rule=break_rule,
        day_start=datetime.combine(scenario.date, time(0, 0), tzinfo=tz),
        hold_s={stream: round(h * 3600) for stream, h in scenario.hold_h.items() if h is not None},
        balance_per_h=scenario.balance_per_h,
        compactness_per_site=scenario.compactness_per_site,
    )
    check_fleet_reaches_sites(problem)
    check_hold_reachable(problem)
    return problem, snapped


def check_fleet_reaches_sites(problem: Problem) -> None:
    """Raise :class:`ScenarioError` naming every truck that cannot serve a single site in its shift."""
    problems = []
    for v in problem.vehicles:
        depot = problem.depots[v.depot].node
        reachable = False
        for s in problem.sites:
            if not Problem.serves(v, s):
                continue
            arrive = v.shift_start + problem.duration_s[depot, s.node]
            if any(arrive <= end and max(arrive, start) + s.service_s <= v.shift_end for start, end in s.windows):
                reachable = True
                break
        if not reachable:
            problems.append(
                f"vehicle {v.id}: shift {v.shift_start // 3600:02d}:{v.shift_start % 3600 // 60:02d}–"
                f"{v.shift_end // 3600:02d}:{v.shift_end % 3600 // 60:02d} cannot reach any site it could serve"
            )
    if problems:
        raise ScenarioError(problems, source=f"scenario {problem.name}")


def check_hold_reachable(problem: Problem) -> None:
    """Raise :class:`ScenarioError` naming every site farther than its stream's hold time from every facility
    that would take it off a truck able to collect it (no plan could meet the hold)."""
    problems = []
    # sites alike in what decides their trucks share their facilities (a 10,000-stop day: 7 s → 0.1 s)
    known: dict[tuple, list[int]] = {}
    for s in problem.sites:
        hold = problem.hold_s.get(s.stream)
        if hold is None:
            continue
        key = (s.stream, s.access, s.vehicles)
        if key not in known:
            trucks = [v for v in problem.vehicles if Problem.serves(v, s) and v.ends_empty]
            facilities = {f.id: f.node for v in trucks for f in problem.facilities if Problem.unloads_at(v, f)}
            known[key] = list(facilities.values())
        if not known[key]:
            continue
        nearest = s.service_s + int(problem.duration_s[s.node, known[key]].min())
        if nearest > hold:
            problems.append(
                f"site {s.id}: 卸车最早需 {nearest / 3600:.1f} h，超过 {s.stream} 在车时限 {hold / 3600:.1f} h / "
                f"the nearest facility is {nearest / 3600:.1f} h away, beyond the {s.stream} hold time of "
                f"{hold / 3600:.1f} h"
            )
    if problems:
        raise ScenarioError(problems, source=f"scenario {problem.name}")
