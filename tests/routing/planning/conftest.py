"""Small real-network scenarios on the shipped Guixi export (unit-test sized)."""

from __future__ import annotations

import pytest

from routing.planning.generate import reachable_points
from routing.planning.problem import problem_from_scenario
from routing.planning.scenario import parse_scenario
from tests.conftest import GUIXI_OSM as GUIXI


@pytest.fixture(scope="session")
def places(guixi):
    """40 mutually reachable road points: [0] is central (the depot)."""
    return reachable_points(guixi, n=40, seed=11)


def at(point) -> dict:
    return {"lon": point.lon, "lat": point.lat}


def base_scenario(
    places,
    *,
    sites: list[dict],
    vehicle_types: list[dict] | None = None,
    vehicles: list[dict] | None = None,
    facilities: list[dict] | None = None,
    break_rule: dict | None = None,
) -> dict:
    """A scenario document: depot at places[0], facilities at places[1..], sites as given."""
    return {
        "name": "test day",
        "date": "2026-11-22",
        "osm": str(GUIXI),
        "depots": [{"id": "D", "name": "车场", **at(places[0])}],
        "facilities": facilities
        if facilities is not None
        else [
            {
                "id": "F",
                "name": "处理厂",
                **at(places[1]),
                "streams": ["kitchen", "other", "recyclable", "hazardous"],
                "unload_min": 10,
            }
        ],
        "vehicle_types": vehicle_types
        or [{"id": "T", "streams": ["kitchen"], "capacity_kg": 5000, "capacity_m3": 10, "max_shift_h": 10}],
        "vehicles": vehicles or [{"id": "V1", "type": "T", "depot": "D", "shift_start": "06:00", "shift_end": "17:00"}],
        "break_rule": break_rule,
        "sites": sites,
    }


def site(
    places,
    k: int,
    *,
    stream: str = "kitchen",
    kg: float = 100.0,
    windows=None,
    access: str = "large",
    sid: str | None = None,
) -> dict:
    doc = {
        "id": sid or f"S{k}",
        "name": f"点 {k}",
        **at(places[k]),
        "stream": stream,
        "demand_kg": kg,
        "demand_l": kg,
        "service_s": 60,
        "access": access,
    }
    if windows:
        doc["windows"] = [{"start": a, "end": b} for a, b in windows]
    return doc


def build(doc: dict, guixi):
    return problem_from_scenario(parse_scenario(doc), network=guixi)[0]
