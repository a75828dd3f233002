"""Timed stops and routes: one truck's day as the plan evaluator writes it and every reader walks it.

Kept apart from :mod:`routing.planning.plan` (which times routes) so the measures
(:mod:`routing.planning.kpis`), the timeline chart and the exports read routes without importing
the evaluator. Times are integer seconds after local midnight of the problem's day.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Stop:
    """One entry of a truck's day at one place: serving, unloading, waiting, the break, or the depot."""

    kind: str  # depot | site | facility | break | wait
    id: str
    node: int | None
    arrival: int
    start: int
    departure: int
    load_kg: dict[str, float]
    unloaded_kg: dict[str, float]
    leg_distance_m: int = 0
    leg_duration_s: int = 0
    load_l: float = 0.0
    at: str | None = None  # break and wait: the kind of place (depot, site, facility) the truck stands at


@dataclass
class Route:
    """One truck's timed day, depot to depot."""

    vehicle_id: str
    stops: list[Stop]

    @property
    def start(self) -> int:
        return self.stops[0].departure

    @property
    def end(self) -> int:
        return self.stops[-1].arrival

    @property
    def distance_m(self) -> int:
        return sum(s.leg_distance_m for s in self.stops)

    def visits(self) -> list[str]:
        """The site and facility ids in order (the input form of :func:`evaluate_routes`)."""
        return [s.id for s in self.stops if s.kind in ("site", "facility")]
