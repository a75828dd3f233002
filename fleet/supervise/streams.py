"""Live positions over Redis Streams: gateways append, ``qingyun supervise work`` rule workers judge.

With ``QINGYUN_REDIS_URL`` set, every gateway (and ``POST /positions``) hands its committed fixes to
:class:`RedisPositionSink`. It only queues them (the gateway's loop never waits for Redis); its
thread appends each to one of ``stream_partitions`` streams chosen by the CRC-32 of the terminal
(``XADD … MAXLEN ~``: bounded, trimmed approximately, fields one letter each), so a terminal's
fixes stay in one stream, in arrival order.

:class:`StreamWorker` is a rule worker. Partitions are shared among the live workers by rendezvous
hashing over their heartbeats, and a worker reads a partition only while it holds the partition's
lease (``SET NX PX``, renewed every round): two workers never judge one truck at once, and a
worker that joins or leaves moves only its share. Each worker judges with one
``fleet.supervise.judge.LiveJudge`` (the database's permits and zones, one ``SupervisionEngine``).
A truck it has no state for — a partition taken over, entries claimed from a dead worker — is
first warmed with its stored positions of the last ``live_window_s`` (back to its oldest alarm
still open, so that episode keeps its key). Entries are acknowledged (``XACK``) only after the
store has committed their events. Entries another consumer has left pending longer than
``stream_claim_idle_s`` (a killed worker) are claimed (``XAUTOCLAIM``) and judged before the
partition's new entries; judging an entry twice is harmless, alarms being stored by stable key.
Workers whose heartbeat stopped leave the registry, and their consumers are deleted once nothing
is pending on them.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from fleet.supervise.engine import Fix
from fleet.supervise.store import AlarmRow
from fleet.tracks.store import positions_between

if TYPE_CHECKING:
    from fleet.settings import FleetSettings, LiveSettings
    from fleet.supervise.judge import LiveJudge

log = logging.getLogger(__name__)

GROUP = "rules"
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_STOP = object()


def partition_of(device: str, partitions: int) -> int:
    """The partition of a terminal: stable across processes (CRC-32, not Python's salted ``hash``)."""
    return zlib.crc32(device.encode("utf-8")) % partitions


def stream_key(prefix: str, partition: int) -> str:
    """The stream of one partition."""
    return f"{prefix}:{partition}"


def _encode(fix: Fix, received_at: float) -> dict[str, str]:
    """A fix as compact stream fields (one letter each; missing values left out)."""
    values = {"d": fix.device, "t": fix.t, "x": fix.lon, "y": fix.lat, "r": received_at}
    values |= {"v": fix.speed_kmh, "l": fix.load, "i": fix.ignition, "s": fix.status}
    return {k: repr(v) if isinstance(v, float) else str(v) for k, v in values.items() if v is not None}


def _decode(fields: dict[bytes, bytes]) -> tuple[Fix, float]:
    """Stream fields → (fix, when it was accepted)."""
    f = {k.decode(): v.decode() for k, v in fields.items()}
    number = lambda k, kind: kind(f[k]) if k in f else None  # noqa: E731
    fix = Fix(
        device=f["d"],
        t=float(f["t"]),
        lon=float(f["x"]),
        lat=float(f["y"]),
        speed_kmh=number("v", float),
        load=number("l", int),
        ignition=number("i", int),
        status=number("s", int),
    )
    return fix, float(f["r"])


class RedisPositionSink:
    """The position sink in Redis mode: ``accept`` queues, a thread appends in pipelined ``XADD`` batches.

    While Redis is unreachable the thread retries every second; beyond ``live.queue_fixes`` waiting
    fixes new ones are dropped from the live path and logged (they are stored, so ``qingyun
    supervise replay`` still judges them), and the caller never waits.

    Parameters
    ----------
    url
        ``QINGYUN_REDIS_URL``.
    settings
        Live settings: stream prefix, partitions and bound, and the queue limit.
    """

    def __init__(self, url: str, *, settings: LiveSettings) -> None:
        self.settings = settings
        self.redis = redis.Redis.from_url(url)
        self.dropped = 0
        self._waiting = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="qingyun-live-streams", daemon=True)
        self._thread.start()

    def accept(self, fixes: list[Fix], *, received_at: float) -> None:
        """Queue committed fixes for their partition streams (returns at once)."""
        if not fixes:
            return
        with self._lock:
            if self._waiting + len(fixes) > self.settings.queue_fixes:
                before, self.dropped = self.dropped, self.dropped + len(fixes)
                if before == 0 or before // 10_000 != self.dropped // 10_000:  # the first, then every 10,000th
                    log.warning(
                        "live streams: %d fixes not appended so far (Redis behind or away); they are stored — "
                        "`qingyun supervise replay` judges them",
                        self.dropped,
                    )
                return
            self._waiting += len(fixes)
        self._queue.put((fixes, received_at))

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Append what is queued (at most ``timeout_s``), then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        self.redis.close()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while len(batch) < 1000:  # whatever else is waiting goes in the same pipeline
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = any(item is _STOP for item in batch)
            items = [item for item in batch if item is not _STOP]
            if items:
                self._append(items)

    def _append(self, items: list[tuple[list[Fix], float]]) -> None:
        s = self.settings
        while True:
            pipe = self.redis.pipeline(transaction=False)
            for fixes, received_at in items:
                for fix in fixes:
                    key = stream_key(s.stream_prefix, partition_of(fix.device, s.stream_partitions))
                    pipe.xadd(key, _encode(fix, received_at), maxlen=s.stream_maxlen, approximate=True)
            try:
                pipe.execute()
                break
            except redis.RedisError:
                log.exception("appending live fixes to Redis failed; retrying in 1 s")
                time.sleep(1.0)
        count = sum(len(fixes) for fixes, _ in items)
        with self._lock:
            self._waiting -= count


