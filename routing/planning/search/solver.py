"""The OR-Tools routing model of a collection day, and :func:`solve`.

One routing node per site, one per depot (route start/end), and optional copies of every
facility (a truck unloads as many times as it needs, at whichever accepting facility is
best). Matrices are registered directly as integer transit matrices. Capacity dimensions
(weight, volume) drop back to zero at a facility: the facility's transit is minus the largest
capacity and its slack (free only there) lets the load land anywhere in ``[0, load]``; the
route end is fixed to zero load for trucks that must come home empty. Time windows are
allowed values of the time cumul; the meal break is an OR-Tools break interval; the shift
limit is a span upper bound; per-hour crew cost is a span cost; balance is a global span
cost. Every site is optional at a penalty far above the cost of serving it with a truck of
its own, so the search never prefers dropping; what is dropped gets a reason.

A search builds a first solution and improves it by ruin and recreate — compiled
(:mod:`routing.planning.search.sisr`) on days with windows, loads and stop limits only, around OR-Tools' greedy
descents (:mod:`routing.planning.search.ruin`) on days with unloads or a lunch break — or by OR-Tools' guided
local search (see ``default_strategies``).
:func:`solve` runs the searches (two differently-configured ones in parallel processes when
the problem is one piece, independent pieces side by side otherwise, see
:mod:`routing.planning.search.decompose`) and returns a :class:`routing.planning.plan.Plan` timed by
:func:`routing.planning.plan.evaluate_routes`.
"""

from __future__ import annotations

import math
import random
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from routing.planning.plan import Plan, evaluate_routes
from routing.planning.problem import DAY_S, FacilitySpec, Problem, SiteSpec, VehicleSpec
from routing.planning.search import sisr
from routing.planning.search.construct import build_routes
from routing.planning.search.ruin import SLOW_OPERATORS, RuinParams, StringRemoval, anneal, routes_of, site_neighbours
from routing.planning.search.sisr import RouteArrays

COST_SCALE = 100_000  # integer cost units per currency unit
QTY_SCALE = 100  # integer load units per kg / per litre
POLISH_SHARE = 0.05  # of a SISR search's time: the closing OR-Tools descent


def load_units(amount: float) -> int:
    """A site's load (kg or litres) in the model's integer units, rounded up: never lighter than it is."""
    return math.ceil(amount * QTY_SCALE - 1e-9)


def limit_units(amount: float) -> int:
    """A capacity (kg or litres) in the model's integer units, rounded down: never more than allowed."""
    return int(math.floor(amount * QTY_SCALE))


# A search strategy is "FIRST+IMPROVEMENT". FIRST: a first solution built by routing.planning.search.construct
# (name -> urgency weight) or an OR-Tools FirstSolutionStrategy value, e.g.
# "PARALLEL_CHEAPEST_INSERTION". IMPROVEMENT: "ruin" (ruin and recreate: routing.planning.search.sisr where the
# day allows, else routing.planning.search.ruin's loop over greedy descents; the default when omitted) or "gls"
# (OR-Tools' guided local search).
CONSTRUCTIONS = {"CONSTRUCT_URGENT": 0.2, "CONSTRUCT_NEAREST": 0.0}
IMPROVEMENTS = ("ruin", "gls")


def strategy_parts(strategy: str) -> tuple[str, str]:
    """("FIRST", "improvement") of a strategy name; errors name the bad part."""
    first, _, improvement = strategy.partition("+")
    improvement = improvement.lower() or IMPROVEMENTS[0]
    if improvement not in IMPROVEMENTS:
        raise ValueError(f"unknown improvement {improvement!r} in strategy {strategy!r}: use one of {IMPROVEMENTS}")
    return first.upper(), improvement


REASONS = {
    "no_truck": "没有可服务的车辆（品类或道路通行限制）/ no compatible truck (stream or street access)",
    "capacity": "需求超过所有可用车辆的容量 / demand exceeds every compatible truck's capacity",
    "window": "班次内无法在时间窗内到达 / time window cannot be reached within any compatible truck's shift",
    "facility": "收集后无法按时到达开放的处置设施 / no accepting facility open and reachable after collection",
    "fleet": "车队运力或班次时长不足 / the fleet has no room left for it (capacity or shift time)",
}


