"""What a search returns: one search's routes and cost, and the statistics of a whole solve.

:class:`SearchResult` travels from the worker processes back to the driver; the driver
sums the results of all pieces into one :class:`SearchStatistics`, which the plan carries
as its ``search`` section (``plan.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

CostPoint = tuple[float, float]  # (seconds since the search began, best cost so far in currency)


@dataclass
class SearchResult:
    """One search's routes (site/facility ids per truck), start times, cost and history.

    Attributes
    ----------
    routes : dict
        Visit ids per truck in use, unloads included.
    start_times : dict
        Route start (seconds of the day) per truck, where the model fixed one worth reporting.
    cost : float
        The model's objective in currency units, penalties for dropped sites included.
    dropped : list of str
        Sites the search left out.
    history : list of (float, float)
        Every improvement: seconds since the search began, cost.
    strategy : str
        The strategy name that found it.
    status : str
        OR-Tools' status after the search.
    """

    routes: dict[str, list[str]]
    start_times: dict[str, int]
    cost: float
    dropped: list[str]
    history: list[CostPoint] = field(default_factory=list)
    strategy: str = ""
    status: str = ""


def pick_best(results: list[SearchResult]) -> SearchResult:
    """The result dropping fewest sites, then the cheapest; on a tie the first in the given order.

    Parameters
    ----------
    results : list of SearchResult
        Candidates, in the order that breaks ties (strategy order, so plans stay stable).

    Returns
    -------
    SearchResult
        The best candidate.
    """
    return min(results, key=lambda r: (len(r.dropped), r.cost))


@dataclass(frozen=True)
class SearchStatistics:
    """How a plan was found: time, the winning search per piece, and each piece's cost history.

    Attributes
    ----------
    time_limit_s : float
        The time limit the solve was given.
    wall_s : float
        Seconds the solve took.
    strategies : tuple of str
        Per piece (or zone), the strategy of the search whose routes were kept.
    cost_history : tuple
        Per piece, its kept search's improvements as (seconds, cost).
    """

    time_limit_s: float
    wall_s: float
    strategies: tuple[str, ...]
    cost_history: tuple[tuple[CostPoint, ...], ...]

    @property
    def pieces(self) -> int:
        """How many pieces (independent parts or zones) the day was solved in."""
        return len(self.strategies)

    def as_dict(self) -> dict:
        """The ``search`` section of ``plan.json``.

        Returns
        -------
        dict
            Keys ``time_limit_s``, ``wall_s``, ``pieces``, ``strategies``, ``cost_history``.
        """
        return {
            "time_limit_s": self.time_limit_s,
            "wall_s": self.wall_s,
            "pieces": self.pieces,
            "strategies": list(self.strategies),
            "cost_history": [list(history) for history in self.cost_history],
        }