def redis_sink(*, settings: FleetSettings, redis_url: str) -> RedisPositionSink:
    """The Redis Streams sink of ``fleet.supervise.live.position_sink`` (Redis mode)."""
    return RedisPositionSink(redis_url, settings=settings.live)


def warm_fixes(db: Engine, *, device: str, before: float, window_s: float) -> list[Fix]:
    """A truck's stored fixes to judge before its next one: the last ``window_s``, back to its open alarms.

    The engine never forgets the fixes of an open alarm, so a worker taking a truck over goes back
    as far as the earliest alarm of it still open in the store: the episode is judged again from
    its first fix and keeps its key.
    """
    with Session(db) as session:
        oldest = session.scalar(
            select(func.min(AlarmRow.started_at)).where(
                AlarmRow.device == device, AlarmRow.ended_at.is_(None), AlarmRow.withdrawn.is_(False)
            )
        )
    start = before - window_s
    if oldest is not None:
        start = min(start, oldest.timestamp() - 1.0)
    rows = positions_between(
        db, start=datetime.fromtimestamp(start, UTC), end=datetime.fromtimestamp(before, UTC), phones=[device]
    )
    return [
        Fix(device=device, t=r.gps_time.timestamp(), lon=r.lon, lat=r.lat, speed_kmh=r.speed_kmh, status=r.status)
        for r in rows
    ]


@dataclass
class WorkerStats:
    """What a worker did: entries judged (and of those claimed from others), trucks warmed, alarms changed."""

    entries: int = 0
    claimed: int = 0
    warmed_trucks: int = 0
    alarms_changed: int = 0


def _owner(partition: int, live: list[str]) -> str | None:
    """Rendezvous hashing: the live worker with the highest score for ``partition`` owns it."""
    if not live:
        return None
    return max(live, key=lambda name: zlib.crc32(f"{name}|{partition}".encode()))