@dataclass(frozen=True)
class SolveParams:
    """How hard and how to search. Every field is a setting with a documented default.

    What "same plan" guarantees: every step is deterministic (no random seeds; ties go to
    the first strategy, the lowest index), but a time limit stops the search after however
    much work the machine managed, so time-limited runs on a busy machine may differ. With
    ``max_solutions`` the search stops after a fixed amount of work instead: the same input
    and settings then give the same plan, provided ``time_limit_s`` is not reached first.
    """

    time_limit_s: float = 30.0
    workers: int = 2  # processes; 2 uses both cores of the reference machine
    strategies: tuple[str, ...] | None = (
        None  # one per worker, pieces use the first; None: per problem class (default_strategies)
    )
    balance_coefficient: float = 0.0  # currency per hour between the longest and shortest shift
    unserved_penalty: float = 100_000.0  # currency per unserved site (raised if a route could cost more)
    max_solutions: int | None = (
        None  # stop after this many improving solutions (and ruins): same input + settings -> same plan
    )
    decompose_above: int = 1200  # sites per independent piece above which it is cut into zones
    zone_target_sites: int = 600  # aimed zone size when decomposing
    ruin: RuinParams = field(default_factory=RuinParams)


@dataclass(frozen=True)
class Progress:
    """A search report for progress bars and the API: best plan cost so far."""

    elapsed_s: float
    best_cost: float  # currency units, incl. penalties for unserved sites
    worker: str


ProgressCallback = Callable[[Progress], None]


@dataclass
class SearchResult:
    """One search's routes (site/facility ids), start times, cost and history."""

    routes: dict[str, list[str]]
    start_times: dict[str, int]
    cost: float
    dropped: list[str]
    history: list[tuple[float, float]] = field(default_factory=list)
    strategy: str = ""
    status: str = ""


def default_strategies(problem: Problem) -> tuple[str, ...]:
    """Searches (one per worker) that measured best for the problem's class (benchmarks/RESULTS.md).

    First solutions: single-trip capacity-only days (no window tighter than the shifts, no
    unloading trips, no break) start from Clarke-Wright savings, then parallel cheapest
    insertion (X-n298, 30 s, one core, GLS: savings 8.6 % above the BKS, PCI 10.4 %, the
    urgency construction 15.7 %); other days from the product's urgency construction, which
    savings cannot replace (Kim 444: 17 trucks and 4 stops dropped).

    Improvement: ruin-and-recreate on both cores — compiled (routing.planning.search.sisr) where the day has
    no unloads or break: 10 hard Solomon instances, 10 s: 0.50 % mean gap, against 2.02 % for
    the loop around OR-Tools descents and 3.62 % with GLS. Days with unloading
    trips or a lunch break have long routes whose descents take seconds (Kim 277: 12 ruins
    in 37 s), where GLS still finds what a dozen ruins miss, so one core keeps GLS; zones of
    large days (which use the first strategy) keep it too.
    """
    earliest = min((v.shift_start for v in problem.vehicles), default=0)
    latest = max((v.shift_end for v in problem.vehicles), default=DAY_S)
    open_all_shift = all(any(a <= earliest and b >= latest for a, b in s.windows) for s in problem.sites)
    if problem.facilities or problem.break_rule is not None:
        return ("CONSTRUCT_URGENT+gls", "CONSTRUCT_URGENT+ruin")
    if open_all_shift:
        return ("SAVINGS+ruin", "PARALLEL_CHEAPEST_INSERTION+ruin")
    return ("CONSTRUCT_URGENT+ruin", "PARALLEL_CHEAPEST_INSERTION+ruin")


# --- feasibility diagnosis --------------------------------------------------------------
def _site_reason(problem: Problem, site: SiteSpec) -> str | None:
    """Why no truck could ever serve this site alone (None when one can)."""
    trucks = [v for v in problem.vehicles if Problem.serves(v, site)]
    if not trucks:
        return "no_truck"
    trucks = [
        v for v in trucks if site.demand_kg <= v.capacity_kg and (v.capacity_l is None or site.demand_l <= v.capacity_l)
    ]
    if not trucks:
        return "capacity"
    window_ok = False
    for v in trucks:
        depot = problem.depots[v.depot].node
        outbound = int(problem.duration_s[depot, site.node])
        for open_, close in site.windows:
            begin = max(open_, v.shift_start + outbound)
            if begin > close:
                continue
            done = begin + site.service_s
            leave_depot = begin - outbound
            if done > v.shift_end:
                continue
            window_ok = True
            if _can_finish(problem, v, site.node, done, leave_depot):
                return None
    return "facility" if window_ok else "window"


def _can_finish(problem: Problem, v: VehicleSpec, node: int, time_s: int, route_start: int) -> bool:
    depot = problem.depots[v.depot].node
    limit = v.shift_end if v.max_shift_s is None else min(v.shift_end, route_start + v.max_shift_s)
    if not v.ends_empty:
        return time_s + problem.duration_s[node, depot] <= limit
    for f in problem.facilities:
        if not Problem.unloads_at(v, f):
            continue
        arrive = time_s + problem.duration_s[node, f.node]
        for open_, close in f.windows:
            if arrive <= close and max(arrive, open_) + f.unload_s + problem.duration_s[f.node, depot] <= limit:
                return True
    return False


