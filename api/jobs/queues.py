"""Where jobs run: a thread pool inside the API, or Celery workers over Redis.

An in-process thread pool by default (:class:`InProcessQueue`); Celery workers over Redis when
``QINGYUN_REDIS_URL`` is set (:class:`CeleryQueue`, ``qingyun worker`` → :func:`run_worker`).
Both call the same ``api.jobs.engine.run_job`` with the runners of ``api.jobs.registry`` and
the process's one ``Settings``, so behaviour does not depend on the transport.

The database is the source of truth. Every process that runs or sends jobs sweeps it
(:class:`_Sweeper`, every third of the lease, and once at start): jobs of a lost worker are
queued again and sent (``api.jobs.recovery``); with Celery, queued jobs left unclaimed are sent
again. Each job runs in a :class:`routing.planning.search.processes.SearchScope`: at shutdown
the process hands its running jobs back (``api.jobs.engine.release``) and kills their searches.

With Celery, a job's cut day also spreads over the workers: its pieces and zones go through
Redis (:class:`routing.planning.search.remote.RedisPieces`, installed around every job by
:func:`piece_runner`) as ``qingyun.search_piece`` tasks on the pieces queue (the jobs queue's
name + ``-pieces``), which every ``qingyun worker`` consumes besides the jobs; the job's own
process runs pieces too, so a lone worker never waits for itself.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.jobs.engine import release, run_job
from api.jobs.recovery import mark_sent, recover_lost, unsent_jobs, worker_name
from api.jobs.registry import RUNNERS
from api.settings import Settings
from api.tables import Job
from routing.planning.search.processes import SearchScope, owned_by

log = logging.getLogger(__name__)

TASK_NAME = "qingyun.run_job"
PIECE_TASK = "qingyun.search_piece"


class JobQueue(Protocol):
    """What the routes need of a queue: hand over a stored, queued job; stop at shutdown."""

    def dispatch(self, job_id: str) -> None: ...

    def close(self) -> None: ...


class _Running:
    """The jobs this process is running, each with its search scope: handed back and killed at shutdown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[str, SearchScope]] = {}

    def run(self, engine: Engine, job_id: str, *, settings: Settings, kind: str) -> str:
        """Run one job (``api.jobs.engine.run_job``) as this process's, its searches in a scope of their own."""
        worker, scope = worker_name(kind), SearchScope()
        with self._lock:
            self._jobs[job_id] = (worker, scope)
        try:
            with owned_by(scope), _pieces_spread(settings):
                return run_job(engine, job_id, runners=RUNNERS, settings=settings, worker=worker)
        finally:
            with self._lock:
                self._jobs.pop(job_id, None)

    def release_all(self, engine: Engine) -> list[str]:
        """Hand every running job back to the queue, then kill its searches; returns the ids handed back."""
        with self._lock:
            jobs = dict(self._jobs)
        released = []
        for job_id, (worker, scope) in jobs.items():
            try:
                if release(engine, job_id, worker):
                    released.append(job_id)
            except Exception:  # noqa: BLE001 - the database may be gone at shutdown: the lease recovers the job
                log.exception("handing job %s back failed", job_id)
            scope.cancel()
        return released


class _Sweeper(threading.Thread):
    """Every third of the lease: jobs of lost workers queued again and sent; with ``resend``, unclaimed jobs re-sent."""

    def __init__(self, engine: Engine, settings: Settings, send: Callable[[str], None], *, resend: bool) -> None:
        super().__init__(name="job-sweeper", daemon=True)
        self.engine, self.send, self.resend = engine, send, resend
        self.lease_s = settings.service.job_lease_s
        self.stopped = threading.Event()

    def sweep(self) -> None:
        """One pass (also run once at start, before the thread)."""
        try:
            for job_id in recover_lost(self.engine):
                self.send(job_id)  # stamped as sent: not re-sent by the pass below
            for job_id in unsent_jobs(self.engine, resend_after_s=self.lease_s) if self.resend else []:
                self.send(job_id)
        except Exception:  # noqa: BLE001 - a database or broker hiccup: the next pass tries again
            log.exception("sweeping jobs failed")

    def run(self) -> None:
        while not self.stopped.wait(max(0.5, self.lease_s / 3)):
            self.sweep()


