"""Celery mode on PostgreSQL and the local Redis: lost workers and lost messages heal without an operator.

Each test has its own database and its own Celery queue, so runs on the same servers do not
meet. Leases and solves are a few seconds so the suite stays fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.api.conftest import ROOT, issue_keys, redis_or_skip, service_env, start_service, wait_for_job
from tests.api.test_shutdown import alive, descendants
from tests.conftest import drop_postgres_database, postgres_database

LEASE_S = 3.0
SOLVE_S = 4.0


def start_worker(database_url: str, redis_url: str, queue: str, log: Path) -> subprocess.Popen:
    env = service_env(
        database_url, QINGYUN_REDIS_URL=redis_url, QINGYUN_CELERY_QUEUE=queue, QINGYUN_JOB_LEASE_S=str(LEASE_S)
    )
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("qingyun")), "worker"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_until(predicate, *, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


@pytest.fixture
def celery_setup(tmp_path):
    """The API in Celery mode on a fresh PostgreSQL database, and a way to start workers (stopped afterwards)."""
    redis_url = redis_or_skip()
    queue = f"qingyun-test-{uuid.uuid4().hex[:8]}"  # this test's own queue
    database_url = postgres_database()
    env = {"QINGYUN_REDIS_URL": redis_url, "QINGYUN_CELERY_QUEUE": queue, "QINGYUN_JOB_LEASE_S": str(LEASE_S)}
    service = start_service(database_url, log=tmp_path / "service.log", **env)
    service.keys = issue_keys(database_url)
    service.queue = queue
    workers: list[subprocess.Popen] = []

    def worker() -> subprocess.Popen:
        workers.append(start_worker(database_url, redis_url, queue, tmp_path / f"worker{len(workers)}.log"))
        return workers[-1]

    yield service, worker
    for process in workers:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    service.stop()
    from api.db import _engines

    for url in [u for u in _engines if u.endswith(database_url.rsplit("/", 1)[1])]:
        _engines.pop(url).dispose()
    drop_postgres_database(database_url)


def test_a_plan_solved_by_a_celery_worker(celery_setup, small_scenario):
    service, worker = celery_setup
    with service.client() as client:
        assert client.get("/health").json()["jobs"] == "celery"
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 2}).json()["id"]
        time.sleep(1.0)
        assert client.get(f"/plans/{plan_id}").json()["status"] == "queued"  # the API itself does not solve
        worker()
        body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)
    assert body["status"] == "succeeded", body
    assert {s["id"] for r in body["plan"]["routes"] for s in r["stops"] if s["kind"] == "site"} == {
        s["id"] for s in small_scenario["sites"]
    }


def test_a_worker_killed_mid_solve_has_its_job_completed_by_the_other(celery_setup, small_scenario, tmp_path):
    service, worker = celery_setup
    workers = {process.pid: process for process in (worker(), worker())}
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": SOLVE_S}).json()["id"]
        first = wait_until(
            lambda: next((pid for pid in workers if len(descendants(pid)) >= 2), None),
            timeout_s=120,
            what="a worker's search processes",
        )
        searches = descendants(first)
        os.kill(first, signal.SIGKILL)  # the worker alone: its searches must die with it
        killed_at = time.monotonic()
        workers[first].wait()
        body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)
        healed_s = time.monotonic() - killed_at
    print(f"kill -9 of the worker → job succeeded on the other in {healed_s:.1f} s")
    assert body["status"] == "succeeded" and body["attempts"] == 2, body
    assert not any(alive(pid) for pid in searches)
    other = next(pid for pid in workers if pid != first)
    log = (tmp_path / f"worker{list(workers).index(other)}.log").read_text(errors="replace")
    assert f"job {plan_id}" in log  # the worker's log names the job it ran
    assert healed_s < LEASE_S + SOLVE_S + 60  # lease + solve, with room for the matrices and two busy cores


def test_a_worker_stopped_mid_solve_hands_its_job_to_the_other(celery_setup, small_scenario):
    service, worker = celery_setup
    workers = {process.pid: process for process in (worker(), worker())}
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 60}).json()["id"]
        first = wait_until(
            lambda: next((pid for pid in workers if len(descendants(pid)) >= 2), None),
            timeout_s=120,
            what="a worker's search processes",
        )
        searches = descendants(first)
        os.kill(first, signal.SIGTERM)
        assert workers[first].wait(timeout=20) == 0  # not after the 60 s solve
        assert not any(alive(pid) for pid in searches)
        other = next(pid for pid in workers if pid != first)
        wait_until(lambda: len(descendants(other)) >= 2, timeout_s=60, what="the other worker to take the job")
        body = client.get(f"/plans/{plan_id}").json()
    assert body["status"] == "running" and body["attempts"] == 1, body  # handed back: no attempt used


def test_a_queued_job_whose_broker_message_was_lost_still_completes(celery_setup, small_scenario):
    import redis

    service, worker = celery_setup
    broker = redis.Redis.from_url(redis_or_skip())
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 2}).json()["id"]
        wait_until(lambda: broker.llen(service.queue) >= 1, timeout_s=10, what="the message in the broker")
        broker.delete(service.queue)  # as a Redis restarted without persistence
        assert client.get(f"/plans/{plan_id}").json()["status"] == "queued"
        worker()
        body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)
    assert body["status"] == "succeeded" and body["attempts"] == 1, body
