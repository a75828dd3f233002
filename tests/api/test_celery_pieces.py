"""A cut day's search pieces on ``qingyun worker`` processes over the local Redis: spread, and re-run when one dies.

The small Shenzhen day has four independent pieces (streams with their own trucks), so it is
searched in parts without forcing zones. Each test has its own Celery queue (its pieces queue
follows) and its own SQLite database; workers are real subprocesses, the plans are certified by
the independent checker inside ``plan_day``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from tests.api.conftest import issue_keys, redis_or_skip, start_service, wait_for_job
from tests.api.test_celery_jobs import start_worker, wait_until
from tests.api.test_shutdown import alive, descendants


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def pieces_setup(tmp_path):
    """Settings in Celery mode on this test's own queue, and a way to start workers (ready; stopped afterwards)."""
    from api.settings import ServiceSettings, Settings

    redis_url = redis_or_skip()
    queue = f"qingyun-test-{uuid.uuid4().hex[:8]}"
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    settings = Settings(service=ServiceSettings(redis_url=redis_url, celery_queue=queue, database_url=database_url))
    workers: list[subprocess.Popen] = []

    def worker() -> subprocess.Popen:
        log = tmp_path / f"worker{len(workers)}.log"
        workers.append(start_worker(database_url, redis_url, queue, log))
        wait_until(lambda: " ready." in log.read_text(errors="replace"), timeout_s=60, what=f"{log.name} ready")
        return workers[-1]

    yield settings, worker
    for process in workers:
        _stop(process)


def _plan(scenario: dict, runner, *, time_limit_s: float, **params):
    from routing.network.graph import load_network
    from routing.planning.pipeline import plan_day
    from routing.planning.scenario import parse_scenario
    from routing.planning.search.params import SolveParams
    from routing.planning.search.workers import pieces_run_by

    with pieces_run_by(runner):
        return plan_day(
            parse_scenario(scenario),
            params=SolveParams(time_limit_s=time_limit_s, workers=1, **params),
            network=load_network(),
        )


def _pid(who: str) -> int:
    return int(who.split(":")[1])  # host:pid:role:xxxxxx


def test_a_cut_days_pieces_run_on_the_workers(pieces_setup, small_scenario, tmp_path):
    from api.jobs.queues import piece_runner

    settings, worker = pieces_setup
    pids = {worker().pid, worker().pid}
    runner = piece_runner(settings, local_lanes=0)  # the caller runs none itself: every piece must travel
    # the pieces of 18 and 6 sites cut into zones (one per truck: 3 and 2), borders searched again in pairs
    outcome = _plan(small_scenario, runner, time_limit_s=4.0, decompose_above=5, zone_target_sites=3)
    assert outcome.plan.search["pieces"] >= 6
    assert sum(label.startswith("piece") for label in runner.ran_on) >= 6
    assert any(label.startswith("border") for label in runner.ran_on)
    assert {_pid(who) for who in runner.ran_on.values()} <= pids
    logs = "".join((tmp_path / f"worker{k}.log").read_text(errors="replace") for k in range(2))
    for label, who in runner.ran_on.items():
        assert f"piece {label} of qingyun:pieces:" in logs and f"done on {who}" in logs
    assert outcome.check.ok and outcome.check.clearance_rate == 1.0
    assert not outcome.document.unserved


def test_a_worker_killed_mid_piece_has_its_piece_rerun_by_the_other(pieces_setup, small_scenario, tmp_path, caplog):
    from api.jobs.queues import piece_runner

    settings, worker = pieces_setup
    workers = {process.pid: process for process in (worker(), worker())}
    runner = piece_runner(settings, local_lanes=0)
    killed: dict[str, object] = {}

    def kill_the_first_to_start_the_largest_piece() -> None:
        pid = _first_to_start(workers, tmp_path, "piece0")
        # the worker logs the start before it forks the search: wait for the search to exist
        killed["searches"] = wait_until(lambda: descendants(pid) or None, timeout_s=30, what="the piece's search")
        os.kill(pid, signal.SIGKILL)  # the worker alone: its search must die with it
        workers[pid].wait()
        killed["pid"] = pid

    killer = threading.Thread(target=kill_the_first_to_start_the_largest_piece, daemon=True)
    killer.start()
    with caplog.at_level(logging.WARNING, logger="routing.planning.search.remote"):
        outcome = _plan(small_scenario, runner, time_limit_s=10.0)  # the largest piece searches about 5.6 s
    killer.join(timeout=5)
    other = next(pid for pid in workers if pid != killed["pid"])
    label = next(label for label in runner.ran_on if label.startswith("piece0|"))
    assert _pid(runner.ran_on[label]) == other  # re-run by the worker still alive
    assert any(f"piece {label} lost on" in r.getMessage() for r in caplog.records)
    assert killed["searches"] and not any(alive(pid) for pid in killed["searches"])
    assert outcome.check.ok and outcome.check.clearance_rate == 1.0
    assert not outcome.document.unserved


