"""Small hand-made arc-routing problems: every number in a test is checkable by hand."""

from __future__ import annotations

import numpy as np

from routing.arcs.problem import ArcProblem


def problem(
    edges: list[tuple[int, int, int, int]],
    *,
    capacity: int,
    depot: int = 1,
    one_way: tuple[int, ...] = (),
    name: str = "hand",
) -> ArcProblem:
    """Edges (u, v, cost, demand) on vertices numbered from 1; demand > 0 makes an edge required.

    Edges listed in ``one_way`` (by position) may be driven and served u → v only.
    """
    n = max(max(u, v) for u, v, _, _ in edges)
    table = np.array(edges, dtype=np.int64)
    two_way = np.array([k not in one_way for k in range(len(edges))], dtype=np.bool_)
    return ArcProblem(
        name=name,
        vertex_ids=np.arange(1, n + 1, dtype=np.int64),
        tail=table[:, 0] - 1,
        head=table[:, 1] - 1,
        cost=table[:, 2].copy(),
        serve_cost=table[:, 2].copy(),
        demand=table[:, 3].copy(),
        required=table[:, 3] > 0,
        two_way=two_way,
        serve_forward=np.ones(len(edges), dtype=np.bool_),
        serve_backward=two_way.copy(),
        depot=depot - 1,
        capacity=capacity,
    )


def square() -> ArcProblem:
    """A 4-cycle 1-2-3-4-1, every side cost 1, demand 1, capacity 2: two routes of cost 4 are optimal."""
    return problem([(1, 2, 1, 1), (2, 3, 1, 1), (3, 4, 1, 1), (4, 1, 1, 1)], capacity=2)


def walk(*vertices_and_serves: tuple[int, int, bool]) -> dict:
    """One route's steps from (from, to, serve) triples."""
    return {"steps": [{"from": u, "to": v, "serve": s} for u, v, s in vertices_and_serves]}
