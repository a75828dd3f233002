"""The independent arc-routing checker: does a solution document really serve the problem?

It reads the JSON document (:mod:`routing.arcs.solution`) and the problem's own edge list, and
trusts nothing else — no path, matrix or cost of the search. It walks every route step by step:
each step must drive an edge of the graph in a direction the edge allows, each step must start
where the previous one ended, each route must leave the depot and come back to it; each required
edge must be served exactly once, in a service direction it allows; each route's served demand
must fit the capacity; the cost is re-added from the edges driven and compared with the document's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.arcs.problem import ArcProblem


@dataclass
class ArcCheckReport:
    """Violations (empty: certified) and what the checker recomputed."""

    violations: list[str] = field(default_factory=list)
    cost: int = 0  # recomputed from the steps
    routes: int = 0
    served: int = 0  # required edges served (exactly once or not)

    @property
    def ok(self) -> bool:
        """Whether the solution is certified."""
        return not self.violations


def _edges_by_pair(problem: ArcProblem) -> dict[tuple[int, int], list[int]]:
    """Per (from, to) in the source's numbering, the edges that may be driven that way."""
    label = problem.vertex_label
    out: dict[tuple[int, int], list[int]] = {}
    for e in range(problem.n_edges):
        u, v = label(problem.tail[e]), label(problem.head[e])
        out.setdefault((u, v), []).append(e)
        if problem.two_way[e]:
            out.setdefault((v, u), []).append(e)
    return out


def check_solution(problem: ArcProblem, document: dict) -> ArcCheckReport:
    """Certify a solution document against the problem, recomputing everything from its edges.

    Parameters
    ----------
    problem : ArcProblem
        The instance (graph, required edges, depot, capacity).
    document : dict
        ``{"instance", "cost", "routes": [{"steps": [{"from", "to", "serve"}, …]}, …]}``.

    Returns
    -------
    ArcCheckReport
        Every violation named by route and step; the recomputed cost.
    """
    report = ArcCheckReport()
    by_pair = _edges_by_pair(problem)
    label = problem.vertex_label
    depot = label(problem.depot)
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
        load = _walk(problem, r, steps, by_pair, depot, served, report)
        if load > problem.capacity:
            report.violations.append(
                f"路线 {r} 超载 / route {r} overloaded: serves {load} > capacity {problem.capacity}"
            )
    for e in problem.tasks:
        times = served.get(int(e), 0)
        if times != 1:
            edge = f"({label(problem.tail[e])}, {label(problem.head[e])})"
            report.violations.append(f"必服务边 {edge} 被服务 {times} 次 / required edge {edge} served {times} times")
    report.served = sum(1 for e in problem.tasks if served.get(int(e), 0) >= 1)
    claimed = document.get("cost")
    if claimed is not None and claimed != report.cost:
        report.violations.append(f"成本不符 / cost mismatch: the document says {claimed}, the walks cost {report.cost}")
    return report


def _walk(problem, r, steps, by_pair, depot, served, report) -> int:
    """Check one route's steps (connected, on edges, allowed directions); returns the demand it serves."""
    label = problem.vertex_label
    at = depot
    load = 0
    for s, step in enumerate(steps, start=1):
        where = f"route {r} step {s}"
        try:
            u, v, serve = int(step["from"]), int(step["to"]), bool(step["serve"])
        except (KeyError, TypeError, ValueError):
            report.violations.append(f"{where}: 步骤需要 from/to/serve / a step needs from, to and serve: {step!r}")
            return load
        if u != at:
            report.violations.append(f"{where}: 路径断开 / gap in the walk: starts at {u}, the truck is at {at}")
        at = v
        edges = by_pair.get((u, v), [])
        if not edges:
            report.violations.append(f"{where}: 无此边或方向不允许 / no edge may be driven {u} → {v}")
            continue
        if not serve:
            report.cost += min(int(problem.cost[e]) for e in edges)
            continue
        tasks = [e for e in edges if problem.required[e] and _serves(problem, e, u, label)]
        if not tasks:
            report.violations.append(f"{where}: {u} → {v} 不可在此方向服务 / cannot be served {u} → {v}")
            report.cost += min(int(problem.cost[e]) for e in edges)
            continue
        e = min(tasks, key=lambda k: served.get(k, 0))  # parallel required edges: the one not yet served
        served[e] = served.get(e, 0) + 1
        load += int(problem.demand[e])
        report.cost += int(problem.serve_cost[e])
    if at != depot:
        report.violations.append(f"route {r}: 未回到车场 / ends at {at}, not at the depot {depot}")
    return load


def _serves(problem: ArcProblem, e: int, u: int, label) -> bool:
    """Whether driving edge e from vertex ``u`` (source numbering) is an allowed service direction."""
    if label(problem.tail[e]) == u and problem.serve_forward[e]:
        return True
    return label(problem.head[e]) == u and bool(problem.serve_backward[e])
