"""The search: from an indexed day (:class:`routing.planning.problem.Problem`) to its best routes.

Imports point one way, from the shared types up to the driver:

- ``params`` (:class:`SolveParams`, :class:`RuinParams`, :class:`Progress`, strategy names),
  ``units`` (the model's integer units), ``result`` (:class:`SearchResult`,
  :class:`SearchStatistics`), ``reasons`` (why a site goes unserved) — shared by every part;
- ``construct`` (first solutions), ``ruin`` (string removal, the OR-Tools ruin-and-recreate loop),
  ``trips`` (compiled routes with unloading trips) → ``insertion`` → ``sisr`` (the compiled
  ruin-and-recreate loop) → ``arrays`` (the OR-Tools model as its arrays);
- ``ortools_model`` (:class:`OrToolsModel`, the builder) → ``searcher`` (:class:`Searcher`, one
  search on it) → ``workers`` (:class:`SearchTask` run in processes);
- ``pieces`` (independent pieces, zones, sub-problems), ``repack`` (a truck fewer on packed days)
  → ``decompose`` (how a day is searched) → ``driver`` (:func:`solve`, the plan).

The names below are re-exported lazily for users; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

_PUBLIC = {  # module -> the names it defines for users
    "driver": ("solve",),
    "params": ("SolveParams", "RuinParams", "Progress", "ProgressCallback", "default_strategies"),
    "result": ("SearchResult", "SearchStatistics"),
    "workers": ("SearchTask",),
    "ortools_model": ("OrToolsModel",),
    "searcher": ("Searcher",),
    "reasons": ("REASONS",),
}
__getattr__, __dir__ = lazy_exports(__name__, {f"{__name__}.{module}": names for module, names in _PUBLIC.items()})
