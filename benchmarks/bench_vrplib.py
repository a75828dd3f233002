"""Published VRPLIB sets, the product solver beside PyVRP and VROOM (issue 4's protocol).

- ``solomon``: all 56 Solomon VRPTW instances, DIMACS convention, ``--time-limit`` s each (10).
- ``gh200``: 20 Gehring & Homberger 200-customer instances, 30 s each: numbers 1, 4 and 7 of
  each of the six classes (C1 C2 R1 R2 RC1 RC2) plus number 10 of R1 and RC1, the two
  tight-window random classes where solvers differ most.
- ``x``: 20 CVRP X instances spread evenly over the 100 sorted by size (n101 … n1001),
  2.4·n/10 s each (n = customers).

Each instance is solved by every solver with the same budget, in one run, and judged by the
independent checker; the table gives mean / median / worst gap to the BKS. Writes
``benchmarks/out/<set>.csv`` and the .sol files next to it.

    .venv/bin/python benchmarks/bench_vrplib.py solomon [--time-limit 10] [--no-peers] [--instances C101 …]
    .venv/bin/python benchmarks/bench_vrplib.py gh200
    .venv/bin/python benchmarks/bench_vrplib.py x
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "benchmarks"
GH_CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")


def solomon_instances() -> list[Path]:
    return sorted((SHARED / "solomon").glob("*.vrp"))


def gh200_instances() -> list[Path]:
    folder = SHARED / "gehring_homberger" / "GH200"
    names = [f"{c}_2_{k}" for c in GH_CLASSES for k in (1, 4, 7)] + ["R1_2_10", "RC1_2_10"]
    return [folder / f"{name}.vrp" for name in names]


def x_instances(count: int = 20) -> list[Path]:
    paths = sorted((SHARED / "cvrplib_X").glob("X-n*.vrp"), key=lambda p: int(re.search(r"-n(\d+)-", p.name).group(1)))
    return [paths[round(i * (len(paths) - 1) / (count - 1))] for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", choices=("solomon", "gh200", "x"), nargs="?", default="solomon")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per instance (solomon 10, gh200 30)")
    parser.add_argument("--no-peers", action="store_true", help="the product solver only")
    parser.add_argument("--instances", nargs="*", default=None, help="instance names (default: the whole set)")
    parser.add_argument("--strategies", default=None, help="first-solution strategies, comma-separated")
    args = parser.parse_args()

    from api.cli import app

    paths = {"solomon": solomon_instances, "gh200": gh200_instances, "x": x_instances}[args.set]()
    if args.instances:
        paths = [p for p in paths if p.stem in set(args.instances)]
    kind = "cvrp" if args.set == "x" else "vrptw"
    budget = (
        ["--seconds-per-customer", "0.24"]
        if args.set == "x" and args.time_limit is None
        else ["--time-limit", str(args.time_limit or {"solomon": 10.0, "gh200": 30.0, "x": 10.0}[args.set])]
    )
    label = args.set if args.set == "x" and args.time_limit is None else f"{args.set}_{budget[1]}s"
    out = ROOT / "benchmarks" / "out" / label
    argv = ["bench", kind, "--instances", *map(str, paths), *budget, "--out", f"{out}.csv", "--solutions", str(out)]
    argv += [] if args.no_peers else ["--peers"]
    argv += ["--strategies", args.strategies] if args.strategies else []
    app(argv, standalone_mode=True)


if __name__ == "__main__":
    main()
