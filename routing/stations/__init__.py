"""Transfer-station (转运站) planning under CJJ/T 47-2016: where to build, which class, which
communities each serves, at the least yearly cost, over real road distances.

Modules: ``records`` (inputs and settings), ``inputs`` (file readers and validation),
``capacity`` (classes, Q = δ·n·q/1000), ``distances`` (road distances), ``solve`` (the
OR-Tools MathOpt model, solved by HiGHS to a proven gap), ``plan`` (one scenario, evaluated),
``report`` (CSV, GeoJSON, HTML), ``catchment_map`` (the PNG), ``workflow`` (a whole run), ``demo`` (generated Shenzhen
inputs), ``cli``.

The names below are re-exported lazily; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "routing.stations.records": ("PlanningParams", "Community", "CandidateSite"),
        "routing.stations.inputs": ("read_communities", "read_candidates", "read_params"),
        "routing.stations.solve": ("solve_location",),
        "routing.stations.workflow": ("run_planning",),
    },
)
