"""Background batch writer: positions from every connection go to the database together.

A dedicated thread drains a queue and writes what arrived within ``gather_s`` (50 ms)
of the first waiting row, up to ``max_batch_rows``, in one idempotent multi-row
INSERT … ON CONFLICT DO NOTHING: a commit per read would cap PostgreSQL at a few
thousand rows/s, batches of hundreds reach several times that. Each submission carries
a callback run after its rows are committed, so the gateway answers a location only
once it is durable. A write failing because the database is unreachable or busy is
retried, never dropped; a batch the database refuses (bad data) is retried submission
by submission and only the refused submissions fail, so their frames are answered
"failed" and the terminal keeps them. Rows are lost only if the process is killed, and
those were never acknowledged, so the terminal re-sends them. After each commit the newest fix of
every terminal in it is kept for ``GET /live`` (``live_fix``); a failure there is logged, never
held against the positions.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from fleet.supervise.store import record_last_fixes
from fleet.tracks.store import insert_positions

log = logging.getLogger(__name__)
_STOP = object()


@dataclass
class WriterStats:
    rows_written: int = 0
    batches: int = 0
    failed_attempts: int = 0


class PositionWriter:
    """Thread-backed writer; ``await write(rows)`` returns once the rows are committed."""

    def __init__(
        self, engine: Engine, *, max_batch_rows: int = 5000, gather_s: float = 0.05, retry_delay_s: float = 1.0
    ) -> None:
        self._engine = engine
        self._max_batch_rows = max_batch_rows
        self._gather_s = gather_s
        self._retry_delay_s = retry_delay_s
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="jt808-position-writer", daemon=True)
        self._closing = False
        self.stats = WriterStats()

    def start(self) -> None:
        self._thread.start()

    def submit(self, rows: Sequence[tuple], done: Callable[[Exception | None], None]) -> None:
        """Queue rows; ``done(error)`` runs on the writer thread once committed (error None) or refused."""
        if self._closing:
            raise RuntimeError("position writer is closed")
        self._queue.put((rows, done))

    async def write(self, rows: Sequence[tuple]) -> None:
        """Queue rows and wait until they are committed."""
        loop = asyncio.get_running_loop()
        committed = loop.create_future()

        def done(error: Exception | None) -> None:
            loop.call_soon_threadsafe(_resolve, committed, error)

        self.submit(rows, done)
        await committed

    def close(self, *, timeout_s: float | None = None) -> bool:
        """Flush everything queued, stop the thread; False if it did not finish in time."""
        self._closing = True
        self._queue.put(_STOP)
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            rows = len(item[0])
            deadline = time.monotonic() + self._gather_s
            while rows < self._max_batch_rows:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                rows += len(item[0])
            self._commit(batch)

    def _commit(self, batch: list) -> None:
        rows = [row for submitted, _ in batch for row in submitted]
        try:
            self._insert_retrying(rows)
        except Exception:  # refused: find the submission(s) at fault, keep the thread alive
            for submission in batch:
                self._commit_one(submission)
            return
        self.stats.rows_written += len(rows)
        self.stats.batches += 1
        for _, done in batch:
            done(None)

    def _commit_one(self, submission) -> None:
        rows, done = submission
        try:
            self._insert_retrying(rows)
        except Exception as error:
            log.error("database refused %d positions: %s", len(rows), error)
            done(error)
            return
        self.stats.rows_written += len(rows)
        self.stats.batches += 1
        done(None)

    def _insert_retrying(self, rows: list) -> None:
        """Insert; retry while the database is unreachable or busy, raise if it refuses the data."""
        dbapi = self._engine.dialect.loaded_dbapi
        transient = (OperationalError, InterfaceError, dbapi.OperationalError, dbapi.InterfaceError)
        while True:
            try:
                insert_positions(self._engine, rows)
                break
            except transient:
                self.stats.failed_attempts += 1
                log.exception("writing %d positions failed; retrying in %.1f s", len(rows), self._retry_delay_s)
                time.sleep(self._retry_delay_s)
        try:
            record_last_fixes(self._engine, rows)
        except Exception:  # the map's newest fix only: the positions are committed, never answered "failed" for it
            log.exception("keeping the newest fix of %d positions failed", len(rows))


def _resolve(future: asyncio.Future, error: Exception | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
