"""Balanced shifts: per vehicle type, the shift length a truck should not run beyond.

Why: the cost-only search fills some trucks to the end of their shift and sends others of the
same type home by noon (demo day: kitchen-2t 3.0–9.6 h), because crew cost per hour is the same
whoever works it. A soft upper bound on each truck's shift near its type's mean spreads the work
(VROOM's open #191 asks for this; OR-Tools prices it as a soft span bound). The mean is not known
before solving, so it is estimated from the product's own first solution
(:func:`routing.planning.search.construct.build_routes`, timed exactly by
:func:`routing.planning.plan.time_route`): the shift time its trucks of each type work, over the
trucks of that type it used. The search then pays ``balance_per_h`` (currency per hour, on the
problem) for every hour a truck works beyond that.
"""

from __future__ import annotations

from routing.planning.plan import time_route
from routing.planning.problem import Problem
from routing.planning.search.construct import build_routes


def shift_targets(problem: Problem, site_ids: list[str]) -> dict[str, int]:
    """Per vehicle type, the mean shift (seconds, depot departure to return) of its trucks in a first solution.

    Parameters
    ----------
    problem : Problem
        The day, or a piece of it.
    site_ids : list of str
        The sites to plan.

    Returns
    -------
    dict
        Vehicle type id → seconds; types the first solution does not use are left out.
    """
    spans: dict[str, list[int]] = {}
    for vehicle_id, visits in build_routes(problem, sorted(site_ids)).items():
        vehicle = problem.vehicles[problem.vehicle_index[vehicle_id]]
        route = time_route(problem, vehicle, visits)
        spans.setdefault(vehicle.type_id, []).append(route.end - route.start)
    return {kind: round(sum(values) / len(values)) for kind, values in spans.items()}
