"""How to search: the settings, the strategy names, and the progress reports every search part shares.

A search strategy is ``"FIRST+IMPROVEMENT"``. FIRST: a first solution built by
:mod:`routing.planning.search.construct` (a name in :data:`CONSTRUCTIONS`, mapped to its urgency
weight) or an OR-Tools ``FirstSolutionStrategy`` value, e.g. ``"PARALLEL_CHEAPEST_INSERTION"``.
IMPROVEMENT: ``"ruin"`` (ruin and recreate: :mod:`routing.planning.search.sisr` where the day
allows, else :mod:`routing.planning.search.ruin`'s loop over greedy descents; the default when
omitted) or ``"gls"`` (OR-Tools' guided local search).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from routing.planning.problem import DAY_S, Problem
from routing.planning.search.pieces import independent_pieces

CONSTRUCTIONS = {"CONSTRUCT_URGENT": 0.2, "CONSTRUCT_NEAREST": 0.0}
IMPROVEMENTS = ("ruin", "gls")


@dataclass(frozen=True)
class RuinParams:
    """SISR's ruin sizes and the annealing schedule (temperature as a share of route cost)."""

    average_removed: int = 10  # sites removed per ruin, on average (SISR's c̄)
    max_string: int = 10  # longest string cut out of one route (SISR's L^max)
    start_temperature: float = 0.005  # OR-Tools loop: × the current routes' arc cost; cools linearly to 0
    compiled_start_temperature: float = 3.0  # sisr: × cost per site, cooling to 1/100 (1, 3, 10 level; 0.3 worse)
    route_removal: float = 0.1  # share of ruins that empty a whole route instead (fewer trucks)
    # where no truck costs anything to use (distance alone is paid) fewer trucks is no aim: fewer whole routes
    # emptied, and a ruined route now and then split in two (a spare truck takes its tail, or its later trips)
    free_route_removal: float = 0.02
    free_route_split: float = 0.05
    split_rate: float = 0.5  # share of strings that keep a run of their sites on the route (SISR's split string)
    # sisr's recreate tries a site next to this many of its nearest sites (granular; all when a day has fewer)
    insert_neighbours: int = 40


@dataclass(frozen=True)
class SolveParams:
    """How hard and how to search. Every field is a setting with a documented default.

    What "same plan" guarantees: every step is deterministic (no random seeds; ties go to
    the first strategy, the lowest index), but a time limit stops the search after however
    much work the machine managed, so time-limited runs on a busy machine may differ. With
    ``max_solutions`` the search stops after a fixed amount of work instead: the same input
    and settings then give the same plan, provided ``time_limit_s`` is not reached first: the
    ruin-and-recreate temperature then cools with the ruins made, not with the clock
    (:func:`routing.planning.search.ruin.cooled_share`). One exception: re-packing a tightly
    packed day (:mod:`routing.planning.search.repack`) gives CP-SAT a time limit.
    """

    time_limit_s: float = 30.0
    workers: int = 2  # processes; 2 uses both cores of the reference machine
    # one per worker, pieces use the first; None: per problem class (default_strategies)
    strategies: tuple[str, ...] | None = None
    balance_coefficient: float = 0.0  # currency per hour between the longest and shortest shift
    unserved_penalty: float = 100_000.0  # currency per unserved site (raised if a route could cost more)
    # stop after this many improving solutions (and ruins): same input + settings -> same plan
    max_solutions: int | None = None
    decompose_above: int = 1200  # sites per independent piece above which it is cut into zones
    zone_target_sites: int = 600  # aimed zone size when decomposing
    ruin: RuinParams = field(default_factory=RuinParams)
    # visit ids (sites, unloads) per truck that every search starts from, e.g. a re-plan's routes still ahead
    # (routing.planning.replan): each piece and zone takes its trucks' routes; sites they leave out are routed
    # on the idle trucks, then inserted by the search (routing.planning.search.decompose.warm_start)
    initial_routes: Mapping[str, Sequence[str]] | None = None

    def with_time_limit(self, seconds: float) -> SolveParams:
        """The same settings with another time limit (benchmarks give each instance its own).

        Parameters
        ----------
        seconds : float
            The new ``time_limit_s``.

        Returns
        -------
        SolveParams
            A copy.
        """
        return replace(self, time_limit_s=seconds)


@dataclass(frozen=True)
class Progress:
    """A search report for progress bars and the API: best plan cost so far."""

    elapsed_s: float
    best_cost: float  # currency units, incl. penalties for unserved sites
    worker: str


ProgressCallback = Callable[[Progress], None]


