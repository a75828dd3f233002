"""The OR-Tools model of a day as the compiled search's arrays (:class:`~routing.planning.search.sisr.RouteArrays`).

Why a module of its own: what the compiled search models grew with unloading trips
(:mod:`routing.planning.search.trips`), and the model's builder should not grow with it. Everything here is
exact or the day is refused (None) and keeps the loop around OR-Tools descents: never an approximation.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

from routing.planning.problem import DAY_S, Problem
from routing.planning.search.balance import ShiftTarget
from routing.planning.search.dispatch import preference_costs
from routing.planning.search.ruin import site_neighbours
from routing.planning.search.sisr import RouteArrays, TripArrays
from routing.planning.search.units import COST_SCALE, limit_units

log = logging.getLogger(__name__)
NO_LIMIT = np.iinfo(np.int64).max // 4


class OrToolsModel(Protocol):
    """What is read here of :class:`routing.planning.search.ortools_model.OrToolsModel` (no import: no cycle)."""

    problem: Problem
    settings: Any
    kinds: list[tuple[str, int]]
    site_ids: set[str]
    matrix_node: np.ndarray
    time_matrix: np.ndarray
    arc_costs: dict[float, np.ndarray]
    load_plan: list
    drop_penalty: int
    final_unload: dict[tuple[str, int], int] | None
    balance_targets: dict[str, ShiftTarget]


def unmodelled(model: OrToolsModel) -> str | None:
    """What of the day the compiled search does not model (the first found), or None when it models it all.

    Costs per hour and balance are modelled: each insertion prices the shift the plan evaluator writes
    (:func:`routing.planning.search.schedule.shift_span`), bounded first (:mod:`routing.planning.search.trip_insert`).
    So are facility daily capacities (``TripArrays.intake_limit``, where :func:`capacity_binds`).

    Parameters
    ----------
    model : OrToolsModel
        The built model.

    Returns
    -------
    str or None
        A short English reason, for the log.
    """
    p, s = model.problem, model.settings
    if any(len(v.streams) > 1 and p.hold_limit(v) is not None for v in p.vehicles):
        return "a hold limit on a truck of several streams"  # the checker holds each stream on its own
    if s.balance_coefficient > 0:
        return "a global span cost"  # the longest route's shift, not a cost per route
    return None


def capacity_binds(model: OrToolsModel, fi: int) -> bool:
    """Whether facility ``fi`` has a daily intake limit that what it might receive could exceed.

    Parameters
    ----------
    model : OrToolsModel
        The built model.
    fi : int
        Index into the problem's facilities.

    Returns
    -------
    bool
        True where the OR-Tools model adds the intake constraint, and the compiled search its ``intake_limit``.
    """
    p = model.problem
    f = p.facilities[fi]
    if f.capacity_kg is None or ("facility", fi) not in model.kinds:
        return False
    users = [v for v in p.vehicles if Problem.unloads_at(v, f)]
    could = sum(s.demand_kg for s in p.sites if s.id in model.site_ids and any(Problem.serves(v, s) for v in users))
    return could > f.capacity_kg


def route_arrays(model: OrToolsModel) -> RouteArrays | None:
    """The model as arrays over its routing nodes, or None for a day with what the compiled search does not model.

    Parameters
    ----------
    model : OrToolsModel
        The built model.

    Returns
    -------
    RouteArrays or None
        With :class:`TripArrays` where the day has unloads, release dates, trucks that come home empty, daily
        weight limits, sites with several windows, hold limits, shift-length limits, costs per hour, balance or
        facility daily capacities.
    """
    reason = unmodelled(model)
    if reason is not None:
        log.info("compiled search not used for %s: %s", model.problem.name, reason)
        return None
    p = model.problem
    n = len(model.kinds)
    sites = [(node, p.sites[i]) for node, (kind, i) in enumerate(model.kinds) if kind == "site"]
    open_ = np.zeros(n, dtype=np.int64)
    close = np.full(n, DAY_S * 2, dtype=np.int64)
    allowed = np.ones((n, len(p.vehicles)), dtype=np.bool_)
    for node, site in sites:
        open_[node], close[node] = site.windows[0][0], site.windows[-1][1]
        allowed[node] = [Problem.serves(v, site) for v in p.vehicles]
    for node, (kind, i) in enumerate(model.kinds):
        if kind == "facility":
            allowed[node] = [Problem.unloads_at(v, p.facilities[i]) for v in p.vehicles]
    site_nodes = [node for node, _ in sites]
    classes = sorted(model.arc_costs)
    preference = preference_costs(model)
    return RouteArrays(
        travel=model.time_matrix.astype(np.int64),
        cost=np.stack([model.arc_costs[c] for c in classes]),
        vehicle_class=np.array([classes.index(v.cost_per_km) for v in p.vehicles], dtype=np.int64),
        fixed=np.array([int(round(v.fixed_cost * COST_SCALE)) for v in p.vehicles], dtype=np.int64),
        open=open_,
        close=close,
        demand=np.stack([demand for _, demand, _ in model.load_plan], axis=1).astype(np.int64),
        # C order, as compile_now's: an F-ordered array is another type, and the whole loop compiled again
        capacity=np.ascontiguousarray(np.array([caps for _, _, caps in model.load_plan], dtype=np.int64).T),
        max_stops=np.array([v.max_stops or 10**9 for v in p.vehicles], dtype=np.int64),
        allowed=allowed,
        preference=np.zeros((n, len(p.vehicles)), dtype=np.int64) if preference is None else preference,
        depot=np.array([v.depot for v in p.vehicles], dtype=np.int64),
        shift_start=np.array([v.shift_start for v in p.vehicles], dtype=np.int64),
        shift_end=np.array([v.shift_end for v in p.vehicles], dtype=np.int64),
        neighbours=site_neighbours(p.distance_m, site_nodes, [int(model.matrix_node[i]) for i in site_nodes], rows=n),
        penalty=int(model.drop_penalty),
        trips=trip_arrays(model) if _has_trips(model) else None,
    )


def _has_trips(model: OrToolsModel) -> bool:
    """Whether the day needs the trip model (otherwise the faster one-window schedule of insertion.py)."""
    p = model.problem
    return (
        any(kind == "facility" for kind, _ in model.kinds)
        or any(p.sites[i].release_s or len(p.sites[i].windows) > 1 for kind, i in model.kinds if kind == "site")
        or any(v.ends_empty or v.max_daily_kg or v.max_shift_s is not None for v in p.vehicles)
        or any(p.hold_limit(v) is not None or v.cost_per_hour for v in p.vehicles)
        or p.balance_per_h > 0
        or p.break_rule is not None
    )


def trip_arrays(model: OrToolsModel) -> TripArrays:
    """Unload markers, windows, release dates, service times and per-truck trip rules of the model.

    Parameters
    ----------
    model : OrToolsModel
        The built model.

    Returns
    -------
    TripArrays
        A facility's marker is its first copy node; it may be on the routes as many times as it has copies. A
        facility's daily capacity is its intake limit in the first load unit (kg) where it could bind, as the
        OR-Tools model adds it; a closing unload folded into the last arc never goes to a facility with a capacity
        (:func:`routing.planning.search.ortools_model.final_unloads`), but is counted where it does.
    """
    p = model.problem
    n = len(model.kinds)
    places = [
        p.sites[i].windows if kind == "site" else p.facilities[i].windows if kind == "facility" else ((0, DAY_S * 2),)
        for kind, i in model.kinds
    ]
    width = max(len(w) for w in places)
    win_open = np.full((n, width), DAY_S * 4, dtype=np.int64)
    win_close = np.full((n, width), -1, dtype=np.int64)
    for node, windows in enumerate(places):
        for w, (a, b) in enumerate(windows):
            win_open[node, w], win_close[node, w] = a, b
    facility_of = np.full(n, -1, dtype=np.int64)
    facility_nodes = np.full(max(1, len(p.facilities)), -1, dtype=np.int64)
    marker_limit = np.zeros(len(facility_nodes), dtype=np.int64)
    for node, (kind, fi) in enumerate(model.kinds):
        if kind == "facility":
            facility_of[node] = fi
            marker_limit[fi] += 1
            if facility_nodes[fi] < 0:
                facility_nodes[fi] = node
    intake_limit = np.full(len(facility_nodes), NO_LIMIT, dtype=np.int64)
    for fi, f in enumerate(p.facilities):
        if capacity_binds(model, fi):
            intake_limit[fi] = limit_units(f.capacity_kg)
    folded = model.final_unload is not None
    rule = p.break_rule
    targets = model.balance_targets  # as dispatch.add_balance prices them
    balance = int(round(p.balance_per_h * COST_SCALE / 3600.0)) if targets else 0
    return TripArrays(
        service=_service(model),
        release=np.array([p.sites[i].release_s if kind == "site" else 0 for kind, i in model.kinds], dtype=np.int64),
        win_open=win_open,
        win_close=win_close,
        win_count=np.array([len(w) for w in places], dtype=np.int64),
        facility_of=facility_of,
        facility_nodes=facility_nodes,
        marker_limit=marker_limit,
        need_unload=np.array([v.ends_empty and not folded for v in p.vehicles], dtype=np.bool_),
        daily=np.array(
            [limit_units(v.max_daily_kg) if v.max_daily_kg else NO_LIMIT for v in p.vehicles], dtype=np.int64
        ),
        break_on=np.array([rule is not None and rule.due(v.shift_start, v.shift_end) for v in p.vehicles], dtype=bool),
        break_rule=np.array(
            [0, 0, 0] if rule is None else [rule.earliest_start_s, rule.latest_start_s, rule.duration_s], dtype=np.int64
        ),
        hold=np.array([-1 if (h := p.hold_limit(v)) is None else int(h) for v in p.vehicles], dtype=np.int64),
        max_shift=np.array([-1 if v.max_shift_s is None else int(v.max_shift_s) for v in p.vehicles], dtype=np.int64),
        closing=_closing(model, facility_nodes),
        span_cost=np.array([int(round(v.cost_per_hour * COST_SCALE / 3600.0)) for v in p.vehicles], dtype=np.int64),
        balance_cost=np.array([balance if v.type_id in targets else 0 for v in p.vehicles], dtype=np.int64),
        balance_target=np.array([t.work if (t := targets.get(v.type_id)) else 0 for v in p.vehicles], dtype=np.int64),
        work_floor=np.array([t.work_floor if (t := targets.get(v.type_id)) else 0 for v in p.vehicles], dtype=np.int64),
        intake_limit=intake_limit,
        since=np.array(
            [
                -1 if kind != "site" or p.sites[i].on_board_since is None else int(p.sites[i].on_board_since)
                for kind, i in model.kinds
            ],
            dtype=np.int64,
        ),
    )


def _service(model: OrToolsModel) -> np.ndarray:
    """Service (sites) or unload (facilities) seconds per routing node, as the time matrix adds them."""
    p = model.problem
    return np.array(
        [
            p.sites[i].service_s if kind == "site" else p.facilities[i].unload_s if kind == "facility" else 0
            for kind, i in model.kinds
        ],
        dtype=np.int64,
    )


def _closing(model: OrToolsModel, facility_nodes: np.ndarray) -> np.ndarray:
    """Per routing node and depot, the marker of the closing unload folded into the site's arc home (-1: none)."""
    p = model.problem
    out = np.full((len(model.kinds), len(p.depots)), -1, dtype=np.int64)
    if model.final_unload is None:
        return out
    for node, (kind, i) in enumerate(model.kinds):
        if kind == "site":
            for d in range(len(p.depots)):
                out[node, d] = facility_nodes[model.final_unload[(p.sites[i].id, d)]]
    return out
