"""Job rows, leases and heartbeats: how one background job is claimed, run and finished.

A job row moves queued → running → succeeded | failed. The worker that claims it holds a
lease (``lease_expires_at``) that a heartbeat thread renews every third of the lease; a
worker killed mid-solve stops renewing, and :func:`reap_expired` (run periodically by the
API and by every worker) marks the job failed and retryable. ``POST …/retry`` queues it again
(:func:`requeue`).

This module knows no job kind: :func:`run_job` is given the runners by its caller (the queues,
from ``api.jobs.registry``), so the services that define runners import this module and
nothing here imports them. A failed job stores a message for the user; a crash's traceback
goes to the server log only.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.settings import Settings
from api.tables import Job, utc_now
from routing.errors import ConflictError, NotFoundError, QingyunError

log = logging.getLogger(__name__)

Writer = Callable[[Session], None]
"""Stores a finished job's result rows; called in the transaction that marks the job succeeded."""


@dataclass
class JobContext:
    """What a runner gets: its parameters, the engine, the settings and a throttled progress reporter."""

    job_id: str
    params: dict
    engine: Engine
    settings: Settings
    worker: str
    _last_write: float = field(default=0.0)

    def progress(self, **values: object) -> None:
        """Record progress (e.g. best cost so far) at most once a second; also renews the lease."""
        now = time.monotonic()
        if now - self._last_write < 1.0:
            return
        self._last_write = now
        _renew(self.engine, self.job_id, self.worker, self.settings.service.job_lease_s, progress=dict(values))


Runner = Callable[[JobContext], tuple[dict, Writer]]
"""Does one job: returns (result summary stored on the job, writer of the result rows)."""


def worker_name(kind: str) -> str:
    """A worker's name in job rows: host, process, transport and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{kind}:{threading.get_ident()}"


def new_job(*, kind: str, params: dict, max_attempts: int) -> Job:
    """A queued job row (not yet added to a session).

    Parameters
    ----------
    kind
        The job kind, a key of ``api.jobs.registry.RUNNERS`` ("plan", "audit", "stations").
    params
        JSON parameters the runner reads from ``JobContext.params``.
    max_attempts
        How many times the job may run in all (retries included).

    Returns
    -------
    Job
        The row, with a fresh UUID as its id.
    """
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


def crash_message(job_id: str, exc: BaseException) -> str:
    """What a job that crashed tells its user: the kind of failure, never a traceback or a server path.

    Parameters
    ----------
    job_id
        The job that crashed.
    exc
        What it raised; only its class name is shown.

    Returns
    -------
    str
        The message (Chinese and English), pointing to the server log and to ``POST …/retry``.
    """
    return (
        f"内部错误 / internal error ({type(exc).__name__}) while running job {job_id}; "
        "详情见服务器日志 / the details are in the server log; retry with POST …/retry"
    )


def run_job(engine: Engine, job_id: str, *, runners: Mapping[str, Runner], settings: Settings, worker: str) -> str:
    """Claim and run one queued job.

    Parameters
    ----------
    engine
        The service database.
    job_id
        The job to run; a job another worker claimed first is skipped.
    runners
        Job kind → runner (``api.jobs.registry.RUNNERS``).
    settings
        The process's settings, handed to the runner (lease length from ``settings.service``).
    worker
        This worker's name (:func:`worker_name`); only the lease holder may finish the job.

    Returns
    -------
    str
        The final status: "succeeded", "failed", or "skipped" when the job was not claimable.
    """
    lease_s = settings.service.job_lease_s
    job = _claim(engine, job_id, worker, lease_s)
    if job is None:
        return "skipped"
    run = runners.get(job.kind)
    if run is None:
        _fail(engine, job_id, worker, error=f"job kind {job.kind!r} is not one of {sorted(runners)}", retryable=False)
        return "failed"
    beat = _Heartbeat(engine, job_id, worker, lease_s)
    beat.start()
    try:
        result, write = run(
            JobContext(job_id=job_id, params=job.params, engine=engine, settings=settings, worker=worker)
        )
    except QingyunError as exc:  # the input is wrong: running it again gives the same answer
        _fail(engine, job_id, worker, error=str(exc), retryable=False)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - anything else may be transient: retryable
        log.exception("job %s (%s) failed", job_id, job.kind)  # the traceback stays in the server log
        _fail(engine, job_id, worker, error=crash_message(job_id, exc), retryable=True)
        return "failed"
    finally:
        beat.stopped.set()
    return _finish(engine, job_id, worker=worker, result=result, write=write)


def _finish(engine: Engine, job_id: str, *, worker: str, result: dict, write: Writer) -> str:
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
    """Queue a failed, retryable job again.

    Parameters
    ----------
    engine
        The service database.
    job_id
        The job to queue again.

    Returns
    -------
    Job
        The job, queued.

    Raises
    ------
    NotFoundError
        No job has this id.
    ConflictError
        The job is not failed, or it failed on its input, or it used all its attempts.
    """
    with Session(engine) as session:
        job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
        if job is None:
            raise NotFoundError(f"job {job_id!r} does not exist")
        if job.status != "failed" or not job.retryable:
            why = (
                "it has used all its attempts or failed on its input"
                if job.status == "failed"
                else f"it is {job.status}"
            )
            raise ConflictError(f"job {job_id} cannot be retried: {why}")
        job.status, job.error, job.retryable, job.worker, job.finished_at = "queued", None, False, None, None
        session.add(job)
        session.commit()
        session.refresh(job)
        return job
