"""Job rows, leases and heartbeats: how one background job is claimed, run and finished.

A job row moves queued → running → succeeded | failed. The worker that claims it holds a
lease (``lease_expires_at``) that a heartbeat thread renews every third of the lease; a
worker that dies stops renewing, and ``api.jobs.recovery`` (run periodically by the API and by
every worker) queues its job again, up to its attempts. A worker that stops on purpose (a
shutdown) hands its job back at once (:func:`release`). A job that crashed is failed and
retryable; ``POST …/retry`` queues it again (:func:`requeue`). The claim is a conditional
update, so a job delivered twice runs once.

This module knows no job kind: :func:`run_job` is given the runners by its caller (the queues,
from ``api.jobs.registry``), so the services that define runners import this module and
nothing here imports them. A failed job stores a message for the user; a crash's traceback
goes to the server log only.
"""

from __future__ import annotations

import logging
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
    _best_cost: float | None = field(default=None)

    def progress(self, **values: object) -> None:
        """Record progress at most once a second (also renews the lease); the reported best cost never goes up.

        A later phase of a solve may report a worse total than an earlier one (a fresh set of
        searches); the job's best so far is the lowest of all reports.
        """
        cost = values.get("best_cost")
        if isinstance(cost, int | float):
            self._best_cost = cost if self._best_cost is None else min(self._best_cost, cost)
            values["best_cost"] = self._best_cost
        now = time.monotonic()
        if now - self._last_write < 1.0:
            return
        self._last_write = now
        _renew(self.engine, self.job_id, self.worker, self.settings.service.job_lease_s, progress=dict(values))


Runner = Callable[[JobContext], tuple[dict, Writer]]
"""Does one job: returns (result summary stored on the job, writer of the result rows)."""


def job_status(job: Job) -> dict:
    """What every job's answer starts with: its id, state, progress, error, whether a retry may help, attempts."""
    return {
        "id": job.id,
        "status": job.status,
        "progress": job.progress,
        "error": job.error,
        "retryable": job.retryable,
        "attempts": job.attempts,
    }


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


def _fail(engine: Engine, job_id: str, worker: str, *, error: str, retryable: bool) -> bool:
    with engine.begin() as connection:
        result = connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.worker == worker)
            .values(
                status="failed",
                error=error[:20_000],
                retryable=retryable,
                finished_at=utc_now(),
                lease_expires_at=None,
            )
        )
    return result.rowcount == 1


def crash_message(job: Job, exc: BaseException) -> str:
    """What a job that crashed tells its user, on one line: the kind of failure, never a traceback or a server path.

    Parameters
    ----------
    job
        The job that crashed (its attempts so far say whether a retry is left).
    exc
        What it raised; only its class name is shown.

    Returns
    -------
    str
        The message (Chinese and English), pointing to the server log, and to ``POST …/retry``
        only while the job has attempts left.
    """
    head = f"内部错误 / internal error ({type(exc).__name__}) in job {job.id}; 详情见服务器日志 / details in the server log"
    if job.attempts < job.max_attempts:
        return f"{head}; 可重试 / retry with POST …/retry"
    return f"{head}; 已用完 {job.max_attempts} 次尝试 / all {job.max_attempts} attempts used"


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
        log.info("job %s skipped: not queued (already claimed, finished or unknown)", job_id)
        return "skipped"
    log.info("job %s (%s) started: attempt %d of %d on %s", job_id, job.kind, job.attempts, job.max_attempts, worker)
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
        log.info("job %s failed on its input: %s", job_id, str(exc).splitlines()[0] if str(exc) else exc)
        return "failed" if _fail(engine, job_id, worker, error=str(exc), retryable=False) else "released"
    except Exception as exc:  # noqa: BLE001 - anything else may be transient: retryable
        if not _fail(engine, job_id, worker, error=crash_message(job, exc), retryable=job.attempts < job.max_attempts):
            log.info("job %s stopped after it was handed back (%s)", job_id, type(exc).__name__)
            return "released"
        log.exception("job %s (%s) failed", job_id, job.kind)  # the traceback stays in the server log
        return "failed"
    finally:
        beat.stopped.set()
    status = _finish(engine, job_id, worker=worker, result=result, write=write)
    log.info("job %s %s", job_id, status)
    return status


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


def release(engine: Engine, job_id: str, worker: str) -> bool:
    """Hand a running job back to the queue because its worker stops (a shutdown), not because it failed.

    The attempt is not counted. The worker's late writes are ignored: the job is no longer its.

    Parameters
    ----------
    engine
        The service database.
    job_id
        The job.
    worker
        The worker handing it back; a job another worker holds is left alone.

    Returns
    -------
    bool
        Whether the job was handed back (False: it had finished or was not this worker's).
    """
    with engine.begin() as connection:
        result = connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.worker == worker)
            .values(
                status="queued",
                attempts=Job.attempts - 1,
                worker=None,
                lease_expires_at=None,
                progress={},
                error="运行被停机中断，已重新排队 / interrupted by a shutdown of its worker; queued again",
            )
        )
    if result.rowcount == 1:
        log.warning("job %s handed back by %s at shutdown; queued again", job_id, worker)
    return result.rowcount == 1


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
        job.lease_expires_at = None  # not yet sent: the queue stamps when it sends it
        session.add(job)
        session.commit()
        session.refresh(job)
        return job
