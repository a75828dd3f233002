"""Transfer-station studies in the service: the planner's files in, ``routing.stations`` as a job.

Inputs are the same files ``qingyun stations plan`` reads (communities CSV, candidate-sites
CSV, optional parameters JSON) and are validated with the same readers before the job is
queued, so a bad file is answered at once with file, line and field.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict
from pathlib import Path

from sqlmodel import Session

from api.jobs.engine import JobContext
from api.tables import StationStudyRow, utc_now
from routing.errors import InputFileError


def _safe_name(name: str, fallback: str) -> str:
    cleaned = re.sub(r"[^0-9A-Za-z_.\-]", "_", Path(name or fallback).name)[:80]
    return cleaned if cleaned.strip("._") else fallback


def _materialise(folder: Path, files: dict[str, dict]) -> dict[str, Path | None]:
    paths: dict[str, Path | None] = {}
    for key, fallback in (
        ("communities", "communities.csv"),
        ("candidates", "candidates.csv"),
        ("params", "params.json"),
    ):
        item = files.get(key)
        if item is None:
            paths[key] = None
            continue
        path = folder / f"{key}-{_safe_name(item['filename'], fallback)}"
        path.write_text(item["text"], encoding="utf-8")
        paths[key] = path
    return paths


def read_inputs(files: dict[str, dict]):
    """(communities, candidate sites, params) from uploaded texts; raises naming file, line and field."""
    from routing.stations.inputs import read_candidates, read_communities, read_params

    with tempfile.TemporaryDirectory(prefix="qingyun-stations-") as tmp:
        paths = _materialise(Path(tmp), files)
        try:
            return (
                read_communities(paths["communities"]),
                read_candidates(paths["candidates"]),
                read_params(paths["params"]),
            )
        except InputFileError as exc:  # name the upload, not the temporary copy
            raise InputFileError(str(exc).replace(tmp + "/", "")) from None


def upload_text(*, filename: str, content: bytes, what: str) -> dict:
    """One uploaded file as text, the form a study stores and :func:`read_inputs` reads.

    Parameters
    ----------
    filename
        The upload's name (kept so errors name the planner's file).
    content
        The file's bytes, UTF-8 (a byte-order mark is allowed).
    what
        The upload's role in the error: "communities", "candidates" or "params".

    Returns
    -------
    dict
        ``{"filename": …, "text": …}``.

    Raises
    ------
    InputFileError
        The file is not UTF-8 text.
    """
    try:
        return {"filename": filename, "text": content.decode("utf-8-sig")}
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{what} ({filename}): not UTF-8 text (byte {exc.start})") from None


def create_study(session: Session, *, files: dict[str, dict], sweep: bool, max_attempts: int) -> StationStudyRow:
    """Validate the planner's files now and store the study with its queued job (dispatch separately).

    Parameters
    ----------
    session
        The request's session; committed.
    files
        The uploads from :func:`upload_text` by role: "communities", "candidates" and optionally "params".
    sweep
        Also plan the sweep of scenarios, not only the base case.
    max_attempts
        How many times the job may run before it stays failed.

    Returns
    -------
    StationStudyRow
        The new study; its id is also the job's.

    Raises
    ------
    InputFileError
        A bad file, named with its line and field; nothing is stored.
    """
    from api.jobs.engine import new_job

    read_inputs(files)  # validate now: a bad file is the planner's to fix, not a failed job
    job = new_job(kind="stations", params={"sweep": sweep}, max_attempts=max_attempts)
    study = StationStudyRow(id=job.id, inputs=files, created_at=utc_now())
    session.add(job)
    session.flush()
    session.add(study)
    session.commit()
    return study


def _plan_summary(plan) -> dict:
    solution = plan.solution
    return {
        "scenario": {
            "q_kg_per_person_day": plan.scenario.q_kg_per_person_day,
            "years_ahead": plan.scenario.years_ahead,
            "label": plan.scenario.label,
        },
        "stations": [
            {
                **{k: v for k, v in asdict(s).items()},
                "utilisation": round(s.utilisation, 4),
                "total_cost_yuan": s.total_cost_yuan,
            }
            for s in plan.stations
        ],
        "unassigned": [asdict(u) for u in plan.unassigned],
        "unusable_sites": plan.unusable_sites,
        "closed_existing": list(plan.closed_existing),
        "cost_yuan": {
            "total": plan.total_cost_yuan,
            "stations": plan.station_cost_yuan,
            "collection_haul": plan.collection_haul_cost_yuan,
            "transfer_haul": plan.transfer_haul_cost_yuan,
        },
        "proven_gap": None if solution is None else solution.proven_gap,
        "solver": None if solution is None else solution.solver,
        "solve_seconds": None if solution is None else solution.solve_seconds,
    }


def run_study(ctx: JobContext):
    """Plan the stations (base case, and the sweep when asked); the writer stores the result."""
    import json

    from api.services.network import service_network
    from routing.stations.workflow import run_planning

    with Session(ctx.engine) as session:
        files = session.get(StationStudyRow, ctx.job_id).inputs
    communities, sites, params = read_inputs(files)
    ctx.progress(stage="solving", communities=len(communities), candidates=len(sites))
    with tempfile.TemporaryDirectory(prefix="qingyun-stations-out-") as tmp:
        run = run_planning(
            service_network(ctx.settings.network),
            communities=communities,
            sites=sites,
            params=params,
            out_dir=Path(tmp),
            sweep=bool(ctx.params.get("sweep")),
        )
        result = {
            "plan": _plan_summary(run.plan),
            "sweep": [_plan_summary(p) for p in run.sweep],
            "geojson": json.loads(run.files["geojson"].read_text(encoding="utf-8")),
            "report_html": run.files["html"].read_text(encoding="utf-8"),
        }
    summary = {
        "stations": len(run.plan.stations),
        "unassigned": len(run.plan.unassigned),
        "total_cost_yuan": run.plan.total_cost_yuan,
        "proven_gap": result["plan"]["proven_gap"],
    }

    def write(session: Session) -> None:
        study = session.get(StationStudyRow, ctx.job_id)
        study.result = result
        session.add(study)

    return summary, write
