"""Dispatcher terms of the OR-Tools model: preferred trucks, time on board, balanced shifts.

Each adds to a built :class:`routing.planning.search.ortools_model.OrToolsModel` only when the day
asks for it (a site with a preferred truck, a stream with a hold limit, ``balance_per_h``), so a
day without them is the same model as before. Allowed trucks are hard and live with the other
vehicle restrictions in the model itself (``Problem.serves``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from routing.planning.problem import DAY_S, Problem
from routing.planning.search.balance import ShiftTarget, shift_targets
from routing.planning.search.units import COST_SCALE


class ModelParts(Protocol):
    """What these terms read of :class:`routing.planning.search.ortools_model.OrToolsModel` (and ``shift_caps``,
    which :func:`add_balance` sets)."""

    problem: Problem
    routing: Any
    manager: Any
    time_dim: Any
    kinds: list[tuple[str, int]]
    site_ids: set[str]
    time_matrix: np.ndarray
    final_unload: dict[tuple[str, int], int] | None
    shift_caps: dict[str, int] | None
    time_cb: int
    given_targets: dict[str, ShiftTarget] | None
    balance_targets: dict[str, ShiftTarget]


BALANCE_CAP = 1.1  # × the type's mean shift: what a truck of a balanced first solution works at most


def add_preferences(model: ModelParts) -> None:
    """Preferred trucks, soft: a dimension counting, per truck, the penalties of the sites it serves for another.

    Why a dimension: a per-truck arc-cost matrix would cost n² memory per truck; a unary transit
    vector per truck (sites' penalties, zero where it is the preferred truck) is n, and its span
    cost is exactly the penalty sum, seen by every local-search filter. Trucks with the same
    vector share one callback; days without preferences add nothing.
    """
    p, r = model.problem, model.routing
    cost = preference_costs(model)
    if cost is None:
        return
    callbacks: dict[bytes, int] = {}
    evaluators = []
    for vi in range(len(p.vehicles)):
        column = np.ascontiguousarray(cost[:, vi])
        key = column.tobytes()
        if key not in callbacks:
            callbacks[key] = r.RegisterUnaryTransitVector(column.tolist())
        evaluators.append(callbacks[key])
    r.AddDimensionWithVehicleTransits(evaluators, 0, int(cost.max(axis=1).sum()) + 1, True, "preference")
    r.GetDimensionOrDie("preference").SetSpanCostCoefficientForAllVehicles(1)


def preference_costs(model: ModelParts) -> np.ndarray | None:
    """Per routing node and truck, the cost units paid when the truck serves it (None: no site has a preference).

    Returns
    -------
    numpy.ndarray or None
        int64 [nodes, trucks].
    """
    p = model.problem
    sites = [(node, p.sites[i]) for node, (kind, i) in enumerate(model.kinds) if kind == "site"]
    if not any(site.preferred_vehicle is not None and site.preference_penalty > 0 for _, site in sites):
        return None
    cost = np.zeros((len(model.kinds), len(p.vehicles)), dtype=np.int64)
    for node, site in sites:
        for vi, v in enumerate(p.vehicles):
            cost[node, vi] = int(round(Problem.preference_cost(v, site) * COST_SCALE))
    return cost


def add_hold(model: ModelParts, is_site: np.ndarray) -> None:
    """Time on board: a dimension counting from the load's first pickup, bounded by each truck's hold limit.

    Its cumul grows with the time dimension along a loaded truck (the drive and service as transit,
    and the time dimension's slack — waiting and the break — as its own slack), and may
    drop to anything from zero at a depot or facility, where the truck is empty: a transit of minus
    the horizon that the free slack there takes back. A truck's capacity is its hold limit, so the
    cumul at the unload (or at a loaded truck's return) is at most the hold. With the closing unload
    folded into the last arc (``final_unloads``), that arc counts only up to the unload's start.
    """
    p, r, m = model.problem, model.routing, model.manager
    limits = [p.hold_limit(v) for v in p.vehicles]
    held = [vi for vi, hold in enumerate(limits) if hold is not None]
    if not held:
        return
    reach = [node for node in np.flatnonzero(is_site) if any(_may_visit(model, vi, node) for vi in held)]
    if not reach:
        return
    cap = 2 * int(max(model.time_matrix.max(), DAY_S))
    transit = model.time_matrix.copy()
    if model.final_unload is not None:
        for node, (kind, i) in enumerate(model.kinds):
            if kind != "site":
                continue
            site = p.sites[i]
            for end, (end_kind, d) in enumerate(model.kinds):
                if end_kind == "depot":
                    f = p.facilities[model.final_unload[(site.id, d)]]
                    transit[node, end] = site.service_s + p.duration_s[site.node, f.node]
    transit[~is_site, :] = -cap
    np.fill_diagonal(transit, 0)
    cb = r.RegisterTransitMatrix(transit.tolist())
    caps = [cap if hold is None else int(hold) for hold in limits]
    r.AddDimensionWithVehicleCapacity(cb, 2 * cap, caps, True, "hold")  # slack may lift a start site above 0
    hold_dim = r.GetDimensionOrDie("hold")
    solver = r.solver()
    for node in reach:
        index = m.NodeToIndex(int(node))
        solver.Add(hold_dim.SlackVar(index) == model.time_dim.SlackVar(index))
        since = p.sites[model.kinds[node][1]].on_board_since
        if since is not None:  # a re-plan's start site: its load came on board before the day's plan begins here
            solver.Add(hold_dim.CumulVar(index) >= model.time_dim.CumulVar(index) - since)


def _may_visit(model: ModelParts, vi: int, node: int) -> bool:
    kind, i = model.kinds[node]
    return kind == "site" and Problem.serves(model.problem.vehicles[vi], model.problem.sites[i])


def add_balance(model: ModelParts) -> None:
    """Balanced work: each truck pays ``balance_per_h`` for every hour it works beyond its type's mean work, and a
    truck that goes out for every hour of work short of its type's floor (:mod:`routing.planning.search.balance`).

    Both are soft bounds of a ``work`` dimension: the time transits without slack, so its cumul at a route's end is
    the route's drives, services and unloads (waiting and the break, the time dimension's slack, are not work). An
    unused truck's start cumul is lifted to the floor (an empty route does no work and must not pay), a used
    truck's is 0.
    """
    p, r = model.problem, model.routing
    per_s = int(round(p.balance_per_h * COST_SCALE / 3600.0))
    if per_s <= 0:
        return
    targets = model.given_targets if model.given_targets is not None else shift_targets(p, sorted(model.site_ids))
    model.balance_targets = targets  # read by the compiled search's arrays (routing.planning.search.arrays)
    model.shift_caps = {kind: round(BALANCE_CAP * t.shift) for kind, t in targets.items()}
    if not targets:
        return
    r.AddDimension(model.time_cb, 0, 2 * DAY_S + max(t.work for t in targets.values()), False, "work")
    work = r.GetDimensionOrDie("work")
    solver = r.solver()
    for vi, v in enumerate(p.vehicles):
        if v.type_id in targets:
            target = targets[v.type_id]
            solver.Add(work.CumulVar(r.Start(vi)) == target.work_floor * (1 - r.ActiveVehicleVar(vi)))
            work.SetCumulVarSoftLowerBound(r.End(vi), target.work_floor, per_s)
            work.SetCumulVarSoftUpperBound(r.End(vi), target.work, per_s)
