"""Why a site goes unserved: the sites no truck could serve even alone, with a reason a dispatcher reads.

They are left out before searching (a search cannot place them anyway) and listed in the
plan's ``unserved`` with their reason; a site the search drops for lack of room gets ``fleet``, or
``facility_full`` naming the facilities where every one that takes its stream has its daily capacity used up
(:func:`room_reason`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from routing.planning.problem import Problem, SiteSpec, VehicleSpec

REASONS = {
    "no_truck": "没有可服务的车辆（品类或道路通行限制）/ no compatible truck (stream or street access)",
    "capacity": "需求超过所有可用车辆的容量 / demand exceeds every compatible truck's capacity",
    "window": "班次内无法在时间窗内到达 / time window cannot be reached within any compatible truck's shift",
    "facility": "收集后无法按时到达开放的处置设施 / no accepting facility open and reachable after collection",
    "fleet": "车队运力或班次时长不足 / the fleet has no room left for it (capacity or shift time)",
    "hold": "无法在在车时限内卸车 / cannot be unloaded within its stream's hold time",
    "facility_full": "处置设施日处理能力已用完（{facilities}）/ the daily capacity of {facilities} is used up",
    "grid": "所属网格（指定车辆）无法服务，其他车辆可以 / the trucks of its grid (its assigned trucks) cannot serve it; "
    "others could",
}


def unservable_sites(problem: Problem) -> dict[str, str]:
    """Sites no truck can serve even alone, with the reason code.

    Parameters
    ----------
    problem : Problem
        The day to plan.

    Returns
    -------
    dict
        Site id → a key of :data:`REASONS`, in site order.
    """
    out = {}
    for site in problem.sites:
        reason = _site_reason(problem, site)
        if reason is not None:
            out[site.id] = reason
    return out


def _site_reason(problem: Problem, site: SiteSpec) -> str | None:
    """Why no truck could ever serve this site alone (None when one can); ``grid`` when only its allowed
    trucks are the obstacle."""
    reason = _reason_with(problem, site, [v for v in problem.vehicles if Problem.serves(v, site)])
    if reason is None or site.vehicles is None:
        return reason
    free = replace(site, vehicles=None)
    anyone = [v for v in problem.vehicles if Problem.serves(v, free)]
    return "grid" if _reason_with(problem, free, anyone) is None else reason


def _reason_with(problem: Problem, site: SiteSpec, trucks: list[VehicleSpec]) -> str | None:
    """Why none of ``trucks`` could serve this site alone (None when one can)."""
    if not trucks:
        return "no_truck"
    trucks = [
        v for v in trucks if site.demand_kg <= v.capacity_kg and (v.capacity_l is None or site.demand_l <= v.capacity_l)
    ]
    if not trucks:
        return "capacity"
    window_ok = hold_only = False
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
            hold = problem.hold_limit(v)
            finish = _can_finish(
                problem, v, site.node, done, leave_depot, unload_by=None if hold is None else begin + hold
            )
            if finish == "ok":
                return None
            hold_only |= finish == "hold"
    return "hold" if hold_only else "facility" if window_ok else "window"


def _can_finish(
    problem: Problem, v: VehicleSpec, node: int, time_s: int, route_start: int, *, unload_by: int | None
) -> str:
    """Whether truck ``v``, done at ``node`` at ``time_s``, can still unload if it must (starting by ``unload_by``,
    its hold) and get home in its shift: ``ok``, ``hold`` (only later than the hold allows) or ``no``."""
    depot = problem.depots[v.depot].node
    limit = v.shift_end if v.max_shift_s is None else min(v.shift_end, route_start + v.max_shift_s)
    if not v.ends_empty:
        back = time_s + problem.duration_s[node, depot]
        return "no" if back > limit else "ok" if unload_by is None or back <= unload_by else "hold"
    late = False
    for f in problem.facilities:
        if not Problem.unloads_at(v, f):
            continue
        arrive = time_s + problem.duration_s[node, f.node]
        for open_, close in f.windows:
            start = max(arrive, open_)
            if arrive <= close and start + f.unload_s + problem.duration_s[f.node, depot] <= limit:
                if unload_by is None or start <= unload_by:
                    return "ok"
                late = True
    return "hold" if late else "no"


def room_reason(problem: Problem, site: SiteSpec, intake: Mapping[str, float]) -> str:
    """Why a site the search dropped has no room: the facilities of its stream, when every one of them has a daily
    capacity and less of it left than the site's load (``intake``: kg each receives in the plan), else the fleet.

    Parameters
    ----------
    problem : Problem
        The day.
    site : SiteSpec
        A site the search left out.
    intake : mapping
        Kg per facility id in the plan (:func:`routing.planning.search.pieces.intake_kg`).

    Returns
    -------
    str
        A reason from :data:`REASONS`, in Chinese and English.
    """
    takers = [f for f in problem.facilities if site.stream in f.streams]
    if takers and all(
        f.capacity_kg is not None and f.capacity_kg - intake.get(f.id, 0.0) < site.demand_kg for f in takers
    ):
        return REASONS["facility_full"].format(facilities=", ".join(f.id for f in takers))
    return REASONS["fleet"]
