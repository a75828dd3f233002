"""Balanced shifts: per vehicle type, the shift a truck should not run beyond and the work it should not fall below.

Why: the cost-only search fills some trucks to the end of their shift and sends others of the
same type home by noon (demo day: kitchen-2t 3.0–9.6 h), because crew cost per hour is the same
whoever works it. A soft upper bound on each truck's shift near its type's mean spreads the work
(VROOM's open #191 asks for this; OR-Tools prices it as a soft span bound). An upper bound alone
leaves short shifts free: priced exactly, the search still sends a truck out for 1.7 h beside
others of its type working 5 h. So a truck that goes out also pays for the work (drives, services
and unloads; not waiting or the break) it does below :data:`WORK_FLOOR` of its type's mean work —
a floor on work rather than on the shift because both engines price it exactly (OR-Tools as a
soft lower bound of a dimension without slack, :func:`routing.planning.search.dispatch.add_balance`).

The means are not known before solving, so they are estimated from the product's own first
solution (:func:`routing.planning.search.construct.build_routes`, timed exactly by
:func:`routing.planning.plan.time_route`) over the trucks of each type it used. The search then
pays ``balance_per_h`` (currency per hour, on the problem) for every hour a truck works beyond
the mean shift, and for every hour of work it falls short of the floor.
"""

from __future__ import annotations

from typing import NamedTuple

from routing.planning.plan import time_route
from routing.planning.problem import Problem
from routing.planning.search.construct import build_routes
from routing.planning.timed import Route

WORK_FLOOR = 0.8  # × the type's mean work: what a truck that goes out works at least before it pays


class ShiftTarget(NamedTuple):
    """One vehicle type's balanced day, seconds."""

    shift: int  # mean shift, depot departure to return: the soft upper bound
    work_floor: int  # WORK_FLOOR × mean work (drives, services, unloads): the soft lower bound


def route_work(route: Route) -> int:
    """Seconds a timed route drives, serves and unloads: its shift less waiting and the break."""
    return sum(s.leg_duration_s + (s.departure - s.start if s.kind in ("site", "facility") else 0) for s in route.stops)


def shift_targets(problem: Problem, site_ids: list[str]) -> dict[str, ShiftTarget]:
    """Per vehicle type, the mean shift of its trucks in a first solution and the floor of their work.

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
    spans: dict[str, list[tuple[int, int]]] = {}
    for vehicle_id, visits in build_routes(problem, sorted(site_ids)).items():
        vehicle = problem.vehicles[problem.vehicle_index[vehicle_id]]
        route = time_route(problem, vehicle, visits)
        spans.setdefault(vehicle.type_id, []).append((route.end - route.start, route_work(route)))
    return {
        kind: ShiftTarget(
            shift=round(sum(s for s, _ in values) / len(values)),
            work_floor=round(WORK_FLOOR * sum(w for _, w in values) / len(values)),
        )
        for kind, values in spans.items()
    }
