"""Accuracy of the sweeping audit on simulated sweeper shifts (issue 20): achieved rate against the truth.

    .venv/bin/python -m tests.fleet.audit.measure_sweeping --box 114.055,22.525,114.065,22.535 --seeds 0 1 2 3
    .venv/bin/python -m tests.fleet.audit.measure_sweeping --osm ../shared/osm/dalian_zhongshan_drive.osm.bz2 \\
        --box 121.63,38.905,121.645,38.92 --seeds 0 1 2 3

Each shift (:func:`fleet.simulate.sweepers.simulate_sweeper`: GPS noise σ 8 m, fixes every 10 s,
three 90 s reporting gaps, three streets skipped, one swept at 25 km/h) is audited from its positions
alone; a skipped or too-fast street is found when the report lists it as missed or too fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import shapely

from fleet.audit.sweeping import sweep_audit
from fleet.settings import FleetSettings
from fleet.simulate.sweepers import simulate_sweeper
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import build_tracks, read_positions
from routing.network.graph import load_network
from routing.sweeping.scope import kerbs_in_area
from routing.sweeping.settings import SweepingSettings


def measure(osm: Path | None, box: tuple[float, ...], seeds: list[int], signal: str) -> None:
    """Print one Markdown row per seed: truth, achieved, error, skipped and too-fast streets found."""
    fleet = FleetSettings()
    net = load_network(osm) if osm else load_network()
    kerbs = kerbs_in_area(net, area=shapely.box(*box), settings=SweepingSettings())
    settings = SweepingSettings(work_signal=signal)
    street = {k.kerb_id: k.name or f"way {k.way_id}" for k in kerbs}
    print(
        f"| {(osm.name if osm else 'shenzhen')} {box} | seed | kerbs | truth | achieved | error (pp) | skipped | too fast |"
    )
    worst = 0.0
    for seed in seeds:
        sim, truth = simulate_sweeper(net, kerbs, matcher=MapMatcher(net, settings=fleet.matching), seed=seed)
        frame, _ = read_positions(sim.positions)
        tracks = build_tracks(frame, projector=net, settings=fleet.track)
        matcher = MapMatcher(net, settings=fleet.matching)
        report = sweep_audit(kerbs, network=net, tracks=tracks, matcher=matcher, positions=frame, settings=settings)
        listed = set(report.streets_missed + report.streets_too_fast)
        skipped = {street[k] for k in truth.skipped}
        fast = {street[k] for k in truth.too_fast}
        error = (report.achieved_rate - truth.rate) * 100
        worst = max(worst, abs(error))
        print(
            f"| | {seed} | {len(kerbs)} | {truth.rate:.4f} | {report.achieved_rate:.4f} | {error:+.2f} | "
            f"{len(skipped & listed)}/{len(skipped)} | {len(fast & listed)}/{len(fast)} |"
        )
    print(f"largest error {worst:.2f} pp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, default=None, help="OSM file (default: the shipped Shenzhen network)")
    parser.add_argument("--box", required=True, help="lon0,lat0,lon1,lat1 of the area")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--signal", default="status_bit", choices=["speed", "status_bit"])
    args = parser.parse_args()
    measure(args.osm, tuple(float(v) for v in args.box.split(",")), args.seeds, args.signal)


if __name__ == "__main__":
    main()
