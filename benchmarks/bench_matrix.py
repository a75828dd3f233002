"""Travel-matrix build time and peak memory on real road networks.

Wall time and the process's CPU time are both reported: on a shared machine
the CPU time is the steadier figure. Each size runs in a fresh subprocess pinned to one core (``taskset -c 0`` when
available) so that peak RSS and time belong to that size alone.

    .venv/bin/python benchmarks/bench_matrix.py [--sizes 200 1000 2000] [--osm FILE] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, resource, sys, time
from routing.network.matrix import travel_matrices
from routing.network.graph import load_network
osm, n, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
network = load_network(osm)
points = network.random_points(n=n, seed=42)
base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times, cpu = [], []
for _ in range(repeat):
    started, cpu_started = time.perf_counter(), time.process_time()
    m = travel_matrices(network, points=points)
    times.append(time.perf_counter() - started)
    cpu.append(time.process_time() - cpu_started)
print(json.dumps({"n": n, "nodes": network.graph.number_of_nodes(), "best_s": min(times), "times": times,
                  "best_cpu_s": min(cpu),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_mb": base_rss / 1024, "mean_duration_min": float(m.duration_s.mean() / 60)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--osm", default=str(ROOT / "data/osm/shenzhen_nanshan_futian_drive.osm.bz2"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    print(f"# {Path(args.osm).name} on {platform.node()} ({platform.processor() or platform.machine()}), one core")
    print("| points | matrix | best wall (s) | all runs wall (s) | best CPU (s) | peak RSS (MB) |")
    print("|---:|---|---:|---|---:|---:|")
    for n in args.sizes:
        out = subprocess.run(
            [*pin, sys.executable, "-c", CHILD, args.osm, str(n), str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        runs = ", ".join(f"{t:.2f}" for t in r["times"])
        print(
            f"| {n:,} | {n:,}×{n:,} duration+distance | {r['best_s']:.2f} | {runs} | {r['best_cpu_s']:.2f} | {r['peak_rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
