"""The capacitated facility-location model, solved with OR-Tools MathOpt + HiGHS.

Binary y[s,k]: site s runs class k (at most one class per site; exactly one for a station
that must stay). Binary x[c,s]: community c is served by site s (single sourcing); an arc
exists only within the service radius. Capacity: Σ_c load_c·x[c,s] ≤ Σ_k cap_k·y[s,k], with
cap_k cut to the load within the site's reach. The strong linking x[c,s] ≤ Σ_k y[s,k] and
the aggregate cut Σ cap·y ≥ Σ load tighten the LP bound.

The gap reported is a proof, not an estimate: (best plan − best lower bound) / best plan,
where the lower bound is HiGHS's dual bound of a relaxation or of the full model. Set
``"solver_log": true`` in the parameters file to see HiGHS's log.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from routing.errors import InfeasibleError, InvalidInputError, QingyunError


@dataclass(frozen=True)
class SiteOption:
    """One class a site may run: its capacity (t/d) and yearly cost (yuan)."""

    class_name: str
    capacity_t_per_day: float
    yearly_cost_yuan: float


@dataclass(frozen=True)
class LocationProblem:
    """The numeric model: communities 0..n-1, sites 0..m-1, arcs (community, site) within radius."""

    design_load_t_per_day: np.ndarray  # (n,) load counted against station capacity
    arc_community: np.ndarray  # (a,) int
    arc_site: np.ndarray  # (a,) int
    arc_yearly_cost_yuan: np.ndarray  # (a,) haul cost per year when the community uses that site
    site_options: tuple[tuple[SiteOption, ...], ...]  # (m,) classes offered at each site
    site_must_open: tuple[bool, ...]  # (m,) existing stations that may not close
    conflicting_sites: tuple[tuple[int, int], ...] = ()  # pairs that may not both open

    @property
    def n_communities(self) -> int:
        return int(self.design_load_t_per_day.shape[0])

    @property
    def n_sites(self) -> int:
        return len(self.site_options)


@dataclass(frozen=True)
class LocationSolution:
    """The chosen option per site (index into its options, or None = not opened) and each community's site."""

    site_option: tuple[int | None, ...]
    community_site: np.ndarray  # (n,) int
    objective_yuan: float
    dual_bound_yuan: float
    proven_gap: float
    solver: str
    solve_seconds: float
    build_seconds: float


_MAX_CHAIN = 6  # moves tried to make room for one community when rounding a split assignment
_TOLERANCE = 1e-9  # t/d


_INFEASIBLE_MESSAGE = (
    "no plan serves every community within the service radius: the sites in reach lack capacity, "
    "or min_spacing_m / kept existing stations rule them out; raise max_class, add candidate sites "
    "or widen service_radius_km"
)


def _useful_options(problem: LocationProblem) -> list[list[tuple[int, float, float]]]:
    """Per site: (option index, effective capacity, cost) with dominated classes dropped.

    A class's capacity beyond the whole load within the site's reach is worthless, so it
    is cut to that load (a valid, much tighter coefficient); a class is then dropped when
    another offers at least its effective capacity for no more money.
    """
    reach = np.bincount(
        problem.arc_site, weights=problem.design_load_t_per_day[problem.arc_community], minlength=problem.n_sites
    )
    useful: list[list[tuple[int, float, float]]] = []
    for s, options in enumerate(problem.site_options):
        candidates = [
            (k, min(o.capacity_t_per_day, float(reach[s])), o.yearly_cost_yuan) for k, o in enumerate(options)
        ]
        kept = [
            c
            for c in candidates
            if not any(
                (d[1] >= c[1] and d[2] < c[2])
                or (d[1] > c[1] and d[2] <= c[2])
                or (d[1] == c[1] and d[2] == c[2] and d[0] < c[0])
                for d in candidates
            )
        ]
        useful.append(kept)
    return useful


