"""Planning a day: the searches composed, their best routes timed into a plan.

:func:`solve` leaves out the sites no truck could serve, gives the others their territory's truck
(:mod:`routing.planning.search.territories`, compact routes), runs the searches
(:func:`routing.planning.search.decompose.run_searches`: the whole day on both cores, or its
pieces and zones), takes stub routes off on a day with balanced shifts
(:mod:`routing.planning.search.consolidate`), and times the routes with
:func:`routing.planning.plan.evaluate_routes`; the plan's ``search`` section is the solve's
:class:`SearchStatistics`.
"""

from __future__ import annotations

import time

from routing.planning.plan import Plan, evaluate_routes
from routing.planning.problem import Problem
from routing.planning.search.consolidate import consolidate
from routing.planning.search.decompose import run_searches
from routing.planning.search.params import ProgressCallback, SolveParams, default_strategies
from routing.planning.search.pieces import intake_kg
from routing.planning.search.reasons import REASONS, room_reason, unservable_sites
from routing.planning.search.result import SearchStatistics
from routing.planning.search.territories import with_territories

CONSOLIDATE_SHARE = 0.15  # of the time limit, kept for taking stub routes off (routing.planning.search.consolidate)


def solve(problem: Problem, settings: SolveParams | None = None, *, progress: ProgressCallback | None = None) -> Plan:
    """Plan the day: searches in parallel, best routes timed into a :class:`Plan`.

    Sites no truck could serve alone are left out before solving; they and any site the
    search still drops are listed in ``plan.unserved`` with a dispatcher's reason.

    Parameters
    ----------
    problem : Problem
        The day, indexed over its matrices.
    settings : SolveParams, optional
        How long and how to search (default: ``SolveParams()``).
    progress : callable, optional
        Receives a :class:`routing.planning.search.params.Progress` at every improvement.

    Returns
    -------
    Plan
        Timed routes, unserved sites with reasons, and how the search went (``plan.search``).

    Raises
    ------
    RuntimeError
        If a search worker failed.
    SearchCancelled
        If the caller's :class:`routing.planning.search.processes.SearchScope` was cancelled (a shutdown).
    ValueError
        If a strategy name is unknown.
    """
    settings = settings or SolveParams()
    began = time.monotonic()
    excluded = unservable_sites(problem)
    territorial = with_territories(problem, {s.id for s in problem.sites if s.id not in excluded})
    share = CONSOLIDATE_SHARE if problem.balance_per_h > 0 else 0.0  # balanced shifts: stubs taken off
    searching = settings.with_time_limit(settings.time_limit_s * (1.0 - share))
    results = run_searches(territorial, searching, excluded=excluded, progress=progress)
    routes: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    for result in results:
        routes.update(result.routes)
        starts.update(result.start_times)
    if share:
        strategy = (settings.strategies or default_strategies(problem))[0]
        routes, starts = consolidate(
            territorial, routes, starts, settings, strategy=strategy, deadline=began + settings.time_limit_s
        )
    statistics = SearchStatistics(
        time_limit_s=settings.time_limit_s,
        wall_s=round(time.monotonic() - began, 3),
        strategies=tuple(result.strategy for result in results),
        cost_history=tuple(tuple(result.history) for result in results),
    )
    reasons = {sid: REASONS[code] for sid, code in excluded.items()}
    plan = evaluate_routes(problem, routes, start_times=starts, unserved_reasons=reasons, search=statistics.as_dict())
    intake = intake_kg(problem, routes)
    for k, (sid, _) in enumerate(plan.unserved):
        if sid not in excluded:
            plan.unserved[k] = (sid, room_reason(problem, problem.sites[problem.site_index[sid]], intake))
    return plan