class InProcessQueue:
    """Jobs on daemon threads inside the API process; queued jobs left from a previous run start again.

    The threads are daemons: at shutdown :meth:`close` hands their jobs back and kills their
    searches, and the process exits without waiting for what is left of a job.
    """

    def __init__(self, engine: Engine, *, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self.running = _Running()
        self.waiting: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.closed = threading.Event()
        self.threads = [
            threading.Thread(target=self._work, name=f"job-{k}", daemon=True)
            for k in range(settings.service.job_workers)
        ]
        for thread in self.threads:
            thread.start()
        self.sweeper = _Sweeper(engine, settings, self.dispatch, resend=False)
        recover_lost(engine)  # jobs of this host's dead processes: queued again now, not a lease later
        with Session(engine) as session:
            for job_id in session.exec(select(Job.id).where(Job.status == "queued").order_by(Job.created_at)):
                self.dispatch(job_id)
        self.sweeper.start()

    def dispatch(self, job_id: str) -> None:
        self.waiting.put(job_id)

    def _work(self) -> None:
        while (job_id := self.waiting.get()) is not None and not self.closed.is_set():
            try:
                self.running.run(self.engine, job_id, settings=self.settings, kind="thread")
            except Exception:  # noqa: BLE001 - the database failed around the job: the sweep recovers it
                log.exception("job %s could not be run", job_id)

    def close(self) -> None:
        """Stop taking jobs, hand the running ones back (queued for the next start) and kill their searches."""
        self.closed.set()
        self.sweeper.stopped.set()
        for _ in self.threads:
            self.waiting.put(None)
        self.running.release_all(self.engine)


_WORKER_JOBS = _Running()
"""The jobs a ``qingyun worker`` process is running (its task and its shutdown hook share them)."""


class _Pieces:
    """The search pieces a ``qingyun worker`` process is running: stopped at shutdown (their callers re-send them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scopes: set[SearchScope] = set()

    def serve(self, redis_url: str, run_key: str, label: str) -> str:
        """Run one piece (``routing.planning.search.remote.serve_piece``) in a scope this process can stop."""
        from routing.planning.search.remote import runner_name, serve_piece

        scope = SearchScope()
        with self._lock:
            self._scopes.add(scope)
        try:
            return serve_piece(redis_url, run_key=run_key, label=label, who=runner_name("worker"), scope=scope)
        finally:
            with self._lock:
                self._scopes.discard(scope)

    def stop_all(self) -> None:
        """Kill every running piece; each lets its claim go, so its caller sends it to another worker at once."""
        with self._lock:
            scopes = list(self._scopes)
        for scope in scopes:
            scope.cancel()


_WORKER_PIECES = _Pieces()


def pieces_queue(settings: Settings) -> str:
    """The Celery queue of search pieces: the jobs queue's name + ``-pieces`` (a test's own queue has its own).

    Parameters
    ----------
    settings
        ``settings.service.celery_queue`` names the jobs queue.

    Returns
    -------
    str
    """
    return f"{settings.service.celery_queue}-pieces"


@functools.lru_cache(maxsize=8)
def _piece_sender(redis_url: str, queue_name: str) -> Callable[[str, str], None]:
    """Sends ``qingyun.search_piece`` messages (one Celery app per broker and queue, kept for the process)."""
    import uuid

    from celery import Celery

    app = Celery("qingyun-pieces", broker=redis_url)
    app.conf.update(broker_connection_retry_on_startup=True)

    def send(run_key: str, label: str) -> None:
        # the task id names the call and the piece, so the workers' lines about the message name them too
        task_id = f"{run_key.rsplit(':', 1)[-1][:8]}.{label}.{uuid.uuid4().hex[:6]}"
        app.send_task(PIECE_TASK, args=[run_key, label], queue=queue_name, task_id=task_id)

    return send


def piece_runner(settings: Settings, *, local_lanes: int | None = None):
    """The runner that spreads a job's search pieces over the Celery workers (``settings.service.redis_url``).

    Parameters
    ----------
    settings
        The process's settings; ``service.redis_url`` must be set.
    local_lanes
        Pieces the calling process runs itself at once (None: as many as its search workers; 0: workers only).

    Returns
    -------
    routing.planning.search.remote.RedisPieces
    """
    from routing.planning.search.remote import RedisPieces

    url = settings.service.redis_url
    if not url:
        raise ValueError("piece_runner needs settings.service.redis_url (QINGYUN_REDIS_URL)")
    return RedisPieces(url, send=_piece_sender(url, pieces_queue(settings)), local_lanes=local_lanes)


@contextlib.contextmanager
def _pieces_spread(settings: Settings) -> Iterator[None]:
    """With Redis, the job's search pieces go to the workers; without, nothing changes (nothing heavy imported)."""
    if not settings.service.redis_url:
        yield
        return
    from routing.planning.search.workers import pieces_run_by

    with pieces_run_by(piece_runner(settings)):
        yield