def _plan_cost(problem: LocationProblem, site_option: list[int | None], community_site: np.ndarray) -> float:
    """Yearly cost of a single-sourced plan, from the problem's data."""
    stations = sum(problem.site_options[s][k].yearly_cost_yuan for s, k in enumerate(site_option) if k is not None)
    arc_of = {(int(c), int(s)): a for a, (c, s) in enumerate(zip(problem.arc_community, problem.arc_site))}
    haul = sum(float(problem.arc_yearly_cost_yuan[arc_of[(c, int(s))]]) for c, s in enumerate(community_site))
    return float(stations + haul)


class _Assignment:
    """A single-sourced assignment under way: who is where, how full each station is."""

    def __init__(self, problem: LocationProblem, capacity: np.ndarray) -> None:
        self.loads = problem.design_load_t_per_day
        self.capacity = capacity.copy()
        self.arcs_of: list[list[tuple[int, float]]] = [[] for _ in range(problem.n_communities)]
        for a, (c, s) in enumerate(zip(problem.arc_community.tolist(), problem.arc_site.tolist())):
            self.arcs_of[c].append((s, float(problem.arc_yearly_cost_yuan[a])))
        self.site_of = np.full(problem.n_communities, -1, dtype=np.int64)
        self.used = np.zeros(problem.n_sites)
        self.members: list[set[int]] = [set() for _ in range(problem.n_sites)]

    def snapshot(self):
        return self.capacity.copy(), self.site_of.copy(), self.used.copy(), [set(m) for m in self.members]

    def restore(self, state) -> None:
        self.capacity, self.site_of, self.used, self.members = state

    def move(self, c: int, to: int) -> None:
        if self.site_of[c] >= 0:
            self.members[self.site_of[c]].discard(c)
            self.used[self.site_of[c]] -= self.loads[c]
        self.site_of[c] = to
        if to >= 0:
            self.members[to].add(c)
            self.used[to] += self.loads[c]

    def _open(self, s: int) -> bool:
        return self.capacity[s] > 0

    def _room_chain(self, start: int, need: float) -> list[tuple[int, int]] | None:
        """Shortest chain of moves out of ``start`` freeing ``need`` t/d there (breadth first)."""
        frontier = {start: (need, [])}
        visited = {start}
        for _ in range(_MAX_CHAIN):
            reached: dict[int, tuple[float, list[tuple[int, int]]]] = {}
            for s, (short, chain) in frontier.items():
                for other in self.members[s]:
                    if self.loads[other] + _TOLERANCE < short:
                        continue
                    for t, _ in self.arcs_of[other]:
                        if t in visited or not self._open(t):
                            continue
                        after = self.used[t] + self.loads[other] - self.capacity[t]
                        if after <= _TOLERANCE:
                            return chain + [(other, t)]
                        if t not in reached or after < reached[t][0]:
                            reached[t] = (after, chain + [(other, t)])
            if not reached:
                return None
            visited |= reached.keys()
            frontier = reached
        return None

    def place(self, c: int) -> bool:
        """Put community ``c`` at its cheapest open site with room, or make room by a chain of moves."""
        arcs = [(s, cost) for s, cost in self.arcs_of[c] if self._open(s)]
        arcs.sort(key=lambda arc: (self.used[arc[0]] + self.loads[c] > self.capacity[arc[0]] + _TOLERANCE, arc[1]))
        for s, _ in arcs:
            need = self.used[s] + self.loads[c] - self.capacity[s]
            chain = [] if need <= _TOLERANCE else self._room_chain(s, need)
            if chain is not None:
                for other, to in chain:
                    self.move(other, to)
                self.move(c, s)
                return True
        return False


