"""A simulated kitchen-waste collection round and its plan.json, for coverage tests.

The truck follows the plan's own road paths; stops it is told to skip it drives past without
stopping, so the coverage audit's truth is known.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from fleet.simulate.timeline import Timeline, node_xy, pick_route, pick_route_from, sample
from fleet.simulate.tracks import DAY, SimulatedTracks
from fleet.tracks.matching import MapMatcher
from routing.localtime import CHINA_TZ


def simulate_collection(
    network: object,
    *,
    seed: int = 0,
    stops: int = 8,
    skip: tuple[int, ...] = (),
    interval_s: float = 10.0,
    noise_m: float = 10.0,
    matcher: MapMatcher,
) -> tuple[SimulatedTracks, dict]:
    """A kitchen-waste truck's round and its ``plan.json``: depot → stops → facility → depot.

    The truck follows the plan's own road paths; at stops listed in ``skip`` (0-based) it drives
    past without stopping, so they are the ones a coverage audit must report missed.

    Parameters
    ----------
    network
        The ``RoadNetwork`` driven.
    seed
        Makes the round reproducible.
    stops
        Planned collection stops.
    skip
        0-based stops driven past without stopping.
    interval_s, noise_m, matcher
        As for :func:`fleet.simulate.tracks.simulate_haul`.

    Returns
    -------
    tuple
        The simulated truck and its plan.json document.
    """
    from routing.network.matrix import road_path

    net = network
    rng = np.random.default_rng(seed)
    device = f"K{seed:04d}"
    node, _, _ = pick_route(matcher, rng, min_m=100.0, max_m=2000.0)
    chain = [node]
    while len(chain) < stops + 2:
        found = pick_route_from(matcher, rng, node=chain[-1], min_m=400.0, max_m=1500.0)
        if found is not None and found[1] not in chain:
            chain.append(found[1])
    chain.append(node)  # back to the depot
    kinds = ["depot"] + ["site"] * stops + ["facility", "depot"]
    lon, lat = net.to_lonlat(*np.array([node_xy(net, n) for n in chain]).T)
    snapped = net.snap(ids=[str(i) for i in range(len(chain))], lon=lon, lat=lat)
    tl = Timeline(matcher, node, DAY + 6 * 3600)
    plan_stops = []
    load = 0.0
    iso = lambda t: datetime.fromtimestamp(t, tz=CHINA_TZ).isoformat()  # noqa: E731
    for k, kind in enumerate(kinds):
        arrival = tl.t
        if k > 0:
            path = road_path(net, origin=snapped[k - 1], destination=snapped[k])
            idx = [net.node_index(n) for n in path.nodes] or [tl.node]
            edges = (
                matcher.shortest_edges(tl.node, idx[0])
                + matcher.edges_along(idx)
                + matcher.shortest_edges(idx[-1], chain[k])
            )
            tl.follow(edges, rng=rng)
            arrival = tl.t
        demand = float(rng.uniform(100.0, 300.0)) if kind == "site" else 0.0
        unloaded = 0.0
        if kind == "site" and (k - 1) not in skip:
            tl.dwell(45.0)
        if kind == "site":
            load += demand
        if kind == "facility":
            tl.dwell(900.0)
            unloaded, load = load, 0.0
        plan_stops.append(
            {
                "kind": kind,
                "id": f"{kind}-{k}",
                "lon": round(float(lon[k]), 7),
                "lat": round(float(lat[k]), 7),
                "arrival": iso(arrival),
                "start": iso(arrival),
                "departure": iso(tl.t),
                "load_kg": {"kitchen": round(load, 3)},
                "unloaded_kg": {"kitchen": round(unloaded, 3)},
            }
        )
    tl.dwell(60.0)
    frame, _, _ = sample(tl, device=device, interval_s=interval_s, noise_m=noise_m, rng=rng)
    plan = {
        "scenario": f"sim-{seed}",
        "objective": {},
        "kpi": {"clearance_rate": 1.0},
        "routes": [{"vehicle_id": device, "stops": plan_stops}],
        "unserved": [],
    }
    return SimulatedTracks(frame, [], [], [], {device: list(tl.edges)}, interval_s), plan
