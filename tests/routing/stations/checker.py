"""An independent checker and brute-force optimum for small station-planning instances.

Written from the problem statement only (costs, capacities, radius, spacing, kept stations),
without the library's model code, so the solver is compared against something else.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

CLASS_ORDER = ["V", "IV", "III", "II", "I"]
CAPACITY = {"V": 50.0, "IV": 150.0, "III": 450.0, "II": 1000.0, "I": 3000.0}


def loads(communities, *, q, delta, growth=1.0):
    """(design t/d, mean t/d) per community: δ·n·q/1000 and n·q/1000 (or measured)."""
    design, mean = [], []
    for c in communities:
        base = c.measured_t_per_day * growth if c.measured_t_per_day is not None else c.population * growth * q / 1000
        design.append(delta * base)
        mean.append(base)
    return np.array(design), np.array(mean)


def allowed_choices(site, *, allow_close_existing=False):
    """Every class a site may take (no land rule: test sites are large), plus None = closed."""
    choices = [
        k
        for k in CLASS_ORDER
        if k in site.yearly_cost_yuan and CLASS_ORDER.index(k) <= CLASS_ORDER.index(site.max_class)
    ]
    if site.existing:
        choices = [k for k in choices if CLASS_ORDER.index(k) >= CLASS_ORDER.index(site.current_class)]
        return choices + ([None] if allow_close_existing else [])
    return choices + [None]


def yearly_cost(*, choice, assignment, site_list, mean, km, disposal_km, haul, transfer):
    cost = sum(site_list[s].yearly_cost_yuan[k] for s, k in enumerate(choice) if k is not None)
    for c, s in enumerate(assignment):
        cost += mean[c] * 365 * (km[c, s] * haul + disposal_km[s] * transfer)
    return cost


def brute_force(
    *,
    communities,
    sites,
    km,
    disposal_km,
    radius_km,
    q,
    delta,
    haul,
    transfer,
    min_spacing_pairs=(),
    allow_close_existing=False,
):
    """Cheapest plan over every site/class choice × every assignment; None when none is feasible."""
    design, mean = loads(communities, q=q, delta=delta)
    reach = [[s for s in range(len(sites)) if km[c, s] <= radius_km] for c in range(len(communities))]
    served = [c for c in range(len(communities)) if reach[c]]
    best = (math.inf, None, None)
    for choice in itertools.product(*[allowed_choices(s, allow_close_existing=allow_close_existing) for s in sites]):
        if any(choice[a] is not None and choice[b] is not None for a, b in min_spacing_pairs):
            continue
        fixed = sum(sites[s].yearly_cost_yuan[k] for s, k in enumerate(choice) if k is not None)
        if fixed >= best[0]:
            continue
        options = [[s for s in reach[c] if choice[s] is not None] for c in served]
        if any(not o for o in options):
            continue
        for picks in itertools.product(*options):
            load = np.zeros(len(sites))
            for c, s in zip(served, picks):
                load[s] += design[c]
            if any(load[s] > CAPACITY[k] + 1e-9 for s, k in enumerate(choice) if k is not None):
                continue
            cost = fixed + sum(
                mean[c] * 365 * (km[c, s] * haul + disposal_km[s] * transfer) for c, s in zip(served, picks)
            )
            if cost < best[0]:
                best = (cost, choice, dict(zip(served, picks)))
    return best


def check_plan(plan, *, communities, sites, km, disposal_km, radius_km, q, delta, haul, transfer):
    """Recompute a plan's yearly cost from the inputs and assert it is feasible; returns the cost."""
    design, mean = loads(communities, q=q, delta=delta)
    site_index = {s.id: i for i, s in enumerate(sites)}
    comm_index = {c.id: i for i, c in enumerate(communities)}
    classes = {st.site_id: st.station_class for st in plan.stations}
    load = {sid: 0.0 for sid in classes}
    cost = sum(sites[site_index[sid]].yearly_cost_yuan[k] for sid, k in classes.items())
    for cid, sid in plan.assignment.items():
        c, s = comm_index[cid], site_index[sid]
        assert sid in classes, f"{cid} assigned to unopened site {sid}"
        assert km[c, s] <= radius_km + 1e-9, f"{cid} → {sid} beyond radius"
        load[sid] += design[c]
        cost += mean[c] * 365 * (km[c, s] * haul + disposal_km[s] * transfer)
    for sid, k in classes.items():
        assert load[sid] <= CAPACITY[k] + 1e-6, f"{sid} class {k} overloaded: {load[sid]}"
    return cost
