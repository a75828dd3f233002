"""Daily collection planning at city scale (issue 3).

Generated days of about 500, 2,000, 5,000 and 10,000 stops on the shipped Shenzhen network and one
on Dalian (../shared/osm), each planned with ``routing.planning.search.driver.solve`` and certified by the
independent checker. Reports wall time (matrices + solve), solve time, peak memory of this
process and its search workers, clearance rate, checker violations and the best cost over
time. Run: ``.venv/bin/python benchmarks/bench_planning.py [--only 500,2000] [--time-limit 30]``.
Peak memory is the larger of this process's and its largest worker's max RSS (forked workers share
the day's matrices, so the two are not added); run one case per process for a per-case figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from routing.network.graph import load_network
from routing.network.settings import SOURCE_OSM_DIR, shipped_osm
from routing.planning.check import check_plan
from routing.planning.generate import generate_scenario
from routing.planning.problem import problem_from_scenario
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams

DEFAULT_OSM, PROJECT_ROOT = shipped_osm(), SOURCE_OSM_DIR.parents[1]
DALIAN = PROJECT_ROOT.parent / "shared" / "osm" / "dalian_zhongshan_drive.osm.bz2"

# (label, osm, restaurants, community points, time limit s); ~3.2 stops per community point
CASES = [
    ("500", DEFAULT_OSM, 200, 95, 60.0),
    ("2000", DEFAULT_OSM, 800, 375, 180.0),
    ("5000", DEFAULT_OSM, 2000, 940, 420.0),
    ("10000", DEFAULT_OSM, 4000, 1880, 600.0),
    ("dalian-1000", DALIAN, 400, 190, 120.0),
]


def peak_memory_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def run(label: str, osm: Path, restaurants: int, communities: int, time_limit: float) -> dict:
    began = time.perf_counter()
    network = load_network(osm)
    scenario = generate_scenario(network, restaurants=restaurants, communities=communities, seed=2026, osm=str(osm))
    problem, _ = problem_from_scenario(scenario, network=network)
    prepared = time.perf_counter() - began
    history: list[tuple[float, float]] = []
    solve_began = time.perf_counter()
    plan = solve(
        problem,
        SolveParams(time_limit_s=time_limit),
        progress=lambda p: history.append((round(p.elapsed_s, 1), round(p.best_cost))),
    )
    solve_s = time.perf_counter() - solve_began
    report = check_plan(problem, plan)
    # per piece/zone: cost of its first solution and of its last improvement (incl. penalties)
    pieces = [h for h in plan.search["cost_history"] if h]
    first = sum(h[0][1] for h in pieces)
    last = sum(h[-1][1] for h in pieces)
    return {
        "case": label,
        "network": osm.name,
        "stops": len(problem.sites),
        "trucks": len(problem.vehicles),
        "time_limit_s": time_limit,
        "prepare_s": round(prepared, 1),
        "solve_s": round(solve_s, 1),
        "wall_s": round(time.perf_counter() - began, 1),
        "peak_mib": round(peak_memory_mib()),
        "clearance": report.clearance_rate,
        "violations": len(report.violations),
        "trucks_used": plan.kpi["vehicles_used"],
        "distance_km": plan.kpi["distance_km"],
        "cost": plan.objective["total_cost"],
        "pieces": len(plan.search["cost_history"]),
        "search_cost_first_to_last": [round(first), round(last)],
        "improvements": sum(len(h) for h in pieces),
        "progress_reports": len(history),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated case labels")
    parser.add_argument(
        "--time-limit", type=float, default=None, help="search seconds for every case (default: per case)"
    )
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.only or c[0] in args.only.split(",")]
    for label, osm, restaurants, communities, limit in chosen:
        if not osm.exists():
            print(json.dumps({"case": label, "skipped": f"{osm} not found"}))
            continue
        limit = limit if args.time_limit is None else args.time_limit
        print(json.dumps(run(label, osm, restaurants, communities, limit), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
