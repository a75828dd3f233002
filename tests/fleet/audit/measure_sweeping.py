"""Accuracy of the sweeping audit on simulated sweeper shifts (issue 20): achieved rate against the truth.

    .venv/bin/python -m tests.fleet.audit.measure_sweeping --box 114.055,22.525,114.065,22.535 --seeds 0 1 2 3
    .venv/bin/python -m tests.fleet.audit.measure_sweeping --osm ../shared/osm/dalian_zhongshan_drive.osm.bz2 \\
        --box 121.63,38.905,121.645,38.92 --seeds 0 1 2 3
    .venv/bin/python -m tests.fleet.audit.measure_sweeping --areas all --seeds $(seq 500 513)

Each shift (:func:`fleet.simulate.sweepers.simulate_sweeper`: GPS noise σ 8 m, fixes every 10 s,
three 90 s reporting gaps, three streets skipped, one swept at 25 km/h) is audited from its positions
alone; a skipped or too-fast street is found when the report lists it as missed or too fast, and a
kerb is over-credited when the audit credits more passes than the sweeper made (a skipped or too-fast
kerb credited). ``--areas all`` runs the three areas of the RESULTS table: Futian's centre, Futian's
west (深南/新洲 dual carriageways and slip roads) and Dalian Zhongshan.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import shapely

from fleet.audit.sweeping import sweep_audit
from fleet.settings import FleetSettings
from fleet.simulate.sweepers import simulate_sweeper
from fleet.tracks.matching import MapMatcher
from fleet.tracks.track import build_tracks, read_positions
from routing.network.graph import load_network
from routing.sweeping.scope import kerbs_in_area
from routing.sweeping.settings import SweepingSettings
from tests.conftest import SHARED

DALIAN = SHARED / "osm" / "dalian_zhongshan_drive.osm.bz2"
AREAS = {
    "futian-centre": (None, (114.055, 22.525, 114.065, 22.535)),
    "futian-west": (None, (114.03, 22.53, 114.045, 22.545)),
    "dalian": (DALIAN, (121.63, 38.905, 121.645, 38.92)),
}


def measure(osm: Path | None, box: tuple[float, ...], seeds: list[int], signal: str) -> list[dict]:
    """Print one Markdown row per seed and return the rows (error in pp, streets found, kerbs over-credited)."""
    fleet = FleetSettings()
    net = load_network(osm) if osm else load_network()
    kerbs = kerbs_in_area(net, area=shapely.box(*box), settings=SweepingSettings())
    settings = SweepingSettings(work_signal=signal)
    street = {k.kerb_id: k.name or f"way {k.way_id}" for k in kerbs}
    print(
        f"| {(osm.name if osm else 'shenzhen')} {box} | seed | kerbs | truth | achieved | error (pp) | skipped "
        "| too fast | over-credited kerbs |"
    )
    rows = []
    for seed in seeds:
        sim, truth = simulate_sweeper(net, kerbs, matcher=MapMatcher(net, settings=fleet.matching), seed=seed)
        frame, _ = read_positions(sim.positions)
        tracks = build_tracks(frame, projector=net, settings=fleet.track)
        matcher = MapMatcher(net, settings=fleet.matching)
        report = sweep_audit(kerbs, network=net, tracks=tracks, matcher=matcher, positions=frame, settings=settings)
        listed = set(report.streets_missed + report.streets_too_fast)
        skipped = {street[k] for k in truth.skipped}
        fast = {street[k] for k in truth.too_fast}
        over = [k.kerb_id for k in report.kerbs if k.passes > truth.swept[k.kerb_id]]
        row = {
            "error": (report.achieved_rate - truth.rate) * 100,
            "skipped": (len(skipped & listed), len(skipped)),
            "fast": (len(fast & listed), len(fast)),
            "over": over,
        }
        rows.append(row)
        print(
            f"| | {seed} | {len(kerbs)} | {truth.rate:.4f} | {report.achieved_rate:.4f} | {row['error']:+.2f} | "
            f"{row['skipped'][0]}/{row['skipped'][1]} | {row['fast'][0]}/{row['fast'][1]} | {' '.join(over) or '—'} |"
        )
    return rows


def summary(rows: list[dict]) -> str:
    """One line: runs, mean and largest |error|, runs within 1 pp, streets found, kerbs over-credited."""
    err = np.abs([r["error"] for r in rows])
    found = sum(r["skipped"][0] == r["skipped"][1] and r["fast"][0] == r["fast"][1] for r in rows)
    over = sum(bool(r["over"]) for r in rows)
    return (
        f"runs {len(rows)}, mean |error| {err.mean():.2f} pp, largest {err.max():.2f} pp, "
        f"within 1 pp {(err <= 1.0).sum()}/{len(rows)}, every skipped and too-fast street listed {found}/{len(rows)}, "
        f"runs with a kerb over-credited {over}/{len(rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, default=None, help="OSM file (default: the shipped Shenzhen network)")
    parser.add_argument("--box", help="lon0,lat0,lon1,lat1 of the area")
    parser.add_argument("--areas", choices=["all", *AREAS], help="preset area(s) instead of --osm/--box")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--signal", default="status_bit", choices=["speed", "status_bit"])
    args = parser.parse_args()
    if args.areas:
        cases = list(AREAS.values()) if args.areas == "all" else [AREAS[args.areas]]
    elif args.box:
        cases = [(args.osm, tuple(float(v) for v in args.box.split(",")))]
    else:
        parser.error("give --box or --areas")
    rows = [row for osm, box in cases for row in measure(osm, box, args.seeds, args.signal)]
    print(summary(rows))


if __name__ == "__main__":
    main()
