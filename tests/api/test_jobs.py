"""Jobs on Celery workers over the local Redis; a worker killed mid-solve leaves its job failed and retryable."""

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

LEASE_S = "3"


def start_worker(database_url: str, redis_url: str, queue: str, log: Path) -> subprocess.Popen:
    env = service_env(
        database_url, QINGYUN_REDIS_URL=redis_url, QINGYUN_CELERY_QUEUE=queue, QINGYUN_JOB_LEASE_S=LEASE_S
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
    redis_url = redis_or_skip()
    queue = (
        f"qingyun-test-{uuid.uuid4().hex[:8]}"  # this run's own queue: other runs on the same Redis are not disturbed
    )
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    service = start_service(
        database_url,
        log=tmp_path / "service.log",
        QINGYUN_REDIS_URL=redis_url,
        QINGYUN_CELERY_QUEUE=queue,
        QINGYUN_JOB_LEASE_S=LEASE_S,
    )
    service.keys = issue_keys(database_url)
    workers: list[subprocess.Popen] = []

    def worker() -> subprocess.Popen:
        workers.append(start_worker(database_url, redis_url, queue, tmp_path / f"worker{len(workers)}.log"))
        return workers[-1]

    yield service, worker
    for process in workers:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    service.stop()


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


def test_a_worker_killed_mid_solve_leaves_the_job_failed_and_retryable(celery_setup, small_scenario):
    service, worker = celery_setup
    first = worker()
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 4}).json()["id"]
        wait_until(
            lambda: client.get(f"/plans/{plan_id}").json()["progress"].get("stage") == "solving",
            timeout_s=90,
            what="the solve to start",
        )
        os.killpg(first.pid, signal.SIGKILL)  # the worker and its search processes, mid-solve
        first.wait()
        failed = wait_until(
            lambda: (b := client.get(f"/plans/{plan_id}").json())["status"] == "failed" and b,
            timeout_s=30,
            what="the lost job to be failed by its lease",
        )
        assert failed["retryable"] and "worker lost" in failed["error"] and failed["attempts"] == 1
        assert client.post(f"/plans/{plan_id}/retry").status_code == 202
        assert client.post(f"/plans/{plan_id}/retry").status_code == 409  # queued again, not retryable twice
        worker()
        body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)
    assert body["status"] == "succeeded" and body["attempts"] == 2, body


def test_in_process_jobs_of_a_killed_server_are_failed_and_retryable_after_restart(tmp_path, small_scenario):
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    service = start_service(database_url, log=tmp_path / "service.log", QINGYUN_JOB_LEASE_S=LEASE_S)
    service.keys = issue_keys(database_url)
    with service.client("dispatcher") as client:
        plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 4}).json()["id"]
        wait_until(
            lambda: client.get(f"/plans/{plan_id}").json()["progress"].get("stage") == "solving",
            timeout_s=90,
            what="the solve to start",
        )
    service.process.send_signal(signal.SIGKILL)
    service.process.wait()
    time.sleep(float(LEASE_S) + 0.5)
    restarted = start_service(database_url, log=tmp_path / "service2.log", QINGYUN_JOB_LEASE_S=LEASE_S)
    restarted.keys = service.keys
    try:
        with restarted.client("dispatcher") as client:
            body = client.get(f"/plans/{plan_id}").json()
            assert body["status"] == "failed" and body["retryable"], body
            assert client.post(f"/plans/{plan_id}/retry").status_code == 202
            assert wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)["status"] == "succeeded"
    finally:
        restarted.stop()