def _single_sourced(problem: LocationProblem, *, capacity: np.ndarray, flows: np.ndarray) -> _Assignment | None:
    """Round a split assignment to one site per community within the opened capacities.

    Unsplit communities keep their site; each split one (largest first) is placed by
    ``_Assignment.place``. None when one cannot be placed.
    """
    assignment = _Assignment(problem, capacity)
    for a in np.flatnonzero(flows > 1 - 1e-6):
        assignment.move(int(problem.arc_community[a]), int(problem.arc_site[a]))
    split = np.flatnonzero(assignment.site_of < 0).tolist()
    for c in sorted(split, key=lambda c: -assignment.loads[c]):
        if not assignment.place(c):
            return None
    return assignment


def _improved(
    problem: LocationProblem, site_option: list[int | None], assignment: _Assignment
) -> tuple[list[int | None], np.ndarray]:
    """Close each station (emptiest first) whose communities all fit elsewhere when that is cheaper,
    then give every station the cheapest class offered there that holds its load."""
    site_option = list(site_option)
    arc_cost = {
        (int(c), int(s)): float(k)
        for c, s, k in zip(problem.arc_community, problem.arc_site, problem.arc_yearly_cost_yuan)
    }

    def haul(members) -> float:
        return sum(arc_cost[(c, int(assignment.site_of[c]))] for c in members)

    closable = [s for s, k in enumerate(site_option) if k is not None and not problem.site_must_open[s]]
    for s in sorted(closable, key=lambda s: assignment.used[s]):
        state = assignment.snapshot()
        moved = sorted(assignment.members[s], key=lambda c: -assignment.loads[c])
        before = haul(range(problem.n_communities))
        assignment.capacity[s] = 0.0
        for c in moved:
            assignment.move(c, -1)
        if (
            all(assignment.place(c) for c in moved)
            and haul(range(problem.n_communities)) - before < problem.site_options[s][site_option[s]].yearly_cost_yuan
        ):
            site_option[s] = None
        else:
            assignment.restore(state)
    for s, k in enumerate(site_option):
        if k is not None:
            holding = [
                (o.yearly_cost_yuan, j)
                for j, o in enumerate(problem.site_options[s])
                if o.capacity_t_per_day + _TOLERANCE >= assignment.used[s]
            ]
            site_option[s] = min(holding)[1]
    return site_option, assignment.site_of


