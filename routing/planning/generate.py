"""A realistic collection day on any road network (``qingyun scenario generate``).

Sizes and rhythms follow ``../shared/DOMAIN.md``; each figure is a field of
:class:`GeneratorParams` with the documented value as default:
- restaurants: the producer mix of a 932,000-person city (12 very large, 38 large, 550
  small/medium, 240 school and 240 institutional canteens per 1,080), about 100 kg/day each
  (0.10–0.15 kg per resident / 1.2 producers per 1,000 residents); collected in the morning
  run (done by 10:00) or the evening run (around 21:00, about 2 h); school canteens are closed
  on Saturdays and Sundays, so a weekend day has none (the default day, :data:`DEFAULT_DAY`, is a Monday);
- community points: residents × 1.0 kg/person/day (0.8–1.2), kitchen share 45 %, four
  streams (hazardous bins at one point in five);
- bins of 120 L ≈ 100 kg kitchen waste; a bin lift 40 s; unloading 10–30 min;
- trucks: sealed kitchen-waste trucks 2–8 t, "9 t" compactors with a 12 m³ body,
  compacted density 0.6 t/m³; a depot, a kitchen-waste treatment plant, a transfer station,
  a recycling centre and a hazardous-waste depot placed on the network.
The fleet is sized from the day's workload with a margin, so a generated day is plannable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from routing.errors import InvalidInputError, UnreachableError
from routing.planning.scenario import Scenario

SCHOOL_CANTEEN = "学校食堂 / school canteen"
"""The producer kind of ``RESTAURANT_MIX`` that has no waste on Saturdays and Sundays."""

RESTAURANT_MIX = (  # (kind, share of producers, kg/day, windows)
    ("特大型餐饮 / very large restaurant", 12 / 1080, 400.0, (("06:00", "10:00"), ("19:00", "21:00"))),
    ("大型餐饮 / large restaurant", 38 / 1080, 200.0, (("06:00", "10:00"), ("19:00", "21:00"))),
    ("中小型餐饮 / small or medium restaurant", 550 / 1080, 60.0, (("06:00", "10:00"), ("19:00", "21:00"))),
    (SCHOOL_CANTEEN, 240 / 1080, 150.0, (("06:00", "10:00"), ("13:30", "16:30"))),
    ("机关单位食堂 / institutional canteen", 240 / 1080, 120.0, (("06:00", "10:00"), ("13:30", "16:30"))),
)


DEFAULT_DAY = date(2026, 11, 23)
"""The generated day when none is given: a Monday (a weekday, so school canteens are collected)."""


@dataclass(frozen=True)
class GeneratorParams:
    residents_per_point: int = 1000
    kg_per_resident: float = 1.0
    kitchen_share: float = 0.45
    recyclable_share: float = 0.15
    hazardous_share: float = 0.005
    hazardous_every: int = 5  # hazardous bins at one community point in N
    narrow_lane_share: float = 0.12  # sites in lanes only small trucks enter
    bin_lift_s: float = 40.0
    approach_s: float = 60.0  # park, walk to the bins, come back
    kitchen_bin_kg: float = 100.0  # 120 L bin
    community_bin_kg: float = 200.0  # 240 L bin
    kitchen_kg_per_l: float = 0.85
    compacted_kg_per_l: float = 0.6
    recyclable_kg_per_l: float = 0.15
    hazardous_kg_per_l: float = 0.5
    fleet_margin: float = 1.3
    small_fleet_margin: float = 1.6  # narrow-lane trucks carry little and haul far: more slack


def reachable_points(network, *, n: int, seed: int) -> list:
    """``n`` random road points that all reach, and are reached from, the first (central) one.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    n : int
        Points wanted; the first is the one nearest the centre of the candidates.
    seed : int
        Random seed.

    Returns
    -------
    list of SnappedPoint
        ``n`` points.

    Raises
    ------
    InvalidInputError
        If fewer than ``n`` candidates reach the central point both ways.
    """
    from routing.network.matrix import travel_matrices

    candidates = network.random_points(n=int(n * 1.15) + 20, seed=seed, prefix="c")
    xy = np.array([[p.x, p.y] for p in candidates])
    hub = int(np.argmin(np.linalg.norm(xy - xy.mean(axis=0), axis=1)))
    rest = [p for i, p in enumerate(candidates) if i != hub]
    bad: set[str] = set()
    for outbound in (True, False):
        try:
            if outbound:
                travel_matrices(network, points=[candidates[hub]], destinations=rest)
            else:
                travel_matrices(network, points=rest, destinations=[candidates[hub]])
        except UnreachableError as exc:
            bad.update(b if outbound else a for a, b in exc.pairs)
    usable = [candidates[hub]] + [p for p in rest if p.id not in bad]
    if len(usable) < n:
        raise InvalidInputError(f"network too small or fragmented: {len(usable)} reachable places for {n} needed")
    return usable[:n]


FACILITIES = [  # each opposite a different edge of the area (``_facility_points``), as plants usually are
    {
        "id": "F-KITCHEN",
        "name": "餐厨垃圾处理厂 / kitchen-waste treatment plant",
        "kind": "treatment_plant",
        "at": "kitchen_plant",
        "streams": ["kitchen"],
        "opening_hours": [{"start": "05:00", "end": "23:30"}],
        "unload_min": 15,
        "daily_capacity_t": None,
    },
    {
        "id": "F-TRANSFER",
        "name": "生活垃圾转运站 / transfer station",
        "kind": "transfer_station",
        "at": "transfer",
        "streams": ["other"],
        "opening_hours": [{"start": "05:00", "end": "22:00"}],
        "unload_min": 10,
        "daily_capacity_t": None,
    },
    {
        "id": "F-RECYCLE",
        "name": "再生资源分拣中心 / recycling centre",
        "kind": "recycling_centre",
        "at": "recycling",
        "streams": ["recyclable"],
        "opening_hours": [{"start": "07:00", "end": "19:00"}],
        "unload_min": 20,
        "daily_capacity_t": None,
    },
    {
        "id": "F-HAZARD",
        "name": "有害垃圾暂存点 / hazardous-waste depot",
        "kind": "hazardous_depot",
        "at": "hazardous",
        "streams": ["hazardous"],
        "opening_hours": [{"start": "08:00", "end": "18:00"}],
        "unload_min": 15,
        "daily_capacity_t": None,
    },
]


VEHICLE_TYPES = [  # the fleet a Chinese district runs: a large and a small truck per stream
    {
        "id": "kitchen-8t",
        "name": "餐厨垃圾车 8 t / sealed kitchen-waste truck",
        "streams": ["kitchen"],
        "capacity_kg": 8000,
        "capacity_m3": 9.5,
        "access": "large",
        "fixed_cost": 450,
        "cost_per_km": 4.0,
        "cost_per_hour": 70,
        "max_shift_h": 10,
    },
    {
        "id": "kitchen-2t",
        "name": "小型餐厨车 2 t / small kitchen-waste truck",
        "streams": ["kitchen"],
        "capacity_kg": 2000,
        "capacity_m3": 2.5,
        "access": "small",
        "fixed_cost": 250,
        "cost_per_km": 2.5,
        "cost_per_hour": 60,
        "max_shift_h": 10,
    },
    {
        "id": "compactor-9t",
        "name": "压缩式垃圾车 9 t / compactor",
        "streams": ["other"],
        "capacity_kg": 9000,
        "capacity_m3": 12,
        "access": "large",
        "fixed_cost": 500,
        "cost_per_km": 4.5,
        "cost_per_hour": 70,
        "max_shift_h": 10,
    },
    {
        "id": "compactor-3t",
        "name": "小型压缩车 3 t / small compactor",
        "streams": ["other"],
        "capacity_kg": 3000,
        "capacity_m3": 5,
        "access": "small",
        "fixed_cost": 280,
        "cost_per_km": 2.8,
        "cost_per_hour": 60,
        "max_shift_h": 10,
    },
    {
        "id": "recycle-3t",
        "name": "可回收物车 3 t / recyclables box truck",
        "streams": ["recyclable"],
        "capacity_kg": 3000,
        "capacity_m3": 18,
        "access": "small",
        "fixed_cost": 280,
        "cost_per_km": 2.8,
        "cost_per_hour": 60,
        "max_shift_h": 10,
    },
    {
        "id": "hazard-1t",
        "name": "有害垃圾车 1 t / hazardous-waste van",
        "streams": ["hazardous"],
        "capacity_kg": 1000,
        "capacity_m3": 4,
        "access": "small",
        "fixed_cost": 250,
        "cost_per_km": 2.5,
        "cost_per_hour": 60,
        "max_shift_h": 10,
    },
]


def _where(p) -> dict:
    return {"lon": round(p.lon, 7), "lat": round(p.lat, 7)}


def _service_s(kg: float, bin_kg: float, g: GeneratorParams) -> float:
    """Approach plus one lift per bin the waste fills."""
    return round(g.approach_s + g.bin_lift_s * math.ceil(max(kg, 1.0) / bin_kg))


def _access(rng: np.random.Generator, g: GeneratorParams) -> str:
    return "small" if rng.random() < g.narrow_lane_share else "large"


def _facility_points(rest: list, *, centre: np.ndarray) -> tuple[dict, list]:
    """Facilities towards four different edges of the area, as plants and stations usually are; the rest."""
    rest_xy = np.array([[p.x, p.y] for p in rest]) - centre
    directions = {"kitchen_plant": (1, 1), "transfer": (-1, -1), "recycling": (1, -1), "hazardous": (-1, 1)}
    taken: set[int] = set()
    facility_pts = {}
    for key, (dx, dy) in directions.items():
        score = rest_xy[:, 0] * dx + rest_xy[:, 1] * dy
        order = [i for i in np.argsort(-score) if i not in taken]
        pick = order[min(len(order) - 1, 2)]
        taken.add(pick)
        facility_pts[key] = rest[pick]
    return facility_pts, [p for i, p in enumerate(rest) if i not in taken]


def _restaurant_sites(points: list, rng: np.random.Generator, g: GeneratorParams, *, day: date) -> list[dict]:
    """One kitchen-waste site per restaurant, canteen or hotel kitchen (``RESTAURANT_MIX``); no school on weekends."""
    sites = []
    weekend = day.weekday() >= 5
    shares = np.array([0.0 if weekend and m[0] == SCHOOL_CANTEEN else m[1] for m in RESTAURANT_MIX])
    kinds = rng.choice(len(RESTAURANT_MIX), size=len(points), p=shares / shares.sum())
    for i, (p, k) in enumerate(zip(points, kinds)):
        label, _, mean_kg, windows = RESTAURANT_MIX[k]
        kg = round(float(mean_kg * rng.uniform(0.6, 1.4)), 1)
        sites.append(
            {
                "id": f"R{i + 1:04d}",
                "name": f"{label.split(' / ')[0]} {i + 1}",
                "address": f"餐厨收运点 R{i + 1:04d}",
                **_where(p),
                "stream": "kitchen",
                "demand_kg": kg,
                "demand_l": round(kg / g.kitchen_kg_per_l, 1),
                "service_s": _service_s(kg, g.kitchen_bin_kg, g),
                "windows": [{"start": a, "end": b} for a, b in windows],
                "access": _access(rng, g),
            }
        )
    return sites


STREAM_WINDOWS = {
    "kitchen": [("06:00", "11:00")],
    "other": [("06:00", "11:00")],
    "recyclable": [("08:00", "17:00")],
    "hazardous": [("09:00", "16:00")],
}


def _community_sites(points: list, rng: np.random.Generator, g: GeneratorParams) -> list[dict]:
    """Three or four sites (one per stream) at each community collection point."""
    density = {
        "kitchen": g.kitchen_kg_per_l,
        "other": g.compacted_kg_per_l,
        "recyclable": g.recyclable_kg_per_l,
        "hazardous": g.hazardous_kg_per_l,
    }
    other_share = 1.0 - g.kitchen_share - g.recyclable_share - g.hazardous_share
    sites = []
    for i, p in enumerate(points):
        residents = g.residents_per_point * rng.uniform(0.6, 1.4)
        total = residents * g.kg_per_resident
        narrow = _access(rng, g)
        streams = {"kitchen": g.kitchen_share, "other": other_share, "recyclable": g.recyclable_share}
        if i % g.hazardous_every == 0:
            streams["hazardous"] = g.hazardous_share * g.hazardous_every
        for stream, share in streams.items():
            kg = round(total * share, 1)
            sites.append(
                {
                    "id": f"C{i + 1:04d}-{stream[0].upper()}",
                    "name": f"小区收集点 {i + 1}",
                    "address": f"社区收集点 C{i + 1:04d}",
                    **_where(p),
                    "stream": stream,
                    "demand_kg": kg,
                    "demand_l": round(kg / density[stream], 1),
                    "service_s": _service_s(kg, g.community_bin_kg, g),
                    "windows": [{"start": a, "end": b} for a, b in STREAM_WINDOWS[stream]],
                    "access": narrow,
                }
            )
    return sites


def generate_scenario(
    network,
    *,
    restaurants: int,
    communities: int,
    seed: int = 1,
    day: date = DEFAULT_DAY,
    osm: str | None = None,
    name: str | None = None,
    settings: GeneratorParams = GeneratorParams(),
) -> Scenario:
    """A plannable day of ``restaurants`` + ``communities`` points on ``network``.

    Parameters
    ----------
    network
        The road network (:class:`routing.network.graph.RoadNetwork`); every place is mutually reachable on it.
    restaurants, communities
        How many restaurant (kitchen waste) and community (three or four streams) collection points.
    seed
        Generator seed: the same seed gives the same scenario.
    day
        The service day (a Saturday or Sunday has no school canteens).
    osm
        The network's file, recorded in the scenario.
    name
        Scenario name; none = from the file name, day and seed.
    settings
        Demand, service-time and fleet-sizing figures.

    Returns
    -------
    Scenario

    Raises
    ------
    QingyunError
        No point asked for.
    """
    if restaurants < 0 or communities < 0 or restaurants + communities == 0:
        raise InvalidInputError(f"need at least one restaurant or community point (got {restaurants}, {communities})")
    rng = np.random.default_rng(seed)
    wanted = restaurants + communities
    usable = reachable_points(network, n=wanted + 5, seed=seed)
    depot_pt = usable[0]
    facility_pts, pool = _facility_points(usable[1:], centre=np.array([[p.x, p.y] for p in usable]).mean(axis=0))
    sites = _restaurant_sites(pool[:restaurants], rng, settings, day=day)
    sites += _community_sites(pool[restaurants:wanted], rng, settings)
    facilities = [{**{k: v for k, v in f.items() if k != "at"}, **_where(facility_pts[f["at"]])} for f in FACILITIES]
    vehicle_types = [dict(t) for t in VEHICLE_TYPES]
    vehicles = _size_fleet(network, depot_pt, sites, facility_pts, vehicle_types, settings)
    doc = {
        "name": name or f"{Path(osm).name.split('.')[0] if osm else 'city'} {day.isoformat()} seed {seed}",
        "date": day.isoformat(),
        "utc_offset": "+08:00",
        "osm": osm,
        "depots": [{"id": "DEPOT", "name": "环卫车辆停保场 / vehicle depot", **_where(depot_pt)}],
        "facilities": facilities,
        "vehicle_types": vehicle_types,
        "vehicles": vehicles,
        "break_rule": {"duration_min": 60, "earliest_start": "11:00", "latest_start": "13:00"},
        "sites": sites,
    }
    return Scenario.model_validate(doc)


def _size_fleet(network, depot_pt, sites, facility_pts, vehicle_types, g: GeneratorParams) -> list[dict]:
    """Trucks per type and shift from the work inside each collection window, with margin.

    Work = service time + about 150 s driving per stop + per trip a round haul to the facility
    at 25 km/h and 20 min at the facility. Community points and half of the restaurants are
    collected by the morning shift (windows 06:00–11:00), the other half of the restaurants by
    an evening shift (canteens 13:30–16:30, restaurants 19:00–21:00).
    """
    types = {t["id"]: t for t in vehicle_types}
    facility_for = {
        "kitchen": "kitchen_plant",
        "other": "transfer",
        "recyclable": "recycling",
        "hazardous": "hazardous",
    }
    window_h = {"kitchen": 5.0, "other": 5.0, "recyclable": 9.0, "hazardous": 7.0}
    depot_xy = np.array([depot_pt.x, depot_pt.y])
    fleet = {
        "kitchen": ("kitchen-8t", "kitchen-2t"),
        "other": ("compactor-9t", "compactor-3t"),
        "recyclable": ("recycle-3t", "recycle-3t"),
        "hazardous": ("hazard-1t", "hazard-1t"),
    }
    vehicles = []

    def hours(members, t, haul_km) -> float:
        kg = sum(s["demand_kg"] for s in members)
        litres = sum(s["demand_l"] for s in members)
        trips = max(kg / t["capacity_kg"], litres / (t["capacity_m3"] * 1000))
        return (sum(s["service_s"] for s in members) + 150 * len(members)) / 3600 + trips * (2 * haul_km / 25 + 20 / 60)

    for stream, (big, small) in fleet.items():
        group = [s for s in sites if s["stream"] == stream]
        if not group:
            continue
        f = facility_pts[facility_for[stream]]
        haul_km = np.linalg.norm(np.array([f.x, f.y]) - depot_xy) / 1000.0 * 1.4
        split = [
            (big, [s for s in group if s["access"] != "small"]),
            (small, [s for s in group if s["access"] == "small"]),
        ]
        for type_id, members in split if big != small else [(big, group)]:
            if not members:
                continue
            t = types[type_id]
            restaurants = [s for s in members if s["id"].startswith("R")]
            morning = [s for s in members if not s["id"].startswith("R")] + restaurants[::2]
            evening = restaurants[1::2]
            shifts = [("05:30", "15:30", morning, window_h[stream]), ("13:00", "22:30", evening, 2.5)]
            k = 0
            for start, end, work, span in shifts:
                if not work:
                    continue
                margin = g.small_fleet_margin if t["access"] == "small" and big != small else g.fleet_margin
                count = math.ceil(margin * hours(work, t, haul_km) / span)
                for _ in range(count):
                    k += 1
                    vehicles.append(
                        {
                            "id": f"{type_id}-{k:02d}",
                            "type": type_id,
                            "depot": "DEPOT",
                            "shift_start": start,
                            "shift_end": end,
                        }
                    )
    return vehicles


def write_scenario(scenario: Scenario, path: Path) -> None:
    """Write a scenario as JSON (every field, nulls included).

    Parameters
    ----------
    scenario : Scenario
        The scenario.
    path : Path
        The JSON file to write (UTF-8).
    """
    Path(path).write_text(scenario.model_dump_json(indent=1, exclude_none=False), encoding="utf-8")
