"""The independent arc-routing checker: does a solution document really serve the problem?

It reads the JSON document (:mod:`routing.arcs.solution`) and the problem's own edge list, and
trusts nothing else — no path, matrix or cost of the search. It walks every route step by step:
each step must drive an edge of the graph in a direction the edge allows, each step must start
where the previous one ended, each route must leave the depot and come back to it; a facility visit
must stand at that facility, and it empties the load; no U-turn where they are forbidden (leaving
a vertex back along the street just driven, except at a dead end); each required edge must be
served exactly once, in a service direction it allows, unless the document lists it as unserved
(and then not at all); the load between two visits must fit the capacity, and a route that must
end at a facility must come home empty; a route's cost (time, in the street product) must fit the
shift and its window, the routes the fleet; the cost is re-added from the steps and compared with
the document's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from routing.arcs.problem import ArcProblem


@dataclass
class ArcCheckReport:
    """Violations (empty: certified) and what the checker recomputed."""

    violations: list[str] = field(default_factory=list)
    cost: int = 0  # recomputed from the steps
    routes: int = 0
    served: int = 0  # required edges served (exactly once or not)
    unserved: int = 0  # required edges the document lists as not served
    visits: int = 0  # facility visits
    uturns: int = 0
    route_costs: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the solution is certified."""
        return not self.violations


@dataclass
class _Network:
    """The problem's edges as the checker looks them up (source numbering)."""

    by_pair: dict[tuple[int, int], list[int]]
    outs: dict[int, list[tuple[int, int]]]  # vertex → (road, direction) of every way out
    facilities: dict[str, tuple[int, int]]  # facility id → (index, vertex label)


def _network(problem: ArcProblem) -> _Network:
    label = problem.vertex_label
    road, way = problem.streets
    by_pair: dict[tuple[int, int], list[int]] = {}
    outs: dict[int, list[tuple[int, int]]] = {}
    for e in range(problem.n_edges):
        u, v = label(problem.tail[e]), label(problem.head[e])
        by_pair.setdefault((u, v), []).append(e)
        outs.setdefault(u, []).append((int(road[e]), int(way[e])))
        if problem.two_way[e]:
            by_pair.setdefault((v, u), []).append(e)
            outs.setdefault(v, []).append((int(road[e]), -int(way[e])))
    facilities = {problem.facility_label(f): (f, label(problem.facilities[f])) for f in range(len(problem.facilities))}
    return _Network(by_pair=by_pair, outs=outs, facilities=facilities)


def check_solution(problem: ArcProblem, document: dict) -> ArcCheckReport:
    """Certify a solution document against the problem, recomputing everything from its edges.

    Parameters
    ----------
    problem : ArcProblem
        The instance (graph, required edges, depot, capacity; facilities, shift, window, fleet, U-turns).
    document : dict
        ``{"instance", "cost", "routes": [{"steps": [{"from", "to", "serve"[, "facility"]}, …][, "start"]}, …]
        [, "unserved": [{"from", "to", "reason"}, …]]}``; a route's ``start`` is its clock in cost units
        (default: the window's start).

    Returns
    -------
    ArcCheckReport
        Every violation named by route and step; the recomputed cost.
    """
    report = ArcCheckReport()
    net = _network(problem)
    served: dict[int, int] = {}
    routes = document.get("routes")
    if not isinstance(routes, list):
        report.violations.append("文档缺少 routes 列表 / the document has no 'routes' list")
        return report
    for r, route in enumerate(routes, start=1):
        steps = route.get("steps") if isinstance(route, dict) else None
        if not isinstance(steps, list) or not steps:
            report.violations.append(f"路线 {r} 没有步骤 / route {r} has no steps")
            continue
        report.routes += 1
        before = report.cost
        _walk(problem, r, steps, net, served, report)
        _times(problem, r, route.get("start"), report.cost - before, report)
    if problem.max_routes is not None and report.routes > problem.max_routes:
        report.violations.append(
            f"路线数超过车辆数 / {report.routes} routes for a fleet of {problem.max_routes} vehicles"
        )
    _coverage(problem, document.get("unserved") or [], served, report)
    claimed = document.get("cost")
    if claimed is not None and claimed != report.cost:
        report.violations.append(f"成本不符 / cost mismatch: the document says {claimed}, the walks cost {report.cost}")
    return report


def _coverage(problem: ArcProblem, unserved: list, served: dict[int, int], report: ArcCheckReport) -> None:
    """Every required edge served once, or listed as unserved and not served at all."""
    label = problem.vertex_label
    excused = Counter((int(item["from"]), int(item["to"])) for item in unserved if isinstance(item, dict))
    report.unserved = sum(excused.values())
    for e in problem.tasks:
        times = served.get(int(e), 0)
        pair = (label(problem.tail[e]), label(problem.head[e]))
        if times == 0 and excused[pair] > 0:
            excused[pair] -= 1
            continue
        if times != 1:
            edge = f"({pair[0]}, {pair[1]})"
            report.violations.append(f"必服务边 {edge} 被服务 {times} 次 / required edge {edge} served {times} times")
    for pair, left in excused.items():
        if left > 0:
            report.violations.append(
                f"列为未服务的边并非如此 / edge {pair} is listed as unserved {left} more time(s) than it is unserved"
            )
    report.served = sum(1 for e in problem.tasks if served.get(int(e), 0) >= 1)