def _first_to_start(workers: dict[int, subprocess.Popen], tmp_path: Path, piece: str) -> int:
    def started():
        for k, pid in enumerate(workers):
            if f"piece {piece}|" in (tmp_path / f"worker{k}.log").read_text(errors="replace"):
                return pid
        return None

    return wait_until(started, timeout_s=120, what=f"a worker to start {piece}")


def test_a_worker_stopped_mid_piece_lets_it_go_to_the_other(pieces_setup, small_scenario, tmp_path):
    from api.jobs.queues import piece_runner

    settings, worker = pieces_setup
    workers = {process.pid: process for process in (worker(), worker())}
    runner = piece_runner(settings, local_lanes=0)
    stopped: dict[str, int] = {}

    def stop_the_first_to_start_the_largest_piece() -> None:
        pid = _first_to_start(workers, tmp_path, "piece0")
        os.kill(pid, signal.SIGTERM)
        stopped["code"] = workers[pid].wait(timeout=30)  # not after its piece's search
        stopped["pid"] = pid

    stopper = threading.Thread(target=stop_the_first_to_start_the_largest_piece, daemon=True)
    stopper.start()
    outcome = _plan(small_scenario, runner, time_limit_s=10.0)
    stopper.join(timeout=30)
    assert stopped["code"] == 0
    log = (tmp_path / f"worker{list(workers).index(stopped['pid'])}.log").read_text(errors="replace")
    label = next(label for label in runner.ran_on if label.startswith("piece0|"))
    assert f"piece {label} of" in log and "stopped on" in log  # its search ended, its claim let go
    assert _pid(runner.ran_on[label]) != stopped["pid"]
    assert outcome.check.ok and outcome.check.clearance_rate == 1.0


def test_a_cancelled_call_stops_its_pieces_on_the_workers(pieces_setup, small_scenario, tmp_path):
    from api.jobs.queues import piece_runner
    from routing.planning.search.processes import SearchCancelled, SearchScope, owned_by

    settings, worker = pieces_setup
    process = worker()
    runner = piece_runner(settings, local_lanes=0)
    scope = SearchScope()
    searches: set[int] = set()

    def cancel_once_the_largest_piece_runs() -> None:
        _first_to_start({process.pid: process}, tmp_path, "piece0")
        searches.update(wait_until(lambda: descendants(process.pid), timeout_s=30, what="the piece's search"))
        scope.cancel()  # as a job handed back at a shutdown

    threading.Thread(target=cancel_once_the_largest_piece_runs, daemon=True).start()
    with owned_by(scope), pytest.raises(SearchCancelled):
        _plan(small_scenario, runner, time_limit_s=30.0)  # the largest piece would search about 17 s
    log = tmp_path / "worker0.log"
    wait_until(lambda: "stopped on" in log.read_text(errors="replace"), timeout_s=30, what="the piece stopped")
    assert "done on" not in log.read_text(errors="replace")
    assert searches and not any(alive(pid) for pid in searches)
    assert process.poll() is None  # the worker itself lives on


def test_a_job_on_one_worker_spreads_its_pieces_to_the_other(tmp_path, small_scenario):
    from tests.api.test_celery_jobs import LEASE_S
    from tests.conftest import drop_postgres_database, postgres_database

    redis_url = redis_or_skip()
    queue = f"qingyun-test-{uuid.uuid4().hex[:8]}"
    database_url = postgres_database()
    env = {"QINGYUN_REDIS_URL": redis_url, "QINGYUN_CELERY_QUEUE": queue, "QINGYUN_JOB_LEASE_S": str(LEASE_S)}
    service = start_service(database_url, log=tmp_path / "service.log", **env)
    service.keys = issue_keys(database_url)
    logs = [tmp_path / "worker0.log", tmp_path / "worker1.log"]
    workers = [start_worker(database_url, redis_url, queue, log) for log in logs]
    try:
        for log in logs:
            wait_until(lambda log=log: " ready." in log.read_text(errors="replace"), timeout_s=60, what="workers")
        with service.client("dispatcher") as client:
            plan_id = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 4}).json()["id"]
            body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=120)
        texts = [log.read_text(errors="replace") for log in logs]
    finally:
        for process in workers:
            _stop(process)
        service.stop()
        from api.db import _engines

        for url in [u for u in _engines if u.endswith(database_url.rsplit("/", 1)[1])]:
            _engines.pop(url).dispose()
        drop_postgres_database(database_url)
    assert body["status"] == "succeeded", body
    assert {s["id"] for r in body["plan"]["routes"] for s in r["stops"] if s["kind"] == "site"} == {
        s["id"] for s in small_scenario["sites"]
    }
    ran_job = next(k for k, text in enumerate(texts) if f"job {plan_id}" in text)
    other = texts[1 - ran_job]
    assert ":worker:" in other and "done on" in other  # a piece of the job ran on the worker not running it
    assert f"job {plan_id}" not in other
