"""Background jobs: solves, audits and station studies run outside the request.

A job row moves queued → running → succeeded | failed. The worker that claims it holds a
lease (``lease_expires_at``) that a heartbeat thread renews every third of the lease; a
worker killed mid-solve stops renewing, and :func:`reap_expired` (run periodically by the
API and by every worker) marks the job failed and retryable. ``POST …/retry`` queues it again.

Where jobs run: an in-process thread pool by default (:class:`InProcessQueue`); Celery
workers over Redis when ``QINGYUN_REDIS_URL`` is set (:class:`CeleryQueue`, ``qingyun worker``).
Both call the same :func:`run_job`, so behaviour does not depend on the transport.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.tables import Job, utc_now
from routing.errors import QingyunError

log = logging.getLogger(__name__)

Writer = Callable[[Session], None]


@dataclass
class JobContext:
    """What a runner gets: its parameters, the engine, and a throttled progress reporter."""

    job_id: str
    params: dict
    engine: Engine
    worker: str
    lease_s: float
    _last_write: float = field(default=0.0)

    def progress(self, **values: object) -> None:
        """Record progress (e.g. best cost so far) at most once a second; also renews the lease."""
        now = time.monotonic()
        if now - self._last_write < 1.0:
            return
        self._last_write = now
        _renew(self.engine, self.job_id, self.worker, self.lease_s, progress=dict(values))


Runner = Callable[[JobContext], tuple[dict, Writer]]
RUNNERS: dict[str, Runner] = {}


def runner(kind: str) -> Callable[[Runner], Runner]:
    """Register the function that does ``kind`` jobs; it returns (result summary, row writer)."""

    def register(function: Runner) -> Runner:
        RUNNERS[kind] = function
        return function

    return register


def _load_runners() -> None:
    import api.services.audits  # noqa: F401
    import api.services.planning  # noqa: F401
    import api.services.stations  # noqa: F401


def worker_name(kind: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{kind}:{threading.get_ident()}"


def new_job(*, kind: str, params: dict, max_attempts: int) -> Job:
    return Job(id=str(uuid.uuid4()), kind=kind, params=params, max_attempts=max_attempts, created_at=utc_now())


def _renew(engine: Engine, job_id: str, worker: str, lease_s: float, *, progress: dict | None = None) -> bool:
    now = utc_now()
    values: dict = {"heartbeat_at": now, "lease_expires_at": now + timedelta(seconds=lease_s)}
    if progress is not None:
        values["progress"] = progress
    with engine.begin() as connection:
        result = connection.execute(
            update(Job).where(Job.id == job_id, Job.status == "running", Job.worker == worker).values(**values)
        )
    return result.rowcount == 1


class _Heartbeat(threading.Thread):
    def __init__(self, engine: Engine, job_id: str, worker: str, lease_s: float) -> None:
        super().__init__(name=f"heartbeat-{job_id[:8]}", daemon=True)
        self.engine, self.job_id, self.worker, self.lease_s = engine, job_id, worker, lease_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.lease_s / 3):
            try:
                _renew(self.engine, self.job_id, self.worker, self.lease_s)
            except Exception:  # noqa: BLE001 - a database hiccup must not kill the job; the next beat retries
                log.exception("heartbeat of job %s failed", self.job_id)


def _claim(engine: Engine, job_id: str, worker: str, lease_s: float) -> Job | None:
    now = utc_now()
    with engine.begin() as connection:
        result = connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(
                status="running",
                attempts=Job.attempts + 1,
                worker=worker,
                started_at=now,
                heartbeat_at=now,
                lease_expires_at=now + timedelta(seconds=lease_s),
                error=None,
                retryable=False,
                progress={},
            )
        )
    if result.rowcount != 1:
        return None
    with Session(engine) as session:
        return session.get(Job, job_id)


def _fail(engine: Engine, job_id: str, worker: str, *, error: str, retryable: bool) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.worker == worker)
            .values(
                status="failed",
                error=error[:20_000],
                retryable=(Job.attempts < Job.max_attempts) if retryable else False,
                finished_at=utc_now(),
                lease_expires_at=None,
            )
        )


def run_job(engine: Engine, job_id: str, *, worker: str, lease_s: float) -> str:
    """Claim and run one queued job; returns its final status ("skipped" when not claimable)."""
    if not RUNNERS:
        _load_runners()
    job = _claim(engine, job_id, worker, lease_s)
    if job is None:
        return "skipped"
    beat = _Heartbeat(engine, job_id, worker, lease_s)
    beat.start()
    try:
        result, write = RUNNERS[job.kind](
            JobContext(job_id=job_id, params=job.params, engine=engine, worker=worker, lease_s=lease_s)
        )
    except QingyunError as exc:  # the input is wrong: running it again gives the same answer
        _fail(engine, job_id, worker, error=str(exc), retryable=False)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - anything else may be transient: retryable
        log.exception("job %s failed", job_id)
        _fail(
            engine,
            job_id,
            worker,
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}",
            retryable=True,
        )
        return "failed"
    finally:
        beat.stopped.set()
    with Session(engine) as session:
        current = session.exec(select(Job).where(Job.id == job_id).with_for_update()).one()
        if current.status != "running" or current.worker != worker:
            log.warning(
                "job %s was taken from this worker (%s) before it finished; result dropped", job_id, current.status
            )
            return current.status
        write(session)
        current.status, current.result, current.finished_at, current.lease_expires_at = (
            "succeeded",
            result,
            utc_now(),
            None,
        )
        session.add(current)
        session.commit()
    return "succeeded"


def reap_expired(engine: Engine) -> int:
    """Fail every running job whose lease ran out (its worker died); returns how many."""
    now = utc_now()
    with engine.begin() as connection:
        result = connection.execute(
            update(Job)
            .where(Job.status == "running", Job.lease_expires_at < now)
            .values(
                status="failed",
                finished_at=now,
                lease_expires_at=None,
                retryable=Job.attempts < Job.max_attempts,
                error="工作进程失联 / worker lost: no heartbeat before the lease expired; retry with POST …/retry",
            )
        )
    return result.rowcount


def requeue(engine: Engine, job_id: str) -> Job:
    """Queue a failed, retryable job again; raises ``JobStateError`` otherwise."""
    with Session(engine) as session:
        job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None:
            raise JobStateError(f"job {job_id} does not exist")
        if job.status != "failed" or not job.retryable:
            why = (
                "it has used all its attempts or failed on its input"
                if job.status == "failed"
                else f"it is {job.status}"
            )
            raise JobStateError(f"job {job_id} cannot be retried: {why}")
        job.status, job.error, job.retryable, job.worker, job.finished_at = "queued", None, False, None, None
        session.add(job)
        session.commit()
        session.refresh(job)
        return job


class JobStateError(QingyunError):
    """A job operation that its current state does not allow."""


class JobQueue(Protocol):
    def dispatch(self, job_id: str) -> None: ...

    def close(self) -> None: ...


class _Reaper(threading.Thread):
    def __init__(self, engine: Engine, every_s: float) -> None:
        super().__init__(name="job-reaper", daemon=True)
        self.engine, self.every_s = engine, every_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every_s):
            try:
                reap_expired(self.engine)
            except Exception:  # noqa: BLE001
                log.exception("reaping expired jobs failed")


class InProcessQueue:
    """Jobs on a thread pool inside the API process; queued jobs left from a previous run start again."""

    def __init__(self, engine: Engine, *, workers: int, lease_s: float) -> None:
        self.engine, self.lease_s = engine, lease_s
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job")
        self.reaper = _Reaper(engine, every_s=max(0.5, lease_s / 3))
        self.reaper.start()
        reap_expired(engine)
        with Session(engine) as session:
            for job_id in session.exec(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)):
                self.dispatch(job_id)

    def dispatch(self, job_id: str) -> None:
        self.pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        run_job(self.engine, job_id, worker=worker_name("thread"), lease_s=self.lease_s)

    def close(self) -> None:
        self.reaper.stopped.set()
        self.pool.shutdown(wait=False, cancel_futures=True)


# --- Celery over Redis --------------------------------------------------------------------
TASK_NAME = "qingyun.run_job"


def celery_app(redis_url: str, *, queue: str):
    """The Celery app shared by the API (sender) and ``qingyun worker`` (consumer)."""
    from celery import Celery

    app = Celery("qingyun", broker=redis_url)
    app.conf.update(
        task_default_queue=queue,
        task_acks_late=True,  # a message is removed only once its job ran
        worker_prefetch_multiplier=1,
        task_reject_on_worker_lost=False,  # a lost worker's job is failed by its lease, retried on request
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name=TASK_NAME, ignore_result=True)
    def run(job_id: str) -> str:
        from api.db import engine_for
        from api.settings import api_settings

        settings = api_settings()
        return run_job(
            engine_for(settings.database_url), job_id, worker=worker_name("celery"), lease_s=settings.job_lease_s
        )

    return app


class CeleryQueue:
    """Jobs sent to Celery workers over Redis; the API process still reaps expired leases."""

    def __init__(self, engine: Engine, *, redis_url: str, queue: str, lease_s: float) -> None:
        self.app = celery_app(redis_url, queue=queue)
        self.reaper = _Reaper(engine, every_s=max(0.5, lease_s / 3))
        self.reaper.start()

    def dispatch(self, job_id: str) -> None:
        self.app.send_task(TASK_NAME, args=[job_id])

    def close(self) -> None:
        self.reaper.stopped.set()


def run_worker(*, redis_url: str, queue: str, database_url: str, lease_s: float, concurrency: int = 1) -> None:
    """``qingyun worker``: consume jobs until stopped (one solve at a time per process by default)."""
    from api.db import engine_for

    _load_runners()
    engine = engine_for(database_url)
    reaper = _Reaper(engine, every_s=max(0.5, lease_s / 3))
    reaper.start()
    app = celery_app(redis_url, queue=queue)
    # solo pool: the solver forks its own search processes, which Celery's daemonic prefork children may not
    pool = ["--pool=solo"] if concurrency == 1 else ["--pool=threads", f"--concurrency={concurrency}"]
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            f"--queues={queue}",
            *pool,
            f"--hostname=qingyun-{os.getpid()}@{socket.gethostname()}",
        ]
    )
