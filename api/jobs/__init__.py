"""Background jobs: solves, audits and station studies run outside the request.

- ``api.jobs.engine`` — job rows, leases, heartbeats, ``run_job``, ``requeue``, ``release``, ``JobContext``.
- ``api.jobs.recovery`` — worker identity, lost workers and lost messages found from the database.
- ``api.jobs.queues`` — where jobs run: ``InProcessQueue`` (threads), ``CeleryQueue`` and
  ``run_worker`` (Celery over Redis).
- ``api.jobs.registry`` — ``RUNNERS``, the explicit map of job kind → runner.

Imports point one way: queues → registry → ``api.services`` → engine; queues → recovery. The names below are
re-exported lazily for users; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "api.jobs.engine": ("JobContext", "Runner", "new_job", "run_job", "requeue", "release"),
        "api.jobs.recovery": ("recover_lost", "unsent_jobs", "worker_name"),
        "api.jobs.queues": ("JobQueue", "InProcessQueue", "CeleryQueue", "open_queue", "run_worker"),
        "api.jobs.registry": ("RUNNERS",),
    },
)
