"""Self-healing jobs: lost workers found from the database, jobs queued again up to their attempts, one run per claim.

The engine-level tests drive ``api.jobs.engine`` and ``api.jobs.recovery`` on a SQLite file; the
last ones kill a real in-process API mid-solve and restart it. The Celery transport is in
test_celery_jobs.py, SIGTERM and the search processes in test_shutdown.py.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session

from api.db import engine_for
from api.jobs.engine import JobContext, new_job, release, run_job
from api.jobs.recovery import host_identity, recover_lost, unsent_jobs, worker_gone, worker_name
from api.settings import ServiceSettings, Settings
from api.tables import Job, utc_now
from tests.api.conftest import issue_keys, start_service, wait_for_job

LEASE_S = "3"


@pytest.fixture
def engine(tmp_path):
    return engine_for(f"sqlite:///{tmp_path / 'jobs.db'}")


def _store(engine, *, max_attempts: int = 3, kind: str = "plan") -> str:
    job = new_job(kind=kind, params={}, max_attempts=max_attempts)
    with Session(engine) as session:
        session.add(job)
        session.commit()
        return job.id


def _job(engine, job_id: str) -> Job:
    with Session(engine) as session:
        return session.get(Job, job_id)


def _set(engine, job_id: str, **values) -> None:
    with engine.begin() as connection:
        connection.execute(update(Job).where(Job.id == job_id).values(**values))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_job_delivered_twice_runs_once(engine):
    job_id = _store(engine)
    started = threading.Barrier(2)
    runs = []

    def runner(ctx: JobContext):
        runs.append(ctx.worker)
        time.sleep(0.5)
        return {"ok": True}, lambda session: None

    def deliver(k: int, out: list) -> None:
        started.wait()
        out.append(run_job(engine, job_id, runners={"plan": runner}, settings=Settings(), worker=f"w{k}"))

    statuses: list[str] = []
    threads = [threading.Thread(target=deliver, args=(k, statuses)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["skipped", "succeeded"] and len(runs) == 1
    assert _job(engine, job_id).attempts == 1


def test_a_running_job_of_a_dead_process_on_this_host_is_queued_again_at_once(engine):
    job_id = _store(engine)
    dead = f"{host_identity()}:{_dead_pid()}:thread:1"
    far = utc_now() + timedelta(hours=1)  # its lease is far from over: only the dead pid tells
    _set(engine, job_id, status="running", attempts=1, worker=dead, lease_expires_at=far)
    assert worker_gone(dead) and not worker_gone(worker_name("thread"))
    assert recover_lost(engine) == [job_id]
    job = _job(engine, job_id)
    assert (job.status, job.attempts, job.worker) == ("queued", 1, None)
    assert "lost" in job.error and "\n" not in job.error
    assert recover_lost(engine) == []  # once


def test_a_worker_on_another_host_is_trusted_until_its_lease_runs_out(engine):
    job_id = _store(engine)
    other = f"elsewhere/1:{_dead_pid()}:celery:1"
    _set(engine, job_id, status="running", attempts=1, worker=other, lease_expires_at=utc_now() + timedelta(hours=1))
    assert recover_lost(engine) == [] and _job(engine, job_id).status == "running"
    _set(engine, job_id, lease_expires_at=utc_now() - timedelta(seconds=1))
    assert recover_lost(engine) == [job_id]


def test_a_lost_job_without_attempts_left_fails_with_one_line_and_no_retry_advice(engine):
    job_id = _store(engine, max_attempts=2)
    dead = f"{host_identity()}:{_dead_pid()}:thread:1"
    _set(engine, job_id, status="running", attempts=2, worker=dead, lease_expires_at=utc_now() + timedelta(hours=1))
    assert recover_lost(engine) == []
    job = _job(engine, job_id)
    assert job.status == "failed" and not job.retryable
    assert "\n" not in job.error and "retry" not in job.error.lower() and "2 of 2" in job.error


def test_a_crash_on_the_last_attempt_gives_no_retry_advice(engine):
    job_id = _store(engine, max_attempts=1)

    def crash(ctx: JobContext):
        raise OverflowError("cannot convert float infinity to integer")

    assert run_job(engine, job_id, runners={"plan": crash}, settings=Settings(), worker="w") == "failed"
    job = _job(engine, job_id)
    assert not job.retryable and "OverflowError" in job.error
    assert "\n" not in job.error and "retry" not in job.error.lower() and "Traceback" not in job.error


def test_a_queued_job_unclaimed_for_the_resend_delay_is_sent_again_once_per_period(engine):
    job_id = _store(engine)
    assert unsent_jobs(engine, resend_after_s=60) == []  # just created: its message is on its way
    _set(engine, job_id, created_at=utc_now() - timedelta(seconds=61))
    assert unsent_jobs(engine, resend_after_s=60) == [job_id]
    assert unsent_jobs(engine, resend_after_s=60) == []  # stamped: not again within the period
    _set(engine, job_id, lease_expires_at=utc_now() - timedelta(seconds=1))
    assert unsent_jobs(engine, resend_after_s=60) == [job_id]


def test_a_job_handed_back_at_shutdown_is_queued_without_using_an_attempt(engine):
    job_id = _store(engine)
    handed_back = threading.Event()

    def runner(ctx: JobContext):
        assert release(engine, ctx.job_id, ctx.worker)
        handed_back.set()
        raise RuntimeError("searches killed")

    assert run_job(engine, job_id, runners={"plan": runner}, settings=Settings(), worker="w") == "released"
    job = _job(engine, job_id)
    assert handed_back.is_set() and (job.status, job.attempts, job.worker) == ("queued", 0, None)


def test_the_reported_best_cost_never_goes_up(engine):
    job_id = _store(engine)
    settings = Settings(service=ServiceSettings(job_lease_s=60))
    _set(engine, job_id, status="running", worker="w", attempts=1)
    ctx = JobContext(job_id=job_id, params={}, engine=engine, settings=settings, worker="w")
    reported = []
    for cost in (100.0, 90.0, 120.0, 95.0, 80.0):
        ctx._last_write = 0.0  # every report written
        ctx.progress(stage="solving", best_cost=cost)
        reported.append(_job(engine, job_id).progress["best_cost"])
    assert reported == [100.0, 90.0, 90.0, 90.0, 80.0]


def _solving(client, plan_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get(f"/plans/{plan_id}").json()["progress"].get("stage") != "solving":
        assert time.monotonic() < deadline, "the solve did not start"
        time.sleep(0.2)


def test_jobs_of_a_killed_in_process_server_run_again_at_once_on_restart(tmp_path, small_scenario):
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    service = start_service(database_url, log=tmp_path / "service.log", QINGYUN_JOB_LEASE_S="600")
    service.keys = issue_keys(database_url)
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 4}).json()["id"]
        _solving(client, plan_id)
    service.process.send_signal(signal.SIGKILL)
    service.process.wait()
    # the lease (600 s) is far from over: only the dead process tells the restarted service
    restarted = start_service(database_url, log=tmp_path / "service2.log", QINGYUN_JOB_LEASE_S="600")
    restarted.keys = service.keys
    try:
        with restarted.client("dispatcher") as client:
            body = client.get(f"/plans/{plan_id}").json()
            assert body["status"] in ("queued", "running"), body
            body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)
    finally:
        restarted.stop()
    assert body["status"] == "succeeded" and body["attempts"] == 2, body


def test_a_killed_server_job_without_attempts_left_fails_on_restart_with_one_line(tmp_path, small_scenario):
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    env = {"QINGYUN_JOB_LEASE_S": LEASE_S, "QINGYUN_JOB_MAX_ATTEMPTS": "1"}
    service = start_service(database_url, log=tmp_path / "service.log", **env)
    service.keys = issue_keys(database_url)
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 4}).json()["id"]
        _solving(client, plan_id)
    service.process.send_signal(signal.SIGKILL)
    service.process.wait()
    restarted = start_service(database_url, log=tmp_path / "service2.log", **env)
    restarted.keys = service.keys
    try:
        with restarted.client("dispatcher") as client:
            body = client.get(f"/plans/{plan_id}").json()
            assert body["status"] == "failed" and not body["retryable"], body
            assert "\n" not in body["error"] and "retry" not in body["error"].lower(), body["error"]
            assert client.post(f"/plans/{plan_id}/retry").status_code == 409
    finally:
        restarted.stop()
