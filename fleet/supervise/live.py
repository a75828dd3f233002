"""The live path: every accepted position goes to the rule engine right after it is stored.

The JT/T 808 gateway (its own process under ``qingyun serve``) and ``POST /positions`` hand the
fixes they committed to a :class:`PositionSink`; :func:`position_sink` picks it from the settings:

- in-process (default): :class:`InProcessSink` queues the fixes (bounded, never blocking the
  caller) for one thread that runs a ``fleet.supervise.judge.LiveJudge`` — the permits and zones
  of the database, reloaded when they change, judged by one ``SupervisionEngine`` — which stores
  the events with ``fleet.supervise.store.apply_events`` (alarm rows by key, and the alarm event
  log that ``GET /alarms/stream`` reads);
- with ``QINGYUN_REDIS_URL``: the Redis Streams sink of ``fleet.supervise.streams`` (imported only
  then); its ``qingyun supervise`` workers run the same ``LiveJudge``.

The newest fix of every truck is also kept in table ``live_fix`` (``fleet.supervise.store.record_last_fixes``,
called where positions are stored, so it is current in both modes): ``GET /live`` reads one row per
truck instead of searching the positions.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import Engine

from fleet.settings import FleetSettings
from fleet.supervise.judge import LiveJudge
from fleet.tracks.store import POSITION_COLUMNS

if TYPE_CHECKING:
    from fleet.supervise.engine import Fix
    from routing.network.settings import NetworkSettings

log = logging.getLogger(__name__)

_COLUMN = {name: i for i, name in enumerate(POSITION_COLUMNS)}
_STOP = object()


def fixes_of_rows(rows: Sequence[tuple]) -> list[Fix]:
    """Position rows (``POSITION_COLUMNS`` order, aware GPS times) → the engine's fixes."""
    from fleet.supervise.engine import Fix  # numpy and the rules: only where fixes are judged

    return [
        Fix(
            device=r[0],
            t=r[_COLUMN["gps_time"]].timestamp(),
            lon=float(r[_COLUMN["lon"]]),
            lat=float(r[_COLUMN["lat"]]),
            speed_kmh=r[_COLUMN["speed_kmh"]],
            status=r[_COLUMN["status"]],
        )
        for r in rows
    ]


class PositionSink(Protocol):
    """Where accepted positions go after they are stored.

    ``accept`` is called on the gateway's event loop and in API requests: it must return at once
    (queue the fixes, never wait for the engine or a network round trip). ``close`` flushes what it
    can and releases the sink's resources.
    """

    def accept(self, fixes: list[Fix], *, received_at: float) -> None: ...

    def close(self) -> None: ...


@dataclass
class SinkStats:
    """What an in-process sink did: fixes queued, judged, not judged live (queue full or engine down), events."""

    accepted: int = 0
    judged: int = 0
    dropped: int = 0
    alarms_changed: int = 0
    failures: int = 0


class InProcessSink:
    """Fixes queued for one judging thread, which loads the road network when the first fix arrives.

    ``accept`` never blocks: beyond ``live.queue_fixes`` waiting fixes the new ones are counted as
    dropped and logged — they are stored, so ``qingyun supervise replay`` (the batch path) still
    judges them — and the caller goes on.

    Parameters
    ----------
    db
        The service database.
    settings
        Rule, track and live settings.
    network
        Returns the ``RoadNetwork``; called once, on the judging thread.
    """

    def __init__(self, db: Engine, *, settings: FleetSettings, network: Callable[[], object]) -> None:
        self._db = db
        self._settings = settings
        self._network = network
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._closed = False
        self._broken = False
        self._ready = False  # the network is loaded and the judge built
        self._thread: threading.Thread | None = None
        self.stats = SinkStats()

    def accept(self, fixes: list[Fix], *, received_at: float) -> None:
        """Queue fixes for the engine (never waits); see the class for what happens when the queue is full."""
        if not fixes:
            return
        with self._lock:
            if self._closed or self._broken or self._pending + len(fixes) > self._settings.live.queue_fixes:
                self._drop(len(fixes))
                return
            self._pending += len(fixes)
            self.stats.accepted += len(fixes)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qingyun-live-judge", daemon=True)
                self._thread.start()
        self._queue.put((fixes, received_at))

    def wait_idle(self, *, timeout_s: float) -> bool:
        """Wait until every queued fix is judged and its events stored; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout_s)

    def close(self, *, timeout_s: float = 10.0) -> None:
        """Judge what is queued (at most ``timeout_s``), then stop the thread; later fixes are dropped.

        A thread still loading the network is not waited for (a daemon, it ends with the process).
        """
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout_s if self._ready else 0)
            if thread.is_alive():
                log.warning(
                    "live judging thread still busy after %g s: %d fixes left unjudged", timeout_s, self._pending
                )

    def _drop(self, count: int) -> None:
        """Count fixes not judged live (lock held); log the first and then every 10,000th."""
        before = self.stats.dropped
        self.stats.dropped += count
        if before == 0 or before // 10_000 != self.stats.dropped // 10_000:
            log.warning(
                "live path: %d fixes not judged live so far (queue of %d full, or engine unavailable); they are "
                "stored — `qingyun supervise replay` judges them",
                self.stats.dropped,
                self._settings.live.queue_fixes,
            )

    def _done(self, count: int) -> None:
        with self._idle:
            self._pending -= count
            self._idle.notify_all()

    def _run(self) -> None:
        try:
            judge = LiveJudge(self._db, settings=self._settings, network=self._network())
            self._ready = True
        except Exception:
            log.exception("live path disabled: the rule engine could not start")
            with self._lock:
                self._broken = True
            judge = None
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            fixes, received_at = item
            try:
                if judge is None:
                    with self._lock:
                        self._drop(len(fixes))
                    continue
                applied = judge.judge(fixes, received_at=received_at)
                self.stats.judged += len(fixes)
                self.stats.alarms_changed += applied.inserted + applied.changed
            except Exception:  # a bug or a database outage costs these fixes' live judgement, never the thread
                self.stats.failures += 1
                log.exception("judging %d live fixes failed", len(fixes))
            finally:
                self._done(len(fixes))


def network_loader(settings: NetworkSettings) -> Callable[[], object]:
    """Loads the default road network of ``settings`` when called (for a process that holds none yet).

    Parameters
    ----------
    settings
        Data folder, default OSM file, cache.

    Returns
    -------
    callable
        No arguments; returns the ``RoadNetwork`` (built or read from the disk cache).
    """

    def load() -> object:
        from routing.network.graph import load_network

        return load_network(settings.named_osm(None), settings=settings)

    return load


def position_sink(settings: FleetSettings, *, db: Engine, network: Callable[[], object]) -> PositionSink | None:
    """The live path's sink: Redis Streams when ``QINGYUN_REDIS_URL`` is set, else the in-process engine.

    Parameters
    ----------
    settings
        Supervision settings (``live.redis_url`` chooses the mode).
    db
        The service database.
    network
        Returns the ``RoadNetwork`` (the in-process engine calls it once, on its thread).

    Returns
    -------
    PositionSink or None
        None when ``QINGYUN_LIVE_ENABLED`` is false: positions are only stored.
    """
    if not settings.live.enabled:
        return None
    if settings.live.redis_url:
        from fleet.supervise.streams import redis_sink  # Redis only in that mode

        return redis_sink(settings=settings, redis_url=settings.live.redis_url)
    return InProcessSink(db, settings=settings, network=network)
