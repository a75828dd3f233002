"""Benchmarks: the product solver on published instances, judged by the independent checker.

Flow: an instance file → a reader (``vrplib``: Solomon, Gehring & Homberger, CVRP X; ``kim``:
Kim 2006 waste collection; ``yang``: multi-trip VRPTW with release dates, and its runner) →
``to_problem`` (the product's own problem model) → the product's
:func:`routing.planning.search.driver.solve` (and optionally PyVRP and VROOM, ``peers``) →
``runner`` (routes timed and certified by :func:`routing.planning.check.check_plan`, the
objective recomputed in the instance's convention, the gap to the BKS of ``bks``) → ``cli``
(``qingyun bench …``, a thin shell). ``carp``: CARPLIB arc-routing files, solved by
:func:`routing.arcs.solve.solve_arcs` and certified by :func:`routing.arcs.check.check_solution`.

The names below are re-exported lazily for users; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

_PUBLIC = {  # module -> the names it defines for users
    "vrplib": ("VrpInstance", "VrpSolution", "read_vrp", "read_sol", "write_sol", "first_customers"),
    "kim": ("KimInstance", "read_kim"),
    "carp": ("read_carp", "load_carp_bks", "run_carp", "CarpRow"),
    "bks": ("Bks", "lookup_bks"),
    "to_problem": ("vrplib_problem", "kim_problem", "multitrip_problem"),
    "yang": ("YangInstance", "read_yang", "run_yang"),
    "runner": ("BenchRow", "run_vrplib", "run_kim", "run_many", "summarise"),
    "peers": ("PeerRun", "run_peer"),
}
__getattr__, __dir__ = lazy_exports(__name__, {f"{__name__}.{module}": names for module, names in _PUBLIC.items()})
