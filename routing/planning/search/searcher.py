"""One search on a built OR-Tools model: a first solution, then ruin and recreate or guided local search.

The first solution comes from given routes, from :mod:`routing.planning.search.construct`, or
from an OR-Tools first-solution strategy. Ruin and recreate runs compiled
(:mod:`routing.planning.search.sisr`, with unloading trips, release dates and the break in
:mod:`routing.planning.search.trips`) on every day :func:`routing.planning.search.arrays.route_arrays`
can express, and around OR-Tools' greedy descents (:mod:`routing.planning.search.ruin`) on the
others (a hold limit on a truck of several streams, a global span cost);
``"gls"`` leaves the improvement to OR-Tools' guided local search (see
:func:`routing.planning.search.params.default_strategies`). The compiled loop's best routes go
back to OR-Tools (each unload marker a distinct facility copy) for a closing descent; a route the
model cannot read back is logged as a feasibility mismatch.
"""

from __future__ import annotations

import logging
import math
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import replace

from routing.planning.problem import Problem, VehicleSpec
from routing.planning.search import sisr
from routing.planning.search.arrays import capacity_binds
from routing.planning.search.balance import routes_targets
from routing.planning.search.construct import build_routes
from routing.planning.search.ortools_model import OrToolsModel, closing_trip_s
from routing.planning.search.params import CONSTRUCTIONS, SolveParams, strategy_parts
from routing.planning.search.result import CostPoint, SearchResult
from routing.planning.search.ruin import SLOW_OPERATORS, StringRemoval, anneal, routes_of, site_neighbours
from routing.planning.search.sisr import RouteArrays
from routing.planning.search.units import COST_SCALE

log = logging.getLogger(__name__)
POLISH_SHARE = 0.05  # of a SISR search's time: the closing OR-Tools descent
BALANCE_PHASE = 0.2  # of a balanced search's time: a cost-only search whose plan sets the balance targets

Report = Callable[[float, float], None]  # (seconds since the search began, best cost so far)


def search(
    problem: Problem,
    settings: SolveParams,
    *,
    strategy: str,
    time_limit_s: float,
    report: Report | None = None,
    initial: dict[str, list[str]] | None = None,
) -> SearchResult:
    """Build the model and run one search; building counts against the time limit.

    ``time_limit_s`` covers building and searching together (the search gets at least a
    second); ``strategy``, ``report`` and ``initial`` are as in :meth:`Searcher.solve`.

    Parameters
    ----------
    problem : Problem
        The day.
    settings : SolveParams
        Search settings.
    strategy, report, initial
        As for :meth:`Searcher.solve`.
    time_limit_s : float
        Seconds for building and searching together.

    Returns
    -------
    SearchResult
        The best routes found; no routes and an infinite cost when none was found.
    """
    began = time.monotonic()
    targets = None
    if problem.balance_per_h > 0:
        # Why first without balance: the greedy first solution opens 3-5 trucks more than a cost-only search ends
        # with, and balancing around its mean shift keeps them all (demo day +10.5 % over the cost-only plan)
        first = search(
            replace(problem, balance_per_h=0.0),
            settings,
            strategy=strategy,
            time_limit_s=BALANCE_PHASE * time_limit_s,
            initial=initial,
        )
        if first.routes:
            targets, initial = routes_targets(problem, first.routes), first.routes
    model = OrToolsModel(problem, settings, balance_targets=targets)
    offset = time.monotonic() - began
    result = Searcher(model).solve(
        strategy=strategy,
        time_limit_s=max(1.0, time_limit_s - offset),
        report=None if report is None else lambda t, cost: report(t + offset, cost),
        initial=initial,
    )
    return replace(result, history=[(round(t + offset, 3), cost) for t, cost in result.history])


