"""The OR-Tools routing model of a collection day: nodes, dimensions, costs and penalties.

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

:class:`OrToolsModel` only builds; :mod:`routing.planning.search.searcher` searches it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from routing.planning.problem import DAY_S, FacilitySpec, Problem, SiteSpec
from routing.planning.search.arrays import route_arrays
from routing.planning.search.balance import ShiftTarget
from routing.planning.search.dispatch import add_balance, add_hold, add_preferences
from routing.planning.search.params import SolveParams
from routing.planning.search.reasons import unservable_sites
from routing.planning.search.sisr import RouteArrays
from routing.planning.search.units import COST_SCALE, limit_units, load_units


class NodeData(NamedTuple):
    """Per routing node (node order): service or unload time, loads in model units, what it is."""

    service: np.ndarray
    demand_kg: np.ndarray
    demand_l: np.ndarray
    is_site: np.ndarray
    is_facility: np.ndarray


class OrToolsModel:
    """The OR-Tools model of one :class:`Problem` (or zone), built once; keeps the index maps.

    Parameters
    ----------
    problem : Problem
        The day, or a piece of it.
    settings : SolveParams
        Penalty and balance settings (and the search settings the searcher reads from here).
    balance_targets : dict, optional
        Per vehicle type, the shift and work to balance around (:mod:`routing.planning.search.balance`); none:
        those of the greedy first solution.

    Attributes
    ----------
    kinds : list of (str, int)
        Per routing node: ``("depot" | "site" | "facility", index into the problem's list)``.
    manager, routing
        OR-Tools' ``RoutingIndexManager`` and ``RoutingModel``.
    site_ids : set of str
        The sites modelled (the unservable ones are left out).
    """

    def __init__(
        self, problem: Problem, settings: SolveParams, *, balance_targets: dict[str, ShiftTarget] | None = None
    ) -> None:
        from ortools.constraint_solver import pywrapcp

        self.problem = problem
        self.settings = settings
        self.given_targets = balance_targets  # balance around these (None: around the greedy first solution's)
        p = problem
        skip = unservable_sites(p)  # left out: reported with their reason by the driver
        self.site_ids = {s.id for s in p.sites if s.id not in skip}
        sites = [s for s in p.sites if s.id in self.site_ids]
        # routing nodes: depots, sites, facility copies
        self.kinds: list[tuple[str, int]] = [("depot", i) for i in range(len(p.depots))]
        self.kinds += [("site", p.site_index[s.id]) for s in sites]
        for fi, count in enumerate(facility_copies(p, self.site_ids)):
            self.kinds += [("facility", fi)] * count
        self.matrix_node = np.array([self._matrix_node(k) for k in self.kinds], dtype=np.int64)
        starts = [v.depot for v in p.vehicles]
        self.manager = pywrapcp.RoutingIndexManager(len(self.kinds), len(p.vehicles), starts, starts)
        self.routing = pywrapcp.RoutingModel(self.manager)
        nodes = _node_data(p, self.kinds)
        distance = p.distance_m[np.ix_(self.matrix_node, self.matrix_node)]
        self.time_matrix = p.duration_s[np.ix_(self.matrix_node, self.matrix_node)] + nodes.service[:, None]
        np.fill_diagonal(self.time_matrix, 0)
        self.final_unload = final_unloads(p, sites)
        if self.final_unload is not None:
            self._fold_final_unloads(self.time_matrix, distance)
        self.time_cb = self.routing.RegisterTransitMatrix(self.time_matrix.tolist())
        self._add_arc_costs(distance)
        self._add_time()
        self._add_windows()
        self.leftover_cost, self.drop_penalty = _penalties(p, self.settings, distance, nodes)
        self._add_break(nodes.service)
        self._add_loads(nodes)
        add_hold(self, nodes.is_site)
        add_release(self)
        self._restrict_vehicles()
        add_preferences(self)
        self._add_disjunctions()
        self._add_facility_capacity()

    def _matrix_node(self, kind: tuple[str, int]) -> int:
        what, i = kind
        p = self.problem
        return p.depots[i].node if what == "depot" else p.sites[i].node if what == "site" else p.facilities[i].node

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

    def _add_arc_costs(self, distance: np.ndarray) -> None:
        """Arc costs per distinct (per-km) cost, and the fixed cost of using each truck."""
        r = self.routing
        self.arc_costs: dict[float, np.ndarray] = {}
        cost_cbs: dict[float, int] = {}
        for vi, v in enumerate(self.problem.vehicles):
            if v.cost_per_km not in cost_cbs:
                arc = np.rint(distance * (v.cost_per_km * COST_SCALE / 1000.0)).astype(np.int64)
                self.arc_costs[v.cost_per_km] = arc
                cost_cbs[v.cost_per_km] = r.RegisterTransitMatrix(arc.tolist())
            r.SetArcCostEvaluatorOfVehicle(cost_cbs[v.cost_per_km], vi)
            r.SetFixedCostOfVehicle(int(round(v.fixed_cost * COST_SCALE)), vi)

    def _add_time(self) -> None:
        """The time dimension: shifts, shift-length limits, crew cost per hour, balance."""
        p, r, settings = self.problem, self.routing, self.settings
        horizon = max([DAY_S, *(v.shift_end for v in p.vehicles)])
        r.AddDimension(self.time_cb, horizon, horizon, False, "time")
        time_dim = r.GetDimensionOrDie("time")
        self.time_dim = time_dim
        self.shift_caps: dict[str, int] | None = None  # per type: longest shift of a first solution (balance)
        self.balance_targets: dict[str, ShiftTarget] = {}  # per type: its mean shift and work floor (balance)
        self.finalised_starts = False  # whether start cumuls are the latest feasible (worth reporting)
        for vi, v in enumerate(p.vehicles):
            time_dim.CumulVar(r.Start(vi)).SetRange(v.shift_start, v.shift_end)
            time_dim.CumulVar(r.End(vi)).SetRange(v.shift_start, v.shift_end)
            if v.max_shift_s is not None:
                time_dim.SetSpanUpperBoundForVehicle(int(v.max_shift_s), vi)
            span_cost = int(round(v.cost_per_hour * COST_SCALE / 3600.0))
            if span_cost:
                time_dim.SetSpanCostCoefficientForVehicle(span_cost, vi)
            if span_cost or settings.balance_coefficient > 0 or p.balance_per_h > 0:
                # late starts and early ends only matter when shift time costs; otherwise the
                # finaliser's value-by-value search for them makes completing long routes with
                # a break take minutes (Kim 1051: a 17-route start could not be restored in 30 s)
                self.finalised_starts = True
                r.AddVariableMaximizedByFinalizer(time_dim.CumulVar(r.Start(vi)))
                r.AddVariableMinimizedByFinalizer(time_dim.CumulVar(r.End(vi)))
        if settings.balance_coefficient > 0:
            time_dim.SetGlobalSpanCostCoefficient(int(round(settings.balance_coefficient * COST_SCALE / 3600.0)))
        add_balance(self)

    def _add_windows(self) -> None:
        """Service may start only inside a site's (or facility's) windows."""
        p, m = self.problem, self.manager
        for node, (kind, i) in enumerate(self.kinds):
            if kind == "depot":
                continue
            windows = p.sites[i].windows if kind == "site" else p.facilities[i].windows
            cumul = self.time_dim.CumulVar(m.NodeToIndex(node))
            cumul.SetRange(windows[0][0], windows[-1][1])
            for (_, close), (open_next, _) in zip(windows, windows[1:]):
                if open_next - close > 1:
                    cumul.RemoveInterval(close + 1, open_next - 1)

    def _add_break(self, service: np.ndarray) -> None:
        """The meal break as an interval on every truck whose shift the rule covers."""
        rule = self.problem.break_rule
        if rule is None:
            return
        r, m = self.routing, self.manager
        visit = [int(service[m.IndexToNode(index)]) for index in range(r.Size())]
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

    def _add_loads(self, nodes: NodeData) -> None:
        """Load dimensions (kg, litres) emptied at facilities; daily weight and stop limits."""
        p, r = self.problem, self.routing
        plan = [("kg", nodes.demand_kg, [v.capacity_kg for v in p.vehicles])]
        if any(v.capacity_l for v in p.vehicles) and nodes.demand_l.any():
            plan.append(("l", nodes.demand_l, [v.capacity_l or 1e12 for v in p.vehicles]))
        plan = [(name, demand, [min(limit_units(c), 2**52) for c in caps]) for name, demand, caps in plan]
        self.load_plan = plan  # (unit, demand per node, capacity per truck), scaled
        self.load_dims = [self._add_load(name, demand, cap, nodes) for name, demand, cap in plan]
        if any(v.max_daily_kg for v in p.vehicles):
            cb = r.RegisterUnaryTransitVector(nodes.demand_kg.tolist())
            caps = [limit_units(v.max_daily_kg or 1e12) for v in p.vehicles]
            r.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "daily_kg")
        if any(v.max_stops for v in p.vehicles):
            cb = r.RegisterUnaryTransitVector(nodes.is_site.astype(np.int64).tolist())
            r.AddDimensionWithVehicleCapacity(cb, 0, [v.max_stops or 10**9 for v in p.vehicles], True, "stops")

    def _add_load(self, name: str, demand: np.ndarray, cap: list[int], nodes: NodeData):
        """One load dimension; a facility visit empties the truck (its slack takes the load off)."""
        p, r, m = self.problem, self.routing, self.manager
        reload = bool(nodes.is_facility.any())
        transit = demand.copy()
        if reload:
            transit[nodes.is_facility] = -max(cap)
        cb = r.RegisterUnaryTransitVector(transit.tolist())
        r.AddDimensionWithVehicleCapacity(cb, max(cap) if reload else 0, cap, True, f"load_{name}")
        dim = r.GetDimensionOrDie(f"load_{name}")
        if reload:
            for node in np.flatnonzero(nodes.is_site):
                dim.SlackVar(m.NodeToIndex(int(node))).SetValue(0)
            for vi in range(len(p.vehicles)):
                dim.SlackVar(r.Start(vi)).SetValue(0)
        # Coming home empty is a steep soft bound, not a hard one: a hard bound would
        # make every single-site insertion into an idle truck infeasible (it needs a
        # site AND an unload at once), freezing idle trucks out of the local search.
        for vi, v in enumerate(p.vehicles):
            if v.ends_empty and self.final_unload is None:
                dim.SetCumulVarSoftUpperBound(r.End(vi), 0, self.leftover_cost)
        return dim

    def _restrict_vehicles(self) -> None:
        """Who may visit what: streams and street access for sites, accepted streams for facilities."""
        p, r, m = self.problem, self.routing, self.manager
        for node, (kind, i) in enumerate(self.kinds):
            if kind == "depot":
                continue
            if kind == "site":
                allowed = [vi for vi, v in enumerate(p.vehicles) if Problem.serves(v, p.sites[i])]
            else:
                allowed = [vi for vi, v in enumerate(p.vehicles) if Problem.unloads_at(v, p.facilities[i])]
            if len(allowed) < len(p.vehicles):
                # (SetAllowedVehiclesForIndex takes no Python list in OR-Tools 9.15's binding)
                r.VehicleVar(m.NodeToIndex(node)).SetValues([-1, *allowed])

    def _add_disjunctions(self) -> None:
        """Every site optional at the drop penalty, every facility copy free to leave unused.

        A re-plan's start site (a truck under way, where it stands with its load) costs 100 times more to
        drop: dropping it would move a loaded truck back to its depot empty.
        """
        r, m, p = self.routing, self.manager, self.problem
        for node, (kind, i) in enumerate(self.kinds):
            if kind == "site":
                start = p.sites[i].on_board_since is not None
                r.AddDisjunction([m.NodeToIndex(node)], self.drop_penalty * (100 if start else 1))
            elif kind == "facility":
                r.AddDisjunction([m.NodeToIndex(node)], 0)

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

    def route_arrays(self) -> RouteArrays | None:
        """The model as :mod:`routing.planning.search.sisr`'s arrays, or None where it has what sisr does not model.

        See :func:`routing.planning.search.arrays.route_arrays`: unloading trips, release dates, trucks that come
        home empty, daily weight limits, multi-window sites, the break, hold limits (trucks of one stream),
        shift-length limits, costs per hour, balance and facility daily capacities are modelled; a hold limit on a
        truck of several streams or a global span cost keeps the OR-Tools loop.

        Returns
        -------
        RouteArrays or None
            Arrays over this model's routing nodes, or None for a day sisr cannot model.
        """
        return route_arrays(self)


def add_release(model: OrToolsModel) -> None:
    """Release dates: a trip leaves its depot or facility no earlier than the latest release it carries.

    A dimension holds each trip's latest release: no transit and no slack at sites, so its value
    is one per trip (free to change at a start or facility); every site asks at least its own. A
    site's service then starts no earlier than that value plus the drive from the nearest place a
    trip may leave from: for a trip's first site, that is leaving at the release (the plan
    evaluator waits there); for the others it follows from the first (triangle inequality). Exact
    when the depot and the facilities stand at one place (multi-trip from a depot); otherwise the
    checker still certifies every plan. Days without release dates add nothing.
    """
    p, r, m = model.problem, model.routing, model.manager
    release = [p.sites[i].release_s if kind == "site" else 0 for kind, i in model.kinds]
    if not any(release):
        return
    horizon = max([DAY_S, *(v.shift_end for v in p.vehicles)])
    r.AddDimension(r.RegisterUnaryTransitVector([0] * len(model.kinds)), horizon, horizon, False, "release")
    dim = r.GetDimensionOrDie("release")
    bases = sorted({p.depots[v.depot].node for v in p.vehicles} | {f.node for f in p.facilities})
    solver = r.solver()
    for node, (kind, i) in enumerate(model.kinds):
        if kind != "site":
            continue
        index = m.NodeToIndex(node)
        dim.SlackVar(index).SetValue(0)
        dim.CumulVar(index).SetMin(int(release[node]))
        reach = int(p.duration_s[bases, p.sites[i].node].min())
        solver.Add(model.time_dim.CumulVar(index) >= dim.CumulVar(index) + reach)


def _node_data(p: Problem, kinds: list[tuple[str, int]]) -> NodeData:
    """Service times, loads and node types per routing node."""
    n = len(kinds)
    data = NodeData(
        service=np.zeros(n, dtype=np.int64),
        demand_kg=np.zeros(n, dtype=np.int64),
        demand_l=np.zeros(n, dtype=np.int64),
        is_site=np.zeros(n, dtype=bool),
        is_facility=np.zeros(n, dtype=bool),
    )
    for node, (kind, i) in enumerate(kinds):
        if kind == "site":
            s = p.sites[i]
            data.service[node] = s.service_s
            data.demand_kg[node] = load_units(s.demand_kg)
            data.demand_l[node] = load_units(s.demand_l)
            data.is_site[node] = True
        elif kind == "facility":
            data.service[node] = p.facilities[i].unload_s
            data.is_facility[node] = True
    return data


def _penalties(problem: Problem, settings: SolveParams, distance: np.ndarray, nodes: NodeData) -> tuple[int, int]:
    """(cost per unit of load left on board at the end, cost of dropping a site), in cost units.

    Leftover load costs far more per unit than any detour to a facility (so routes end
    empty), and a truck-full of leftover still costs less than dropping one site (so the
    search never prefers leaving a site out).
    """
    worst_arc = int(distance.max()) if distance.size else 0
    worst_route = max(
        v.fixed_cost + v.cost_per_km * 4 * worst_arc / 1000.0 + v.cost_per_hour * 24 for v in problem.vehicles
    )
    demands = [*nodes.demand_kg[nodes.is_site], *nodes.demand_l[nodes.is_site]]
    smallest = min([int(d) for d in demands if d > 0], default=1)
    leftover_cost = int(math.ceil(100 * worst_route * COST_SCALE / smallest))
    biggest = max(limit_units(max(v.capacity_kg, v.capacity_l or 0)) for v in problem.vehicles)
    floor = max(settings.unserved_penalty, 10 * worst_route) * COST_SCALE
    return leftover_cost, int(max(floor, 10 * leftover_cost * biggest))


def facility_copies(problem: Problem, site_ids: set[str]) -> list[int]:
    """How many optional visits each facility gets: enough trips for all it could receive.

    Parameters
    ----------
    problem : Problem
        The day.
    site_ids : set of str
        The sites modelled.

    Returns
    -------
    list of int
        Copies per facility, in the problem's facility order.
    """
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

    Parameters
    ----------
    problem : Problem
        The day.
    sites : list of SiteSpec
        The sites modelled.

    Returns
    -------
    dict or None
        (site id, depot index) → facility index, or None when the fold would not be exact.
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
    """Seconds from leaving ``here`` to reaching ``home`` over one unload at ``facility``.

    Parameters
    ----------
    problem : Problem
        The day (its duration matrix).
    here, home : int
        Matrix nodes of the last site and of the depot.
    facility : FacilitySpec
        Where the truck unloads.

    Returns
    -------
    int
        Drive to the facility, unload, drive home.
    """
    d = problem.duration_s
    return int(d[here, facility.node] + facility.unload_s + d[facility.node, home])
