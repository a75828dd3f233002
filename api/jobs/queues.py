"""Where jobs run: a thread pool inside the API, or Celery workers over Redis.

An in-process thread pool by default (:class:`InProcessQueue`); Celery workers over Redis when
``QINGYUN_REDIS_URL`` is set (:class:`CeleryQueue`, ``qingyun worker`` → :func:`run_worker`).
Both call the same ``api.jobs.engine.run_job`` with the runners of ``api.jobs.registry`` and
the process's one ``Settings``, so behaviour does not depend on the transport.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.jobs.engine import reap_expired, run_job, worker_name
from api.jobs.registry import RUNNERS
from api.settings import Settings
from api.tables import Job

log = logging.getLogger(__name__)

TASK_NAME = "qingyun.run_job"


class JobQueue(Protocol):
    """What the routes need of a queue: hand over a stored, queued job; stop at shutdown."""

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


def _reaper(engine: Engine, settings: Settings) -> _Reaper:
    reaper = _Reaper(engine, every_s=max(0.5, settings.service.job_lease_s / 3))
    reaper.start()
    return reaper


class InProcessQueue:
    """Jobs on a thread pool inside the API process; queued jobs left from a previous run start again."""

    def __init__(self, engine: Engine, *, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.pool = ThreadPoolExecutor(max_workers=settings.service.job_workers, thread_name_prefix="job")
        self.reaper = _reaper(engine, settings)
        reap_expired(engine)
        with Session(engine) as session:
            for job_id in session.exec(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)):
                self.dispatch(job_id)

    def dispatch(self, job_id: str) -> None:
        self.pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        run_job(self.engine, job_id, runners=RUNNERS, settings=self.settings, worker=worker_name("thread"))

    def close(self) -> None:
        self.reaper.stopped.set()
        self.pool.shutdown(wait=False, cancel_futures=True)


def celery_app(settings: Settings):
    """The Celery app shared by the API (sender) and ``qingyun worker`` (consumer).

    Parameters
    ----------
    settings
        ``settings.service.redis_url`` is the broker, ``celery_queue`` the queue; a worker runs
        its jobs with these same settings.

    Returns
    -------
    celery.Celery
        The app, with the one task ``qingyun.run_job``.
    """
    from celery import Celery

    service = settings.service
    app = Celery("qingyun", broker=service.redis_url)
    app.conf.update(
        task_default_queue=service.celery_queue,
        task_acks_late=True,  # a message is removed only once its job ran
        worker_prefetch_multiplier=1,
        task_reject_on_worker_lost=False,  # a lost worker's job is failed by its lease, retried on request
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name=TASK_NAME, ignore_result=True)
    def run(job_id: str) -> str:
        from api.db import engine_for

        engine = engine_for(service.database_url)
        return run_job(engine, job_id, runners=RUNNERS, settings=settings, worker=worker_name("celery"))

    return app


class CeleryQueue:
    """Jobs sent to Celery workers over Redis; the API process still reaps expired leases."""

    def __init__(self, engine: Engine, *, settings: Settings) -> None:
        self.app = celery_app(settings)
        self.reaper = _reaper(engine, settings)

    def dispatch(self, job_id: str) -> None:
        self.app.send_task(TASK_NAME, args=[job_id])

    def close(self) -> None:
        self.reaper.stopped.set()


def open_queue(engine: Engine, settings: Settings) -> JobQueue:
    """Celery when ``settings.service.redis_url`` is set, else the in-process pool.

    Parameters
    ----------
    engine
        The service database, where the jobs are stored.
    settings
        The app's settings; ``settings.service.redis_url`` chooses the queue.

    Returns
    -------
    JobQueue
        A ``CeleryQueue`` or an ``InProcessQueue``.
    """
    if settings.service.redis_url:
        return CeleryQueue(engine, settings=settings)
    return InProcessQueue(engine, settings=settings)


def run_worker(settings: Settings, *, concurrency: int = 1) -> None:
    """``qingyun worker``: consume jobs until stopped (one solve at a time per process by default).

    Parameters
    ----------
    settings
        The process's settings; ``settings.service.redis_url`` must be set.
    concurrency
        Jobs at a time in this process (each solve itself uses both cores).
    """
    from api.db import engine_for

    engine = engine_for(settings.service.database_url)
    _reaper(engine, settings)
    app = celery_app(settings)
    # solo pool: the solver forks its own search processes, which Celery's daemonic prefork children may not
    pool = ["--pool=solo"] if concurrency == 1 else ["--pool=threads", f"--concurrency={concurrency}"]
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            f"--queues={settings.service.celery_queue}",
            *pool,
            f"--hostname=qingyun-{os.getpid()}@{socket.gethostname()}",
        ]
    )