class Searcher:
    """Searches one built :class:`OrToolsModel` and reads its routes back as visit ids.

    Parameters
    ----------
    model : OrToolsModel
        The model to search (one search per model: OR-Tools closes it on the first).
    """

    def __init__(self, model: OrToolsModel) -> None:
        self.model = model
        self.settings = model.settings

    def search_parameters(self, strategy: str, time_limit_s: float):
        """OR-Tools search parameters for ``strategy`` within ``time_limit_s``.

        Raises
        ------
        ValueError
            If the strategy names an unknown first-solution strategy or improvement.
        """
        from ortools.constraint_solver import pywrapcp, routing_enums_pb2
        from ortools.util.optional_boolean_pb2 import BOOL_FALSE

        first, improvement = strategy_parts(strategy)
        params = pywrapcp.DefaultRoutingSearchParameters()
        if first not in CONSTRUCTIONS:
            try:
                params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
            except AttributeError:
                raise ValueError(f"unknown first-solution strategy {first!r} in {strategy!r}") from None
        if improvement == "ruin":
            # greedy descents inside routing.planning.search.ruin's loop; the operators are fixed when the model closes
            params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
            for name in SLOW_OPERATORS:
                setattr(params.local_search_operators, name, BOOL_FALSE)
        else:
            params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        # The route schedulers (CP-SAT by default for routes with breaks) make every search
        # step ~30× slower here, and the LP one wrongly rejects feasible routes with a break
        # after the route end; constraint propagation alone checks the same constraints.
        params.disable_scheduling_beware_this_may_degrade_performance = True
        # completing a solution (cumuls, break placement) on long routes with breaks needs
        # more than the default 100 ms; with less, restoring a start fails at random
        params.lns_time_limit.FromMilliseconds(max(1000, int(time_limit_s * 100)))
        params.time_limit.FromMilliseconds(max(100, int(time_limit_s * 1000)))
        if self.settings.max_solutions is not None:
            params.solution_limit = self.settings.max_solutions
        return params

    def solve(
        self,
        *,
        strategy: str,
        time_limit_s: float,
        report: Report | None = None,
        initial: dict[str, list[str]] | None = None,
    ) -> SearchResult:
        """Search from ``initial`` routes if given, else from the strategy's first solution.

        Parameters
        ----------
        strategy : str
            ``"FIRST+IMPROVEMENT"``.
        time_limit_s : float
            Seconds for the search.
        report : callable, optional
            Called with (seconds, cost) at every improvement.
        initial : dict, optional
            Visit ids per truck to start from.

        Returns
        -------
        SearchResult
            The best routes found; no routes and an infinite cost when no solution was found.
        """
        model = self.model
        r = model.routing
        began = time.monotonic()
        history: list[CostPoint] = []
        best = [math.inf]

        def on_solution() -> None:
            cost = r.CostVar().Value() / COST_SCALE
            if cost < best[0]:
                best[0] = cost
                elapsed = time.monotonic() - began
                history.append((round(elapsed, 3), cost))
                if report is not None:
                    report(elapsed, cost)

        r.AddAtSolutionCallback(on_solution)
        params = self.search_parameters(strategy, time_limit_s)
        first, improvement = strategy_parts(strategy)
        arrays = model.route_arrays() if improvement == "ruin" else None
        start_params = params if arrays is None else _first_solution_only(params)
        assignment = None
        if initial is not None or first in CONSTRUCTIONS:
            r.CloseModelWithParameters(start_params)
            if initial is None:
                initial = self._first_routes(urgency=CONSTRUCTIONS[first])
            assignment = self._solve_from(initial, start_params)
        if assignment is None:
            assignment = r.SolveWithParameters(start_params)
        status = str(r.status())
        if assignment is None:
            return SearchResult({}, {}, math.inf, sorted(model.site_ids), history, strategy, status)
        if improvement == "ruin":
            assignment = self._ruin_and_recreate(
                assignment, params, arrays=arrays, strategy=strategy, deadline=began + time_limit_s
            )
        return self._result(assignment, history, strategy, status)

    def _first_routes(self, *, urgency: float) -> dict[str, list[str]]:
        """The product's first routes; on a day with territories, with and without them, the one the model prices
        lower (why: the searches barely restructure a start, so a territorial start is what makes routes compact,
        unless it costs more in balance or distance than compactness is worth)."""
        model = self.model
        p, ids = model.problem, sorted(model.site_ids)
        routes = build_routes(p, ids, urgency=urgency, shift_caps=model.shift_caps)
        if not any(0 < p.sites[p.site_index[s]].preference_penalty <= p.compactness_per_site for s in ids):
            return routes
        plain = build_routes(p, ids, urgency=urgency, shift_caps=model.shift_caps, territorial=False)
        priced = [(self._objective(r), k, r) for k, r in enumerate((routes, plain))]
        return min(priced, key=lambda item: item[:2])[2]

    def _objective(self, routes: dict[str, list[str]]) -> float:
        """The model's objective of ``routes`` as they stand (inf when the model cannot restore them all)."""
        assignment = self.model.routing.ReadAssignmentFromRoutes(self._index_routes(routes), True)
        return math.inf if assignment is None else assignment.ObjectiveValue()

    def _solve_from(self, routes: dict[str, list[str]], params):
        """Search from constructed routes (None if OR-Tools cannot restore any of them).

        A route the model rejects (its timing is off by minutes, say) is left out rather
        than losing the whole start: its sites begin unassigned and the search inserts them.
        """
        r = self.model.routing
        indexed = self._index_routes(routes)
        initial = r.ReadAssignmentFromRoutes(indexed, True)
        if initial is None:
            kept = [seq if self._restores(indexed, vi) else [] for vi, seq in enumerate(indexed)]
            initial = r.ReadAssignmentFromRoutes(kept, True) if any(kept) else None
        return None if initial is None else r.SolveFromAssignmentWithParameters(initial, params)

    def _restores(self, indexed: list[list[int]], vi: int) -> bool:
        alone = [seq if k == vi else [] for k, seq in enumerate(indexed)]
        return self.model.routing.ReadAssignmentFromRoutes(alone, True) is not None

    def _index_routes(self, routes: dict[str, list[str]]) -> list[list[int]]:
        """Site/facility ids per truck -> routing indices (each unload takes a free facility copy)."""
        model = self.model
        p, m = model.problem, model.manager
        site_node = {p.sites[i].id: node for node, (kind, i) in enumerate(model.kinds) if kind == "site"}
        copies: dict[str, list[int]] = {}
        for node, (kind, i) in enumerate(model.kinds):
            if kind == "facility":
                copies.setdefault(p.facilities[i].id, []).append(node)
        out = []
        for v in p.vehicles:
            seq = []
            for vid in routes.get(v.id, []):
                if vid in site_node:
                    seq.append(m.NodeToIndex(site_node[vid]))
                elif copies.get(vid):
                    seq.append(m.NodeToIndex(copies[vid].pop()))
                else:
                    break  # out of unload copies: the search repairs the rest
            out.append(seq)
        return out

    def _ruin_and_recreate(self, start, params, *, arrays: RouteArrays | None, strategy: str, deadline: float):
        """Improve ``start`` by ruin and recreate; the best solution found (an assignment).

        Days that :meth:`OrToolsModel.route_arrays` can express (``arrays``) run the compiled SISR loop
        (:mod:`routing.planning.search.sisr`) and end with one OR-Tools descent from its best
        routes; the others run :mod:`routing.planning.search.ruin`'s loop of OR-Tools descents.
        """
        model = self.model
        r, m = model.routing, model.manager
        sites = [m.NodeToIndex(node) for node, (kind, _) in enumerate(model.kinds) if kind == "site"]
        if len(sites) < 2:
            return start
        seed = zlib.crc32(strategy.encode())  # seeded: the same work gives the same plan
        descent = type(params)()
        descent.CopyFrom(params)
        if arrays is not None:
            return self._sisr(start, descent, arrays=arrays, seed=seed, deadline=deadline)
        nodes = [int(model.matrix_node[m.IndexToNode(i)]) for i in sites]
        neighbours = site_neighbours(model.problem.distance_m, sites, nodes, rows=r.Size())
        ruin = StringRemoval(neighbours=neighbours, settings=self.settings.ruin, seed=seed)
        return anneal(
            routing=r,
            start=start,
            descent_params=descent,
            ruin=ruin,
            rng=random.Random(seed),
            deadline=deadline,
            max_iterations=self.settings.max_solutions,
        )

    def _sisr(self, start, descent, *, arrays: RouteArrays, seed: int, deadline: float):
        """The compiled SISR loop from ``start``, then an OR-Tools descent from its best routes."""
        r, m = self.model.routing, self.model.manager
        polish = POLISH_SHARE * max(0.0, deadline - time.monotonic())
        routes = [to_markers(arrays, [m.IndexToNode(i) for i in route]) for route in routes_of(r, start)]
        best, cost, made = sisr.improve(
            arrays,
            routes,
            deadline=deadline - polish,
            settings=self.settings.ruin,
            seed=seed,
            max_iterations=self.settings.max_solutions,
        )
        log.info("compiled search on %s: %d ruins, cost %d", self.model.problem.name, made, cost)
        nodes = to_copies(self.model.kinds, best)
        initial = (
            None if nodes is None else read_routes(self.model, [[m.NodeToIndex(n) for n in route] for route in nodes])
        )
        if initial is None:  # sisr and the model disagree on feasibility: keep what OR-Tools found
            log.warning(
                "compiled routes not readable by the OR-Tools model of %s (%s): kept its own solution",
                self.model.problem.name,
                "more unloads than facility copies" if nodes is None else "a route the model rejects",
            )
            return start
        descent.time_limit.FromMilliseconds(max(1, int((deadline - time.monotonic()) * 1000)))
        found = r.SolveFromAssignmentWithParameters(initial, descent)
        # the compiled routes end empty wherever a truck must: always a candidate
        candidates = [a for a in (found, initial, start) if a is initial or a is not None and not self._ends_loaded(a)]
        return min(candidates, key=lambda a: a.ObjectiveValue())

    def _capped(self) -> bool:
        """Whether a facility's daily capacity binds and no closing unload is folded into the last arc: then an unload
        added to close a route OR-Tools ends loaded (coming home empty is a soft bound there, and leftover load costs
        less than a dropped site) could go past the intake the model limits."""
        p = self.model.problem
        return self.model.final_unload is None and any(
            capacity_binds(self.model, fi) for fi in range(len(p.facilities))
        )

    def _ends_loaded(self, assignment) -> bool:
        """Whether, on a :meth:`_capped` day, a truck that must come home empty ends loaded."""
        model = self.model
        p, r, load = model.problem, model.routing, model.load_dims[0]
        return self._capped() and any(
            v.ends_empty and assignment.Value(load.CumulVar(r.End(vi))) > 0 for vi, v in enumerate(p.vehicles)
        )

    def _result(self, assignment, history: list[CostPoint], strategy: str, status: str) -> SearchResult:
        """The assignment as visit ids per truck; an unload closes every route that must end empty (on a
        :meth:`_capped` day the sites after its last unload are left out instead)."""
        model = self.model
        p, r, m = model.problem, model.routing, model.manager
        routes: dict[str, list[str]] = {}
        starts: dict[str, int] = {}
        visited: set[str] = set()
        capped = self._capped()
        for vi, (v, visits) in enumerate(zip(p.vehicles, routes_of(r, assignment))):
            seq = []
            for index in visits:
                kind, i = model.kinds[m.IndexToNode(index)]
                # an unload with nothing on board (first visit, or right after another
                # unload) is the search parking a free node: leave it out of the plan
                if kind == "site":
                    seq.append(p.sites[i].id)
                elif seq and seq[-1] in p.site_index:
                    seq.append(p.facilities[i].id)
            if seq and v.ends_empty and seq[-1] not in p.facility_index:
                if model.final_unload is not None:  # the unload the model already timed on the last arc
                    seq.append(p.facilities[model.final_unload[(seq[-1], v.depot)]].id)
                elif capped:  # no facility's intake may grow now: the load on board stays at its sites
                    while seq and seq[-1] in p.site_index:
                        seq.pop()
                else:
                    seq.append(self._closing_facility(v, seq[-1]))
            if seq:
                routes[v.id] = seq
                if model.finalised_starts:  # otherwise any feasible value: the plan's own timing decides
                    starts[v.id] = assignment.Value(model.time_dim.CumulVar(r.Start(vi)))
                visited.update(seq)
        dropped = sorted(model.site_ids - visited)
        cost = assignment.ObjectiveValue() / COST_SCALE
        return SearchResult(routes, starts, cost, dropped, history, strategy, status)

    def _closing_facility(self, v: VehicleSpec, last_site: str) -> str:
        """Rare repair when the search ends with load on board: the quickest unload on the way home."""
        p = self.model.problem
        here, home = p.sites[p.site_index[last_site]].node, p.depots[v.depot].node
        options = [f for f in p.facilities if Problem.unloads_at(v, f)]
        best = min(options, key=lambda f: closing_trip_s(p, here=here, facility=f, home=home))
        return best.id


