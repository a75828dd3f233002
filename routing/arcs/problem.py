"""The arc-routing problem: a road graph whose required edges (tasks) must each be served once.

Why a model of its own: street sweeping and washing serve kerbs, not points, so the unit of work is
an edge driven in a direction, and what a truck pays between two kerbs is the shortest deadhead
path on the graph. The same model carries the published capacitated arc-routing (CARP) instances
(:mod:`routing.bench.carp`) and, later, the street product's kerbs.

Vertices are numbered 0..n-1 inside; ``vertex_ids`` keeps their numbers in the source (a CARP file
counts from 1). Every edge may be driven (deadheaded) forward, and backward when ``two_way``; a
required edge is a task whose service directions are ``serve_forward`` / ``serve_backward`` (a
two-way street's single kerb may be served either way; the product's kerbs, one per side, will be
one-direction tasks).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from routing.errors import InvalidInputError


@dataclass(frozen=True)
class ArcProblem:
    """A capacitated arc-routing problem in plain arrays (one entry per edge)."""

    name: str
    vertex_ids: np.ndarray  # int64 [n]: the source's number of each vertex
    tail: np.ndarray  # int64 [E]: from-vertex (internal index)
    head: np.ndarray  # int64 [E]: to-vertex (internal index)
    cost: np.ndarray  # int64 [E]: cost of driving the edge without serving it (deadhead)
    serve_cost: np.ndarray  # int64 [E]: cost of driving it while serving (required edges)
    demand: np.ndarray  # int64 [E]: load a service adds (0 for edges not required)
    required: np.ndarray  # bool [E]
    two_way: np.ndarray  # bool [E]: may be driven head → tail too
    serve_forward: np.ndarray  # bool [E]: a service may run tail → head
    serve_backward: np.ndarray  # bool [E]: a service may run head → tail
    depot: int  # internal vertex where every route starts and ends
    capacity: int  # load one route may carry
    vehicles: int | None = None  # fleet size as published (informative: benchmarks leave the fleet free)

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise InvalidInputError(
                f"{self.name}: 弧路径问题无效 / invalid arc-routing problem: " + "; ".join(problems)
            )

    @property
    def n_vertices(self) -> int:
        """Vertices of the graph."""
        return len(self.vertex_ids)

    @property
    def n_edges(self) -> int:
        """Edges of the graph, required or not."""
        return len(self.tail)

    @cached_property
    def tasks(self) -> np.ndarray:
        """The required edges, in edge order: task t is edge ``tasks[t]``."""
        return np.flatnonzero(self.required)

    @property
    def total_demand(self) -> int:
        """Load of all tasks together."""
        return int(self.demand[self.required].sum())

    def vertex_label(self, vertex: int) -> int:
        """The source's number of an internal vertex."""
        return int(self.vertex_ids[vertex])


_EDGE_FIELDS = ("head", "cost", "serve_cost", "demand", "required", "two_way", "serve_forward", "serve_backward")


def _problems(p: ArcProblem) -> list[str]:
    """What is wrong with a problem's arrays, one line each (empty: nothing)."""
    out: list[str] = []
    n, e = len(p.vertex_ids), len(p.tail)
    for field_name in _EDGE_FIELDS:
        if len(getattr(p, field_name)) != e:
            out.append(f"{field_name} has {len(getattr(p, field_name))} entries for {e} edges")
    if out:
        return out
    if e and (p.tail.min() < 0 or p.head.min() < 0 or max(p.tail.max(), p.head.max()) >= n):
        out.append(f"an edge names a vertex outside 0..{n - 1}")
    if not 0 <= p.depot < n:
        out.append(f"depot {p.depot} is not a vertex")
    if p.capacity <= 0:
        out.append(f"capacity {p.capacity} must be positive")
    if e and (p.cost.min() < 0 or p.serve_cost.min() < 0):
        out.append("edge costs must not be negative")
    heavy = np.flatnonzero(p.required & (p.demand > p.capacity))
    if len(heavy):
        out.append(f"{len(heavy)} required edge(s) demand more than the capacity {p.capacity} (first: edge {heavy[0]})")
    if (p.demand < 0).any():
        out.append("demands must not be negative")
    no_way = np.flatnonzero(p.required & ~p.serve_forward & ~p.serve_backward)
    if len(no_way):
        out.append(f"{len(no_way)} required edge(s) allow no service direction (first: edge {no_way[0]})")
    wrong_way = np.flatnonzero(p.serve_backward & ~p.two_way)
    if len(wrong_way):
        out.append(f"{len(wrong_way)} one-way edge(s) are served against their direction (first: edge {wrong_way[0]})")
    if not p.required.any():
        out.append("no required edge")
    return out