def celery_app(settings: Settings):
    """The Celery app shared by the API (sender) and ``qingyun worker`` (consumer).

    A message is acknowledged only once its job ran (``task_acks_late``), one at a time per
    worker (prefetch 1); a message whose worker died goes back to the queue
    (``task_reject_on_worker_lost``, and Redis's visibility timeout: longer than the longest
    solve, so a live worker's message is not handed to another). Behind them the sweeps send
    again what the broker lost, and the claim runs a job delivered twice once.

    Parameters
    ----------
    settings
        ``settings.service.redis_url`` is the broker, ``celery_queue`` the queue; a worker runs
        its jobs with these same settings.

    Returns
    -------
    celery.Celery
        The app, with the tasks ``qingyun.run_job`` and ``qingyun.search_piece`` (a piece of a
        job's cut day; a killed worker's piece is sent again by its caller once the piece's claim
        expires, see ``routing.planning.search.remote``).
    """
    from celery import Celery

    service = settings.service
    app = Celery("qingyun", broker=service.redis_url)
    app.conf.update(
        task_default_queue=service.celery_queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": service.plan_time_limit_max_s + 2 * service.job_lease_s},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name=TASK_NAME, ignore_result=True)
    def run(job_id: str) -> str:
        from api.db import engine_for

        return _WORKER_JOBS.run(engine_for(service.database_url), job_id, settings=settings, kind="celery")

    @app.task(name=PIECE_TASK, ignore_result=True)
    def search_piece(run_key: str, label: str) -> str:
        return _WORKER_PIECES.serve(service.redis_url, run_key, label)

    return app


def _sender(app, engine: Engine, settings: Settings) -> Callable[[str], None]:
    """Sends a queued job to the workers, noting when (a job unclaimed a lease later is sent again)."""
    import uuid

    def send(job_id: str) -> None:
        mark_sent(engine, job_id, resend_after_s=settings.service.job_lease_s)
        # the task id names the job, so the workers' log lines about the message name it too
        app.send_task(TASK_NAME, args=[job_id], task_id=f"{job_id}.{uuid.uuid4().hex[:8]}")

    return send


class CeleryQueue:
    """Jobs sent to Celery workers over Redis; the API process also sweeps for lost workers and lost messages."""

    def __init__(self, engine: Engine, *, settings: Settings) -> None:
        self.app = celery_app(settings)
        self.dispatch = _sender(self.app, engine, settings)
        self.sweeper = _Sweeper(engine, settings, self.dispatch, resend=True)
        self.sweeper.sweep()
        self.sweeper.start()

    def close(self) -> None:
        self.sweeper.stopped.set()


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
    """``qingyun worker``: consume jobs and search pieces until stopped (one at a time per process by default).

    Both queues (``celery_queue`` and :func:`pieces_queue`): a job's pieces are run by the other
    workers, and by the job's own process (so one worker alone still completes a cut day). A piece
    is one search process, a job ``QINGYUN_PLANNING_WORKERS`` of them: a machine that mostly
    serves pieces runs ``--concurrency`` = its cores.

    On SIGTERM or Ctrl-C the worker hands its running jobs back (sent again at once, for another
    worker), kills their searches and exits; killed outright, its searches die with it and the
    sweeps of the API and the other workers queue its job again.

    Parameters
    ----------
    settings
        The process's settings; ``settings.service.redis_url`` must be set.
    concurrency
        Jobs or pieces at a time in this process (each solve itself uses both cores, a piece one).
    """
    from celery import signals

    import routing.planning.search.remote  # noqa: F401 - the solver loaded once, not in the first piece's time
    from api.db import engine_for

    engine = engine_for(settings.service.database_url)
    app = celery_app(settings)
    send = _sender(app, engine, settings)
    sweeper = _Sweeper(engine, settings, send, resend=True)
    sweeper.sweep()
    sweeper.start()

    def hand_back() -> None:
        sweeper.stopped.set()
        _WORKER_PIECES.stop_all()  # their callers send them to another worker at once
        for job_id in _WORKER_JOBS.release_all(engine):
            send(job_id)

    @signals.worker_shutting_down.connect(weak=False)
    def shutting_down(**_: object) -> None:
        # called inside the signal handler, on the thread running the job: the work goes to a thread of its own
        threading.Thread(target=hand_back, name="hand-back").start()

    # solo pool: the solver forks its own search processes, which Celery's daemonic prefork children may not
    pool = ["--pool=solo"] if concurrency == 1 else ["--pool=threads", f"--concurrency={concurrency}"]
    app.worker_main(
        [
            "worker",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            f"--queues={settings.service.celery_queue},{pieces_queue(settings)}",
            *pool,
            f"--hostname=qingyun-{os.getpid()}@{socket.gethostname()}",
        ]
    )