def strategy_parts(strategy: str) -> tuple[str, str]:
    """Split a strategy name into its first-solution and improvement parts.

    Parameters
    ----------
    strategy : str
        ``"FIRST+IMPROVEMENT"``; the improvement may be left out (``"ruin"``).

    Returns
    -------
    tuple of str
        ``("FIRST", "improvement")``, the first part upper-cased, the second lower-cased.

    Raises
    ------
    ValueError
        If the improvement is not one of :data:`IMPROVEMENTS`.
    """
    first, _, improvement = strategy.partition("+")
    improvement = improvement.lower() or IMPROVEMENTS[0]
    if improvement not in IMPROVEMENTS:
        raise ValueError(f"unknown improvement {improvement!r} in strategy {strategy!r}: use one of {IMPROVEMENTS}")
    return first.upper(), improvement


def default_strategies(problem: Problem) -> tuple[str, ...]:
    """Searches (one per worker) that measured best for the problem's class (benchmarks/RESULTS.md).

    First solutions: single-trip capacity-only days (no window tighter than the shifts, no
    unloading trips, no break) start from Clarke-Wright savings, then parallel cheapest
    insertion (X-n298, 30 s, one core, GLS: savings 8.6 % above the BKS, PCI 10.4 %, the
    urgency construction 15.7 %); other days from the product's urgency construction, which
    savings cannot replace (Kim 444: 17 trucks and 4 stops dropped).

    Improvement: ruin-and-recreate on both cores — compiled (:mod:`routing.planning.search.sisr`)
    where the day has no unloads or break: 10 hard Solomon instances, 10 s: 0.50 % mean gap,
    against 2.02 % for the loop around OR-Tools descents and 3.62 % with GLS. Days with unloading
    trips or a lunch break have long routes whose descents take seconds (Kim 277: 12 ruins
    in 37 s), where GLS still finds what a dozen ruins miss, so one core keeps GLS; zones of
    large days (which use the first strategy) keep it too.

    Days with unloads or a break that the compiled search models (:func:`compiled_trips`) start with its
    ruin on the first core: Yang's multi-trip sample (4 instances, 60 s, one worker) 1.47 % mean gap against
    9.49 % with GLS, Kim 102–804 fewer miles on all five (benchmarks/RESULTS.md, issue 17). Days cut into
    zones keep GLS there: Kim 1351 (60 s, one worker) took 9 trucks / 923.6 mi with it against 8 / 977.5.
    Product days (hold limits, 10 h shifts, costs per hour and balance) too, piece by piece: Shenzhen and Dalian,
    600 restaurants + 300 community points, seeds 1 and 2, 120 s, one worker: 11–15 % cheaper than GLS on all four,
    1–4 trucks fewer, same-stream overlap 8–14 % against 25–37 %, every plan certified, clearance no lower.

    The first strategy returned is the one a single worker, and every piece of a cut day, uses.
    """
    earliest = min((v.shift_start for v in problem.vehicles), default=0)
    latest = max((v.shift_end for v in problem.vehicles), default=DAY_S)
    open_all_shift = all(any(a <= earliest and b >= latest for a, b in s.windows) for s in problem.sites)
    if problem.facilities or problem.break_rule is not None:
        if compiled_trips(problem) and largest_piece(problem) <= SolveParams.decompose_above:
            return ("CONSTRUCT_URGENT+ruin", "CONSTRUCT_URGENT+gls")
        return ("CONSTRUCT_URGENT+gls", "CONSTRUCT_URGENT+ruin")
    if open_all_shift:
        return ("SAVINGS+ruin", "PARALLEL_CHEAPEST_INSERTION+ruin")
    return ("CONSTRUCT_URGENT+ruin", "PARALLEL_CHEAPEST_INSERTION+ruin")


def compiled_trips(problem: Problem) -> bool:
    """Whether the compiled search (:mod:`routing.planning.search.trips`) models the day, as far as the day alone tells.

    It models hold limits, shift-length limits, costs per hour and shift balance exactly, as the plan evaluator
    writes the shift (:mod:`routing.planning.search.schedule`), and facility daily capacities; it does not model a
    hold limit on a truck of several streams (the checker holds each stream on its own).
    :func:`routing.planning.search.arrays.unmodelled` decides exactly once the model is built.

    Parameters
    ----------
    problem : Problem
        The day.

    Returns
    -------
    bool
        False where the day has such a hold limit.
    """
    return not any(len(v.streams) > 1 and problem.hold_limit(v) is not None for v in problem.vehicles)


def largest_piece(problem: Problem) -> int:
    """Sites of the day's largest independent piece (:func:`routing.planning.search.pieces.independent_pieces`):
    a piece above ``SolveParams.decompose_above`` is cut into zones."""
    pieces = independent_pieces(problem, {s.id for s in problem.sites})
    return max((len(sites) for sites, _ in pieces), default=0)