def unservable_sites(problem: Problem) -> dict[str, str]:
    """Sites no truck can serve even alone, with the reason code (see ``REASONS``)."""
    out = {}
    for site in problem.sites:
        reason = _site_reason(problem, site)
        if reason is not None:
            out[site.id] = reason
    return out


# --- the OR-Tools model -----------------------------------------------------------------
def _facility_copies(problem: Problem, site_ids: set[str]) -> list[int]:
    """How many optional visits each facility gets: enough trips for all it could receive."""
    copies = []
    for f in problem.facilities:
        users = [v for v in problem.vehicles if Problem.unloads_at(v, f)]
        if not users:
            copies.append(0)
            continue
        sites = [s for s in problem.sites if s.id in site_ids and any(Problem.serves(v, s) for v in users)]
        kg = sum(s.demand_kg for s in sites)
        litres = sum(s.demand_l for s in sites)
        cap_kg = min(v.capacity_kg for v in users)
        cap_l = min((v.capacity_l for v in users if v.capacity_l), default=None)
        trips = math.ceil(kg / cap_kg) if cap_kg else 0
        if cap_l:
            trips = max(trips, math.ceil(litres / cap_l))
        copies.append(math.ceil(1.3 * trips) + len(users) + 2 if sites else 0)
    return copies


def final_unloads(problem: Problem, sites: list[SiteSpec]) -> dict[tuple[str, int], int] | None:
    """The closing unload of every route, chosen per (last site, depot) in advance — or None.

    When every truck must come home empty and all trucks unload at the same facilities, the
    last leg of a route (site → facility → depot) can be one arc of the model: then any site
    can be inserted anywhere without also inserting an unload, which the search finds hard
    (a soft "end empty" penalty left long Kim routes stuck full). The fold is exact only if
    the chosen facility is open whenever the truck could get there and has no intake limit;
    otherwise (None) routes end at optional facility visits as before.
    """
    trucks = problem.vehicles
    if not trucks or not sites or not all(v.ends_empty for v in trucks):
        return None
    usable = {fi for fi, f in enumerate(problem.facilities) if Problem.unloads_at(trucks[0], f)}
    if any({fi for fi, f in enumerate(problem.facilities) if Problem.unloads_at(v, f)} != usable for v in trucks):
        return None
    if any(problem.facilities[fi].capacity_kg is not None for fi in usable):
        return None
    shift_start = min(v.shift_start for v in trucks)
    shift_end = max(v.shift_end for v in trucks)
    duration = problem.duration_s
    choice: dict[tuple[str, int], int] = {}
    for site in sites:
        for d, depot in enumerate(problem.depots):
            earliest = max(site.windows[0][0], shift_start + duration[depot.node, site.node]) + site.service_s
            best = None
            for fi in sorted(usable):
                f = problem.facilities[fi]
                arrive_first = earliest + duration[site.node, f.node]
                arrive_last = shift_end - f.unload_s - duration[f.node, depot.node]
                if not any(open_ <= arrive_first and arrive_last <= close for open_, close in f.windows):
                    continue
                trip = closing_trip_s(problem, here=site.node, facility=f, home=depot.node)
                if best is None or trip < best[0]:
                    best = (trip, fi)
            if best is None:
                return None
            choice[(site.id, d)] = best[1]
    return choice


def closing_trip_s(problem: Problem, *, here: int, facility: FacilitySpec, home: int) -> int:
    """Seconds from leaving ``here`` to reaching ``home`` over one unload at ``facility``."""
    d = problem.duration_s
    return int(d[here, facility.node] + facility.unload_s + d[facility.node, home])


