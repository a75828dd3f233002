"""Background jobs: solves, audits and station studies run outside the request.

- ``api.jobs.engine`` — job rows, leases, heartbeats, ``run_job``, ``requeue``, ``JobContext``.
- ``api.jobs.queues`` — where jobs run: ``InProcessQueue`` (threads), ``CeleryQueue`` and
  ``run_worker`` (Celery over Redis).
- ``api.jobs.registry`` — ``RUNNERS``, the explicit map of job kind → runner.

Imports point one way: queues → registry → ``api.services`` → engine. The names below are
re-exported lazily for users; inside the project import from the defining module.
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "JobContext": "api.jobs.engine",
        "Runner": "api.jobs.engine",
        "new_job": "api.jobs.engine",
        "run_job": "api.jobs.engine",
        "requeue": "api.jobs.engine",
        "reap_expired": "api.jobs.engine",
        "JobQueue": "api.jobs.queues",
        "InProcessQueue": "api.jobs.queues",
        "CeleryQueue": "api.jobs.queues",
        "open_queue": "api.jobs.queues",
        "run_worker": "api.jobs.queues",
        "RUNNERS": "api.jobs.registry",
    },
)
