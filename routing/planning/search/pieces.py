"""Cutting a day into parts the search handles well: independent pieces, zones, sub-problems.

Independent pieces come first: trucks and sites linked by compatibility (stream, access)
form separate problems that share nothing but the roads (kitchen-waste trucks never meet
recyclable sites). A piece too large to search whole is cut into zones (网格): recursive
bisection along the wider axis at the demand-weighted median gives compact zones of similar
workload, deterministically. Trucks are dealt to zones in proportion to each zone's demand,
mixing truck types evenly, and every zone gets a truck small enough for its narrowest street
when the piece has one. :func:`subproblem` makes any part a problem of its own.

A facility's daily capacity couples every truck that unloads there: such trucks stay in one piece, and parts
of a piece searched apart (zones, border pairs, leftover repairs, a consolidation's helpers) get what is left of it
(``received`` by the routes outside the part; zones searched side by side a share by their demand,
:func:`zone_reserves`), so two parts never fill a facility twice over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from routing.planning.problem import FacilitySpec, Problem
from routing.planning.scenario import ACCESS_RANK


def _bisect(points: np.ndarray, weights: np.ndarray, members: np.ndarray, target: int) -> list[np.ndarray]:
    if len(members) <= target:
        return [members]
    xy = points[members]
    axis = int(np.argmax(xy.max(axis=0) - xy.min(axis=0)))
    order = members[np.argsort(xy[:, axis], kind="stable")]
    cumulative = np.cumsum(weights[order])
    parts = math.ceil(len(members) / target)
    left_parts = parts // 2
    cut = int(np.searchsorted(cumulative, cumulative[-1] * left_parts / parts))
    cut = min(max(cut, 1), len(order) - 1)
    return _bisect(points, weights, order[:cut], target) + _bisect(points, weights, order[cut:], target)


def split_into_zones(
    problem: Problem, *, site_ids: list[str], vehicle_ids: list[str], target_sites: int
) -> list[tuple[list[str], list[str]]]:
    """Cut one piece into zones of about ``target_sites`` sites, each with its share of trucks.

    Parameters
    ----------
    problem : Problem
        The whole day.
    site_ids, vehicle_ids : list of str
        The piece's sites and trucks.
    target_sites : int
        Aimed sites per zone (fewer zones if there are fewer trucks than zones).

    Returns
    -------
    list of (list of str, list of str)
        Per zone its sites and trucks, neighbouring zones adjacent; zones left without a truck are left out.
    """
    sites = [problem.sites[problem.site_index[s]] for s in site_ids]
    lat0 = float(np.mean([problem.lat[s.node] for s in sites]))
    points = np.array([[problem.lon[s.node] * math.cos(math.radians(lat0)), problem.lat[s.node]] for s in sites])
    weights = np.array([max(s.demand_kg, 1.0) for s in sites])
    zones = _bisect(points, weights, np.arange(len(sites)), max(1, target_sites))
    vehicles = [problem.vehicles[problem.vehicle_index[v]] for v in vehicle_ids]
    if len(vehicles) < len(zones):
        zones = _bisect(points, weights, np.arange(len(sites)), math.ceil(len(sites) / max(1, len(vehicles))))
    demand = np.array([weights[z].sum() for z in zones])
    zone_of = np.empty(len(sites), dtype=int)
    for z, members in enumerate(zones):
        zone_of[members] = z
    assigned: list[list[str]] = [[] for _ in zones]
    # Trucks of one kind (type, shift, depot) are dealt out in proportion to the demand in each
    # zone that this kind can serve inside its shift, a site served by several kinds counting
    # shared (so scarce small trucks follow the narrow lanes, evening trucks the evening work);
    # largest remainder rounding.
    groups: dict[tuple, list] = {}
    for v in sorted(vehicles, key=lambda v: v.id):
        groups.setdefault(
            (v.type_id, tuple(sorted(v.streams)), v.access, v.shift_start, v.shift_end, v.depot), []
        ).append(v)
    kinds = list(groups)
    able = np.zeros((len(kinds), len(sites)), dtype=bool)
    for g, key in enumerate(kinds):
        v = groups[key][0]
        able[g] = [
            Problem.serves(v, s) and any(a <= v.shift_end and b >= v.shift_start for a, b in s.windows) for s in sites
        ]
    counted = np.maximum(able.sum(axis=0), 1)
    for g, key in enumerate(kinds):
        members = groups[key]
        work = np.bincount(zone_of, weights=able[g] * weights / counted, minlength=len(zones))
        share = work / work.sum() if work.sum() > 0 else demand / demand.sum()
        quota = share * len(members)
        counts = np.floor(quota).astype(int)
        for z in np.argsort(-(quota - counts), kind="stable")[: len(members) - counts.sum()]:
            counts[z] += 1
        it = iter(members)
        for z, count in enumerate(counts):
            assigned[z].extend(next(it).id for _ in range(count))
    share = demand / demand.sum()
    # a zone with narrow streets and no truck small enough borrows one from the best-served zone
    for z, members in enumerate(zones):
        need = min(ACCESS_RANK.get(sites[i].access, 2) for i in members)
        rank = {v.id: ACCESS_RANK.get(v.access, 2) for v in vehicles}
        if any(rank[v] <= need for v in assigned[z]):
            continue
        donors = [
            (len(assigned[d]) / max(share[d], 1e-9), d)
            for d in range(len(zones))
            if d != z and sum(rank[v] <= need for v in assigned[d]) > 1
        ]
        if donors:
            d = max(donors)[1]
            small = next(v for v in assigned[d] if rank[v] <= need)
            assigned[d].remove(small)
            assigned[z].append(small)
    return [([sites[i].id for i in members], assigned[z]) for z, members in enumerate(zones) if assigned[z]]


def subproblem(
    problem: Problem,
    *,
    site_ids: list[str],
    vehicle_ids: list[str],
    name: str,
    received: Mapping[str, float] | None = None,
) -> Problem:
    """The same day restricted to some sites and trucks (matrices sliced, facilities they may use).

    Parameters
    ----------
    problem : Problem
        The whole day.
    site_ids, vehicle_ids : list of str
        The part's sites and trucks, in the order the part keeps them.
    name : str
        The part's problem name.
    received : mapping, optional
        Weight (kg per facility id) facilities receive from routes outside the part: taken off their daily
        capacities (never below zero).

    Returns
    -------
    Problem
        A problem over the part's depots, facilities and sites only, nodes renumbered.
    """
    sites = [problem.sites[problem.site_index[s]] for s in site_ids]
    vehicles = [problem.vehicles[problem.vehicle_index[v]] for v in vehicle_ids]
    depot_old = sorted({v.depot for v in vehicles})
    facilities = [f for f in problem.facilities if any(Problem.unloads_at(v, f) for v in vehicles)]
    nodes = [problem.depots[d].node for d in depot_old] + [f.node for f in facilities] + [s.node for s in sites]
    nodes = list(dict.fromkeys(nodes))
    new = {old: i for i, old in enumerate(nodes)}
    depot_new = {old: i for i, old in enumerate(depot_old)}
    index = np.array(nodes)
    return Problem(
        name=name,
        ids=[problem.ids[i] for i in nodes],
        lon=problem.lon[index],
        lat=problem.lat[index],
        duration_s=problem.duration_s[np.ix_(index, index)],
        distance_m=problem.distance_m[np.ix_(index, index)],
        depots=[replace(problem.depots[d], node=new[problem.depots[d].node]) for d in depot_old],
        facilities=[replace(f, node=new[f.node], capacity_kg=_left(f, received)) for f in facilities],
        sites=[replace(s, node=new[s.node]) for s in sites],
        vehicles=[replace(v, depot=depot_new[v.depot]) for v in vehicles],
        break_rule=problem.break_rule,
        day_start=problem.day_start,
        geographic=problem.geographic,
        hold_s=problem.hold_s,
        balance_per_h=problem.balance_per_h,
        compactness_per_site=problem.compactness_per_site,
    )


def _left(facility: FacilitySpec, received: Mapping[str, float] | None) -> float | None:
    """A facility's daily capacity less what routes outside a part unload there."""
    if facility.capacity_kg is None or not received:
        return facility.capacity_kg
    return max(0.0, facility.capacity_kg - received.get(facility.id, 0.0))