class StreamWorker:
    """One rule worker: leases a share of the partitions, judges their entries, acks after the store commits.

    Parameters
    ----------
    url
        ``QINGYUN_REDIS_URL``.
    db
        The service database: stored positions (to warm a truck) and alarms.
    judge
        The live judge (permits and zones of ``db``, one engine); used by this worker's thread only.
    settings
        Live settings (``stream_*``).
    consumer
        This worker's name, unique among live workers (default host-pid).
    """

    def __init__(
        self, url: str, *, db: Engine, judge: LiveJudge, settings: LiveSettings, consumer: str | None = None
    ) -> None:
        self.redis = redis.Redis.from_url(url)
        self.db = db
        self.judge = judge
        self.settings = settings
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.stats = WorkerStats()
        self._owned: set[int] = set()
        self._settling: set[int] = set()  # taken over: other consumers' pending entries come first
        self._devices: dict[int, set[str]] = {}  # trucks judged per partition, forgotten when it moves
        self._stopping = False
        self._renewed = self._claimed = time.monotonic()
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._prefix = settings.stream_prefix
        self._workers_key = f"{self._prefix}:workers"

    # --- the loop -------------------------------------------------------------
    def stop(self) -> None:
        """Finish the batch under way, hand the partitions back and return from :meth:`run` (SIGTERM)."""
        self._stopping = True

    def run(self, *, until: Callable[[], bool] | None = None) -> WorkerStats:
        """Work until :meth:`stop` (or ``until()``), then release every lease and leave the registry."""
        self._ensure_groups()
        try:
            while not self._stopping and not (until and until()):
                try:
                    self.step()
                except (redis.ConnectionError, SQLAlchemyError):  # Redis or the database away: entries stay pending
                    log.exception("rule worker %s: round failed; trying again in 1 s", self.consumer)
                    time.sleep(1.0)
        finally:
            self._leave()
        return self.stats

    def step(self) -> None:
        """One round: heartbeat, rebalance, claim orphaned entries, read new ones, judge, store, ack."""
        self._rebalance(self._heartbeat())
        if self._settling or time.monotonic() - self._claimed > self.settings.stream_claim_idle_s / 2:
            for p in sorted(self._owned):
                self._claim(p)
            self._claimed = time.monotonic()
        readable = {stream_key(self._prefix, p): ">" for p in sorted(self._owned - self._settling)}
        if not readable:
            time.sleep(self.settings.stream_block_ms / 1000)
            return
        s = self.settings
        count = max(1, s.stream_batch // len(readable))  # a round holds about stream_batch entries in all
        answer = self.redis.xreadgroup(GROUP, self.consumer, readable, count=count, block=s.stream_block_ms)
        for key, entries in answer or []:
            self._judge(int(key.decode().rsplit(":", 1)[1]), entries)

    # --- membership and leases ------------------------------------------------
    def _ensure_groups(self) -> None:
        for p in range(self.settings.stream_partitions):
            try:
                self.redis.xgroup_create(stream_key(self._prefix, p), GROUP, id="0", mkstream=True)
            except redis.ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    def _heartbeat(self) -> list[str]:
        """Record this worker alive; the live workers; drop those silent too long (consumers with nothing pending)."""
        now = self._now()
        self.redis.hset(self._workers_key, self.consumer, repr(now))
        live = []
        for name, seen in self.redis.hgetall(self._workers_key).items():
            silent = now - float(seen)
            if silent <= self.settings.stream_lease_s:
                live.append(name.decode())
            elif silent > self.settings.stream_worker_timeout_s and self._delete_consumer(name.decode()):
                self.redis.hdel(self._workers_key, name)
                log.warning("rule worker %s silent for %.0f s: left the registry", name.decode(), silent)
        return sorted(live)

    def _now(self) -> float:
        """Redis's clock, which every worker shares (their hosts' clocks may differ)."""
        seconds, micros = self.redis.time()
        return seconds + micros / 1e6

    def _delete_consumer(self, name: str) -> bool:
        """Delete a worker's consumers that have nothing pending; True once none is left."""
        left = False
        for p in range(self.settings.stream_partitions):
            key = stream_key(self._prefix, p)
            for c in self.redis.xinfo_consumers(key, GROUP):
                if c["name"].decode() != name:
                    continue
                if c["pending"]:
                    left = True
                else:
                    self.redis.xgroup_delconsumer(key, GROUP, name)
        return not left

    def _rebalance(self, live: list[str]) -> None:
        """Keep the partitions rendezvous hashing gives this worker: renew, release the others, take free ones."""
        lease_ms = int(self.settings.stream_lease_s * 1000)
        for p in range(self.settings.stream_partitions):
            lease = f"{self._prefix}:lease:{p}"
            mine = _owner(p, live) == self.consumer
            if p in self._owned:
                if mine and self._renew(keys=[lease], args=[self.consumer, lease_ms]):
                    continue
                self._drop(p)
                if mine:
                    log.warning("lease of partition %d lost: this worker stalled past the lease", p)
                else:
                    self._release(keys=[lease], args=[self.consumer])
            elif mine and self.redis.set(lease, self.consumer, nx=True, px=lease_ms):
                self._owned.add(p)
                self._settling.add(p)
                log.info("rule worker %s took partition %d", self.consumer, p)
        self._renewed = time.monotonic()

    def _keepalive(self) -> None:
        """Heartbeat and renew the leases inside a long batch (a takeover warming many trucks)."""
        self.redis.hset(self._workers_key, self.consumer, repr(self._now()))
        lease_ms = int(self.settings.stream_lease_s * 1000)
        for p in self._owned:
            self._renew(keys=[f"{self._prefix}:lease:{p}"], args=[self.consumer, lease_ms])
        self._renewed = time.monotonic()

    def _drop(self, p: int) -> None:
        """Forget a partition and the state of its trucks (another worker judges them now)."""
        self._owned.discard(p)
        self._settling.discard(p)
        for device in self._devices.pop(p, set()):
            self.judge.engine.trucks.pop(device, None)

    def _leave(self) -> None:
        for p in list(self._owned):
            self._release(keys=[f"{self._prefix}:lease:{p}"], args=[self.consumer])
            self._drop(p)
        self.redis.hdel(self._workers_key, self.consumer)
        self._delete_consumer(self.consumer)

    # --- entries --------------------------------------------------------------
    def _claim(self, p: int) -> None:
        """Judge the entries others left pending past ``stream_claim_idle_s``; settled once none are left."""
        key = stream_key(self._prefix, p)
        idle_ms = int(self.settings.stream_claim_idle_s * 1000)
        start = "0-0"
        while True:
            start, entries, _deleted = self.redis.xautoclaim(
                key, GROUP, self.consumer, idle_ms, start_id=start, count=self.settings.stream_batch
            )
            if entries:
                self.stats.claimed += len(entries)
                log.info("partition %d: %d entries claimed from a silent worker", p, len(entries))
                self._judge(p, entries)
            if start in (b"0-0", "0-0"):
                break
        if p in self._settling:
            others = [c for c in self.redis.xinfo_consumers(key, GROUP) if c["name"].decode() != self.consumer]
            if not any(c["pending"] for c in others):
                self._settling.discard(p)

    def _judge(self, p: int, entries: list) -> None:
        """Judge each entry's fix (a truck new to this worker warmed first), store its events, then ack the lot."""
        ids = []
        for entry_id, fields in entries:
            ids.append(entry_id)
            if time.monotonic() - self._renewed > self.settings.stream_lease_s / 3:
                self._keepalive()
            if not fields:  # trimmed away while pending
                continue
            try:
                fix, received_at = _decode(fields)
            except (KeyError, ValueError, UnicodeDecodeError):  # not a fix this sink wrote: skipped, never retried
                log.error("partition %d: entry %s is not a position, skipped: %r", p, entry_id, fields)
                continue
            history = None
            if fix.device not in self.judge.engine.trucks:
                self._devices.setdefault(p, set()).add(fix.device)
                window_s = self.judge.engine.settings.live_window_s
                history = warm_fixes(self.db, device=fix.device, before=fix.t, window_s=window_s)
                self.stats.warmed_trucks += 1
            try:
                applied = self.judge.judge([fix], received_at=received_at, history=history)
            except Exception:  # not stored: forget the truck, so the retry warms it and raises its events again
                self.judge.engine.trucks.pop(fix.device, None)
                raise
            self.stats.alarms_changed += applied.inserted + applied.changed
        if ids:
            self.redis.xack(stream_key(self._prefix, p), GROUP, *ids)
            self.stats.entries += len(ids)
