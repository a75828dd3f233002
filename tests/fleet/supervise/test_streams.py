"""Live positions over Redis Streams (issue 19): gateways' sinks append, rule workers share the partitions.

Runs against the local Redis (``QINGYUN_TEST_REDIS_URL``, default 127.0.0.1:6379; skipped with the
reason when unreachable), every test on streams of its own prefix, deleted afterwards, and a
migrated SQLite file. The truth is one engine fed every fix in order: the alarms the workers
store must be exactly its alarms, each once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, select

from fleet.settings import FleetSettings
from fleet.simulate.tracks import simulate_haul
from fleet.supervise.engine import Fix
from fleet.supervise.judge import LiveJudge
from fleet.supervise.store import AlarmRow
from fleet.supervise.streams import GROUP, RedisPositionSink, StreamWorker, stream_key
from fleet.tracks.store import POSITION_COLUMNS, ensure_terminals, insert_positions
from fleet.tracks.track import read_positions
from tests.api.conftest import redis_or_skip
from tests.fleet.audit.nights import scenario_engine

ROOT = Path(__file__).resolve().parents[3]
FLEET = FleetSettings()
KINDS = ("off_route", "speeding", "restricted_zone", "suspected_dumping", None, None)


class Scenario:
    """Trucks with injected violations: fixes as the gateway hands them over, permits, zones, truth."""

    def __init__(self, net, matcher) -> None:
        self.fixes: list[Fix] = []
        self.permits, self.zones, self.truth = [], [], set()
        for i, kind in enumerate(KINDS):
            phone = f"1390000{i:04d}"
            sc = simulate_haul(net, violation=kind, seed=10 + i, interval_s=10.0, matcher=matcher, settings=FLEET)
            self.permits += [p.model_copy(update={"device": phone, "permit_id": f"P{phone}"}) for p in sc.permits]
            for z in sc.zones:
                zone = z.model_copy(deep=True)
                zone.properties.id = f"{phone}-{z.properties.id}"
                self.zones.append(zone)
            typed, _ = read_positions(sc.positions.assign(device=phone))
            for r in typed.itertuples(index=False):
                status = 2 | int(r.ignition == 1) | (0x300 if r.load == 1 else 0)  # positioned, ACC, load bits
                self.fixes.append(
                    Fix(device=phone, t=float(r.t), lon=r.lon, lat=r.lat, speed_kmh=r.speed_kmh, status=status)
                )
            if kind:
                self.truth.add((phone, kind))
        self.fixes.sort(key=lambda f: (f.t, f.device))  # the trucks report together, in GPS-time order


@pytest.fixture(scope="module")
def scenario(shenzhen):
    from fleet.tracks.matching import MapMatcher

    return Scenario(shenzhen, MapMatcher(shenzhen, settings=FLEET.matching))


@pytest.fixture
def streams():
    """Live settings on streams of a fresh prefix (short leases: a takeover is quick); the keys are deleted afterwards."""
    url = redis_or_skip()
    settings = FLEET.model_copy(
        update={
            "live": FLEET.live.model_copy(
                update={
                    "stream_prefix": f"qytest:{uuid.uuid4().hex[:8]}",
                    "stream_partitions": 4,
                    "stream_lease_s": 1.5,
                    "stream_claim_idle_s": 1.5,
                    "reload_s": 0.5,
                }
            )
        }
    )
    yield url, settings
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{settings.live.stream_prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def db(tmp_path):
    from api.db import engine_for

    engine = engine_for(f"sqlite:///{tmp_path / 'live.db'}")
    yield engine
    engine.dispose()


def gateway_store(db, fixes: list[Fix]) -> None:
    """What a gateway does before handing fixes to the sink: the terminals and positions stored."""
    ensure_terminals(db, phones={f.device for f in fixes}, protocol="2013")
    now = datetime.now(UTC)
    rows = [
        (f.device, datetime.fromtimestamp(f.t, UTC), now, f.lat, f.lon, 0, f.speed_kmh, 0, 0, f.status, None, False, "")
        for f in fixes
    ]
    assert len(rows[0]) == len(POSITION_COLUMNS)
    insert_positions(db, rows)


def store_inputs(db, scenario) -> None:
    """The permits and zones in the database, where the workers' judges read them."""
    from api.services.audits import store_permits, store_zones
    from api.settings import Settings

    with Session(db) as session:
        store_permits(session, scenario.permits, settings=Settings())
        store_zones(session, scenario.zones, settings=Settings())


