"""Transfer-station planning at city scale: 2,000 communities × 100 candidate sites on Shenzhen roads.

Run: .venv/bin/python benchmarks/bench_stations.py [--communities 2000] [--candidates 100] [--time-limit 120]
     [--q 1.2 --years-ahead 10] [--osm ../shared/osm/dalian_zhongshan_drive.osm.bz2]

Inputs are the demo generators (routing/stations/demo.py: population from the 12,600
residents/km² density of Nanshan + Futian, land-limited classes, documented yearly costs),
so the instance is reproducible from the seed. Reports the time to snap and measure road
distances, the model size, the solve time and the PROVEN gap (HiGHS dual bound), and checks
the plan independently of the solver: every assigned community within the radius, no station
above its class capacity, cost recomputed from the inputs.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from routing.network.graph import load_network
from routing.stations.demo import demo_params, generated_communities, generated_sites
from routing.stations.distances import road_distances, snap_inputs
from routing.stations.plan import base_scenario, plan_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--existing", type=int, default=8)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--gap", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--q", type=float, default=1.0, help="kg per person per day")
    parser.add_argument("--years-ahead", type=int, default=0, help="years of 2 %%/year growth")
    parser.add_argument("--radius-km", type=float, default=3.0)
    parser.add_argument("--osm", type=Path, default=None, help="road network file (default: shipped Shenzhen)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    network = load_network(args.osm)
    t_net = time.perf_counter() - t0
    communities = generated_communities(network, n=args.communities, seed=args.seed)
    sites = generated_sites(network, n=args.candidates, seed=args.seed, existing=args.existing)
    params = demo_params(network, time_limit_s=args.time_limit)
    params = dataclasses.replace(
        params,
        relative_gap=args.gap,
        q_kg_per_person_day=args.q,
        years_ahead=args.years_ahead,
        service_radius_km=args.radius_km,
    )

    t0 = time.perf_counter()
    snapped = snap_inputs(network, communities=communities, sites=sites, params=params)
    distances = road_distances(network, snapped=snapped)
    t_dist = time.perf_counter() - t0

    t0 = time.perf_counter()
    plan = plan_scenario(
        communities=communities, sites=sites, params=params, distances=distances, scenario=base_scenario(params)
    )
    t_plan = time.perf_counter() - t0
    sol = plan.solution

    # independent check of the plan against the inputs
    km = distances.community_to_site_km
    site_index = {s.id: i for i, s in enumerate(sites)}
    comm_index = {c.id: i for i, c in enumerate(communities)}
    load = {s.site_id: 0.0 for s in plan.stations}
    for cid, sid in plan.assignment.items():
        assert km[comm_index[cid], site_index[sid]] <= params.service_radius_km + 1e-9
        c = communities[comm_index[cid]]
        load[sid] += params.peak_factor * c.population * params.growth_factor() * params.q_kg_per_person_day / 1000
    capacity = {s.site_id: params.station_class(s.station_class).max_t_per_day for s in plan.stations}
    assert all(load[k] <= capacity[k] + 1e-6 for k in load)
    assert abs(plan.total_cost_yuan - sol.objective_yuan) <= 1e-6 * sol.objective_yuan

    arcs = int((km <= params.service_radius_km).sum())
    classes: dict[str, int] = {}
    for s in plan.stations:
        classes[s.station_class] = classes.get(s.station_class, 0) + 1
    util = np.array([s.utilisation for s in plan.stations])
    print(f"network: {args.osm or 'shipped Shenzhen'} ({len(network.node_ids)} nodes)")
    print(
        f"instance: {len(communities)} communities × {len(sites)} candidates ({args.existing} existing), "
        f"seed {args.seed}, q {args.q:g} kg/person/day, +{args.years_ahead} years; {arcs} community–site pairs within {params.service_radius_km} km by road; "
        f"design load {sum(load.values()):,.0f} t/d served"
    )
    print(f"network load {t_net:.1f} s; snap + road distances {t_dist:.1f} s")
    print(
        f"solve: {t_plan:.1f} s wall (model build {sol.build_seconds:.1f} s, solver {sol.solve_seconds:.1f} s), "
        f"limit {args.time_limit:.0f} s, target gap {args.gap:.1%}"
    )
    print(
        f"result: {len(plan.stations)} stations {dict(sorted(classes.items()))}, utilisation mean {util.mean():.1%}, "
        f"{len(plan.unassigned)} unassigned; yearly cost {plan.total_cost_yuan / 1e6:,.3f} M yuan, "
        f"dual bound {sol.dual_bound_yuan / 1e6:,.3f} M yuan, PROVEN gap {sol.proven_gap:.3%}"
    )
    print("checked independently: radius, class capacity, cost recomputed from inputs")


if __name__ == "__main__":
    main()
