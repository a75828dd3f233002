"""Simulated nights of construction-waste trucks with injected violations, for the supervision tests and measures.

A night is ``trucks`` independent hauls on a real road network, reported every ``interval_s``;
two trucks per injected kind and the rest compliant. Besides the simulator's own injections,
two kinds are shaped after the field cases the batch audit used to miss (issue 19):
``reporting_gap`` is a silence of 142–181 s while moving that ends about a kilometre further
on, and ``restricted_zone`` is a 240 m square zone the haul drives straight through (at 15 s a
fix, one fix or none falls inside it) at least 50 m from every other truck's path. The simulator's
decoy zones are left out, so the only zones are the injected ones. The truth is the injected
kind per device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from fleet.audit.geometry import compile_permits, compile_zones
from fleet.audit.inputs import ZoneFeature
from fleet.settings import FleetSettings
from fleet.simulate.tracks import simulate_haul
from fleet.supervise.engine import Fix, SupervisionEngine
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import read_positions

NIGHT_KINDS = (
    "off_route",
    "restricted_zone",
    "outside_hours",
    "speeding",
    "suspected_dumping",
    "trip_not_closed",
    "reporting_gap",
)


@dataclass
class Night:
    """The audit's inputs for a night and the injected (device, kind) pairs."""

    positions: pd.DataFrame
    permits: list
    zones: list[ZoneFeature]
    truth: set[tuple[str, str]]


def _zone_240(network, frame: pd.DataFrame, others: list[pd.DataFrame], *, zone_id: str) -> ZoneFeature:
    """A 240 m square zone centred on a moving fix of the haul, nearest its middle, no other truck's path within 50 m."""
    moving = frame[frame["speed_kmh"] > 15.0]
    x, y = network.to_xy(moving["lon"].to_numpy(), moving["lat"].to_numpy())
    paths = []
    for other in others:
        ox, oy = network.to_xy(other["lon"].to_numpy(), other["lat"].to_numpy())
        paths.append(shapely.linestrings(np.column_stack([ox, oy])))
    elsewhere = shapely.union_all(paths)
    mid = len(moving) // 2
    for k in sorted(range(len(moving)), key=lambda k: abs(k - mid)):
        box = shapely.box(float(x[k]) - 120, float(y[k]) - 120, float(x[k]) + 120, float(y[k]) + 120)
        if shapely.distance(box, elsewhere) > 50.0:
            break
    else:
        raise RuntimeError(f"{zone_id}: every fix of the haul is within 50 m of another truck's path")
    ring = np.asarray(box.exterior.coords)
    lon, lat = network.to_lonlat(ring[:, 0], ring[:, 1])
    geometry = {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(lon, lat)]]}
    return ZoneFeature.model_validate(
        {
            "type": "Feature",
            "properties": {"id": zone_id, "name": zone_id, "kind": "restricted", "schedule": []},
            "geometry": geometry,
        }
    )


