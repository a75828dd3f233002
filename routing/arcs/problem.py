"""The arc-routing problem: a road graph whose required edges (tasks) must each be served once.

Why a model of its own: street sweeping and washing serve kerbs, not points, so the unit of work is
an edge driven in a direction, and what a truck pays between two kerbs is the shortest deadhead
path on the graph. The same model carries the published capacitated arc-routing (CARP) instances
(:mod:`routing.bench.carp`) and, later, the street product's kerbs.

Vertices are numbered 0..n-1 inside; ``vertex_ids`` keeps their numbers in the source (a CARP file
counts from 1). Every edge may be driven (deadheaded) forward, and backward when ``two_way``; a
required edge is a task whose service directions are ``serve_forward`` / ``serve_backward`` (a
two-way street's single kerb may be served either way; the product's kerbs, one per side, are
one-direction tasks).

The street product adds, all optional so that a published CARP instance is the special case:
intermediate facilities (CARPIF: ``facilities`` are vertices where the load is reset — a sweeper's
hopper dumped at a transfer station, a washer's tank refilled at a water point — each visit
costing ``facility_cost``; ``end_at_facility`` when a route must empty before it returns), a bound
on a route's cost (``max_route_cost``: in the street product costs are seconds, so this is the
shift), a route window (``window_start``/``window_end``), a fleet size (``max_routes``), and
U-turns. A U-turn is leaving a vertex back along the reverse of the edge just driven: the edges
of one street share a ``road`` number and ``road_dir`` says which way along it each edge runs
(the default: every edge its own road). Forbidden (``uturn="forbidden"``) except at a dead end,
where it is the only way on; penalised (``uturn="penalty"``) by ``uturn_cost`` each. A visit to the
depot or a facility turns the truck in a yard: no U-turn across it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    facilities: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # int64 [F]: vertices
    facility_cost: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # int64 [F]: per visit
    facility_ids: tuple[str, ...] = ()  # labels of the facilities in documents (default F1, F2, …)
    end_at_facility: bool = False  # a route must visit a facility after its last service (hopper emptied)
    max_route_cost: int | None = None  # bound on one route's cost, facility visits included (None: free)
    window_start: int = 0  # earliest start of a route, in cost units of the plan's clock
    window_end: int | None = None  # latest return of a route (None: open)
    max_routes: int | None = None  # fleet size the routes must fit (None: as many routes as needed)
    uturn: str = "allowed"  # allowed | penalty | forbidden
    uturn_cost: int = 0  # added per U-turn when uturn == "penalty"
    road: np.ndarray | None = None  # int64 [E]: street of each edge (default: each edge its own)
    road_dir: np.ndarray | None = None  # int64 [E]: +1 / -1, which way along its street tail → head runs

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

    def facility_label(self, f: int) -> str:
        """The document's name of facility ``f``."""
        return self.facility_ids[f] if f < len(self.facility_ids) else f"F{f + 1}"

    @cached_property
    def streets(self) -> tuple[np.ndarray, np.ndarray]:
        """(road, road_dir) per edge, the defaults filled in: what a U-turn is judged by."""
        road = np.arange(self.n_edges, dtype=np.int64) if self.road is None else np.asarray(self.road, dtype=np.int64)
        way = np.ones(self.n_edges, dtype=np.int64) if self.road_dir is None else np.asarray(self.road_dir, np.int64)
        return road, way

    @property
    def route_limit(self) -> int | None:
        """The tightest bound on one route's cost: the shift, or the window's length."""
        bounds = [
            b
            for b in (self.max_route_cost, None if self.window_end is None else self.window_end - self.window_start)
            if b is not None
        ]
        return min(bounds) if bounds else None


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
    if len(p.facilities) != len(p.facility_cost) or (
        len(p.facilities) and not 0 <= p.facilities.min() <= p.facilities.max() < n
    ):
        out.append(f"facilities must be vertices 0..{n - 1}, one cost each")
    if p.end_at_facility and not len(p.facilities):
        out.append("end_at_facility needs a facility")
    if p.uturn not in ("allowed", "penalty", "forbidden"):
        out.append(f"uturn must be allowed, penalty or forbidden, not {p.uturn!r}")
    for name in ("road", "road_dir"):
        if getattr(p, name) is not None and len(getattr(p, name)) != e:
            out.append(f"{name} has {len(getattr(p, name))} entries for {e} edges")
    return out
