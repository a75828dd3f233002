"""``qingyun plan --replan PLAN --at 10:30 --events events.json``: the thin shell over :func:`replan_day`.

Writes, in ``--out``: the new ``plan.json`` (with ``replans``), GeoJSON, route sheets, KPIs, map and timeline
as ``qingyun plan`` does; ``scenario.json``, the rest of the day as solved (re-plan it again from there);
``changes.csv`` and ``changes/changes_<vehicle>.csv``, each driver's sheet of only what changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from routing.network.settings import NetworkSettings
    from routing.planning.replan import ReplanOutcome
    from routing.planning.settings import PlanningSettings


def run_replan(
    plan_path: Path,
    *,
    scenario: Path | None,
    at: str | None,
    events: Path | None,
    settings: PlanningSettings,
    network_settings: NetworkSettings,
    time_limit_s: float | None,
    out: Path,
) -> tuple[ReplanOutcome, dict[str, Path]]:
    """Re-plan the rest of a planned day; export it, the rest of the day's scenario and the change sheets.

    Parameters
    ----------
    plan_path
        The ``plan.json`` to replace.
    scenario
        Its scenario; None = ``scenario.json`` beside the plan (as ``qingyun demo`` and a re-plan write it).
    at
        The re-plan time, ``HH:MM`` (required).
    events
        ``events.json``; None = nothing happened but time passing.
    settings, network_settings
        Search settings and the road network's.
    time_limit_s
        Search seconds; None = :data:`routing.planning.replan.REPLAN_TIME_LIMIT_S`.
    out
        The output folder.

    Returns
    -------
    tuple
        The re-plan and the files written by kind (``plan``, ``changes``, ``change_sheets`` … as ``write_all``).

    Raises
    ------
    QingyunError
        A missing or bad file, an event naming an unknown truck or site, a time outside the day, a plan the
        checker rejected.
    """
    from routing.network.graph import load_network
    from routing.planning.changes import write_change_sheets
    from routing.planning.document import read_plan
    from routing.planning.exports import write_all
    from routing.planning.generate import write_scenario
    from routing.planning.pipeline import scenario_osm, solve_params
    from routing.planning.replan import REPLAN_TIME_LIMIT_S, replan_day
    from routing.planning.replan_events import ReplanEvents, read_events
    from routing.planning.scenario import load_scenario

    if at is None:
        raise typer.BadParameter("--replan needs --at HH:MM, the time from which the day is planned again")
    scenario_path = scenario if scenario is not None else plan_path.parent / "scenario.json"
    day = load_scenario(scenario_path)
    old = read_plan(plan_path)
    happened = ReplanEvents() if events is None else read_events(events)
    network = load_network(scenario_osm(day, scenario_dir=scenario_path.resolve().parent), settings=network_settings)
    params = solve_params(settings, time_limit_s=time_limit_s or REPLAN_TIME_LIMIT_S)
    result = replan_day(
        scenario=day, plan=old, at=at, events=happened, params=params, from_plan=str(plan_path), network=network
    )
    files = write_all(result.outcome, out=out)
    write_scenario(result.scenario, Path(out) / "scenario.json")
    files |= write_change_sheets(result.changes, out=out)
    return result, files


def replan_summary(result: ReplanOutcome, files: dict[str, Path]) -> str:
    """The re-plan's stability, breakdowns, time and files in one bilingual paragraph (after the plan summary)."""
    link = result.outcome.document.replans
    return (
        f"重排 re-plan at {link.at:%H:%M}: 留在原车 kept their truck {link.kept_truck}/{link.keepable_sites}"
        f" ({(link.kept_truck_share or 0) * 100:.1f} %), 原顺序 kept their order {link.kept_order}"
        f" ({(link.kept_order_share or 0) * 100:.1f} %); 停运 out of service {', '.join(link.out_of_service) or '-'};"
        f" 用时 took {result.seconds:.1f} s\n输出 output: {files['plan']}, {files['changes']}, "
        f"{files['change_sheets']}/, {files['plan'].parent / 'scenario.json'}"
    )
