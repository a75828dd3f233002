"""The 10 Kim, Kim & Sahoo (2006) waste-collection instances through the product solver.

Every plan is certified by the independent checker (capacity, windows, lunch 11:00–12:00,
disposal before returning, stop and yardage limits); vehicles and total Manhattan miles are
compared with the partial, unverified transcription of Kim et al.'s Table 3. The files are
read from ../shared (never copied into the project). Writes ``benchmarks/out/kim_<S>s.csv``.

    .venv/bin/python benchmarks/bench_kim.py [--time-limit 60] [--instances 102 277 …]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KIM = ROOT.parent / "shared" / "benchmarks" / "waste_kim2006"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--instances", nargs="*", default=None, help="stop counts, e.g. 102 277 (default: all 10)")
    args = parser.parse_args()

    from api.cli import app

    files = (
        [KIM / f"{n}_stop.txt" for n in args.instances]
        if args.instances
        else sorted(KIM.glob("*_stop.txt"), key=lambda p: int(p.stem.split("_")[0]))
    )
    out = ROOT / "benchmarks" / "out" / f"kim_{args.time_limit:g}s"
    argv = ["bench", "kim", "--instances", *map(str, files), "--time-limit", str(args.time_limit)]
    argv += ["--out", f"{out}.csv", "--solutions", str(out)]
    app(argv, standalone_mode=True)


if __name__ == "__main__":
    main()
