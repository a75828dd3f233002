"""Compact routes by default: soft territories, one per truck, when the dispatcher draws no grids.

Why: the cost-only search lets routes of one stream criss-cross the district (demo day: 66 % of
same-stream route pairs share more than half their service areas), which a dispatcher who works
by territories (网格化管理) sends back; Kim, Kim & Sahoo (2006) score compactness next to distance
for this reason. Here every site gets a preferred truck (``preferred_vehicle``) from compact,
workload-balanced territories, and serving it with another truck costs ``compactness_per_site``
(currency, a problem setting; 0 turns it off). The search trades that against distance through
the preferred-truck term of the model (:func:`routing.planning.search.dispatch.add_preferences`).

How the territories are cut (capacitated k-means, Lloyd's iterations): one territory per truck
that the product's first solution uses (balanced when shifts are balanced), its short remainder
routes included — a truck left without a territory collects leftovers from the whole district and
overlaps every route of its stream. A territory starts at its truck's sites (a remainder route at
the site farthest from the centres so far); each site goes to the nearest
territory whose truck could serve it (stream, street access, a window in its shift, its grid) and
is of the largest size that could (small trucks are scarce: their territories hold the lanes only
they enter), nearest first, while the territory has room (an equal share of its vehicle type's
work × :data:`ROOM`, and no more of the work that must be done by noon: the morning is what runs
out first); the centres move to their sites' mean and the sites are dealt again. When the first
routes of a stream then serve fewer than :data:`KEPT` of its sites with their territory's truck
(balanced rooms the greedy start cannot fill leave sites out, and it drops the territories), the
rooms are the first solution's own workloads instead, without its remainder routes. Sites that
already prefer a truck keep it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from routing.planning.problem import Problem
from routing.planning.scenario import ACCESS_RANK
from routing.planning.search.balance import shift_targets
from routing.planning.search.construct import build_routes
from routing.planning.search.dispatch import BALANCE_CAP

ROOM = 1.15  # a territory takes at most this × its equal share of its vehicle type's first-solution workload
TIGHT_ROOM = 1.0  # … and this × the share of the type's work on sites whose windows all close by noon (what only its morning can do)
NOON_S = 12 * 3600
STUB = 0.5  # a first-solution route with less than this × its type's mean work is not a good seed
ROUNDS = 6  # Lloyd's iterations
KEPT = 0.7  # balanced rooms are kept when the first routes serve this share of sites with their territory's truck
DRIVE_S = 120  # seconds of driving counted per site in a territory's workload


def with_territories(problem: Problem, site_ids: set[str]) -> Problem:
    """The day with a preferred truck for every site that has none, from compact territories.

    Parameters
    ----------
    problem : Problem
        The day; ``compactness_per_site`` 0 leaves it as it is.
    site_ids : set of str
        The sites to plan (the unservable ones left out).

    Returns
    -------
    Problem
        A copy whose sites prefer their territory's truck at ``compactness_per_site`` each.
    """
    todo = [s for s in problem.sites if s.id in site_ids and s.preferred_vehicle is None]
    if problem.compactness_per_site <= 0 or not todo:
        return problem
    ids = sorted(site_ids)
    caps = None
    if problem.balance_per_h > 0:
        caps = {kind: round(BALANCE_CAP * t.shift) for kind, t in shift_targets(problem, ids).items()}
    routes = build_routes(problem, ids, shift_caps=caps)
    trucks = [problem.vehicle_index[v] for v in routes]
    if not trucks:
        return problem
    xy = _plane(problem)
    work = np.array([s.service_s + DRIVE_S for s in problem.sites], dtype=float)
    tight = np.array([s.windows[-1][1] <= NOON_S for s in problem.sites])
    weight = np.column_stack([work, np.where(tight, work, 0.0)])  # all work, and the work only a morning can do
    seeds = [[problem.site_index[x] for x in routes[problem.vehicles[t].id] if x in problem.site_index] for t in trucks]
    centre, rooms = _sized(problem, trucks, seeds, weight, xy)
    rows = [problem.site_index[s.id] for s in todo]
    able = np.array([[_able(problem, problem.vehicles[t], problem.sites[i]) for t in trucks] for i in rows])
    # a site goes to the largest trucks that can serve it: small trucks are kept for the lanes only they enter
    rank = np.array([ACCESS_RANK.get(problem.vehicles[t].access, 2) for t in trucks])
    best = np.where(able, rank[None, :], -1).max(axis=1, keepdims=True)
    able &= rank[None, :] == best
    points = xy[[problem.sites[i].node for i in rows]]
    tried = []
    for room in rooms:  # balanced rooms first; the first solution's shares when those leave the first routes loose
        owner = np.full(len(rows), -1)
        middle = centre.copy()
        for _ in range(ROUNDS):
            owner = _deal(points, weight[rows], able & (room[:, 0] > 0)[None, :], middle, room)
            for k in range(len(trucks)):
                if (owner == k).any():
                    middle[k] = points[owner == k].mean(axis=0)
        preferred = {
            problem.sites[i].id: problem.vehicles[trucks[k]].id for i, k in zip(rows, owner, strict=True) if k >= 0
        }
        sites = [
            replace(s, preferred_vehicle=preferred[s.id], preference_penalty=problem.compactness_per_site)
            if s.id in preferred
            else s
            for s in problem.sites
        ]
        day = replace(problem, sites=sites)
        tried.append((_kept(day, ids, preferred), day))
        if tried[-1][0] >= KEPT:
            break
    return max(tried, key=lambda pair: pair[0])[1]


def _kept(day: Problem, ids: list[str], preferred: dict[str, str]) -> float:
    """Least share, over the streams, of the territorial sites that the stream's first routes serve with their
    territory's truck (the search plans a stream at a time, and its first routes leave the territories altogether
    when they leave a site out)."""
    streams: dict[str, list[str]] = {}
    for site_id in ids:
        streams.setdefault(day.sites[day.site_index[site_id]].stream, []).append(site_id)
    shares = []
    for members in streams.values():
        caps = None  # as the search's model sets them (:func:`routing.planning.search.dispatch.add_balance`)
        if day.balance_per_h > 0:
            caps = {kind: round(BALANCE_CAP * t.shift) for kind, t in shift_targets(day, members).items()}
        routes = build_routes(day, members, shift_caps=caps)
        own = sum(preferred.get(x) == vehicle for vehicle, visits in routes.items() for x in visits)
        shares.append(own / max(sum(x in preferred for x in members), 1))
    return min(shares)


def _sized(problem: Problem, trucks: list[int], seeds: list[list[int]], weight: np.ndarray, xy: np.ndarray):
    """The first centre and the room of each truck's territory.

    Why equal room within a type: balanced shifts want the same work on every truck of a type.
    A route of less than :data:`STUB` of its type's mean work (the greedy start's remainder) is
    scattered, so its territory starts at the site farthest from the other centres of its type.
    """
    work = np.array([weight[members, 0].sum() for members in seeds])
    kinds = [problem.vehicles[t].type_id for t in trucks]
    centres = np.zeros((len(trucks), 2))
    balanced = np.zeros((len(trucks), 2))
    shares = np.zeros((len(trucks), 2))
    for kind in dict.fromkeys(kinds):
        ks = [k for k in range(len(trucks)) if kinds[k] == kind]
        members = [i for k in ks for i in seeds[k]]
        points = xy[[problem.sites[i].node for i in members]]
        kept = [k for k in ks if work[k] >= STUB * work[ks].mean()]
        for k in kept:
            centres[k] = xy[[problem.sites[i].node for i in seeds[k]]].mean(axis=0)
        placed = [centres[k] for k in kept] or [points.mean(axis=0)]
        for k in (k for k in ks if k not in kept):
            gap = np.linalg.norm(points[:, None, :] - np.array(placed)[None, :, :], axis=2).min(axis=1)
            centres[k] = points[int(np.argmax(gap))]
            placed.append(centres[k])
        balanced[ks] = weight[members].sum(axis=0) * (ROOM, TIGHT_ROOM) / len(ks)
        for k in kept:  # the first solution's shares: its remainder routes get no territory
            shares[k] = weight[seeds[k]].sum(axis=0) * (ROOM, TIGHT_ROOM)
    total = weight[[i for members in seeds for i in members]].sum(axis=0)
    shares *= np.maximum(1.0, total * (ROOM, TIGHT_ROOM) / np.maximum(shares.sum(axis=0), 1e-9))
    return centres, (balanced, shares)


def _plane(problem: Problem) -> np.ndarray:
    """Node coordinates in metres (equirectangular around the day's mean latitude; planar instances as given)."""
    if not problem.geographic:
        return np.column_stack([problem.lon, problem.lat]).astype(float)
    lat0 = math.radians(float(np.mean(problem.lat)))
    return np.column_stack([problem.lon * math.cos(lat0), problem.lat]) * 111_320.0


def _able(problem: Problem, vehicle, site) -> bool:
    """Whether the truck could serve the site: stream, access, grid, and a window inside its shift."""
    return Problem.serves(vehicle, site) and any(
        a <= vehicle.shift_end and b >= vehicle.shift_start for a, b in site.windows
    )


def _deal(points: np.ndarray, weight: np.ndarray, able: np.ndarray, centre: np.ndarray, room: np.ndarray):
    """Each site to the nearest able territory with room, nearest pairs first; a site with no room anywhere goes to
    its nearest able territory regardless (-1: no territory's truck can serve it)."""
    distance = np.linalg.norm(points[:, None, :] - centre[None, :, :], axis=2)
    distance = np.where(able, distance, np.inf)
    owner = np.full(len(points), -1)
    left = room.copy()
    for flat in np.argsort(distance, axis=None, kind="stable"):
        i, k = divmod(int(flat), centre.shape[0])
        if owner[i] >= 0 or not np.isfinite(distance[i, k]) or (left[k] < weight[i]).any():
            continue
        owner[i] = k
        left[k] -= weight[i]
    for i in np.flatnonzero(owner < 0):
        if np.isfinite(distance[i]).any():
            owner[i] = int(np.argmin(distance[i]))
    return owner