def expected_keys(net, scenario) -> set[str]:
    """The alarms one engine raises from every fix in order (the stream is not over: nothing is closed)."""
    engine = scenario_engine(net, scenario)
    return {e.alarm.key for fix in scenario.fixes for e in engine.push(fix)}


def stored(db) -> list[AlarmRow]:
    with Session(db) as session:
        return list(session.exec(select(AlarmRow)))


def drained(url: str, live, total: int) -> bool:
    """Every entry appended has been delivered and acknowledged."""
    client = redis.Redis.from_url(url)
    done = 0
    for p in range(live.stream_partitions):
        key = stream_key(live.stream_prefix, p)
        if not client.exists(key):
            return False
        (group,) = client.xinfo_groups(key)
        if group["pending"] or group["lag"]:
            return False
        done += client.xlen(key)
    return done == total


def feed(db, sinks: list[RedisPositionSink], fixes: list[Fix]) -> None:
    """The gateways at work: positions stored, then appended; each truck talks to one gateway, as a terminal does."""
    for k in range(0, len(fixes), 50):
        chunk = fixes[k : k + 50]
        gateway_store(db, chunk)
        for i, sink in enumerate(sinks):
            sink.accept([f for f in chunk if int(f.device) % len(sinks) == i], received_at=time.time())


@contextmanager
def working(workers: list[StreamWorker]):
    """The workers in threads until the block ends."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, kwargs={"until": stop.is_set}) for w in workers]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def wait_drained(url: str, live, total: int) -> None:
    deadline = time.monotonic() + 120
    while not drained(url, live, total) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert drained(url, live, total)


def test_two_gateways_and_two_workers_raise_each_alarm_once(shenzhen, scenario, streams, db):
    url, settings = streams
    live = settings.live
    store_inputs(db, scenario)
    sinks = [RedisPositionSink(url, settings=live) for _ in range(2)]  # two gateways
    workers = [
        StreamWorker(url, db=db, judge=LiveJudge(db, settings=settings, network=shenzhen), settings=live, consumer=name)
        for name in ("w1", "w2")
    ]
    with working(workers):
        feed(db, sinks, scenario.fixes)
        for sink in sinks:
            sink.close()
        wait_drained(url, live, len(scenario.fixes))
    # the partitions were shared: each worker judged part of the fleet, every entry once
    assert all(w.stats.entries > 0 for w in workers)
    assert sum(w.stats.entries for w in workers) == len(scenario.fixes)
    rows = stored(db)
    expected = expected_keys(shenzhen, scenario)
    assert len(expected) >= len(scenario.truth) and {r.key for r in rows} == expected
    kinds = Counter((r.device, r.type) for r in rows if not r.withdrawn)
    assert all(kinds[truth] == 1 for truth in scenario.truth), kinds
    # the workers left: leases released, consumers gone
    client = redis.Redis.from_url(url)
    assert not list(client.scan_iter(f"{live.stream_prefix}:lease:*"))
    assert all(
        not client.xinfo_consumers(stream_key(live.stream_prefix, p), GROUP) for p in range(live.stream_partitions)
    )


def test_a_worker_taking_a_truck_over_mid_episode_continues_its_alarm(shenzhen, scenario, streams, db):
    url, settings = streams
    live = settings.live
    store_inputs(db, scenario)
    reference = scenario_engine(shenzhen, scenario)
    opened = next(
        f for f in scenario.fixes for e in reference.push(f) if e.kind == "start" and "speeding" in e.alarm.key
    )
    split = next(k for k, f in enumerate(scenario.fixes) if f.t > opened.t + 60)  # the speeding episode goes on
    sink = RedisPositionSink(url, settings=live)
    first = StreamWorker(
        url, db=db, judge=LiveJudge(db, settings=settings, network=shenzhen), settings=live, consumer="a"
    )
    with working([first]):
        feed(db, [sink], scenario.fixes[:split])
        sink.close()
        wait_drained(url, live, split)
    assert [r.ended_at for r in stored(db) if r.type == "speeding"] == [None]  # open when the worker left
    # another worker, no state: it warms each truck from the stored positions and goes on
    second = StreamWorker(
        url, db=db, judge=LiveJudge(db, settings=settings, network=shenzhen), settings=live, consumer="b"
    )
    sink = RedisPositionSink(url, settings=live)
    with working([second]):
        feed(db, [sink], scenario.fixes[split:])
        sink.close()
        wait_drained(url, live, len(scenario.fixes))
    assert second.stats.warmed_trucks == len(KINDS)
    rows = stored(db)
    assert {r.key for r in rows} == expected_keys(shenzhen, scenario)  # no second alarm for a going episode
    assert Counter(r.type for r in rows)["speeding"] == 1


def _worker(name: str, env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "qingyun"), "supervise", "work", "--consumer", name],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _pending_on(client, live, consumer: str) -> int:
    total = 0
    for p in range(live.stream_partitions):
        for c in client.xinfo_consumers(stream_key(live.stream_prefix, p), GROUP):
            total += c["pending"] if c["name"].decode() == consumer else 0
    return total


def _kill_mid_batch(process: subprocess.Popen, client, live) -> int:
    """SIGKILL worker w1 while it holds entries read and not acknowledged: how many (0: it held none for 2 s)."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if _pending_on(client, live, "w1"):
            process.send_signal(signal.SIGSTOP)  # frozen mid-batch, then killed
            held = _pending_on(client, live, "w1")
            if held:
                process.kill()
                return held
            process.send_signal(signal.SIGCONT)
    return 0


