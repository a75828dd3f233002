"""Solutions: routes of served tasks expanded into walks on the graph, and their JSON document.

The search returns, per route, the tasks in order and the direction of each; a truck drives a
walk, so every gap between two services (and from and to the depot) is expanded here into the
edges of a shortest deadhead path. The walk is what the document holds and what the checker
(:mod:`routing.arcs.check`) certifies — never the search's own cost.

Document (issue 20): ``{"instance": NAME, "cost": C, "routes": [{"steps": [{"from": u, "to": v,
"serve": true|false}, …]}, …]}``, vertices numbered as in the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from routing.arcs.paths import DeadheadPaths
from routing.arcs.problem import ArcProblem
from routing.errors import InputFileError


@dataclass(frozen=True)
class Step:
    """One edge driven: internal vertices, the edge, and whether this traversal serves it."""

    tail: int
    head: int
    edge: int
    serve: bool


@dataclass(frozen=True)
class ArcSolution:
    """Walks from the depot back to it, one per route, and their cost as the search counted it."""

    problem: ArcProblem
    walks: list[list[Step]]
    search_cost: int
    iterations: int = 0

    @property
    def cost(self) -> int:
        """Cost of the walks: deadheads at the edge cost, services at the service cost."""
        p = self.problem
        return sum(int(p.serve_cost[s.edge] if s.serve else p.cost[s.edge]) for walk in self.walks for s in walk)

    def document(self) -> dict:
        """The issue's JSON document (vertices numbered as in the source)."""
        label = self.problem.vertex_label
        return {
            "instance": self.problem.name,
            "cost": self.cost,
            "routes": [
                {"steps": [{"from": label(s.tail), "to": label(s.head), "serve": s.serve} for s in walk]}
                for walk in self.walks
            ],
        }

    def write(self, path: Path) -> Path:
        """The document as ``path`` (its folder created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.document(), ensure_ascii=False) + "\n", encoding="utf-8")
        return path


def expand_walks(problem: ArcProblem, paths: DeadheadPaths, routes: list[list[tuple[int, int]]]) -> list[list[Step]]:
    """Routes of (task, direction) pairs as walks: services joined by shortest deadhead paths.

    Parameters
    ----------
    problem : ArcProblem
        The graph and its tasks.
    paths : DeadheadPaths
        Shortest paths between vertices.
    routes : list of list of (int, int)
        Per route the tasks in order, each with 0 (tail → head) or 1 (head → tail).

    Returns
    -------
    list of list of Step
        One walk per route, from the depot back to it.
    """
    walks = []
    for route in routes:
        walk: list[Step] = []
        at = problem.depot
        for task, direction in route:
            edge = int(problem.tasks[task])
            start, end = int(problem.tail[edge]), int(problem.head[edge])
            if direction:
                start, end = end, start
            walk.extend(_deadhead(paths, at, start))
            walk.append(Step(tail=start, head=end, edge=edge, serve=True))
            at = end
        walk.extend(_deadhead(paths, at, problem.depot))
        walks.append(walk)
    return walks


def _deadhead(paths: DeadheadPaths, start: int, end: int) -> list[Step]:
    vertices = paths.vertices(start, end)
    return [Step(tail=a, head=b, edge=paths.edge_between[(a, b)], serve=False) for a, b in zip(vertices, vertices[1:])]


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
