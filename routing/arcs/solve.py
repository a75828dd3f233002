"""``solve_arcs``: an arc-routing problem → deadhead costs → compiled search → walks.

The composition only: the numbers are built by :mod:`routing.arcs.paths`, searched by
:mod:`routing.arcs.search` and expanded by :mod:`routing.arcs.solution`. Before any search, every
task no route can serve is named with its reason (:func:`unservable`): cut off from the depot, or
longer than a shift even alone. A benchmark raises on them; the street product
(``allow_unserved``) plans the rest and reports them per street.
"""

from __future__ import annotations

import time

import numpy as np

from routing.arcs.paths import UNREACHABLE, ArcCosts, route_paths
from routing.arcs.problem import ArcProblem
from routing.arcs.search import improve
from routing.arcs.settings import ArcSettings
from routing.arcs.solution import ArcSolution, expand_walks
from routing.arcs.state import ArcArrays, Ruin, task_neighbours
from routing.errors import InfeasibleError

UNREACHABLE_REASON = "unreachable"  # no allowed direction can be reached from the depot and left back to it
OVER_SHIFT_REASON = "over_shift"  # the depot → task → (facility) → depot round trip alone is longer than a route may be
NO_TIME_REASON = "no_vehicle_time"  # servable alone, but the fleet's shifts are full


def round_trips(costs: ArcCosts, *, end_at_facility: bool) -> np.ndarray:
    """Per arc, the cost of a route serving it alone (UNREACHABLE where it cannot be done)."""
    a = len(costs.serve)
    out = np.minimum(costs.dist[-1, :a], UNREACHABLE) + np.minimum(costs.serve, UNREACHABLE)
    if end_at_facility:
        back = (costs.to_fac[:a] + costs.fac_cost[None, :] + costs.from_fac[:, -1][None, :]).min(axis=1)
    else:
        back = costs.dist[:a, -1]
    out = out + np.minimum(back, UNREACHABLE)
    return np.where(out >= UNREACHABLE, UNREACHABLE, out)


def unservable(problem: ArcProblem, costs: ArcCosts) -> dict[int, str]:
    """Tasks no route can serve, each with its reason (``unreachable`` or ``over_shift``)."""
    alone = round_trips(costs, end_at_facility=problem.end_at_facility).reshape(-1, 2).min(axis=1)
    limit = problem.route_limit
    out: dict[int, str] = {}
    for t in np.flatnonzero(alone >= UNREACHABLE):
        out[int(t)] = UNREACHABLE_REASON
    if limit is not None:
        for t in np.flatnonzero((alone < UNREACHABLE) & (alone > limit)):
            out[int(t)] = OVER_SHIFT_REASON
    return out


def solve_arcs(
    problem: ArcProblem, settings: ArcSettings | None = None, *, allow_unserved: bool = False
) -> ArcSolution:
    """Routes that serve every task once, by the compiled ruin-and-recreate search.

    Parameters
    ----------
    problem : ArcProblem
        The graph, tasks, depot, capacity, and for the street product facilities, shift, fleet and U-turn rule.
    settings : ArcSettings, optional
        Time limit, seed and search sizes (default: ``ArcSettings()``, i.e. ``QINGYUN_ARCS_*``).
    allow_unserved : bool
        Plan what can be served and return the rest with reasons instead of raising.

    Returns
    -------
    ArcSolution
        One walk per route, from the depot back to it; ``unserved`` task → reason.

    Raises
    ------
    InfeasibleError
        Unless ``allow_unserved``: a task no route can serve (named by its vertices and reason).
    """
    settings = settings or ArcSettings()
    deadline = time.monotonic() + settings.time_limit_s
    paths = route_paths(problem)
    costs = paths.costs()
    excluded = unservable(problem, costs)
    if excluded and not allow_unserved:
        _raise_unservable(problem, excluded)
    tasks = len(problem.tasks)
    servable = np.array([t for t in range(tasks) if t not in excluded], dtype=np.int64)
    removable = np.zeros(tasks, dtype=np.bool_)
    removable[servable] = True
    limit = problem.route_limit
    arrays = ArcArrays(
        dist=costs.dist,
        serve=costs.serve,
        demand=problem.demand[problem.tasks].astype(np.int64),
        capacity=np.array([problem.capacity], dtype=np.int64),
        neighbours=task_neighbours(costs.dist, keep=settings.neighbours),
        tasks=servable,
        removable=removable,
        to_fac=costs.to_fac,
        from_fac=costs.from_fac,
        fac_cost=costs.fac_cost,
        max_cost=np.array([UNREACHABLE if limit is None else limit], dtype=np.int64),
        end_at_fac=np.array([int(problem.end_at_facility)], dtype=np.int64),
    )
    alone = round_trips(costs, end_at_facility=problem.end_at_facility)
    ruin = Ruin(
        penalty=int(2 * np.where(alone < UNREACHABLE, alone, 0).max() + 1),
        average_removed=min(settings.average_removed, max(1, len(servable))),
        max_string=settings.max_string,
        route_removal=settings.route_removal,
    )
    routes, cost, made, unrouted = improve(
        arrays,
        deadline=deadline,
        seed=settings.seed,
        start_temperature=settings.start_temperature,
        ruin=ruin,
        restarts=settings.restarts,
        max_iterations=settings.max_iterations,
        routes=problem.max_routes,
        skip=np.array(sorted(excluded), dtype=np.int64),
    )
    unserved = dict(excluded)
    unserved.update({t: NO_TIME_REASON for t in unrouted if t not in excluded})
    if unserved and not allow_unserved:
        _raise_unservable(problem, unserved)
    return ArcSolution(
        problem=problem,
        walks=expand_walks(problem, paths, routes),
        search_cost=cost - ruin.penalty * len(unrouted),
        iterations=made,
        unserved=unserved,
    )


def _raise_unservable(problem: ArcProblem, reasons: dict[int, str]) -> None:
    """Raise naming the tasks no route can serve (by their vertices), cut off ones first."""
    label = problem.vertex_label

    def named(tasks: list[int]) -> str:
        return ", ".join(
            f"({label(problem.tail[problem.tasks[t]])}, {label(problem.head[problem.tasks[t]])})" for t in tasks[:10]
        )

    cut_off = [t for t, why in reasons.items() if why == UNREACHABLE_REASON]
    if cut_off:
        raise InfeasibleError(
            f"{problem.name}: {len(cut_off)} 条必服务边与车场不连通 / required edge(s) cut off from the depot "
            f"{label(problem.depot)}: {named(cut_off)}"
        )
    raise InfeasibleError(
        f"{problem.name}: {len(reasons)} 条必服务边无法在班次内服务 / required edge(s) no route can serve within "
        f"its shift and fleet: {named(list(reasons))}"
    )
