"""Ruin and recreate around OR-Tools' local search: the solver's improvement phase.

Why not OR-Tools' own metaheuristics alone: guided local search stalls within seconds on
time-windowed days (R107: no gain from 2 s to 15 s), and OR-Tools 9.15's iterated local
search ended 9.6 % above R107's BKS where this loop ends near 2 % (benchmarks/RESULTS.md).
Each iteration removes strings of nearby sites from a few routes (the SISR ruin of
Christiaens & Vanden Berghe, 2020), hands the rest back to OR-Tools as a partial solution,
and lets its greedy descent re-insert the removed sites and improve until a local optimum —
so every constraint of the model (windows, loads, unloads, breaks, stop limits) is still
OR-Tools' to enforce. Simulated annealing decides which result the next ruin starts from.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import numpy as np

NEIGHBOURS = 100  # nearest sites a ruin looks through for routes to cut (enough for SISR's few strings)

# The descent restarts every operator after each improvement; these five rebuild a whole
# insertion heuristic per neighbour, which made a descent ~8× slower (80 ms vs 10 ms to
# confirm a local optimum of R107). OR-Tools picks operators when the model closes, so a
# search that runs this loop closes its model without them.
SLOW_OPERATORS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)


@dataclass(frozen=True)
class RuinSettings:
    """SISR's ruin sizes and the annealing schedule (temperature as a share of route cost)."""

    average_removed: int = 10  # sites removed per ruin, on average (SISR's c̄)
    max_string: int = 10  # longest string cut out of one route (SISR's L^max)
    start_temperature: float = 0.005  # × the current routes' arc cost; cools linearly to 0
    route_removal: float = 0.1  # share of ruins that empty a whole route instead (fewer trucks)


class StringRemoval:
    """Cuts strings of consecutive sites out of the routes nearest to a random seed site.

    Now and then it empties a whole route instead, the smallest or a random one: strings
    of ten rarely free a truck of seventy stops, and where trucks cost a day's wage
    (Kim's instances) a freed truck is worth more than any detour.
    """

    def __init__(self, *, neighbours: dict[int, list[int]], settings: RuinSettings, rng: random.Random) -> None:
        self.neighbours = neighbours
        self.settings = settings
        self.rng = rng
        self.sites = sorted(neighbours)

    def __call__(self, routes: list[list[int]]) -> list[list[int]]:
        """The routes with some sites cut out (each route a list of routing indices)."""
        s, rng = self.settings, self.rng
        where = {index: k for k, route in enumerate(routes) for index in route}
        served = [r for r in routes if any(i in self.neighbours for i in r)]
        if not served:
            return routes
        if len(served) > 1 and rng.random() < s.route_removal:
            victim = min(served, key=len) if rng.random() < 0.5 else rng.choice(served)
            return [[i for i in route if i not in self.neighbours] if route is victim else route for route in routes]
        mean_size = sum(len(r) for r in served) / len(served)
        string_max = min(s.max_string, mean_size)
        strings_max = 4 * s.average_removed / (1 + string_max) - 1
        strings = int(rng.uniform(1, strings_max + 1))
        removed: set[int] = set()
        ruined: set[int] = set()
        seed = rng.choice(self.sites)
        for site in self.neighbours[seed]:
            if len(ruined) >= strings:
                break
            k = where.get(site)
            if k is None or k in ruined:
                continue
            ruined.add(k)
            route = routes[k]
            length = int(rng.uniform(1, min(len(route), string_max) + 1))
            at = route.index(site)
            first = max(0, min(at - rng.randrange(length), len(route) - length))
            removed.update(i for i in route[first : first + length] if i in self.neighbours)
        return [[i for i in route if i not in removed] for route in routes]


def site_neighbours(
    distance: np.ndarray, site_indices: list[int], matrix_nodes: list[int], *, keep: int = NEIGHBOURS
) -> dict[int, list[int]]:
    """Per site (routing index): the ``keep`` nearest sites, itself first (SISR's adjacency lists)."""
    nodes = np.asarray(matrix_nodes)
    block = distance[np.ix_(nodes, nodes)].astype(np.float64)
    block = np.minimum(block, block.T)
    np.fill_diagonal(block, -1.0)  # a site is its own nearest, even where two share a matrix node
    order = np.argsort(block, axis=1, kind="stable")[:, :keep]
    return {site_indices[a]: [site_indices[b] for b in row] for a, row in enumerate(order)}


def anneal(*, routing, start, descent_params, ruin: StringRemoval, deadline: float, max_iterations: int | None = None):
    """Ruin-and-recreate from the ``start`` assignment until ``deadline``; the best solution found.

    ``descent_params``: OR-Tools search parameters of a greedy descent (their time limit is
    set here). Returns a copy of the best assignment. (A copy,
    not routes to restore: after a descent cut short by the deadline, OR-Tools 9.15 at times
    refuses to read routes back, and C204 came back as its first solution, 69 % above.)
    """
    copy = routing.solver().Assignment
    current = best = start.ObjectiveValue()
    current_routes = routes_of(routing, start)
    best_solution = copy(start)
    began = time.monotonic()
    temperature0 = ruin.settings.start_temperature * arc_cost(routing, current_routes)
    iterations = 0
    while time.monotonic() < deadline and (max_iterations is None or iterations < max_iterations):
        iterations += 1
        partial = ruin(current_routes)
        remaining = deadline - time.monotonic()
        descent_params.time_limit.FromMilliseconds(max(1, int(remaining * 1000)))
        initial = routing.ReadAssignmentFromRoutes(partial, True)
        found = None if initial is None else routing.SolveFromAssignmentWithParameters(initial, descent_params)
        if found is None:
            continue
        cost = found.ObjectiveValue()
        cooled = max(0.0, 1.0 - (time.monotonic() - began) / max(1e-9, deadline - began))
        temperature = temperature0 * cooled
        if cost < current or (temperature > 0 and ruin.rng.random() < math.exp(-(cost - current) / temperature)):
            current, current_routes = cost, routes_of(routing, found)
            if cost < best:
                best, best_solution = cost, copy(found)
    return best_solution


def routes_of(routing, assignment) -> list[list[int]]:
    """Routing indices per vehicle, start and end excluded (ReadAssignmentFromRoutes' input)."""
    out = []
    for vehicle in range(routing.vehicles()):
        route, index = [], assignment.Value(routing.NextVar(routing.Start(vehicle)))
        while not routing.IsEnd(index):
            route.append(index)
            index = assignment.Value(routing.NextVar(index))
        out.append(route)
    return out


def arc_cost(routing, routes: list[list[int]]) -> int:
    """The routes' arc cost alone (no fixed, span or penalty costs): the annealing's scale."""
    total = 0
    for vehicle, route in enumerate(routes):
        path = [routing.Start(vehicle), *route, routing.End(vehicle)]
        total += sum(routing.GetArcCostForVehicle(a, b, vehicle) for a, b in zip(path, path[1:]))
    return total
