"""``solve_arcs``: an arc-routing problem → deadhead paths → compiled search → walks.

The composition only: the numbers are built by :mod:`routing.arcs.paths`, searched by
:mod:`routing.arcs.search` and expanded by :mod:`routing.arcs.solution`. Tasks the depot cannot
reach (or return from) are named before any search starts.
"""

from __future__ import annotations

import time

import numpy as np

from routing.arcs.paths import UNREACHABLE, arc_matrix, deadhead_paths
from routing.arcs.problem import ArcProblem
from routing.arcs.search import ArcArrays, Ruin, improve, task_neighbours
from routing.arcs.settings import ArcSettings
from routing.arcs.solution import ArcSolution, expand_walks
from routing.errors import InfeasibleError


def solve_arcs(problem: ArcProblem, settings: ArcSettings | None = None) -> ArcSolution:
    """Routes that serve every task once, by the compiled ruin-and-recreate search.

    Parameters
    ----------
    problem : ArcProblem
        The graph, tasks, depot and capacity.
    settings : ArcSettings, optional
        Time limit, seed and search sizes (default: ``ArcSettings()``, i.e. ``QINGYUN_ARCS_*``).

    Returns
    -------
    ArcSolution
        One walk per route, from the depot back to it.

    Raises
    ------
    InfeasibleError
        If a task cannot be reached from the depot or the depot not from it (named by its vertices).
    """
    settings = settings or ArcSettings()
    deadline = time.monotonic() + settings.time_limit_s
    paths = deadhead_paths(problem)
    dist, serve = arc_matrix(problem, paths)
    _check_reachable(problem, dist, serve)
    tasks = len(problem.tasks)
    arrays = ArcArrays(
        dist=dist,
        serve=serve,
        demand=problem.demand[problem.tasks].astype(np.int64),
        capacity=np.array([problem.capacity], dtype=np.int64),
        neighbours=task_neighbours(dist, keep=settings.neighbours),
        tasks=np.arange(tasks, dtype=np.int64),
        removable=np.ones(tasks, dtype=np.bool_),
    )
    round_trip = dist[-1, :-1] + np.minimum(serve, UNREACHABLE) + dist[:-1, -1]
    ruin = Ruin(
        penalty=int(2 * np.where(serve < UNREACHABLE, round_trip, 0).max() + 1),
        average_removed=min(settings.average_removed, tasks),
        max_string=settings.max_string,
        route_removal=settings.route_removal,
    )
    routes, cost, made = improve(
        arrays,
        deadline=deadline,
        seed=settings.seed,
        start_temperature=settings.start_temperature,
        ruin=ruin,
        restarts=settings.restarts,
        max_iterations=settings.max_iterations,
    )
    return ArcSolution(problem=problem, walks=expand_walks(problem, paths, routes), search_cost=cost, iterations=made)


def _check_reachable(problem: ArcProblem, dist: np.ndarray, serve: np.ndarray) -> None:
    """Raise naming every task no route can serve (cut off from the depot in every allowed direction)."""
    allowed = serve < UNREACHABLE
    reachable = allowed & (dist[-1, :-1] < UNREACHABLE) & (dist[:-1, -1] < UNREACHABLE)
    cut_off = [t for t in range(len(problem.tasks)) if not reachable[2 * t] and not reachable[2 * t + 1]]
    if cut_off:
        label = problem.vertex_label
        named = ", ".join(
            f"({label(problem.tail[problem.tasks[t]])}, {label(problem.head[problem.tasks[t]])})" for t in cut_off[:10]
        )
        raise InfeasibleError(
            f"{problem.name}: {len(cut_off)} 条必服务边与车场不连通 / required edge(s) cut off from the depot "
            f"{label(problem.depot)}: {named}"
        )
