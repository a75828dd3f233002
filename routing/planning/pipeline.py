"""The planning pipeline: scenario → road network → snapped places and matrices → solve → independent check.

:func:`plan_day` is the one way a collection day is planned: ``qingyun plan``, ``qingyun demo``
and the service's plan jobs (``POST /plans``) all call it, so every plan written to a file or
stored in the database has passed :func:`routing.planning.check.check_plan`. A plan the
checker rejects raises :class:`routing.errors.PlanCheckError` naming the violations; it is
never returned. Exports (``plan.json``, GeoJSON, route sheets, map) are made from the returned
:class:`PlanOutcome` by :mod:`routing.planning.exports`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from routing.errors import PlanCheckError
from routing.network.graph import RoadNetwork, SnappedPoint, load_network
from routing.network.settings import NetworkSettings
from routing.planning.check import CheckReport, check_plan
from routing.planning.document import PlanDocument
from routing.planning.plan import Plan
from routing.planning.problem import Problem, problem_from_scenario
from routing.planning.scenario import Scenario
from routing.planning.search.driver import solve
from routing.planning.search.params import ProgressCallback, SolveParams
from routing.planning.settings import PlanningSettings


@dataclass(frozen=True)
class PlanTimings:
    """Seconds spent in each stage (run metadata: not part of the plan)."""

    network_s: float
    matrices_s: float
    solve_s: float
    check_s: float


@dataclass
class PlanOutcome:
    """A checked plan and everything the exports need: the problem, the network and the snapped places."""

    problem: Problem
    plan: Plan
    check: CheckReport
    network: RoadNetwork
    snapped: list[SnappedPoint]
    timings: PlanTimings
    document: PlanDocument  # the plan.json document the checker certified
    grids: list = field(default_factory=list)  # the scenario's grids: the map and GeoJSON colour by territory


def solve_params(settings: PlanningSettings, *, time_limit_s: float | None = None) -> SolveParams:
    """The search settings of a plan from the planning settings, shared by the CLI and the API.

    Parameters
    ----------
    settings
        ``QINGYUN_PLANNING_*`` defaults (time limit, worker processes, ``max_solutions``).
    time_limit_s
        The caller's time limit; none = ``settings.time_limit_s``.

    Returns
    -------
    SolveParams
    """
    return SolveParams(
        time_limit_s=settings.time_limit_s if time_limit_s is None else time_limit_s,
        workers=settings.workers,
        max_solutions=settings.max_solutions,
    )


def scenario_osm(scenario: Scenario, *, scenario_dir: Path | None) -> Path | None:
    """The scenario's road network file (relative paths are relative to the scenario's folder), or None.

    Parameters
    ----------
    scenario : Scenario
        The scenario; its ``osm`` field may be empty.
    scenario_dir : Path or None
        The scenario file's folder; None leaves a relative path as it is.

    Returns
    -------
    Path or None
        The OSM file, None when the scenario names none.
    """
    if scenario.osm is None:
        return None
    path = Path(scenario.osm)
    return path if path.is_absolute() or scenario_dir is None else scenario_dir / path


def plan_day(
    scenario: Scenario,
    *,
    params: SolveParams,
    network: RoadNetwork | None = None,
    scenario_dir: Path | None = None,
    network_settings: NetworkSettings | None = None,
    progress: ProgressCallback | None = None,
) -> PlanOutcome:
    """Plan one collection day and certify it with the independent checker.

    Parameters
    ----------
    scenario
        The validated day (:func:`routing.planning.scenario.parse_scenario`).
    params
        Search settings (:func:`solve_params`); with ``max_solutions`` the same input gives the same plan.
    network
        The road network; none = load the scenario's ``osm`` file, else ``network_settings.default_osm()``.
    scenario_dir
        The scenario file's folder, for a relative ``osm`` path.
    network_settings
        Default road network and build cache when ``network`` is none.
    progress
        Called with the search's :class:`routing.planning.search.params.Progress` (best cost, elapsed time).

    Returns
    -------
    PlanOutcome
        The checked plan, its problem, network, snapped places, check report and stage timings.

    Raises
    ------
    PlanCheckError
        The independent checker found violations (each names the truck, stop and rule).
    QingyunError
        Bad input: places off the road network (``OffRoadError``), unreachable places, trucks that
        cannot reach any site (``ScenarioError``), a missing OSM file (``InputFileError``).
    """
    began = time.perf_counter()
    if network is None:
        network = load_network(scenario_osm(scenario, scenario_dir=scenario_dir), settings=network_settings)
    loaded = time.perf_counter()
    memory = (network_settings or NetworkSettings()).matrix_memory_gib
    problem, snapped = problem_from_scenario(scenario, network=network, matrix_memory_gib=memory)
    built = time.perf_counter()
    plan = solve(problem, params, progress=progress)
    solved = time.perf_counter()
    document = plan.document(problem)
    report = check_plan(problem, document)
    if not report.ok:
        raise PlanCheckError(report.violations)
    timings = PlanTimings(
        network_s=loaded - began,
        matrices_s=built - loaded,
        solve_s=solved - built,
        check_s=time.perf_counter() - solved,
    )
    return PlanOutcome(
        problem=problem,
        plan=plan,
        check=report,
        network=network,
        snapped=snapped,
        timings=timings,
        document=document,
        grids=list(scenario.grids or ()),
    )