class RoutingModel:
    """The OR-Tools model of one :class:`Problem` (or zone); keeps the index maps."""

    def __init__(self, problem: Problem, settings: SolveParams) -> None:
        from ortools.constraint_solver import pywrapcp

        self.problem = problem
        self.settings = settings
        p = problem
        skip = unservable_sites(p)  # left out: reported with their reason by solve()
        self.site_ids = {s.id for s in p.sites if s.id not in skip}
        sites = [s for s in p.sites if s.id in self.site_ids]
        copies = _facility_copies(p, self.site_ids)
        # routing nodes: depots, sites, facility copies
        self.kinds: list[tuple[str, int]] = [("depot", i) for i in range(len(p.depots))]
        self.kinds += [("site", p.site_index[s.id]) for s in sites]
        for fi, count in enumerate(copies):
            self.kinds += [("facility", fi)] * count
        matrix_node = np.array([self._matrix_node(k) for k in self.kinds], dtype=np.int64)
        self.matrix_node = matrix_node
        n = len(self.kinds)
        nv = len(p.vehicles)
        starts = [v.depot for v in p.vehicles]
        self.manager = pywrapcp.RoutingIndexManager(n, nv, starts, starts)
        self.routing = pywrapcp.RoutingModel(self.manager)
        m, r = self.manager, self.routing
        # node-order vectors, then index-order views
        service = np.zeros(n, dtype=np.int64)
        demand_kg = np.zeros(n, dtype=np.int64)
        demand_l = np.zeros(n, dtype=np.int64)
        is_site = np.zeros(n, dtype=bool)
        is_facility = np.zeros(n, dtype=bool)
        for node, (kind, i) in enumerate(self.kinds):
            if kind == "site":
                s = p.sites[i]
                service[node] = s.service_s
                demand_kg[node] = load_units(s.demand_kg)
                demand_l[node] = load_units(s.demand_l)
                is_site[node] = True
            elif kind == "facility":
                service[node] = p.facilities[i].unload_s
                is_facility[node] = True
        duration = p.duration_s[np.ix_(matrix_node, matrix_node)]
        distance = p.distance_m[np.ix_(matrix_node, matrix_node)]
        time_matrix = duration + service[:, None]
        np.fill_diagonal(time_matrix, 0)
        self.final_unload = final_unloads(p, sites)
        if self.final_unload is not None:
            self._fold_final_unloads(time_matrix, distance)
        self.time_cb = r.RegisterTransitMatrix(time_matrix.tolist())
        self.time_matrix = time_matrix
        # arc costs per distinct (per-km) cost, fixed costs, span costs
        self.arc_costs: dict[float, np.ndarray] = {}
        cost_cbs: dict[float, int] = {}
        for vi, v in enumerate(p.vehicles):
            if v.cost_per_km not in cost_cbs:
                arc = np.rint(distance * (v.cost_per_km * COST_SCALE / 1000.0)).astype(np.int64)
                self.arc_costs[v.cost_per_km] = arc
                cost_cbs[v.cost_per_km] = r.RegisterTransitMatrix(arc.tolist())
            r.SetArcCostEvaluatorOfVehicle(cost_cbs[v.cost_per_km], vi)
            r.SetFixedCostOfVehicle(int(round(v.fixed_cost * COST_SCALE)), vi)
        horizon = max([DAY_S, *(v.shift_end for v in p.vehicles)])
        r.AddDimension(self.time_cb, horizon, horizon, False, "time")
        time_dim = r.GetDimensionOrDie("time")
        self.time_dim = time_dim
        self.finalised_starts = False  # whether start cumuls are the latest feasible (worth reporting)
        for vi, v in enumerate(p.vehicles):
            time_dim.CumulVar(r.Start(vi)).SetRange(v.shift_start, v.shift_end)
            time_dim.CumulVar(r.End(vi)).SetRange(v.shift_start, v.shift_end)
            if v.max_shift_s is not None:
                time_dim.SetSpanUpperBoundForVehicle(int(v.max_shift_s), vi)
            span_cost = int(round(v.cost_per_hour * COST_SCALE / 3600.0))
            if span_cost:
                time_dim.SetSpanCostCoefficientForVehicle(span_cost, vi)
            if span_cost or settings.balance_coefficient > 0:
                # late starts and early ends only matter when shift time costs; otherwise the
                # finaliser's value-by-value search for them makes completing long routes with
                # a break take minutes (Kim 1051: a 17-route start could not be restored in 30 s)
                self.finalised_starts = True
                r.AddVariableMaximizedByFinalizer(time_dim.CumulVar(r.Start(vi)))
                r.AddVariableMinimizedByFinalizer(time_dim.CumulVar(r.End(vi)))
        if settings.balance_coefficient > 0:
            time_dim.SetGlobalSpanCostCoefficient(int(round(settings.balance_coefficient * COST_SCALE / 3600.0)))
        for node, (kind, i) in enumerate(self.kinds):
            if kind == "depot":
                continue
            windows = p.sites[i].windows if kind == "site" else p.facilities[i].windows
            cumul = time_dim.CumulVar(m.NodeToIndex(node))
            cumul.SetRange(windows[0][0], windows[-1][1])
            for (_, close), (open_next, _) in zip(windows, windows[1:]):
                if open_next - close > 1:
                    cumul.RemoveInterval(close + 1, open_next - 1)
        self._set_penalties(distance, demand_kg[is_site], demand_l[is_site])
        self._add_break(service)
        self._add_loads(demand_kg, demand_l, is_site, is_facility)
        # who may visit what
        for node, (kind, i) in enumerate(self.kinds):
            if kind == "depot":
                continue
            index = m.NodeToIndex(node)
            if kind == "site":
                allowed = [vi for vi, v in enumerate(p.vehicles) if Problem.serves(v, p.sites[i])]
            else:
                allowed = [vi for vi, v in enumerate(p.vehicles) if Problem.unloads_at(v, p.facilities[i])]
            if len(allowed) < nv:
                # (SetAllowedVehiclesForIndex takes no Python list in OR-Tools 9.15's binding)
                r.VehicleVar(index).SetValues([-1, *allowed])
        penalty = self.drop_penalty
        for node, (kind, _) in enumerate(self.kinds):
            if kind == "site":
                r.AddDisjunction([m.NodeToIndex(node)], penalty)
            elif kind == "facility":
                r.AddDisjunction([m.NodeToIndex(node)], 0)
        self._add_facility_capacity()

    def _fold_final_unloads(self, time_matrix: np.ndarray, distance: np.ndarray) -> None:
        """Arcs from a site into a route end carry the trip over its closing facility (see final_unloads)."""
        p = self.problem
        ends = [(end, d) for end, (kind, d) in enumerate(self.kinds) if kind == "depot"]
        for node, (kind, i) in enumerate(self.kinds):
            if kind != "site":
                continue
            here = p.sites[i].node
            for end, d in ends:
                f = p.facilities[self.final_unload[(p.sites[i].id, d)]]
                home = p.depots[d].node
                time_matrix[node, end] += closing_trip_s(p, here=here, facility=f, home=home) - p.duration_s[here, home]
                distance[node, end] = p.distance_m[here, f.node] + p.distance_m[f.node, home]

    def _matrix_node(self, kind: tuple[str, int]) -> int:
        what, i = kind
        p = self.problem
        return p.depots[i].node if what == "depot" else p.sites[i].node if what == "site" else p.facilities[i].node

    def _set_penalties(self, distance: np.ndarray, demands_kg: np.ndarray, demands_l: np.ndarray) -> None:
        """Cost of a load left on board at the end, and of dropping a site.

        Leftover load costs far more per unit than any detour to a facility (so routes end
        empty), and a truck-full of leftover still costs less than dropping one site (so the
        search never prefers leaving a site out).
        """
        p = self.problem
        worst_arc = int(distance.max()) if distance.size else 0
        worst_route = max(
            v.fixed_cost + v.cost_per_km * 4 * worst_arc / 1000.0 + v.cost_per_hour * 24 for v in p.vehicles
        )
        smallest = min([int(d) for d in [*demands_kg, *demands_l] if d > 0], default=1)
        self.leftover_cost = int(math.ceil(100 * worst_route * COST_SCALE / smallest))
        biggest = max(limit_units(max(v.capacity_kg, v.capacity_l or 0)) for v in p.vehicles)
        floor = max(self.settings.unserved_penalty, 10 * worst_route) * COST_SCALE
        self.drop_penalty = int(max(floor, 10 * self.leftover_cost * biggest))

    def _add_break(self, service: np.ndarray) -> None:
        rule = self.problem.break_rule
        if rule is None:
            return
        r, m = self.routing, self.manager
        visit = [0] * r.Size()
        for index in range(r.Size()):
            visit[index] = int(service[m.IndexToNode(index)])
        solver = r.solver()
        self.breaks = []
        for vi, v in enumerate(self.problem.vehicles):
            if not rule.due(v.shift_start, v.shift_end):
                self.breaks.append(None)
                continue
            interval = solver.FixedDurationIntervalVar(
                rule.earliest_start_s, rule.latest_start_s, rule.duration_s, False, f"break {v.id}"
            )
            self.time_dim.SetBreakIntervalsOfVehicle([interval], vi, visit)
            self.breaks.append(interval)

    def _add_loads(self, demand_kg, demand_l, is_site, is_facility) -> None:
        p, r, m = self.problem, self.routing, self.manager
        reload = bool(is_facility.any())
        plan = [("kg", demand_kg, [v.capacity_kg for v in p.vehicles])]
        if any(v.capacity_l for v in p.vehicles) and demand_l.any():
            plan.append(("l", demand_l, [v.capacity_l or 1e12 for v in p.vehicles]))
        plan = [(name, demand, [min(limit_units(c), 2**52) for c in caps]) for name, demand, caps in plan]
        self.load_plan = plan  # (unit, demand per node, capacity per truck), scaled
        self.load_dims = []
        for name, demand, cap in plan:
            transit = demand.copy()
            if reload:
                transit[is_facility] = -max(cap)
            cb = r.RegisterUnaryTransitVector(transit.tolist())
            r.AddDimensionWithVehicleCapacity(cb, max(cap) if reload else 0, cap, True, f"load_{name}")
            dim = r.GetDimensionOrDie(f"load_{name}")
            self.load_dims.append(dim)
            if reload:
                for node in np.flatnonzero(is_site):
                    dim.SlackVar(m.NodeToIndex(int(node))).SetValue(0)
                for vi in range(len(p.vehicles)):
                    dim.SlackVar(r.Start(vi)).SetValue(0)
            # Coming home empty is a steep soft bound, not a hard one: a hard bound would
            # make every single-site insertion into an idle truck infeasible (it needs a
            # site AND an unload at once), freezing idle trucks out of the local search.
            for vi, v in enumerate(p.vehicles):
                if v.ends_empty and self.final_unload is None:
                    dim.SetCumulVarSoftUpperBound(r.End(vi), 0, self.leftover_cost)
        if any(v.max_daily_kg for v in p.vehicles):
            cb = r.RegisterUnaryTransitVector(demand_kg.tolist())
            caps = [limit_units(v.max_daily_kg or 1e12) for v in p.vehicles]
            r.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "daily_kg")
        if any(v.max_stops for v in p.vehicles):
            cb = r.RegisterUnaryTransitVector(is_site.astype(np.int64).tolist())
            r.AddDimensionWithVehicleCapacity(cb, 0, [v.max_stops or 10**9 for v in p.vehicles], True, "stops")

    def _add_facility_capacity(self) -> None:
        """Daily intake limits, only where they could bind (all it might receive exceeds them)."""
        p, r, m = self.problem, self.routing, self.manager
        solver = r.solver()
        dim = self.load_dims[0]
        for fi, f in enumerate(p.facilities):
            if f.capacity_kg is None:
                continue
            nodes = [node for node, k in enumerate(self.kinds) if k == ("facility", fi)]
            users = [v for v in p.vehicles if Problem.unloads_at(v, f)]
            could = sum(
                s.demand_kg for s in p.sites if s.id in self.site_ids and any(Problem.serves(v, s) for v in users)
            )
            if not nodes or could <= f.capacity_kg:
                continue
            terms = [dim.CumulVar(m.NodeToIndex(node)) * r.ActiveVar(m.NodeToIndex(node)) for node in nodes]
            solver.Add(solver.Sum(terms) <= limit_units(f.capacity_kg))

    # --- search -----------------------------------------------------------------------
    def _solve_from(self, routes: dict[str, list[str]], params):
        """Search from constructed routes (None if OR-Tools cannot restore any of them).

        A route the model rejects (its timing is off by minutes, say) is left out rather
        than losing the whole start: its sites begin unassigned and the search inserts them.
        """
        indexed = self._index_routes(routes)
        initial = self.routing.ReadAssignmentFromRoutes(indexed, True)
        if initial is None:
            kept = [seq if self._restores(indexed, vi) else [] for vi, seq in enumerate(indexed)]
            initial = self.routing.ReadAssignmentFromRoutes(kept, True) if any(kept) else None
        return None if initial is None else self.routing.SolveFromAssignmentWithParameters(initial, params)

    def _restores(self, indexed: list[list[int]], vi: int) -> bool:
        alone = [seq if k == vi else [] for k, seq in enumerate(indexed)]
        return self.routing.ReadAssignmentFromRoutes(alone, True) is not None

    def _index_routes(self, routes: dict[str, list[str]]) -> list[list[int]]:
        """Site/facility ids per truck -> routing indices (each unload takes a free facility copy)."""
        p, m = self.problem, self.manager
        site_node = {p.sites[i].id: node for node, (kind, i) in enumerate(self.kinds) if kind == "site"}
        copies: dict[str, list[int]] = {}
        for node, (kind, i) in enumerate(self.kinds):
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

    def search_parameters(self, strategy: str, time_limit_s: float):
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
        report: Callable[[float, float], None] | None = None,
        initial: dict[str, list[str]] | None = None,
    ) -> SearchResult:
        """Search from ``initial`` routes if given, else from the strategy's first solution."""
        r = self.routing
        began = time.monotonic()
        history: list[tuple[float, float]] = []
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
        assignment = None
        if initial is not None or first in CONSTRUCTIONS:
            r.CloseModelWithParameters(params)
            routes = (
                initial
                if initial is not None
                else build_routes(self.problem, sorted(self.site_ids), urgency=CONSTRUCTIONS[first])
            )
            assignment = self._solve_from(routes, params)
        if assignment is None:
            assignment = r.SolveWithParameters(params)
        status = r.status()
        if assignment is None:
            return SearchResult({}, {}, math.inf, sorted(self.site_ids), history, strategy, str(status))
        if improvement == "ruin":
            assignment = self._ruin_and_recreate(assignment, params, strategy=strategy, deadline=began + time_limit_s)
        return self._result(assignment, history, strategy, str(status))

    def _ruin_and_recreate(self, start, params, *, strategy: str, deadline: float):
        """Improve ``start`` by ruin and recreate; the best solution found (an assignment).

        Days that :meth:`route_arrays` can express run the compiled SISR loop
        (:mod:`routing.planning.search.sisr`) and end with one OR-Tools descent from its best routes; the
        others run :mod:`routing.planning.search.ruin`'s loop of OR-Tools descents.
        """
        r, m = self.routing, self.manager
        sites = [m.NodeToIndex(node) for node, (kind, _) in enumerate(self.kinds) if kind == "site"]
        if len(sites) < 2:
            return start
        seed = zlib.crc32(strategy.encode())  # seeded: the same work gives the same plan
        descent = type(params)()
        descent.CopyFrom(params)
        arrays = self.route_arrays()
        if arrays is not None:
            return self._sisr(start, descent, arrays=arrays, seed=seed, deadline=deadline)
        nodes = [int(self.matrix_node[m.IndexToNode(i)]) for i in sites]
        neighbours = site_neighbours(self.problem.distance_m, sites, nodes, rows=r.Size())
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
        """routing.planning.search.sisr's loop from ``start``, then an OR-Tools descent from its best routes."""
        r, m = self.routing, self.manager
        polish = POLISH_SHARE * max(0.0, deadline - time.monotonic())
        routes = [[m.IndexToNode(i) for i in route] for route in routes_of(r, start)]
        best, _, _ = sisr.improve(
            arrays,
            routes,
            deadline=deadline - polish,
            settings=self.settings.ruin,
            seed=seed,
            max_iterations=self.settings.max_solutions,
        )
        initial = r.ReadAssignmentFromRoutes([[m.NodeToIndex(n) for n in route] for route in best], True)
        if (
            initial is None
        ):  # routing.planning.search.sisr and the model disagree on feasibility: keep what OR-Tools found
            return start
        descent.time_limit.FromMilliseconds(max(1, int((deadline - time.monotonic()) * 1000)))
        found = r.SolveFromAssignmentWithParameters(initial, descent)
        candidates = [a for a in (found, initial, start) if a is not None]
        return min(candidates, key=lambda a: a.ObjectiveValue())

    def route_arrays(self) -> RouteArrays | None:
        """The model as routing.planning.search.sisr's arrays, or None where it has what sisr does not model.

        sisr models windows, loads, stops, allowed trucks, arc and fixed costs; unloads (and
        trucks that must come home empty), breaks, shift-length limits, time costs, daily
        weight limits and multi-window sites keep the OR-Tools loop.
        """
        p, s = self.problem, self.settings
        if any(kind == "facility" for kind, _ in self.kinds) or p.break_rule is not None:
            return None
        if s.balance_coefficient > 0 or any(
            v.ends_empty or v.max_shift_s is not None or v.cost_per_hour or v.max_daily_kg for v in p.vehicles
        ):
            return None
        sites = [(node, p.sites[i]) for node, (kind, i) in enumerate(self.kinds) if kind == "site"]
        if any(len(site.windows) > 1 for _, site in sites):
            return None
        n = len(self.kinds)
        classes = sorted(self.arc_costs)
        open_ = np.zeros(n, dtype=np.int64)
        close = np.full(n, DAY_S * 2, dtype=np.int64)
        allowed = np.ones((n, len(p.vehicles)), dtype=np.bool_)
        for node, site in sites:
            open_[node], close[node] = site.windows[0]
            allowed[node] = [Problem.serves(v, site) for v in p.vehicles]
        site_nodes = [node for node, _ in sites]
        neighbours = site_neighbours(
            p.distance_m, site_nodes, [int(self.matrix_node[node]) for node in site_nodes], rows=n
        )
        return RouteArrays(
            travel=self.time_matrix.astype(np.int64),
            cost=np.stack([self.arc_costs[c] for c in classes]),
            vehicle_class=np.array([classes.index(v.cost_per_km) for v in p.vehicles], dtype=np.int64),
            fixed=np.array([int(round(v.fixed_cost * COST_SCALE)) for v in p.vehicles], dtype=np.int64),
            open=open_,
            close=close,
            demand=np.stack([demand for _, demand, _ in self.load_plan], axis=1).astype(np.int64),
            capacity=np.array([caps for _, _, caps in self.load_plan], dtype=np.int64).T,
            max_stops=np.array([v.max_stops or 10**9 for v in p.vehicles], dtype=np.int64),
            allowed=allowed,
            depot=np.array([v.depot for v in p.vehicles], dtype=np.int64),
            shift_start=np.array([v.shift_start for v in p.vehicles], dtype=np.int64),
            shift_end=np.array([v.shift_end for v in p.vehicles], dtype=np.int64),
            neighbours=neighbours,
            penalty=int(self.drop_penalty),
        )

    def _result(self, assignment, history, strategy, status) -> SearchResult:
        p, r, m = self.problem, self.routing, self.manager
        routes: dict[str, list[str]] = {}
        starts: dict[str, int] = {}
        visited: set[str] = set()
        for vi, (v, visits) in enumerate(zip(p.vehicles, routes_of(r, assignment))):
            seq = []
            for index in visits:
                kind, i = self.kinds[m.IndexToNode(index)]
                # an unload with nothing on board (first visit, or right after another
                # unload) is the search parking a free node: leave it out of the plan
                if kind == "site":
                    seq.append(p.sites[i].id)
                elif seq and seq[-1] in p.site_index:
                    seq.append(p.facilities[i].id)
            if seq and v.ends_empty and seq[-1] not in p.facility_index:
                if self.final_unload is not None:  # the unload the model already timed on the last arc
                    seq.append(p.facilities[self.final_unload[(seq[-1], v.depot)]].id)
                else:
                    seq.append(self._closing_facility(v, seq[-1]))
            if seq:
                routes[v.id] = seq
                if self.finalised_starts:  # otherwise any feasible value: the plan's own timing decides
                    starts[v.id] = assignment.Value(self.time_dim.CumulVar(r.Start(vi)))
                visited.update(seq)
        dropped = sorted(self.site_ids - visited)
        return SearchResult(
            routes, starts, assignment.ObjectiveValue() / COST_SCALE, dropped, history, strategy, status
        )

    def _closing_facility(self, v: VehicleSpec, last_site: str) -> str:
        """Rare repair when the search ends with load on board: the quickest unload on the way home."""
        p = self.problem
        here, home = p.sites[p.site_index[last_site]].node, p.depots[v.depot].node
        options = [f for f in p.facilities if Problem.unloads_at(v, f)]
        best = min(options, key=lambda f: closing_trip_s(p, here=here, facility=f, home=home))
        return best.id


