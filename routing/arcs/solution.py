"""Solutions: routes of served tasks expanded into walks on the graph, and their JSON document.

The search returns, per route, the tasks in order and the direction of each; a truck drives a
walk, so every gap between two services (and from and to the depot) is expanded here into the
edges of a shortest deadhead path. The walk is what the document holds and what the checker
(:mod:`routing.arcs.check`) certifies — never the search's own cost.

Document (issue 20): ``{"instance": NAME, "cost": C, "routes": [{"steps": [{"from": u, "to": v,
"serve": true|false}, …]}, …]}``, vertices numbered as in the source. A visit to an intermediate
facility (dump site, water point) is a step that stays put and names it:
``{"from": u, "to": u, "serve": false, "facility": ID}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from routing.arcs.paths import TurnPaths, VertexPaths
from routing.arcs.problem import ArcProblem
from routing.errors import InputFileError


@dataclass(frozen=True)
class Step:
    """One edge driven (internal vertices, the edge, whether it serves it), or a facility visit (edge -1)."""

    tail: int
    head: int
    edge: int
    serve: bool
    facility: int = -1


@dataclass(frozen=True)
class ArcSolution:
    """Walks from the depot back to it, one per route, and their cost as the search counted it."""

    problem: ArcProblem
    walks: list[list[Step]]
    search_cost: int
    iterations: int = 0
    unserved: dict[int, str] = field(default_factory=dict)  # task → why no route serves it

    @property
    def cost(self) -> int:
        """Cost of the walks: deadheads at the edge cost, services at the service cost, visits, U-turns."""
        return sum(route_cost(self.problem, walk) for walk in self.walks)

    def document(self) -> dict:
        """The issue's JSON document (vertices numbered as in the source); unserved tasks listed with reasons."""
        return {
            "instance": self.problem.name,
            "cost": self.cost,
            "routes": [{"steps": [_step_document(self.problem, s) for s in walk]} for walk in self.walks],
            **({"unserved": self.unserved_document()} if self.unserved else {}),
        }

    def unserved_document(self) -> list[dict]:
        """The tasks no route serves, as ``{"from", "to", "reason"}`` (source numbering)."""
        p, label = self.problem, self.problem.vertex_label
        return [
            {"from": label(p.tail[p.tasks[t]]), "to": label(p.head[p.tasks[t]]), "reason": why}
            for t, why in sorted(self.unserved.items())
        ]

    def write(self, path: Path) -> Path:
        """The document as ``path`` (its folder created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.document(), ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def _step_document(problem: ArcProblem, step: Step) -> dict:
    out = {"from": problem.vertex_label(step.tail), "to": problem.vertex_label(step.head), "serve": step.serve}
    if step.facility >= 0:
        out["facility"] = problem.facility_label(step.facility)
    return out


def step_costs(problem: ArcProblem, walk: list[Step]) -> list[int]:
    """Each step's cost as the search counts it: the edge or service, a facility visit, plus a penalised U-turn."""
    road, way = problem.streets
    out, previous = [], None
    for s in walk:
        if s.facility >= 0:
            out.append(int(problem.facility_cost[s.facility]))
            previous = None
            continue
        cost = int(problem.serve_cost[s.edge] if s.serve else problem.cost[s.edge])
        direction = way[s.edge] * (1 if s.tail == problem.tail[s.edge] else -1)
        if previous is not None and problem.uturn != "allowed" and previous == (road[s.edge], -direction):
            cost += problem.uturn_cost
        previous = (road[s.edge], direction)
        out.append(cost)
    return out


def route_cost(problem: ArcProblem, walk: list[Step]) -> int:
    """A walk's cost: the sum of :func:`step_costs`."""
    return sum(step_costs(problem, walk))


def expand_walks(
    problem: ArcProblem, paths: VertexPaths | TurnPaths, routes: list[list[tuple[int, int, int]]]
) -> list[list[Step]]:
    """Routes of (task, direction, facility after) as walks: services joined by shortest deadhead legs.

    Parameters
    ----------
    problem : ArcProblem
        The graph and its tasks.
    paths : VertexPaths or TurnPaths
        The legs between endpoints (arcs, depot, facilities), as the search's costs were made.
    routes : list of list of (int, int, int)
        Per route the tasks in order, each with 0 (tail → head) or 1 (head → tail) and the facility
        visited after it (-1: none).

    Returns
    -------
    list of list of Step
        One walk per route, from the depot back to it.
    """
    depot = 2 * len(problem.tasks)
    plans = []  # per route: the pieces in order, as ("leg", index into pairs) / ("serve", arc) / ("visit", f)
    pairs: list[tuple[int, int]] = []
    for route in routes:
        pieces: list[tuple[str, int]] = []
        at = depot
        for task, direction, facility in route:
            arc = 2 * task + direction
            pieces += [("leg", len(pairs)), ("serve", arc)]
            pairs.append((at, arc))
            at = arc
            if facility >= 0:
                pieces += [("leg", len(pairs)), ("visit", facility)]
                pairs.append((at, depot + 1 + facility))
                at = depot + 1 + facility
        pieces.append(("leg", len(pairs)))
        pairs.append((at, depot))
        plans.append(pieces)
    legs = paths.legs(pairs)
    walks = []
    for pieces in plans:
        walk: list[Step] = []
        for kind, value in pieces:
            if kind == "leg":
                walk += [Step(tail=a, head=b, edge=e, serve=False) for a, b, e in legs[value]]
            elif kind == "visit":
                at = int(problem.facilities[value])
                walk.append(Step(tail=at, head=at, edge=-1, serve=False, facility=value))
            else:
                edge = int(problem.tasks[value // 2])
                start, end = int(problem.tail[edge]), int(problem.head[edge])
                if value % 2:
                    start, end = end, start
                walk.append(Step(tail=start, head=end, edge=edge, serve=True))
        walks.append(walk)
    return walks


def read_solution(path: Path) -> dict:
    """A solution document as written by :meth:`ArcSolution.write` (checked by :mod:`routing.arcs.check`).

    Raises
    ------
    InputFileError
        If the file is unreadable or not a JSON object.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"{path}: 无法读取 / cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}:{exc.lineno}: 不是有效的 JSON / not valid JSON: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise InputFileError(f"{path}: 解应为 JSON 对象 / a solution must be a JSON object")
    return document
