"""Truck speed profile per OSM highway class.

Chinese city OSM data rarely carries ``maxspeed`` (0–2 % of edges), so truck
speeds come from the road class. Defaults are planning speeds for a loaded
2–9 t sanitation truck in urban traffic, below the design speeds of CJJ 37
(urban expressway 60–100 km/h, arterial 40–60, secondary arterial 30–50,
branch 20–40): trucks accelerate slowly, stop at signals and are limited to
60 km/h on urban expressways in most cities. Where OSM has a ``maxspeed`` lower
than the class speed, the lower value wins.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, Field

DEFAULT_TRUCK_SPEEDS_KPH: dict[str, float] = {
    "motorway": 60.0,
    "motorway_link": 35.0,
    "trunk": 50.0,
    "trunk_link": 30.0,
    "primary": 35.0,
    "primary_link": 25.0,
    "secondary": 30.0,
    "secondary_link": 25.0,
    "tertiary": 25.0,
    "tertiary_link": 20.0,
    "unclassified": 20.0,
    "residential": 18.0,
    "living_street": 10.0,
    "road": 20.0,
    "busway": 20.0,
}


class SpeedProfile(BaseModel):
    """Speeds (km/h) per highway class; ``fallback_kph`` for classes not listed."""

    speeds_kph: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TRUCK_SPEEDS_KPH))
    fallback_kph: float = Field(default=20.0, gt=0)
    respect_maxspeed: bool = True

    def cache_key(self) -> str:
        return json.dumps(self.model_dump(), sort_keys=True)

    def speed_for(self, *, highway: str, maxspeed: object = None) -> float:
        """Truck speed in km/h on an edge of class ``highway`` with OSM ``maxspeed``."""
        speed = self.speeds_kph.get(highway, self.fallback_kph)
        if self.respect_maxspeed:
            limit = parse_maxspeed(maxspeed)
            if limit is not None and limit < speed:
                speed = limit
        return speed


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)\s*(mph)?")


def parse_maxspeed(value: object) -> float | None:
    """OSM maxspeed ("60", "50 km/h", "30 mph", "60;40", lists) as km/h, lowest value; None if unusable."""
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple)) else [value]
    speeds: list[float] = []
    for item in values:
        for number, mph in _NUMBER.findall(str(item)):
            kph = float(number) * (1.609344 if mph else 1.0)
            if kph > 0:
                speeds.append(kph)
    return min(speeds) if speeds else None