def intake_kg(problem: Problem, routes: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Weight each facility receives from visit ids per truck, as the checker counts it.

    Parameters
    ----------
    problem : Problem
        The day.
    routes : mapping
        Visit ids (sites and facilities) per truck; a route's closing unload among them.

    Returns
    -------
    dict
        kg per facility id: each trip's load where the unload ending it is.
    """
    out: dict[str, float] = {}
    for visits in routes.values():
        on_board = 0.0
        for vid in visits:
            if vid in problem.facility_index:
                out[vid] = out.get(vid, 0.0) + on_board
                on_board = 0.0
            elif vid in problem.site_index:
                on_board += problem.sites[problem.site_index[vid]].demand_kg
    return out


def zone_reserves(problem: Problem, zones: Sequence[tuple[list[str], list[str]]]) -> list[dict[str, float]]:
    """Per zone of one piece, the capacity of each facility kept for the other zones: all but the zone's share by
    the weight its sites would bring there (zones are searched side by side, none knowing the others' routes).

    Parameters
    ----------
    problem : Problem
        The day.
    zones : sequence of (site ids, vehicle ids)
        The piece's zones (:func:`split_into_zones`).

    Returns
    -------
    list of dict
        Per zone, kg per facility id with a daily capacity; pass it as :func:`subproblem`'s ``received``.
    """
    out: list[dict[str, float]] = [{} for _ in zones]
    for f in problem.facilities:
        if f.capacity_kg is None:
            continue
        users = [v for v in problem.vehicles if Problem.unloads_at(v, f)]
        brought = [
            sum(
                s.demand_kg
                for s in (problem.sites[problem.site_index[sid]] for sid in sites)
                if any(Problem.serves(v, s) for v in users)
            )
            for sites, _ in zones
        ]
        total = sum(brought)
        for z, kg in enumerate(brought):
            out[z][f.id] = f.capacity_kg * (1.0 - kg / total) if total > 0 else 0.0
    return out


def independent_pieces(problem: Problem, site_ids: set[str]) -> list[tuple[list[str], list[str]]]:
    """Groups of (site ids, vehicle ids) that no truck or site links to another group.

    Parameters
    ----------
    problem : Problem
        The whole day.
    site_ids : set of str
        The sites to plan (the unservable ones left out).

    Returns
    -------
    list of (list of str, list of str)
        Per piece its sites and trucks; pieces without sites are left out.
    """
    parent = list(range(len(problem.vehicles)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    site_owner: dict[str, int] = {}
    for site in problem.sites:
        if site.id not in site_ids:
            continue
        trucks = [vi for vi, v in enumerate(problem.vehicles) if Problem.serves(v, site)]
        for other in trucks[1:]:
            parent[find(other)] = find(trucks[0])
        site_owner[site.id] = trucks[0]
    # facilities with a binding daily capacity couple the trucks that unload there
    for f in problem.facilities:
        if f.capacity_kg is not None:
            users = [vi for vi, v in enumerate(problem.vehicles) if Problem.unloads_at(v, f)]
            for other in users[1:]:
                parent[find(other)] = find(users[0])
    groups: dict[int, tuple[list[str], list[str]]] = {}
    for vi, v in enumerate(problem.vehicles):
        groups.setdefault(find(vi), ([], []))[1].append(v.id)
    for site in problem.sites:
        if site.id in site_owner:
            groups[find(site_owner[site.id])][0].append(site.id)
    return [g for g in groups.values() if g[0]]
