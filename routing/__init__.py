"""清运 Qingyun routing: from a road network and a collection day to checked truck routes.

The sub-packages follow the data as it flows (imports point the same way):

- ``routing.network`` — the road network: OSM reading, the drivable graph and its disk cache,
  truck speeds, UTM projection, snapping, duration/distance matrices and road paths, point files.
- ``routing.planning`` — the collection day: the scenario a dispatcher writes, site import,
  scenario generation, the indexed problem, the plan and its ``plan.json`` contract, the
  independent checker, exports, and :func:`routing.planning.pipeline.plan_day`, the one pipeline
  (network → matrices → solve → check) that ``qingyun plan`` and ``POST /plans`` both run.
- ``routing.planning.search`` — the search behind ``solve``: the OR-Tools model, first solutions,
  ruin-and-recreate (compiled), re-packing, zones and decomposition, the worker processes.
- ``routing.bench`` — published benchmark instances (VRPLIB, Kim et al.), best known solutions,
  the benchmark runner and its peers.
- ``routing.stations`` — transfer-station (转运站) siting under CJJ/T 47-2016.

Cross-cutting: ``routing.errors`` (every user error, by kind), ``routing.localtime`` (UTC+8),
``routing.jsonfile`` (reading JSON inputs, validation messages). The names below are re-exported
lazily (importing ``routing`` loads nothing else); inside the project import from the defining module.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "routing.network.graph": ("load_network", "RoadNetwork"),
        "routing.network.settings": ("NetworkSettings",),
        "routing.planning.scenario": ("Scenario", "load_scenario"),
        "routing.planning.pipeline": ("plan_day", "PlanOutcome"),
        "routing.planning.document": ("PlanDocument",),
        "routing.planning.check": ("check_plan",),
        "routing.errors": ("QingyunError",),
    },
)
