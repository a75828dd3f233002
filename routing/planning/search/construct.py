"""A first solution that respects everything: windows, trips to unload, the break, shifts.

OR-Tools' own first-solution heuristics stall on collection days (restaurants with a morning
and an evening window send its cheapest-arc and insertion heuristics into long dead ends), so
the search starts from routes built here: each truck in turn, earliest shift first, goes to
the next site that is feasible and best by ``travel + waiting + urgency × slack-to-close``;
when nothing fits in the body it unloads at the accepting facility that frees it soonest;
when nothing fits in the day it unloads and goes home. A truck takes its own sites first: those
only it may serve, then those that prefer it more firmly than a territory does (a re-plan's
previous assignment); others only when none of those fits. Vectorised
over sites with numpy.
Two ``urgency`` weights give the two parallel searches different starting points.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import partial

import numpy as np

from routing.planning.problem import Problem, VehicleSpec

INF = np.int64(2**50)
CAP_STEP = (1.15, 1.3)
RELEASES = 3  # rounds in which sites a territorial start left out are freed for any truck  # raises of a type's shift cap while it leaves sites out, then none


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
        self.release = np.array([s.release_s for s in sites], dtype=np.int64)
        self.pinned_to = np.array(
            [next(iter(s.vehicles)) if s.vehicles is not None and len(s.vehicles) == 1 else "" for s in sites],
            dtype=object,
        )
        # firm preferences (a re-plan's previous truck) are taken first; a territory's (no more than the
        # compactness term) makes its sites wait for their truck (see _build)
        firm = [s.preference_penalty > problem.compactness_per_site for s in sites]
        self.prefers = np.array([(s.preferred_vehicle or "") if f else "" for s, f in zip(sites, firm)], dtype=object)
        self.territory = np.array(
            [(s.preferred_vehicle or "") if not f else "" for s, f in zip(sites, firm)], dtype=object
        )
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


def build_routes(
    problem: Problem,
    site_ids: list[str],
    *,
    urgency: float = 0.2,
    shift_caps: Mapping[str, int] | None = None,
    territorial: bool = True,
    trucks: Collection[str] | None = None,
) -> dict[str, list[str]]:
    """A first solution: routes covering as many of ``site_ids`` as fit, every rule kept.

    Parameters
    ----------
    problem : Problem
        The day.
    site_ids : list of str
        The sites to route.
    urgency : float
        Weight of a site's slack to its window's close against travel and waiting.
    shift_caps : mapping, optional
        Per vehicle type, seconds of shift a truck of the type works at most here (balanced shifts:
        the search starts from work spread over the type's trucks); the truck's own limits still hold.
        Where the caps leave sites out, the caps of the types that could serve them are raised by
        :data:`CAP_STEP` until they are gone (then the type works uncapped).
    territorial : bool
        Whether a site of a territory (a preferred truck no firmer than the compactness term) waits for its
        truck; sites it leaves out are freed for any truck (:data:`RELEASES` rounds), and when some stay out the
        start without territories is taken if it leaves fewer out.
    trucks : collection of str, optional
        The trucks that may take a route (default: all); a warm start routes the sites its routes leave out
        on the trucks it leaves idle (:meth:`routing.planning.search.searcher.Searcher.solve`).

    Returns
    -------
    dict
        ``{vehicle_id: [site/facility ids]}``, unloads included; sites that fit nowhere are left out.
    """
    caps = dict(shift_caps or {})
    specs = [problem.sites[problem.site_index[sid]] for sid in site_ids]
    territorial = territorial and any(
        s.preferred_vehicle and s.preference_penalty <= problem.compactness_per_site for s in specs
    )
    for step in range(len(CAP_STEP) + 2):
        routes = _build(problem, site_ids, urgency=urgency, shift_caps=caps, territorial=territorial, trucks=trucks)
        left = _left_out(problem, site_ids, routes)
        loosen = {v.type_id for v in problem.vehicles if any(Problem.serves(v, s) for s in left)} & caps.keys()
        if not loosen or step > len(CAP_STEP):
            break
        for kind in loosen:
            caps[kind] = round(caps[kind] * CAP_STEP[step]) if step < len(CAP_STEP) else None
        caps = {kind: cap for kind, cap in caps.items() if cap is not None}
    released: set[str] = set()
    for _ in range(RELEASES):
        if not left or not territorial:
            break
        # what the territories left goes to whoever comes first (the urgency order takes tight windows early)
        released |= {s.id for s in left}
        routes = _build(
            problem, site_ids, urgency=urgency, shift_caps=caps, territorial=True, released=released, trucks=trucks
        )
        left = _left_out(problem, site_ids, routes)
    if left and released:
        plain = _build(problem, site_ids, urgency=urgency, shift_caps=caps, territorial=False, trucks=trucks)
        if len(_left_out(problem, site_ids, plain)) < len(left):
            return plain
    return routes


def _left_out(problem: Problem, site_ids: list[str], routes: dict[str, list[str]]) -> list:
    routed = {sid for route in routes.values() for sid in route}
    return [problem.sites[problem.site_index[sid]] for sid in site_ids if sid not in routed]


def _build(
    problem: Problem,
    site_ids: list[str],
    *,
    urgency: float,
    shift_caps: Mapping[str, int],
    territorial: bool,
    released: set[str] | frozenset[str] = frozenset(),
    trucks: Collection[str] | None = None,
) -> dict[str, list[str]]:
    """One pass of :func:`build_routes` with the given caps; ``territorial``: trucks that own a territory go first,
    and a site of a territory (unless ``released``) waits for its truck (later trucks may take what it left)."""
    sites = _Sites(problem, site_ids)
    if released:
        sites.territory = np.where(np.isin(np.array(sites.ids, dtype=object), list(released)), "", sites.territory)
    row_of = {sid: i for i, sid in enumerate(sites.ids)}
    free = np.ones(len(sites.ids), dtype=bool)
    routes: dict[str, list[str]] = {}
    owners = set(sites.territory) - {""} if territorial else set()
    order = sorted(
        range(len(problem.vehicles)),
        key=lambda i: (
            problem.vehicles[i].id not in owners,
            problem.vehicles[i].shift_start,
            problem.vehicles[i].access,
            i,
        ),
    )
    turn = {problem.vehicles[vi].id: k for k, vi in enumerate(order)}
    waits_for = np.array([turn.get(t, -1) if territorial else -1 for t in sites.territory], dtype=np.int64)
    for k, vi in enumerate(order):
        v = problem.vehicles[vi]
        if trucks is not None and v.id not in trucks:
            continue
        compatible = np.array([Problem.serves(v, s) for s in sites.specs], dtype=bool) & (waits_for <= k)
        if not (compatible & free).any():
            continue
        cap = shift_caps.get(v.type_id)
        route = _route_for(problem, v, sites, free & compatible, urgency=urgency, cap=cap)
        for sid in route:
            if sid in row_of:
                free[row_of[sid]] = False
        if route:
            routes[v.id] = route
    return routes


def _route_for(
    problem: Problem, v: VehicleSpec, sites: _Sites, candidates: np.ndarray, *, urgency: float, cap: int | None
) -> list[str]:
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
    if cap is not None:
        limit = min(limit, v.shift_start + cap)
    hold = _hold(problem, v, facilities, nodes)
    best_next = partial(
        _best_next, sites=sites, dur=dur, finish=finish, limit=limit, rule=rule, v=v, urgency=urgency, hold=hold
    )
    first_pick = None  # service start of the load's first pickup (None: empty)
    trip_left = None  # when the current trip left the depot or facility (None: no site on it yet)
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
            ready = rows[sites.release[rows] <= (t if trip_left is None else trip_left)]
            pick = best_next(ready, t, here, need_break, load, litres, daily, first_pick) if ready.size else None
            later = sites.release[rows][sites.release[rows] > t]
            while pick is None and trip_left is None and later.size:  # wait at the base for the next release
                t, later = int(later.min()), later[later > later.min()]
                ready = rows[sites.release[rows] <= t]
                pick = best_next(ready, t, here, need_break, load, litres, daily, first_pick)
        if pick is not None:
            row, start = pick
            if trip_left is None:  # the latest it may leave its base (it waits there, not at the site)
                trip_left = int(start - dur[here, sites.node[row]])
            if need_break and start + sites.service[row] > rule.latest_start_s:
                need_break = False  # the break happens on the way to this site
            t = int(start + sites.service[row])
            since = sites.specs[row].picked_at(start)
            first_pick = since if first_pick is None else min(first_pick, since)
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
                if rows.size and best_next(rows, t_after, f.node, need_break, 0.0, 0.0, daily, None) is not None:
                    route.append(f.id)
                    t, here, load, litres, first_pick, trip_left = t_after, f.node, 0.0, 0.0, None, None
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


def _hold(problem: Problem, v: VehicleSpec, facilities, nodes: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(the truck's hold limit, per site the drive to its nearest unload), or None when nothing limits its loads."""
    limit = problem.hold_limit(v)
    if limit is None or not facilities:
        return None
    return limit, np.min(np.stack([problem.duration_s[nodes, f.node] for f in facilities]), axis=0)


def _best_next(
    rows, t, here, need_break, load, litres, daily, first_pick, *, sites, dur, finish, limit, rule, v, urgency, hold
):
    # a truck's own sites first: those only it may serve (a re-plan's start site, a one-truck grid), then those
    # that prefer it (its sites before a re-plan, its territory); the rest only when none of them fits
    pinned = sites.pinned_to[rows] == v.id
    mine = pinned | (sites.prefers[rows] == v.id)
    for tier in (pinned, mine):
        if tier.any() and not tier.all():
            pick = _best_next(
                rows[tier], t, here, need_break, load, litres, daily, first_pick, sites=sites, dur=dur,
                finish=finish, limit=limit, rule=rule, v=v, urgency=urgency, hold=hold,
            )  # fmt: skip
            if pick is not None:
                return pick
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
    if hold is not None:  # the load's first pickup still unloaded within the hold after this site
        first = start if first_pick is None else first_pick
        ok &= done + hold[1][rows] <= first + hold[0]
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