def test_a_killed_worker_s_entries_are_judged_by_the_other_and_each_alarm_is_stored_once(
    shenzhen, scenario, streams, tmp_path
):
    from api.db import engine_for

    url, settings = streams
    live = settings.live
    database = f"sqlite:///{tmp_path / 'kill.db'}"
    db = engine_for(database)
    store_inputs(db, scenario)
    env = {
        **os.environ,
        "QINGYUN_DATABASE_URL": database,
        "QINGYUN_REDIS_URL": url,
        "QINGYUN_LIVE_STREAM_PREFIX": live.stream_prefix,
        "QINGYUN_LIVE_STREAM_PARTITIONS": str(live.stream_partitions),
        "QINGYUN_LIVE_STREAM_LEASE_S": str(live.stream_lease_s),
        "QINGYUN_LIVE_STREAM_CLAIM_IDLE_S": str(live.stream_claim_idle_s),
    }
    client = redis.Redis.from_url(url)
    sinks = [RedisPositionSink(url, settings=live) for _ in range(2)]  # two gateways
    with open(tmp_path / "workers.log", "wb") as log:
        workers = {name: _worker(name, env, log) for name in ("w1", "w2")}
        try:
            deadline = time.monotonic() + 60
            while (
                len(
                    set(client.mget([f"{live.stream_prefix}:lease:{p}" for p in range(live.stream_partitions)]))
                    - {None}
                )
                < 2
            ):
                assert time.monotonic() < deadline, (tmp_path / "workers.log").read_text()
                time.sleep(0.2)
            killed, fed = 0, 0
            for k in range(0, len(scenario.fixes), 100):
                chunk = scenario.fixes[k : k + 100]
                feed(db, sinks, chunk)
                fed += len(chunk)
                if not killed and fed > len(scenario.fixes) // 3:
                    killed = _kill_mid_batch(workers["w1"], client, live)
                time.sleep(0.05)
            for sink in sinks:
                sink.close()
            assert killed, "w1 never held unacknowledged entries"
            wait_drained(url, live, len(scenario.fixes))
            assert _pending_on(client, live, "w1") == 0  # its entries were claimed by w2 and judged there
            owners = client.mget([f"{live.stream_prefix}:lease:{p}" for p in range(live.stream_partitions)])
            assert set(owners) == {b"w2"}  # w2 took the dead worker's partitions over
            workers["w2"].send_signal(signal.SIGTERM)
            assert workers["w2"].wait(30) == 0  # SIGTERM: graceful, exit code 0
        finally:
            for process in workers.values():
                if process.poll() is None:
                    process.kill()
                    process.wait()
    text = (tmp_path / "workers.log").read_text()
    assert "claimed" in text
    rows = stored(db)
    assert {r.key for r in rows} == expected_keys(shenzhen, scenario)
    kinds = Counter((r.device, r.type) for r in rows if not r.withdrawn)
    assert all(kinds[truth] == 1 for truth in scenario.truth), kinds
    db.dispose()