class _Model:
    """The MathOpt model: y[s][k] site s runs its k-th useful class, x[a] arc a (community → site) is used."""

    def __init__(self, problem: LocationProblem) -> None:
        from ortools.math_opt.python import mathopt

        self.problem = problem
        self.model = model = mathopt.Model(name="transfer_stations")
        self.n_arcs = int(problem.arc_site.shape[0])
        self.useful = useful = _useful_options(problem)
        self.y = [
            [model.add_variable(lb=0.0, ub=1.0, name=f"y_{s}_{k}") for k, _, _ in options]
            for s, options in enumerate(useful)
        ]
        self.x = [model.add_variable(lb=0.0, ub=1.0, name=f"x_{a}") for a in range(self.n_arcs)]
        self._constrain()
        model.minimize(
            mathopt.fast_sum(cost * v for options, ys in zip(useful, self.y) for (_, _, cost), v in zip(options, ys))
            + mathopt.fast_sum(float(cost) * self.x[a] for a, cost in enumerate(problem.arc_yearly_cost_yuan.tolist()))
        )

    def _constrain(self) -> None:
        """Single sourcing, capacity per site, the strong linking, conflicts and the aggregate capacity cut."""
        from ortools.math_opt.python import mathopt

        problem, model, x, y, useful = self.problem, self.model, self.x, self.y, self.useful
        opened = [mathopt.fast_sum(ys) for ys in y]
        arcs_of_community: list[list[int]] = [[] for _ in range(problem.n_communities)]
        arcs_of_site: list[list[int]] = [[] for _ in range(problem.n_sites)]
        for a, (c, s) in enumerate(zip(problem.arc_community.tolist(), problem.arc_site.tolist())):
            arcs_of_community[c].append(a)
            arcs_of_site[s].append(a)
        for c, arcs in enumerate(arcs_of_community):
            if not arcs:
                raise InvalidInputError(f"community index {c} has no site within reach (filter it out before solving)")
            model.add_linear_constraint(mathopt.fast_sum(x[a] for a in arcs) == 1)
        loads = problem.design_load_t_per_day
        for s, options in enumerate(useful):
            if problem.site_must_open[s]:
                model.add_linear_constraint(opened[s] == 1)
            else:
                model.add_linear_constraint(opened[s] <= 1)
            capacity = mathopt.fast_sum(cap * v for (_, cap, _), v in zip(options, y[s]))
            served = mathopt.fast_sum(float(loads[problem.arc_community[a]]) * x[a] for a in arcs_of_site[s])
            model.add_linear_constraint(served <= capacity)
            for a in arcs_of_site[s]:
                model.add_linear_constraint(x[a] <= opened[s])
        for s, t in problem.conflicting_sites:
            model.add_linear_constraint(opened[s] + opened[t] <= 1)
        model.add_linear_constraint(
            mathopt.fast_sum(cap * v for options, ys in zip(useful, y) for (_, cap, _), v in zip(options, ys))
            >= float(loads.sum())
        )

    def run(self, *, deadline: float, log: bool, gap: float, share: float = 1.0, cutoff: float | None = None):
        """HiGHS on the model as it stands, with ``share`` of the time left and an optional objective cutoff."""
        from ortools.math_opt.python import mathopt
        from ortools.math_opt.solvers import highs_pb2

        remaining = max((deadline - time.perf_counter()) * share, 1.0)
        highs = highs_pb2.HighsOptionsProto()
        if cutoff is not None:
            highs.double_options["objective_bound"] = cutoff  # prune every node that cannot beat it
        params = mathopt.SolveParameters(
            time_limit=timedelta(seconds=remaining),
            relative_gap_tolerance=gap,
            absolute_gap_tolerance=1e-6,
            enable_output=log,
            highs=highs,
        )
        return mathopt.solve(self.model, mathopt.SolverType.HIGHS, params=params)

    def chosen_options(self, values) -> list[int | None]:
        """The class each site runs in a solution (None = closed)."""
        return [
            next((k for (k, _, _), v in zip(options, ys) if values[v] > 0.5), None)
            for options, ys in zip(self.useful, self.y)
        ]


def _infeasible_reasons():
    from ortools.math_opt.python import mathopt

    return (mathopt.TerminationReason.INFEASIBLE, mathopt.TerminationReason.INFEASIBLE_OR_UNBOUNDED)


def _no_plan(result, time_limit_s: float) -> QingyunError:
    if result.termination.reason in _infeasible_reasons():
        return InfeasibleError(_INFEASIBLE_MESSAGE)
    return QingyunError(
        f"no feasible plan found within {time_limit_s:.0f} s ({result.termination.reason.name}); raise time_limit_s"
    )


def _relaxed_best(m: _Model, relaxed) -> tuple[float, tuple | None]:
    """Dual bound of the split-allowed relaxation and its single-sourced, improved rounding (or None)."""
    problem = m.problem
    dual = relaxed.termination.objective_bounds.dual_bound
    dual = dual if math.isfinite(dual) else 0.0  # every cost is >= 0
    values = relaxed.variable_values()
    site_option = m.chosen_options(values)
    capacity = np.array(
        [problem.site_options[s][k].capacity_t_per_day if k is not None else 0.0 for s, k in enumerate(site_option)]
    )
    rounded = _single_sourced(problem, capacity=capacity, flows=np.array([values[v] for v in m.x]))
    if rounded is None:
        return dual, None
    site_option, community_site = _improved(problem, site_option, rounded)
    return dual, (_plan_cost(problem, site_option, community_site), site_option, community_site)


