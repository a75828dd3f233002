"""Throughput of the live rule engine: fixes judged per second on one core (issue 19).

    .venv/bin/python -m tests.fleet.audit.measure_engine [--trucks 5] [--zones 50] [--interval 10]

Each truck is a simulated 24-hour day of shuttles between its site and disposal site (permit
with an approved route, load signal); the fixes of all trucks are pushed one by one in GPS-time
order, as a gateway would hand them over. The first hour warms the per-truck windows up; the
figure is fixes per second over the rest, with the latency of one push (median, p99).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import pandas as pd

from fleet.audit.geometry import compile_permits, compile_zones
from fleet.settings import FleetSettings
from fleet.simulate.tracks import truck_day
from fleet.supervise.engine import Fix, SupervisionEngine
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import read_positions
from routing.network.graph import load_network
from tests.fleet.audit.nights import random_zones


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trucks", type=int, default=5)
    parser.add_argument("--zones", type=int, default=50)
    parser.add_argument("--interval", type=float, default=10.0)
    args = parser.parse_args()
    settings = FleetSettings()
    net = load_network()
    matcher = MapMatcher(net, settings=settings.matching)
    days = [truck_day(net, seed=s, interval_s=args.interval, matcher=matcher) for s in range(args.trucks)]
    frame, _ = read_positions(pd.concat([d.positions for d in days], ignore_index=True))
    frame = frame.sort_values("t", kind="stable")
    nan = lambda v: None if v is None or math.isnan(v) else v  # noqa: E731
    fixes = [
        Fix(r.device, float(r.t), float(r.lon), float(r.lat), nan(r.speed_kmh), nan(r.load), nan(r.ignition))
        for r in frame.itertuples(index=False)
    ]
    engine = SupervisionEngine(
        permits=compile_permits([p for d in days for p in d.permits], projector=net, settings=settings.compliance),
        zones=compile_zones(random_zones(net, count=args.zones, seed=0), projector=net),
        settings=settings.compliance,
        track_settings=settings.track,
        projector=net,
    )
    warm = fixes[0].t + 3600.0
    latencies, alarms = [], 0
    started = None
    for fix in fixes:
        if started is None and fix.t >= warm:
            started = time.perf_counter()
        t0 = time.perf_counter()
        alarms += len(engine.push(fix))
        if started is not None:
            latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    alarms += len(engine.close())
    windows = [len(t.window.times) for t in engine.trucks.values()]
    print(
        f"| {args.trucks} trucks × 24 h at {args.interval:g} s, {args.zones} zones, {len(latencies):,} fixes after a "
        f"1 h warm-up | {len(latencies) / elapsed:,.0f} fixes/s on one core | push median "
        f"{statistics.median(latencies) * 1000:.2f} ms, p99 {np.percentile(latencies, 99) * 1000:.2f} ms | "
        f"window {max(windows)} fixes at the end | {alarms} alarm events |"
    )


if __name__ == "__main__":
    main()