def search(
    problem: Problem, settings: SolveParams, *, strategy: str, time_limit_s: float, report=None, initial=None
) -> SearchResult:
    """Build the model and run one search; building counts against the time limit."""
    began = time.monotonic()
    model = RoutingModel(problem, settings)
    remaining = max(1.0, time_limit_s - (time.monotonic() - began))
    return model.solve(strategy=strategy, time_limit_s=remaining, report=report, initial=initial)


def solve(problem: Problem, settings: SolveParams | None = None, *, progress: ProgressCallback | None = None) -> Plan:
    """Plan the day: searches in parallel, best routes timed into a :class:`Plan`.

    Sites no truck could serve alone are left out before solving; they and any site the
    search still drops are listed in ``plan.unserved`` with a dispatcher's reason.
    """
    from routing.planning.search.decompose import run_searches

    settings = settings or SolveParams()
    began = time.monotonic()
    excluded = unservable_sites(problem)
    results = run_searches(problem, settings, progress=progress)
    routes: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    history: list = []
    strategies = []
    for result in results:
        routes.update(result.routes)
        starts.update(result.start_times)
        history.append(result.history)
        strategies.append(result.strategy)
    reasons = {sid: REASONS[code] for sid, code in excluded.items()}
    search_info = {
        "time_limit_s": settings.time_limit_s,
        "wall_s": round(time.monotonic() - began, 3),
        "pieces": len(results),
        "strategies": strategies,
        "cost_history": history,
    }
    plan = evaluate_routes(problem, routes, start_times=starts, unserved_reasons=reasons, search=search_info)
    for k, (sid, reason) in enumerate(plan.unserved):
        if sid not in excluded:
            plan.unserved[k] = (sid, REASONS["fleet"])
    return plan


def with_time_limit(settings: SolveParams, seconds: float) -> SolveParams:
    return replace(settings, time_limit_s=seconds)
