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
        "Scenario": "routing.planning.scenario",
        "ScenarioError": "routing.errors",
        "load_scenario": "routing.planning.scenario",
        "parse_scenario": "routing.planning.scenario",
        "read_sites": "routing.planning.sites",
        "generate_scenario": "routing.planning.generate",
        "Problem": "routing.planning.problem",
        "problem_from_scenario": "routing.planning.problem",
        "Plan": "routing.planning.plan",
        "evaluate_routes": "routing.planning.plan",
        "PlanDocument": "routing.planning.document",
        "read_plan": "routing.planning.document",
        "plan_json_schema": "routing.planning.document",
        "CheckReport": "routing.planning.check",
        "check_plan": "routing.planning.check",
        "plan_day": "routing.planning.pipeline",
        "PlanOutcome": "routing.planning.pipeline",
        "solve_params": "routing.planning.pipeline",
        "write_all": "routing.planning.exports",
        "PlanningSettings": "routing.planning.settings",
    },
)