def _full_mip(
    m: _Model, *, best: tuple | None, dual: float, deadline: float, log: bool, relative_gap: float, time_limit_s: float
):
    """The full MIP pruned by best × (1 − gap): returns the better plan and the proven bound."""
    problem = m.problem
    for v in m.x:
        v.integer = True
    cutoff = best[0] * (1 - relative_gap) if best is not None else None
    full = m.run(deadline=deadline, log=log, gap=relative_gap, cutoff=cutoff)
    bounds = full.termination.objective_bounds
    if full.has_primal_feasible_solution() and (best is None or bounds.primal_bound < best[0]):
        values = full.variable_values()
        options_chosen = m.chosen_options(values)
        assigned = np.full(problem.n_communities, -1, dtype=np.int64)
        for a in range(m.n_arcs):
            if values[m.x[a]] > 0.5:
                assigned[problem.arc_community[a]] = problem.arc_site[a]
        best = (_plan_cost(problem, options_chosen, assigned), options_chosen, assigned)
    if best is None:
        raise _no_plan(full, time_limit_s)
    if (
        cutoff is not None
        and not full.has_primal_feasible_solution()
        and full.termination.reason in _infeasible_reasons()
    ):
        dual = max(dual, cutoff)
    elif math.isfinite(bounds.dual_bound):
        # plans at or above the cutoff were pruned, not refuted: the bound holds only up to it
        dual = max(dual, bounds.dual_bound if cutoff is None else min(bounds.dual_bound, cutoff))
    return best, dual


def solve_location(
    problem: LocationProblem, *, time_limit_s: float, relative_gap: float, solver_log: bool = False
) -> LocationSolution:
    """Solve to the requested proven relative gap or the time limit, whichever comes first.

    1. With y binary and x continuous the model is a relaxation (communities may split) with
       only site×class binaries: its dual bound is a valid, tight bound for the real problem.
    2. Its classes kept, the few split communities are rounded to one site each, moving
       neighbours when a station is full (``_single_sourced``); then stations whose
       communities fit elsewhere are closed and classes shrunk when cheaper (``_improved``).
    3. Only if the gap is still above the target: the full MIP, pruned by the cutoff
       best × (1 − gap), so "nothing below the cutoff" is exactly the requested proof.
    The gap reported compares the best single-sourced plan with the best proven bound.

    Parameters
    ----------
    problem
        Sites, classes, communities and the arcs within reach.
    time_limit_s
        Wall-clock limit of building and solving.
    relative_gap
        The proven gap to stop at.
    solver_log
        Print HiGHS's log.

    Returns
    -------
    LocationSolution

    Raises
    ------
    InfeasibleError
        No plan serves every community.
    QingyunError
        No feasible plan found within the time limit.
    """
    started = time.perf_counter()
    deadline = started + time_limit_s
    m = _Model(problem)
    built = time.perf_counter()
    for ys in m.y:
        for v in ys:
            v.integer = True
    relaxed = m.run(deadline=deadline, log=solver_log, gap=relative_gap / 2, share=0.85)
    if not relaxed.has_primal_feasible_solution():
        raise _no_plan(relaxed, time_limit_s)
    dual, best = _relaxed_best(m, relaxed)
    if best is None or best[0] - dual > relative_gap * abs(best[0]):
        best, dual = _full_mip(
            m,
            best=best,
            dual=dual,
            deadline=deadline,
            log=solver_log,
            relative_gap=relative_gap,
            time_limit_s=time_limit_s,
        )
    solved = time.perf_counter()
    best_objective, site_option, community_site = best
    dual = min(dual, best_objective)
    gap = (best_objective - dual) / max(abs(best_objective), 1e-9)
    return LocationSolution(
        site_option=tuple(site_option),
        community_site=community_site,
        objective_yuan=float(best_objective),
        dual_bound_yuan=float(dual),
        proven_gap=float(gap) if gap > 1e-9 else 0.0,
        solver="HiGHS",
        solve_seconds=solved - built,
        build_seconds=built - started,
    )