def read_routes(model: OrToolsModel, routes: list[list[int]]):
    """An assignment of ``routes`` (routing indices per truck) restored by the closed model, or None.

    Why not ``ReadAssignmentFromRoutes``: after a search from an assignment the model's own assignment keeps the
    last solution's cumuls, vehicles and activities, and restoring other routes over them fails (a 6-site day:
    two routes the fresh model reads were rejected after the first solution). Here they are free again.

    Parameters
    ----------
    model : OrToolsModel
        The built model, closed.
    routes : list of list of int
        Routing indices per truck.

    Returns
    -------
    Assignment or None
        The restored assignment; None where the model rejects the routes.
    """
    r = model.routing
    fresh = r.solver().Assignment()
    if not r.RoutesToAssignment(routes, True, True, fresh):
        return None
    variables = [r.VehicleVar(i) for i in range(r.Size())] + [r.ActiveVar(i) for i in range(r.Size())]
    for name in r.GetAllDimensionNames():
        dim = r.GetDimensionOrDie(name)
        variables += [dim.CumulVar(i) for i in range(r.Size() + r.vehicles())]
    for var in variables:
        fresh.Add(var)
        fresh.SetRange(var, var.Min(), var.Max())
    for interval in [b for b in getattr(model, "breaks", []) if b is not None]:
        fresh.Add(interval)
        fresh.SetStartRange(interval, interval.StartMin(), interval.StartMax())
        fresh.SetDurationRange(interval, interval.DurationMin(), interval.DurationMax())
        fresh.SetEndRange(interval, interval.EndMin(), interval.EndMax())
        fresh.SetPerformedRange(interval, interval.MustBePerformed(), interval.MayBePerformed())
    return r.RestoreAssignment(fresh)