def _short_gap(network, frame: pd.DataFrame, *, rng: np.random.Generator) -> pd.DataFrame:
    """Remove the fixes of a 142–181 s silence while moving that ends at least 1 km from where it began."""
    x, y = network.to_xy(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    t = pd.to_datetime(frame["time"]).map(lambda s: s.timestamp()).to_numpy()
    fast = frame["speed_kmh"].to_numpy() > 20.0
    for first in rng.permutation(np.arange(5, len(frame) - 20)):
        for last in range(first + 2, first + 20):
            silence = t[last] - t[first]
            if 142.0 <= silence <= 181.0 and fast[first] and fast[last]:
                if np.hypot(x[last] - x[first], y[last] - y[first]) >= 1000.0 and fast[first : last + 1].all():
                    return frame.drop(frame.index[first + 1 : last]).reset_index(drop=True)
    raise RuntimeError("no 142–181 s stretch of fast driving covering 1 km")


def _truck(network, kind: str | None, *, seed: int, interval_s: float, matcher, settings: FleetSettings):
    sim_kind = None if kind in ("reporting_gap", "restricted_zone") else kind
    sc = simulate_haul(
        network, violation=sim_kind, seed=seed, interval_s=interval_s, noise_m=10.0, matcher=matcher, settings=settings
    )
    frame = sc.positions
    if kind == "reporting_gap":
        frame = _short_gap(network, frame, rng=np.random.default_rng(seed))
    return frame, sc.permits


def simulate_night(
    network: object,
    *,
    seed: int,
    trucks: int = 20,
    interval_s: float = 15.0,
    matcher: MapMatcher,
    settings: FleetSettings,
) -> Night:
    """``trucks`` hauls of one night: two per kind of ``NIGHT_KINDS``, the others compliant.

    Parameters
    ----------
    network
        The ``RoadNetwork`` driven.
    seed
        Makes the night reproducible (each truck's haul has its own seed derived from it).
    trucks, interval_s
        Fleet size and reporting interval.
    matcher, settings
        Shortest paths and the thresholds the simulator's truth follows.

    Returns
    -------
    Night
    """
    kinds: list[str | None] = [k for k in NIGHT_KINDS for _ in range(2)]
    kinds = (kinds + [None] * max(0, trucks - len(kinds)))[:trucks]
    devices = [f"N{seed}-{i:02d}" for i in range(len(kinds))]

    def drive(i: int, attempt: int = 0) -> tuple[pd.DataFrame, list]:
        frame, p = _truck(
            network,
            kinds[i],
            seed=seed * 1000 + i + 100 * attempt,
            interval_s=interval_s,
            matcher=matcher,
            settings=settings,
        )
        return frame.assign(device=devices[i]), [
            x.model_copy(update={"device": devices[i], "permit_id": f"P{devices[i]}"}) for x in p
        ]

    hauls = [drive(i) for i in range(len(kinds))]
    zones = []
    for i, kind in enumerate(kinds):
        if kind != "restricted_zone":
            continue
        for attempt in range(1, 20):  # a haul on roads every other truck drives has no quiet spot: drive another
            others = [frame for k, (frame, _) in enumerate(hauls) if k != i]
            try:
                zones.append(_zone_240(network, hauls[i][0], others, zone_id=f"{devices[i]}-zone"))
                break
            except RuntimeError:
                hauls[i] = drive(i, attempt)
    frames = [frame for frame, _ in hauls]
    permits = [p for _, ps in hauls for p in ps]
    truth = {(d, k) for d, k in zip(devices, kinds) if k is not None}
    return Night(pd.concat(frames, ignore_index=True), permits, zones, truth)


def random_zones(net, *, count: int, seed: int) -> list[ZoneFeature]:
    """``count`` restricted 240 m squares at random road nodes (active 07:00–20:00)."""
    out, rng = [], np.random.default_rng(seed)
    for k, node in enumerate(rng.choice(len(net.node_ids), size=count, replace=False)):
        data = net.graph.nodes[net.node_ids[node]]
        ring = np.asarray(
            shapely.box(data["x"] - 120, data["y"] - 120, data["x"] + 120, data["y"] + 120).exterior.coords
        )
        lon, lat = net.to_lonlat(ring[:, 0], ring[:, 1])
        out.append(
            ZoneFeature.model_validate(
                {
                    "type": "Feature",
                    "properties": {
                        "id": f"Z{k}",
                        "name": f"Z{k}",
                        "kind": "restricted",
                        "schedule": [{"start": "07:00", "end": "20:00"}],
                    },
                    "geometry": {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(lon, lat)]]},
                }
            )
        )
    return out


def frame_fixes(frame: pd.DataFrame) -> list[Fix]:
    """Typed positions → fixes, in the frame's order (what a live worker would push)."""
    typed, rejected = read_positions(frame)
    assert not rejected
    value = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else v  # noqa: E731
    return [
        Fix(
            device=r.device,
            t=float(r.t),
            lon=float(r.lon),
            lat=float(r.lat),
            speed_kmh=value(r.speed_kmh),
            load=None if value(r.load) is None else int(r.load),
            ignition=None if value(r.ignition) is None else int(r.ignition),
            status=None if value(r.status) is None else int(r.status),
        )
        for r in typed.itertuples(index=False)
    ]


def scenario_engine(net, scenario) -> SupervisionEngine:
    """A supervision engine for a scenario's permits and zones, default thresholds."""
    fleet = FleetSettings()
    return SupervisionEngine(
        permits=compile_permits(scenario.permits, projector=net, settings=fleet.compliance),
        zones=compile_zones(scenario.zones, projector=net),
        settings=fleet.compliance,
        track_settings=fleet.track,
        projector=net,
    )
