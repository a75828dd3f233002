"""Balanced shifts: per vehicle type, the shift a truck should not run beyond and the work it should not fall below.

Why: the cost-only search fills some trucks to the end of their shift and sends others of the
same type home by noon (demo day: kitchen-2t 3.0–9.6 h), because crew cost per hour is the same
whoever works it. So each truck pays for the work (drives, services and unloads; not waiting or
the break) it does beyond its type's mean work, and a truck that goes out for the work it falls
short of :data:`WORK_FLOOR` of that mean (VROOM's open #191 asks for balanced workloads). A bound
above alone left short days free: priced exactly, the search still sent a truck out for 1.7 h
beside others of its type working 5 h. Work rather than the shift because both engines price it
exactly — OR-Tools as soft bounds of a dimension without slack
(:func:`routing.planning.search.dispatch.add_balance`); a bound below a shift would be met in
OR-Tools by waiting longer — and because a shift that reaches the meal-break window carries the
break (an hour) where a shorter one does not.

The means are not known before solving. A balanced search (:func:`routing.planning.search.searcher.search`)
first searches the day without balance for a share of its time and takes the means over the trucks of each type
that plan uses (:func:`routes_targets`, timed exactly by :func:`routing.planning.plan.time_route`); where there is
no such plan they come from the product's greedy first solution (:func:`shift_targets`), which opens 3–5 trucks
more on a 1,560-site day than a cost-only search ends with — balancing around its mean keeps them all. The search
then pays ``balance_per_h`` (currency per hour, on the problem) for every hour a truck works beyond the mean
shift, and for every hour of work it falls short of the floor.
"""

from __future__ import annotations

from typing import NamedTuple

from routing.planning.plan import time_route
from routing.planning.problem import Problem
from routing.planning.search.construct import build_routes
from routing.planning.timed import Route

WORK_FLOOR = 0.85  # × the type's mean work: what a truck that goes out works at least before it pays


class ShiftTarget(NamedTuple):
    """One vehicle type's balanced day, seconds."""

    shift: int  # mean shift, depot departure to return (the first routes' shift caps, BALANCE_CAP × it)
    work: int  # mean work (drives, services, unloads): the soft upper bound
    work_floor: int  # WORK_FLOOR × mean work: the soft lower bound


def route_work(route: Route) -> int:
    """Seconds a timed route drives, serves and unloads: its shift less waiting and the break."""
    return sum(s.leg_duration_s + (s.departure - s.start if s.kind in ("site", "facility") else 0) for s in route.stops)


def shift_targets(problem: Problem, site_ids: list[str]) -> dict[str, ShiftTarget]:
    """Per vehicle type, the targets of its trucks in the product's greedy first solution (:func:`routes_targets`).

    Parameters
    ----------
    problem : Problem
        The day, or a piece of it.
    site_ids : list of str
        The sites to plan.

    Returns
    -------
    dict
        Vehicle type id → :class:`ShiftTarget`; types the first solution does not use are left out.
    """
    return routes_targets(problem, build_routes(problem, sorted(site_ids)))


def routes_targets(problem: Problem, routes: dict[str, list[str]]) -> dict[str, ShiftTarget]:
    """Per vehicle type, the mean shift of its trucks in ``routes`` and the floor of their work.

    Parameters
    ----------
    problem : Problem
        The day, or a piece of it.
    routes : dict
        Visit ids per truck (site and facility ids), as a search returns them.

    Returns
    -------
    dict
        Vehicle type id → :class:`ShiftTarget`; types ``routes`` do not use are left out.
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    for vehicle_id, visits in routes.items():
        if not visits:
            continue
        vehicle = problem.vehicles[problem.vehicle_index[vehicle_id]]
        route = time_route(problem, vehicle, visits)
        spans.setdefault(vehicle.type_id, []).append((route.end - route.start, route_work(route)))
    return {
        kind: ShiftTarget(
            shift=round(sum(s for s, _ in values) / len(values)),
            work=round(sum(w for _, w in values) / len(values)),
            work_floor=round(WORK_FLOOR * sum(w for _, w in values) / len(values)),
        )
        for kind, values in spans.items()
    }