def to_markers(arrays: RouteArrays, route: list[int]) -> list[int]:
    """A route of routing nodes with each facility copy replaced by its facility's marker node (sisr's rows).

    Parameters
    ----------
    arrays : RouteArrays
        The compiled model (its ``trips`` name the markers; without trips the route is returned as is).
    route : list of int
        Routing nodes.

    Returns
    -------
    list of int
        The route as the compiled search holds it (no unload right after the depot or another unload, so a route
        never holds more markers than sites).
    """
    if arrays.trips is None:
        return route
    t = arrays.trips
    out: list[int] = []
    for n in route:
        if t.facility_of[n] < 0:
            out.append(n)
        elif out and t.facility_of[out[-1]] < 0:  # an unload with nothing on board is a parked copy: left out
            out.append(int(t.facility_nodes[t.facility_of[n]]))
    return out


def to_copies(kinds: list[tuple[str, int]], routes: list[list[int]]) -> list[list[int]] | None:
    """Routes of the compiled search with each marker replaced by a distinct copy of its facility (None: too few).

    Parameters
    ----------
    kinds : list of (str, int)
        The model's routing nodes (``OrToolsModel.kinds``).
    routes : list of list of int
        Routes as :func:`routing.planning.search.sisr.improve` returns them.

    Returns
    -------
    list of list of int or None
        Routing nodes per truck, each used once; None when a facility is used more often than it has copies.
    """
    free: dict[int, list[int]] = {}
    for node, (kind, fi) in enumerate(kinds):
        if kind == "facility":
            free.setdefault(fi, []).append(node)
    out = []
    for route in routes:
        seq = []
        for node in route:
            kind, fi = kinds[node]
            if kind == "facility":
                if not free[fi]:
                    return None
                node = free[fi].pop(0)
            seq.append(node)
        out.append(seq)
    return out


def _first_solution_only(params):
    """``params`` stopping at the first solution: the compiled search improves it, not an OR-Tools descent.

    Why: the descent from a first solution ran until the time limit on 1,000-site days
    (Gehring & Homberger R1_10_3: all 120 s, 87,074 → 84,914, where the compiled search
    reaches ~48,000 in 20 s), leaving the compiled search nothing.
    """
    out = type(params)()
    out.CopyFrom(params)
    out.solution_limit = 1
    return out
