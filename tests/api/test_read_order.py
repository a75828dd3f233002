"""A job that finishes between two reads of one request: the answer is never "succeeded" without its result.

The worker commits a study's result and its job's status together; a request reads the two rows in two
statements. This test commits the worker's transaction exactly between those statements (on the engine's
own connection pool), on SQLite and on PostgreSQL, where READ COMMITTED lets the second statement see it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event, update
from sqlmodel import Session

from tests.conftest import drop_postgres_database, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path) -> Iterator:
    from api.db import _engines, engine_for, normalised_url

    url = f"sqlite:///{tmp_path / 'qingyun.db'}" if request.param == "sqlite" else postgres_database()
    yield engine_for(url)
    _engines.pop(normalised_url(url)).dispose()
    if request.param == "postgresql":
        drop_postgres_database(url)


def test_a_study_finishing_between_the_reads_of_a_request_is_read_consistently(engine):
    from api.jobs.engine import new_job
    from api.routes.stations import read
    from api.tables import Job, StationStudyRow, utc_now

    job = new_job(kind="stations", params={"sweep": False}, max_attempts=1)
    job_id = job.id
    with Session(engine) as session:
        session.add(job)
        session.flush()
        session.add(StationStudyRow(id=job_id, inputs={}, created_at=utc_now()))
        session.commit()
    result = {"plan": {"stations": ["S1"]}, "sweep": []}

    def finish() -> None:  # what run_job's last transaction does
        with Session(engine) as session:
            study = session.get(StationStudyRow, job_id)
            study.result = result
            session.add(study)
            session.exec(update(Job).where(Job.id == job_id).values(status="succeeded", finished_at=utc_now()))
            session.commit()

    selects: list[str] = []

    def after_first_select(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not selects:
            selects.append(statement)
            finish()

    event.listen(engine, "after_cursor_execute", after_first_select)
    try:
        with Session(engine) as session:
            body = read(job_id, session=session)
    finally:
        event.remove(engine, "after_cursor_execute", after_first_select)
    assert selects, "the request made no SELECT: the interleaving was not exercised"
    assert body["status"] in ("queued", "succeeded")
    if body["status"] == "succeeded":
        assert body["plan"] == result["plan"]
    with Session(engine) as session:  # and the next read has the whole result
        assert read(job_id, session=session)["plan"] == result["plan"]
