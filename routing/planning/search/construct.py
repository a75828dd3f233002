"""A first solution that respects everything: windows, trips to unload, the break, shifts.

OR-Tools' own first-solution heuristics stall on collection days (restaurants with a morning
and an evening window send its cheapest-arc and insertion heuristics into long dead ends), so
the search starts from routes built here: each truck in turn, earliest shift first, goes to
the next site that is feasible and best by ``travel + waiting + urgency × slack-to-close``;
when nothing fits in the body it unloads at the accepting facility that frees it soonest;
when nothing fits in the day it unloads and goes home. Vectorised over sites with numpy.
Two ``urgency`` weights give the two parallel searches different starting points.
"""

from __future__ import annotations

import numpy as np

from routing.planning.problem import Problem, VehicleSpec

INF = np.int64(2**50)


class _Sites:
    """Column arrays of the sites to route."""

    def __init__(self, problem: Problem, site_ids: list[str]) -> None:
        sites = [problem.sites[problem.site_index[s]] for s in site_ids]
        self.ids = [s.id for s in sites]
        self.specs = sites
        self.node = np.array([s.node for s in sites], dtype=np.int64)
        self.kg = np.array([s.demand_kg for s in sites])
        self.litres = np.array([s.demand_l for s in sites])
        self.service = np.array([s.service_s for s in sites], dtype=np.int64)
        width = max((len(s.windows) for s in sites), default=1)
        self.open = np.full((len(sites), width), INF, dtype=np.int64)
        self.close = np.full((len(sites), width), -1, dtype=np.int64)
        for i, s in enumerate(sites):
            for w, (a, b) in enumerate(s.windows):
                self.open[i, w], self.close[i, w] = a, b

    def start_times(self, arrival: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Earliest service start at or after arrival in a window (INF if none), and that window's close."""
        opens, closes = self.open[rows], self.close[rows]
        ok = arrival[:, None] <= closes
        start = np.where(ok, np.maximum(arrival[:, None], opens), INF)
        pick = np.argmin(start, axis=1)
        take = np.arange(len(rows))
        return start[take, pick], closes[take, pick]


def _unload_options(problem: Problem, v: VehicleSpec):
    return [f for f in problem.facilities if Problem.unloads_at(v, f)]


def _facility_start(f, arrival: int) -> int | None:
    for a, b in f.windows:
        if arrival <= b:
            return max(arrival, a)
    return None


def build_routes(problem: Problem, site_ids: list[str], *, urgency: float = 0.2) -> dict[str, list[str]]:
    """A first solution: routes covering as many of ``site_ids`` as fit, every rule kept.

    Parameters
    ----------
    problem : Problem
        The day.
    site_ids : list of str
        The sites to route.
    urgency : float
        Weight of a site's slack to its window's close against travel and waiting.

    Returns
    -------
    dict
        ``{vehicle_id: [site/facility ids]}``, unloads included; sites that fit nowhere are left out.
    """
    sites = _Sites(problem, site_ids)
    row_of = {sid: i for i, sid in enumerate(sites.ids)}
    free = np.ones(len(sites.ids), dtype=bool)
    routes: dict[str, list[str]] = {}
    order = sorted(
        range(len(problem.vehicles)), key=lambda i: (problem.vehicles[i].shift_start, problem.vehicles[i].access, i)
    )
    for vi in order:
        v = problem.vehicles[vi]
        compatible = np.array([Problem.serves(v, s) for s in sites.specs], dtype=bool)
        if not (compatible & free).any():
            continue
        route = _route_for(problem, v, sites, free & compatible, urgency=urgency)
        for sid in route:
            if sid in row_of:
                free[row_of[sid]] = False
        if route:
            routes[v.id] = route
    return routes


def _route_for(problem: Problem, v: VehicleSpec, sites: _Sites, candidates: np.ndarray, *, urgency: float) -> list[str]:
    depot = problem.depots[v.depot].node
    dur = problem.duration_s
    rule = problem.break_rule
    facilities = _unload_options(problem, v)
    if v.ends_empty and not facilities:
        return []
    nodes = sites.node
    if v.ends_empty:
        finish = np.min(np.stack([dur[nodes, f.node] + f.unload_s + dur[f.node, depot] for f in facilities]), axis=0)
    else:
        finish = dur[nodes, depot].astype(np.int64)
    limit = v.shift_end if v.max_shift_s is None else min(v.shift_end, v.shift_start + v.max_shift_s)
    need_break = rule is not None and rule.due(v.shift_start, v.shift_end)
    t, here = v.shift_start, depot
    load = litres = 0.0
    count, daily = 0, 0.0
    route: list[str] = []
    rows_all = np.flatnonzero(candidates)
    open_rows = set(rows_all.tolist())
    while True:
        if need_break and t >= rule.earliest_start_s:
            t = max(t, rule.earliest_start_s) + rule.duration_s
            need_break = False
        rows = np.array(sorted(open_rows), dtype=np.int64)
        pick = None
        if rows.size and (v.max_stops is None or count < v.max_stops):
            pick = _best_next(
                sites, rows, t, here, dur, finish, limit, rule, need_break, load, litres, daily, v, urgency
            )
        if pick is not None:
            row, start = pick
            if need_break and start + sites.service[row] > rule.latest_start_s:
                need_break = False  # the break happens on the way to this site
            t = int(start + sites.service[row])
            here = int(sites.node[row])
            load += sites.kg[row]
            litres += sites.litres[row]
            daily += sites.kg[row]
            count += 1
            route.append(sites.ids[row])
            open_rows.discard(int(row))
            continue
        if load > 0 and facilities:
            unloaded = _unload(problem, v, facilities, t, here, depot)
            if unloaded is not None:
                f, t_after = unloaded
                if (
                    rows.size
                    and _best_next(
                        sites, rows, t_after, f.node, dur, finish, limit, rule, need_break, 0.0, 0.0, daily, v, urgency
                    )
                    is not None
                ):
                    route.append(f.id)
                    t, here, load, litres = t_after, f.node, 0.0, 0.0
                    continue
        break
    if route and v.ends_empty and load > 0:
        unloaded = _unload(problem, v, facilities, t, here, depot, going_home=True)
        best = (
            unloaded[0]
            if unloaded is not None
            else min(facilities, key=lambda f: dur[here, f.node] + dur[f.node, depot])
        )
        route.append(best.id)
    return route


def _best_next(sites, rows, t, here, dur, finish, limit, rule, need_break, load, litres, daily, v, urgency):
    arrival = t + dur[here, sites.node[rows]]
    start, close = sites.start_times(arrival, rows)
    if need_break:
        # sites whose service would run past the latest break start get the break first
        late = start + sites.service[rows] > rule.latest_start_s
        if late.any():
            begin = max(t, rule.earliest_start_s)
            if begin <= rule.latest_start_s:
                delayed = np.maximum(arrival[late], begin) + rule.duration_s
                start_b, close_b = sites.start_times(delayed, rows[late])
                start[late], close[late] = start_b, close_b
            else:
                start[late] = INF
    done = start + sites.service[rows]
    extra = rule.duration_s if need_break else 0
    ok = (start < INF) & (done + finish[rows] + extra <= limit)
    ok &= load + sites.kg[rows] <= v.capacity_kg + 1e-9
    if v.capacity_l is not None:
        ok &= litres + sites.litres[rows] <= v.capacity_l + 1e-9
    if v.max_daily_kg is not None:
        ok &= daily + sites.kg[rows] <= v.max_daily_kg + 1e-9
    if not ok.any():
        return None
    score = (start - t) + urgency * np.maximum(close - start, 0)
    score = np.where(ok, score, np.inf)
    k = int(np.argmin(score))
    return int(rows[k]), int(start[k])


def _unload(problem: Problem, v: VehicleSpec, facilities, t: int, here: int, depot: int, *, going_home: bool = False):
    """The facility that frees the truck soonest (ties: nearer the depot), or for the last unload
    the one that gets it home soonest (what ``finish`` assumed); None if all are closed."""
    best = None
    for f in facilities:
        start = _facility_start(f, t + int(problem.duration_s[here, f.node]))
        if start is None:
            continue
        home = int(problem.duration_s[f.node, depot])
        key = (start + f.unload_s + home, 0) if going_home else (start + f.unload_s, home)
        if best is None or key < best[0]:
            best = (key, f, start + f.unload_s)
    return None if best is None else (best[1], best[2])
