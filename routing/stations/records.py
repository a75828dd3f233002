"""Inputs of transfer-station planning: communities, candidate sites, disposal sites, parameters.

Every default is a documented setting (../shared/DOMAIN.md, CJJ/T 47-2016); the
readers in ``routing.stations.inputs`` fill these records and validate every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.stations.capacity import DEFAULT_CLASSES, StationClass, design_load_t_per_day, mean_tonnes_per_day


@dataclass(frozen=True)
class Community:
    """A residential community (小区/社区): population, or measured mean t/d where known."""

    id: str
    lon: float
    lat: float
    population: float | None = None
    measured_t_per_day: float | None = None

    def mean_t_per_day(self, *, q_kg_per_person_day: float, growth_factor: float) -> float:
        """Average daily waste hauled (t/d); measured tonnage wins over the q estimate."""
        if self.measured_t_per_day is not None:
            return self.measured_t_per_day * growth_factor
        assert self.population is not None
        return mean_tonnes_per_day(population=self.population * growth_factor, q_kg_per_person_day=q_kg_per_person_day)

    def design_t_per_day(self, *, q_kg_per_person_day: float, peak_factor: float, growth_factor: float) -> float:
        """Design load δ·n·q/1000 (t/d), or δ × measured mean when measured."""
        if self.measured_t_per_day is not None:
            return peak_factor * self.measured_t_per_day * growth_factor
        assert self.population is not None
        return design_load_t_per_day(
            population=self.population * growth_factor,
            q_kg_per_person_day=q_kg_per_person_day,
            peak_factor=peak_factor,
        )


@dataclass(frozen=True)
class CandidateSite:
    """A site where a station may be built, or an existing station that may be upgraded.

    ``yearly_cost_yuan`` maps class name → yearly cost (annualised build + operation) of
    running that class here; a class missing from the map is not offered at this site. For
    an existing station the current class's figure is its operating cost.
    """

    id: str
    lon: float
    lat: float
    land_area_m2: float
    max_class: str
    yearly_cost_yuan: dict[str, float]
    existing: bool = False
    current_class: str | None = None


@dataclass(frozen=True)
class DisposalSite:
    """Where stations send their waste (incineration plant, landfill); the nearest by road is used."""

    id: str
    lon: float
    lat: float


@dataclass(frozen=True)
class PlanningParams:
    """Planning settings; defaults are the documented values of DOMAIN.md / CJJ/T 47-2016."""

    q_kg_per_person_day: float = 1.0  # 0.8–1.2 without local data
    peak_factor: float = 1.4  # δ, 1.3–1.5
    service_radius_km: float = 3.0  # small motor vehicles ≤ 3 km (max 5 km), measured along roads
    haul_cost_yuan_per_tkm: float = 5.0  # collection vehicles community → station, empty return included
    transfer_cost_yuan_per_tkm: float = 1.0  # transfer trucks station → disposal, empty return included
    disposal_sites: tuple[DisposalSite, ...] = ()
    min_spacing_m: float | None = None  # straight-line distance between two opened stations
    growth_rate_per_year: float = 0.0  # population / tonnage growth, compounded yearly
    years_ahead: int = 0  # plan for the load this many years from now
    sweep_q_kg_per_person_day: tuple[float, ...] = (0.8, 1.0, 1.2)
    sweep_years_ahead: tuple[int, ...] = (0,)
    allow_close_existing: bool = False
    allow_downgrade_existing: bool = False
    classes: tuple[StationClass, ...] = field(default=DEFAULT_CLASSES)
    snap_max_distance_m: float = 300.0
    time_limit_s: float = 120.0
    relative_gap: float = 0.01
    solver_log: bool = False  # print HiGHS's log while solving

    def growth_factor(self, years_ahead: int | None = None) -> float:
        years = self.years_ahead if years_ahead is None else years_ahead
        return (1.0 + self.growth_rate_per_year) ** years

    def station_class(self, name: str) -> StationClass:
        return next(c for c in self.classes if c.name == name)
