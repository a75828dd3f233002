"""Errors by kind: a missing object is 404 naming its id, a state clash 409, a crash 500 without internals.

These run the app in-process (``fastapi.testclient``) on a fresh SQLite file with settings passed
to ``create_app``, so they also show that routes read the app's one ``Settings`` object.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

MISSING = "no-such-id-404"


@pytest.fixture
def local(tmp_path) -> Iterator[tuple[TestClient, object]]:
    """The app on a fresh SQLite database, a key holding every role, and the engine."""
    from api.app import create_app
    from api.auth import ROLES, create_key
    from api.db import _engines, normalised_url
    from api.settings import ServiceSettings, Settings

    url = f"sqlite:///{tmp_path / 'errors.db'}"
    settings = Settings(service=ServiceSettings(database_url=url, plan_time_limit_max_s=5.0))
    app = create_app(settings)
    key = create_key(app.state.engine, roles=list(ROLES), name="errors test", terminals=["*"]).key
    with TestClient(app, raise_server_exceptions=False, headers={"X-API-Key": key}) as client:
        yield client, app.state.engine
    _engines.pop(normalised_url(url)).dispose()


def _stored_job(engine, *, kind: str, status: str, row=None) -> str:
    from api.jobs.engine import new_job

    job = new_job(kind=kind, params={}, max_attempts=3)
    job.status, job_id = status, job.id
    with Session(engine) as session:
        session.add(job)
        session.flush()
        if row is not None:
            session.add(row(job_id))
        session.commit()
    return job_id


def test_every_get_route_with_an_id_answers_404_naming_the_unknown_id(local):
    client, _ = local
    paths = [p for p, operations in client.app.openapi()["paths"].items() if "get" in operations and "{" in p]
    assert len(paths) >= 14, paths  # catalogue ×5, plans ×4, stations ×3, audits, track, score
    for template in paths:
        answer = client.get(re.sub(r"\{[^}]+\}", MISSING, template))
        assert answer.status_code == 404, (template, answer.status_code, answer.text)
        assert MISSING in answer.json()["detail"], (template, answer.json())


@pytest.mark.parametrize(
    "path",
    [
        f"/plans/{MISSING}/retry",
        f"/audits/{MISSING}/retry",
        f"/stations/plans/{MISSING}/retry",
        f"/sweeping/plans/{MISSING}/retry",
        f"/sweeping/audits/{MISSING}/retry",
    ],
)
def test_retrying_an_unknown_job_is_404(local, path):
    client, _ = local
    answer = client.post(path)
    assert answer.status_code == 404 and MISSING in answer.json()["detail"]


def test_deleting_unknown_records_is_404_naming_them(local):
    client, _ = local
    for path in (f"/sites/{MISSING}", f"/permits/{MISSING}", f"/zones/{MISSING}", f"/keys/{MISSING}"):
        answer = client.delete(path)
        assert answer.status_code == 404 and MISSING in answer.json()["detail"], (path, answer.text)


def test_retrying_a_job_that_has_not_failed_is_409(local):
    from api.tables import StationStudyRow, utc_now

    client, engine = local
    audit = _stored_job(engine, kind="audit", status="succeeded")
    answer = client.post(f"/audits/{audit}/retry")
    assert answer.status_code == 409 and "it is succeeded" in answer.json()["detail"]

    study = _stored_job(
        engine,
        kind="stations",
        status="running",
        row=lambda job_id: StationStudyRow(id=job_id, inputs={}, created_at=utc_now()),
    )
    answer = client.post(f"/stations/plans/{study}/retry")
    assert answer.status_code == 409 and "it is running" in answer.json()["detail"]
    # and a study that is not finished has no report yet: also a conflict, not a 500
    assert client.get(f"/stations/plans/{study}/report.html").status_code == 409


def test_a_failed_job_that_failed_on_its_input_cannot_be_retried(local):
    from sqlalchemy import update

    from api.tables import Job

    client, engine = local
    audit = _stored_job(engine, kind="audit", status="failed")  # retryable is False: it failed on its input
    assert client.post(f"/audits/{audit}/retry").status_code == 409
    with Session(engine) as session:
        session.exec(update(Job).where(Job.id == audit).values(retryable=True))
        session.commit()
    assert client.post(f"/audits/{audit}/retry").status_code == 202


def test_an_unexpected_exception_answers_500_without_traceback_or_server_path(local, monkeypatch, caplog):
    import api.auth

    client, _ = local

    def broken(engine):
        raise RuntimeError(f"secret detail in {__file__} line 1")

    monkeypatch.setattr(api.auth, "list_keys", broken)
    with caplog.at_level("ERROR", logger="api.app"):
        answer = client.get("/keys")
    assert answer.status_code == 500
    body = answer.json()
    text = answer.text
    assert "Traceback" not in text and "/work" not in text and "secret detail" not in text and ".py" not in text
    assert body["request_id"] and body["request_id"] in body["detail"] and "internal server error" in body["detail"]
    assert answer.headers["X-Request-ID"] == body["request_id"]
    # the details are in the server log, under the same request id
    assert any(body["request_id"] in r.getMessage() and r.exc_info for r in caplog.records)


def test_routes_read_the_settings_the_app_was_created_with(local):
    client, _ = local
    answer = client.post("/plans", json={"date": "2026-11-22", "time_limit_s": 60})
    assert answer.status_code == 422 and "limit of 5 s" in answer.json()["detail"]


def test_a_crashed_job_stores_no_traceback_and_no_server_path(tmp_path, caplog):
    from api.db import _engines, engine_for, normalised_url
    from api.jobs.engine import run_job
    from api.settings import ServiceSettings, Settings
    from api.tables import Job
    from routing.errors import InvalidInputError

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    settings = Settings(service=ServiceSettings(database_url=url))
    engine = engine_for(url)

    def crash(ctx):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{tmp_path}/secret.bin'")

    def bad_input(ctx):
        raise InvalidInputError("sites[3].lon: 200 is outside -180..180")

    runners = {"crash": crash, "bad": bad_input}
    try:
        crashed = _stored_job(engine, kind="crash", status="queued")
        with caplog.at_level("ERROR", logger="api.jobs.engine"):
            assert run_job(engine, crashed, runners=runners, settings=settings, worker="w") == "failed"
        refused = _stored_job(engine, kind="bad", status="queued")
        assert run_job(engine, refused, runners=runners, settings=settings, worker="w") == "failed"
        unknown = _stored_job(engine, kind="nonsense", status="queued")
        assert run_job(engine, unknown, runners=runners, settings=settings, worker="w") == "failed"
        with Session(engine) as session:
            crashed_job, refused_job, unknown_job = (session.get(Job, i) for i in (crashed, refused, unknown))
    finally:
        _engines.pop(normalised_url(url)).dispose()
    assert crashed_job.retryable and "FileNotFoundError" in crashed_job.error and crashed in crashed_job.error
    assert "Traceback" not in crashed_job.error and str(tmp_path) not in crashed_job.error
    assert any(r.exc_info for r in caplog.records)  # the traceback is kept in the server log
    assert not refused_job.retryable and refused_job.error == "sites[3].lon: 200 is outside -180..180"
    assert not unknown_job.retryable and "'nonsense'" in unknown_job.error
