"""Pieces over Redis without Celery: the caller's own lanes, an overdue holder, the size bound (local Redis)."""

from __future__ import annotations

import logging
import threading

import pytest

from routing.errors import InvalidInputError
from routing.planning.check import check_plan
from routing.planning.search.driver import solve
from routing.planning.search.params import SolveParams, default_strategies
from routing.planning.search.remote import RedisPieces
from routing.planning.search.workers import SearchTask, pieces_run_by
from tests.conftest import REDIS_URL

from ..conftest import base_scenario, build, site


@pytest.fixture(scope="module")
def client():
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable ({exc}); CI runs these")
    return connection


def zoned_day(guixi, places):
    sites = [site(places, k, kg=300.0) for k in range(3, 39)]
    doc = base_scenario(
        places,
        sites=sites,
        vehicle_types=[{"id": "T", "streams": ["kitchen"], "capacity_kg": 2000}],
        vehicles=[{"id": f"V{i}", "type": "T", "depot": "D"} for i in range(8)],
    )
    return build(doc, guixi)


def test_with_no_worker_the_callers_lanes_run_every_piece(client, guixi, places):
    problem = zoned_day(guixi, places)
    sent: list[tuple[str, str]] = []
    runner = RedisPieces(REDIS_URL, send=lambda run, label: sent.append((run, label)), local_lanes=1)
    with pieces_run_by(runner):
        plan = solve(problem, SolveParams(time_limit_s=4.0, workers=1, decompose_above=12, zone_target_sites=9))
    zones = [label for label in runner.ran_on if label.startswith("piece")]
    assert plan.search["pieces"] >= 4 and len(zones) >= 4  # zones, then border pairs, all through Redis
    assert {label for _, label in sent} == set(runner.ran_on)
    assert all(":local:" in who for who in runner.ran_on.values())
    report = check_plan(problem, plan)
    assert report.violations == [] and report.clearance_rate == 1.0
    assert not [key for run in {run for run, _ in sent} for key in client.keys(f"{run}*")]  # nothing left behind


def test_a_piece_held_past_its_time_limit_is_taken_over(client, guixi, places, caplog):
    problem = build(base_scenario(places, sites=[site(places, k) for k in range(3, 9)]), guixi)
    strategy = default_strategies(problem)[0]
    tasks = [SearchTask(f"{name}|{strategy}", problem, strategy, 1.0) for name in ("stuck", "fine")]
    released = threading.Event()

    def hold(claim: str) -> None:  # a worker that claims the piece, keeps its heartbeat and never finishes
        while not released.wait(0.5):
            if client.get(claim) != b"stuck":
                released.set()
                return
            client.pexpire(claim, 6000)

    def send(run: str, label: str) -> None:
        if label.startswith("stuck"):
            client.set(f"{run}:claim:{label}", "stuck", px=6000)
            threading.Thread(target=hold, args=(f"{run}:claim:{label}",), daemon=True).start()

    runner = RedisPieces(REDIS_URL, send=send, local_lanes=1, grace_s=0.0)
    with caplog.at_level(logging.WARNING, logger="routing.planning.search.remote"):
        found = runner.run(tasks, SolveParams(workers=1), lambda label, cost: None)
    assert set(found) == {t.label for t in tasks} and all(r.routes for r in found.values())
    assert ":local:" in runner.ran_on[tasks[0].label]
    assert released.wait(5)  # the stuck holder saw its claim taken
    assert any("overdue on stuck" in r.getMessage() for r in caplog.records)


def test_a_piece_too_large_to_send_is_refused_naming_its_size(client, guixi, places):
    problem = build(base_scenario(places, sites=[site(places, k) for k in range(3, 9)]), guixi)
    tasks = [SearchTask(f"p{k}|S", problem, "S", 1.0) for k in range(2)]
    runner = RedisPieces(REDIS_URL, send=lambda run, label: None, local_lanes=1, max_piece_mb=0.0001)
    with pytest.raises(
        InvalidInputError,
        match=r"piece p0\|S \(6 sites\) is 0\.0 MB compressed, above the 0\.0001 MB.*zone_target_sites \(600\)",
    ):
        runner.run(tasks, SolveParams(workers=1), lambda label, cost: None)
