"""Arc routing, the street-cleaning stage beside ``routing/planning/``: problem → paths → search → walks → check.

Modules, in the order data flows: ``problem`` (:class:`ArcProblem`: graph, required edges, depot,
capacity), ``paths`` (shortest deadhead paths and the matrix between service arcs), ``search``
(the compiled ruin-and-recreate over tasks, ``python -m routing.arcs.search`` caches it),
``solve`` (:func:`solve_arcs`, the composition), ``solution`` (walks and the JSON document of
issue 20), ``check`` (the independent checker), ``settings`` (:class:`ArcSettings`,
``QINGYUN_ARCS_*``). Benchmarks read CARPLIB files in :mod:`routing.bench.carp`.

Where the street product's rules go (issue 20, items 1, 2, 5–7):

- kerbs: one task per kerb; a two-way street is two one-direction tasks (``serve_backward``
  False on each, opposite tails), a one-way street one task or two when wide; serving twice a
  shift is two tasks on the same edge (the checker already counts parallel services apart).
- U-turns: ``paths.arc_matrix`` becomes a shortest path on the line graph (arc → arc, the
  U-turn arc dropped or penalised); the search only reads the matrix, so it does not change.
- service at working speed, deadhead at the truck profile, shifts and windows: a second
  matrix of times beside ``dist`` and a per-route duration in ``ArcState`` checked in
  ``_cheapest_position`` like the load; the direction programme in ``_refresh`` carries time.
- hopper and tank (two capacities), dumps and refills: ``demand`` and ``capacity`` gain a unit
  axis; a route becomes a sequence of trips and ``_refresh`` inserts the facility visits by a
  split over the route's order (cheapest detour through the best dump/refill between two
  services, facility arcs as extra rows of the matrix), so ruin and recreate stay as they are.
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
