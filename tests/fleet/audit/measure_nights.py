"""Precision and recall of the batch audit on simulated nights (issue 19), per city and seed.

    .venv/bin/python -m tests.fleet.audit.measure_nights --osm /work/shared/osm/dalian_zhongshan_drive.osm.bz2 --seeds 0 1 2

A detection is right when its device had that kind injected; precision = right detections /
detections, recall = injected (device, kind) pairs detected / injected pairs.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from fleet.audit.pipeline import run_audit
from fleet.settings import FleetSettings
from fleet.tracks.matching import MapMatcher
from fleet.tracks.sources import Positions
from fleet.tracks.track import read_positions
from routing.network.graph import load_network
from tests.fleet.audit.nights import simulate_night


def measure(osm: Path, seeds: list[int], trucks: int, interval_s: float) -> None:
    """Print one Markdown row per seed and the total."""
    settings = FleetSettings()
    net = load_network(osm)
    matcher = MapMatcher(net, settings=settings.matching)
    print(f"| {osm.name} | seed | trucks | injected | detections | precision | recall | missed |")
    total_right = total_found = total_hit = total_truth = 0
    for seed in seeds:
        night = simulate_night(net, seed=seed, trucks=trucks, interval_s=interval_s, matcher=matcher, settings=settings)
        frame, rejected = read_positions(night.positions)
        started = time.perf_counter()
        result = run_audit(
            positions=Positions(frame, rejected, len(night.positions)),
            permits=night.permits,
            zones=night.zones,
            network=net,
            settings=settings,
        )
        elapsed = time.perf_counter() - started
        found = [(v.device, v.type) for v in result.violations]
        right = sum(1 for f in found if f in night.truth)
        hit = {f for f in found if f in night.truth}
        missed = Counter(kind for device, kind in night.truth - hit)
        total_right, total_found = total_right + right, total_found + len(found)
        total_hit, total_truth = total_hit + len(hit), total_truth + len(night.truth)
        precision = right / len(found) if found else 1.0
        print(
            f"| | {seed} | {trucks} | {len(night.truth)} | {len(found)} | {precision:.2f} | "
            f"{len(hit) / len(night.truth):.2f} | {dict(missed) or '-'} ({elapsed:.1f} s) |"
        )
    print(
        f"| | all | | {total_truth} | {total_found} | {total_right / max(total_found, 1):.2f} | "
        f"{total_hit / total_truth:.2f} | |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trucks", type=int, default=20)
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args()
    measure(args.osm, args.seeds, args.trucks, args.interval)


if __name__ == "__main__":
    main()
