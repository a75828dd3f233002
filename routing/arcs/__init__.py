"""Arc routing, the street-cleaning stage beside ``routing/planning/``: problem → paths → search → walks → check.

Modules, in the order data flows: ``problem`` (:class:`ArcProblem`: graph, required edges, depot,
capacity; optional facilities, shift, window, fleet and U-turn rule), ``paths`` (deadhead costs
between service arcs, the depot and facilities — vertex distances, or the line graph when U-turns
are forbidden or penalised — and the legs behind them), ``state`` (the compiled search's bundles,
the giant tour a fleet starts from), ``split`` (facility visits placed exactly within a route's
order: CARPIF), ``search`` (the compiled ruin-and-recreate over tasks, ``python -m
routing.arcs.search`` caches it), ``solve`` (:func:`solve_arcs`, the composition; tasks no route
can serve named before the search), ``solution`` (walks, facility visits and the JSON document of
issue 20), ``check`` (the independent checker), ``settings`` (:class:`ArcSettings`,
``QINGYUN_ARCS_*``). Benchmarks read CARPLIB files in :mod:`routing.bench.carp`; a published CARP
instance is the special case without facilities, shift, fleet or U-turn rule, searched exactly as
before.

The street product (:mod:`routing.sweeping`) uses all of it: one task per kerb (a two-way street is
two one-direction tasks on twin edges, one street for the U-turn rule); costs in tenths of a second,
so the route bound is the shift; the hopper (sweepers, dumped at transfer stations, home empty) or
the tank (washers, refilled at water points) is the capacity between two facility visits.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "routing.arcs.problem": ("ArcProblem",),
        "routing.arcs.solve": ("solve_arcs",),
        "routing.arcs.solution": ("ArcSolution", "read_solution"),
        "routing.arcs.check": ("ArcCheckReport", "check_solution"),
        "routing.arcs.settings": ("ArcSettings",),
    },
)
