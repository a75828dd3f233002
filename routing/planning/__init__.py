"""Stage 2, the collection day: scenario → problem → plan → independent check → exports.

Modules, in the order data flows: ``scenario`` (the day a dispatcher writes, ``qingyun plan
--schema``), ``sites`` (site import from CSV/GeoJSON), ``generate`` (realistic generated days),
``problem`` (the indexed numeric problem), ``search`` (the sub-package behind ``solve``), ``plan``
(timed routes and KPIs), ``document`` (the ``plan.json`` contract, ``qingyun plan --plan-schema``),
``check`` (the independent checker), ``pipeline`` (:func:`plan_day`, the one pipeline of the CLI
and the API), ``exports`` (plan.json, GeoJSON, route sheets, map), ``settings``
(:class:`PlanningSettings`, ``QINGYUN_PLANNING_*``), ``cli`` and ``demo`` (thin shells).

The names below are re-exported lazily; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "routing.planning.scenario": ("Scenario", "load_scenario", "parse_scenario"),
        "routing.errors": ("ScenarioError",),
        "routing.planning.sites": ("read_sites",),
        "routing.planning.generate": ("generate_scenario",),
        "routing.planning.problem": ("Problem", "problem_from_scenario"),
        "routing.planning.plan": ("Plan", "evaluate_routes"),
        "routing.planning.document": ("PlanDocument", "read_plan", "plan_json_schema"),
        "routing.planning.check": ("CheckReport", "check_plan"),
        "routing.planning.pipeline": ("plan_day", "PlanOutcome", "solve_params"),
        "routing.planning.exports": ("write_all",),
        "routing.planning.settings": ("PlanningSettings",),
    },
)
