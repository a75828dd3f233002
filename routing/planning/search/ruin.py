"""The SISR string removal (compiled, shared with routing.planning.search.sisr), and ruin and recreate around
OR-Tools' local search: the improvement phase of days routing.planning.search.sisr cannot model (unloads, lunch).

Why not OR-Tools' own metaheuristics alone: guided local search stalls within seconds on
time-windowed days (R107: no gain from 2 s to 15 s), and OR-Tools 9.15's iterated local
search ended 9.6 % above R107's BKS where this loop ends near 2 % (benchmarks/RESULTS.md;
the compiled routing.planning.search.sisr, where it applies, ends at 0–0.6 %).
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

import numpy as np
from numba import njit

from routing.planning.search.params import RuinParams

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


class StringRemoval:
    """Cuts strings of consecutive sites out of the routes nearest to a random seed site.

    Now and then it empties a whole route instead, the smallest or a random one: strings
    of ten rarely free a truck of seventy stops, and where trucks cost a day's wage
    (Kim's instances) a freed truck is worth more than any detour. Routes are lists of
    indices (routing indices here, nodes in :mod:`routing.planning.search.sisr`); only sites are removed.
    The cut itself is :func:`cut_strings`, compiled, which routing.planning.search.sisr calls directly.
    """

    def __init__(self, *, neighbours: np.ndarray, settings: RuinParams, seed: int) -> None:
        self.neighbours = neighbours  # one row per index a route may hold (site_neighbours' ``rows``)
        self.settings = settings
        self.removable = neighbours[:, 0] >= 0
        self.sites = np.flatnonzero(self.removable)
        seed_compiled_rng(seed)

    def __call__(self, routes: list[list[int]]) -> list[list[int]]:
        """The routes with some sites cut out."""
        s = self.settings
        nodes = np.zeros((len(routes), max(1, max(map(len, routes), default=1))), dtype=np.int64)
        length = np.array([len(route) for route in routes], dtype=np.int64)
        route_of = np.full(len(self.neighbours), -1, dtype=np.int64)
        for k, route in enumerate(routes):
            nodes[k, : len(route)] = route
            route_of[route] = k
        touched = np.zeros(len(routes), dtype=np.bool_)
        removed = np.zeros(max(1, int(length.sum())), dtype=np.int64)
        cut_strings(
            nodes,
            length,
            route_of,
            touched,
            removed,
            self.removable,
            self.sites,
            self.neighbours,
            s.average_removed,
            s.max_string,
            s.route_removal,
            s.split_rate,
        )
        return [nodes[k, : length[k]].tolist() for k in range(len(routes))]


def site_neighbours(
    distance: np.ndarray,
    site_indices: list[int],
    matrix_nodes: list[int],
    *,
    keep: int = NEIGHBOURS,
    rows: int | None = None,
) -> np.ndarray:
    """Per site index (row): the ``keep`` nearest sites, itself first (SISR's adjacency lists).

    Parameters
    ----------
    distance : ndarray
        The problem's distance matrix.
    site_indices : list of int
        Per site, the index its row gets (a routing index or a node).
    matrix_nodes : list of int
        Per site, its node in ``distance``.
    keep : int
        Neighbours per site.
    rows : int, optional
        How many indices there are (default: up to the largest site's).

    Returns
    -------
    ndarray
        int64 ``[rows, keep]``; rows of indices that are not sites start with -1.
    """
    nodes = np.asarray(matrix_nodes, dtype=np.int64)  # int even when there are no sites
    block = distance[np.ix_(nodes, nodes)].astype(np.float64)
    block = np.minimum(block, block.T)
    np.fill_diagonal(block, -1.0)  # a site is its own nearest, even where two share a matrix node
    order = np.argsort(block, axis=1, kind="stable")[:, :keep]
    index = np.asarray(site_indices, dtype=np.int64)
    out = np.full((rows or int(index.max()) + 1, order.shape[1]), -1, dtype=np.int64)
    out[index] = index[order]
    return out


@njit(cache=True)
def seed_compiled_rng(seed):
    """Seed the compiled code's random numbers (numba keeps its own generator)."""
    np.random.seed(seed)


@njit(cache=True)
def remove_at(v, position, nodes, length, route_of):
    """Take the index at ``position`` out of route v (rows of ``nodes``, ``length`` long); returns it.

    Parameters
    ----------
    v : int
        The route (row of ``nodes``).
    position : int
        The position in the route.
    nodes : numpy.ndarray
        (routes, max length) indices per route; changed in place.
    length : numpy.ndarray
        Stops per route; changed in place.
    route_of : numpy.ndarray
        Route of each index, set to -1 for the removed one.

    Returns
    -------
    int
        The removed index.
    """
    node = nodes[v, position]
    k = length[v]
    for i in range(position, k - 1):
        nodes[v, i] = nodes[v, i + 1]
    length[v] = k - 1
    route_of[node] = -1
    return node


SPLIT_DEPTH = 0.01  # SISR's alpha: the kept run grows while U >= alpha * U' (so it is usually long)


@njit(cache=True)
def cut_strings(
    nodes,
    length,
    route_of,
    touched,
    removed,
    removable,
    sites,
    neighbours,
    average_removed,
    max_string,
    route_removal,
    split_rate,
):
    """SISR's string removal, or now and then a whole route; marks ``touched`` routes, returns how many were removed.

    Routes are rows of ``nodes`` (``length`` long); ``route_of`` maps an index to its route
    (-1: unrouted); ``removable`` marks sites (the only indices ever removed); ``removed``
    receives them.

    Parameters
    ----------
    nodes, length, route_of : numpy.ndarray
        The routes, as in :func:`remove_at`; changed in place.
    touched : numpy.ndarray
        bool per route, set for each route cut.
    removed : numpy.ndarray
        Receives the removed indices from position 0.
    removable : numpy.ndarray
        bool per index: sites that may be removed.
    sites : numpy.ndarray
        The site indices the seed is drawn from.
    neighbours : numpy.ndarray
        Per index, the nearest sites in order (-1 ends a row).
    average_removed : float
        Mean number of sites to remove (SISR's c̄).
    max_string : int
        Longest string (SISR's L^max).
    route_removal : float
        Probability (0-1) of removing a whole route instead.
    split_rate : float
        Probability (0-1) that a string keeps a run of its sites on the route (SISR's split string).

    Returns
    -------
    int
        How many indices were written to ``removed``.
    """
    vehicles = length.shape[0]
    used = 0
    total = 0
    for v in range(vehicles):
        if length[v] > 0:
            used += 1
            total += length[v]
    if used == 0:
        return 0
    count = 0
    if used > 1 and np.random.random() < route_removal:
        victim = _victim(length, used)
        touched[victim] = True
        return _cut(victim, 0, length[victim], 0, 0, nodes, length, route_of, removed, removable, 0)
    string_max = min(float(max_string), total / used)
    strings_max = 4.0 * average_removed / (1.0 + string_max) - 1.0
    strings = int(np.random.uniform(1.0, strings_max + 1.0))
    seed = sites[np.random.randint(sites.shape[0])]
    ruined = 0
    for j in range(neighbours.shape[1]):
        if ruined >= strings:
            break
        site = neighbours[seed, j]
        if site < 0:
            break
        v = route_of[site]
        if v < 0 or touched[v]:
            continue
        touched[v] = True
        ruined += 1
        k = length[v]
        longest = min(float(k), string_max)
        size = int(np.random.uniform(1.0, longest + 1.0))
        at = 0
        while nodes[v, at] != site:
            at += 1
        kept = 0  # SISR's split string: a run of ``kept`` sites inside the cut stays on the route
        if 1 < size < longest and np.random.random() < split_rate:
            kept = 1
            while kept < k - size and np.random.random() >= SPLIT_DEPTH * np.random.random():
                kept += 1
        first = max(0, min(at - np.random.randint(size + kept), k - size - kept))
        keep_from = first + np.random.randint(size + 1)
        count = _cut(v, first, first + size + kept, keep_from, kept, nodes, length, route_of, removed, removable, count)
    return count


@njit(cache=True)
def _victim(length, used):
    """The route to empty: the shortest half the time, else one of the ``used`` at random."""
    victim = -1
    if np.random.random() < 0.5:
        for v in range(length.shape[0]):
            if length[v] > 0 and (victim < 0 or length[v] < length[victim]):
                victim = v
        return victim
    pick = np.random.randint(used)
    for v in range(length.shape[0]):
        if length[v] > 0:
            if pick == 0:
                return v
            pick -= 1
    return victim


@njit(cache=True)
def _cut(v, first, end, keep_from, kept, nodes, length, route_of, removed, removable, count):
    """Remove route v's sites at positions ``first`` to ``end`` (exclusive) but the ``kept`` from ``keep_from``
    into ``removed[count:]``; returns the new count."""
    for position in range(end - 1, first - 1, -1):
        if keep_from <= position < keep_from + kept:
            continue
        if removable[nodes[v, position]]:
            removed[count] = remove_at(v, position, nodes, length, route_of)
            count += 1
    return count


def anneal(
    *,
    routing,
    start,
    descent_params,
    ruin: StringRemoval,
    rng: random.Random,
    deadline: float,
    max_iterations: int | None = None,
):
    """Ruin-and-recreate from the ``start`` assignment until ``deadline``; the best solution found.

    Parameters
    ----------
    routing : ortools RoutingModel
        The closed model.
    start : ortools Assignment
        The solution to start from.
    descent_params : ortools RoutingSearchParameters
        A greedy descent's parameters (their time limit is set here).
    ruin : StringRemoval
        Cuts sites out of the current routes.
    rng : random.Random
        The annealing's acceptance draws.
    deadline : float
        ``time.monotonic()`` to stop at.
    max_iterations : int, optional
        Ruins at most.

    Returns
    -------
    ortools Assignment
        A copy of the best assignment (a copy, not routes to restore: after a descent cut short
        by the deadline, OR-Tools 9.15 at times refuses to read routes back, and C204 came back
        as its first solution, 69 % above).
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
        share = cooled_share(began=began, deadline=deadline, done=iterations, planned=max_iterations)
        temperature = temperature0 * (1.0 - share)
        if cost < current or (temperature > 0 and rng.random() < math.exp(-(cost - current) / temperature)):
            current, current_routes = cost, routes_of(routing, found)
            if cost < best:
                best, best_solution = cost, copy(found)
    return best_solution


def cooled_share(*, began: float, deadline: float, done: int, planned: int | None) -> float:
    """How far a search has come, 0 → 1: the share of its planned ruins, else of its time.

    With a fixed amount of work (``max_solutions``) the temperature follows the ruins made, not
    the clock, so the same input and settings give the same plan on a busy machine too.

    Parameters
    ----------
    began, deadline : float
        ``time.monotonic()`` at the start and at the time limit.
    done : int
        Ruins made so far.
    planned : int or None
        Ruins planned; None (or 0) uses the clock.

    Returns
    -------
    float
        The share done, 0 to 1.
    """
    if planned:
        return min(1.0, done / planned)
    return min(1.0, (time.monotonic() - began) / max(1e-9, deadline - began))


def routes_of(routing, assignment) -> list[list[int]]:
    """Routing indices per vehicle, start and end excluded (ReadAssignmentFromRoutes' input).

    Parameters
    ----------
    routing : ortools RoutingModel
        The model.
    assignment : ortools Assignment
        A solution of it.

    Returns
    -------
    list of list of int
        One list per vehicle.
    """
    out = []
    for vehicle in range(routing.vehicles()):
        route, index = [], assignment.Value(routing.NextVar(routing.Start(vehicle)))
        while not routing.IsEnd(index):
            route.append(index)
            index = assignment.Value(routing.NextVar(index))
        out.append(route)
    return out


def arc_cost(routing, routes: list[list[int]]) -> int:
    """The routes' arc cost alone (no fixed, span or penalty costs): the annealing's scale.

    Parameters
    ----------
    routing : ortools RoutingModel
        The model.
    routes : list of list of int
        Routing indices per vehicle, as :func:`routes_of` gives them.

    Returns
    -------
    int
        In the model's cost units.
    """
    total = 0
    for vehicle, route in enumerate(routes):
        path = [routing.Start(vehicle), *route, routing.End(vehicle)]
        total += sum(routing.GetArcCostForVehicle(a, b, vehicle) for a, b in zip(path, path[1:]))
    return total