def _times(problem: ArcProblem, r: int, start, cost: int, report: ArcCheckReport) -> None:
    """The route's cost within the shift, and its clock within the window."""
    report.route_costs.append(cost)
    begin = problem.window_start if start is None else int(start)
    if problem.max_route_cost is not None and cost > problem.max_route_cost:
        report.violations.append(
            f"路线 {r} 超过班次 / route {r} lasts {cost} > the shift's {problem.max_route_cost} (cost units)"
        )
    if begin < problem.window_start or (problem.window_end is not None and begin + cost > problem.window_end):
        report.violations.append(
            f"路线 {r} 超出时间窗 / route {r} runs {begin}..{begin + cost} outside the window "
            f"{problem.window_start}..{problem.window_end}"
        )


def _walk(problem, r, steps, net: _Network, served, report) -> None:
    """Check one route's steps: connected, on edges, allowed directions, U-turns, visits and loads."""
    label = problem.vertex_label
    road, way = problem.streets
    depot = label(problem.depot)
    at, load, previous, loads = depot, 0, None, 0
    for s, step in enumerate(steps, start=1):
        where = f"route {r} step {s}"
        try:
            u, v, serve = int(step["from"]), int(step["to"]), bool(step["serve"])
        except (KeyError, TypeError, ValueError):
            report.violations.append(f"{where}: 步骤需要 from/to/serve / a step needs from, to and serve: {step!r}")
            return
        if u != at:
            report.violations.append(f"{where}: 路径断开 / gap in the walk: starts at {u}, the truck is at {at}")
        at = v
        if "facility" in step:
            name = str(step["facility"])
            f, vertex = net.facilities.get(name, (-1, None))
            if vertex != u or u != v:
                report.violations.append(f"{where}: 不在设施 {name} / the truck at {u} is not at facility {name}")
            else:
                report.cost += int(problem.facility_cost[f])
            loads += 1
            _load(problem, r, loads, load, report)
            load, previous = 0, None
            report.visits += 1
            continue
        edges = net.by_pair.get((u, v), [])
        if not edges:
            report.violations.append(f"{where}: 无此边或方向不允许 / no edge may be driven {u} → {v}")
            previous = None
            continue
        e = edges[0]
        if serve:
            tasks = [k for k in edges if problem.required[k] and _serves(problem, k, u, label)]
            if not tasks:
                report.violations.append(f"{where}: {u} → {v} 不可在此方向服务 / cannot be served {u} → {v}")
                report.cost += min(int(problem.cost[k]) for k in edges)
            else:
                e = min(tasks, key=lambda k: served.get(k, 0))  # parallel required edges: the one not yet served
                served[e] = served.get(e, 0) + 1
                load += int(problem.demand[e])
                report.cost += int(problem.serve_cost[e])
        else:
            report.cost += min(int(problem.cost[k]) for k in edges)
        direction = int(way[e]) * (1 if label(problem.tail[e]) == u else -1)
        here = (int(road[e]), direction)
        if previous is not None and problem.uturn != "allowed" and previous == (here[0], -here[1]):
            report.uturns += 1
            report.cost += problem.uturn_cost
            dead_end = all(out == (here[0], here[1]) for out in net.outs.get(u, []))
            if problem.uturn == "forbidden" and not dead_end:
                report.violations.append(f"{where}: 禁止掉头 / a forbidden U-turn at {u}")
        previous = here
    if at != depot:
        report.violations.append(f"route {r}: 未回到车场 / ends at {at}, not at the depot {depot}")
    if problem.end_at_facility and load > 0:
        report.violations.append(f"路线 {r} 未卸空返回 / route {r} returns to the depot with load {load} on board")
    _load(problem, r, loads + 1, load, report)


def _load(problem: ArcProblem, r: int, k: int, load: int, report: ArcCheckReport) -> None:
    """The load carried into a facility (or home) within the capacity."""
    if load <= problem.capacity:
        return
    if len(problem.facilities):
        report.violations.append(
            f"路线 {r} 第 {k} 车超载 / route {r} load {k} overloaded: serves {load} > capacity {problem.capacity}"
        )
    else:
        report.violations.append(f"路线 {r} 超载 / route {r} overloaded: serves {load} > capacity {problem.capacity}")


def _serves(problem: ArcProblem, e: int, u: int, label) -> bool:
    """Whether driving edge e from vertex ``u`` (source numbering) is an allowed service direction."""
    if label(problem.tail[e]) == u and problem.serve_forward[e]:
        return True
    return label(problem.head[e]) == u and bool(problem.serve_backward[e])
