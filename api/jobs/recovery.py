"""Self-healing jobs: the database says which jobs lost their worker or their queue message.

Run periodically by the API and by every worker (``api.jobs.queues``), and once at start:

- :func:`recover_lost` — a running job whose lease ran out, or whose worker was a process on
  this host that no longer exists (found at once, not a lease later), is queued again while it
  has attempts left, else failed with a one-line message;
- :func:`unsent_jobs` — a queued job nobody claimed within the re-send delay is sent again (its
  broker message may be lost: a deleted queue, Redis restarted without persistence).

A queued job's ``lease_expires_at`` is when it is sent again if still unclaimed
(:func:`mark_sent`); a running job's is when its worker counts as lost. The updates are
conditional, so of several sweepers one acts, and the claim (``api.jobs.engine``) makes a
message delivered twice run once.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import threading
from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.tables import Job, utc_now

log = logging.getLogger(__name__)


@functools.cache
def host_identity() -> str:
    """This host as written in worker names: its name and PID namespace (pids are only comparable within one)."""
    try:
        namespace = re.sub(r"\D", "", os.readlink("/proc/self/ns/pid"))
    except OSError:
        namespace = ""
    return f"{socket.gethostname()}/{namespace}"


def worker_name(kind: str) -> str:
    """A worker's name in job rows: host identity, process, transport and thread."""
    return f"{host_identity()}:{os.getpid()}:{kind}:{threading.get_ident()}"


def process_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a killed worker not yet reaped is dead)."""
    if pid == os.getpid():
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False
    except (OSError, IndexError):  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def worker_gone(worker: str | None) -> bool:
    """Whether a worker name is of a process on this host (same PID namespace) that no longer exists."""
    parts = (worker or "").split(":")
    if len(parts) != 4 or parts[0] != host_identity() or not parts[1].isdigit():
        return False  # another host (or an older name): only its lease tells
    return not process_alive(int(parts[1]))


def recover_lost(engine: Engine) -> list[str]:
    """Queue again every running job whose worker is lost; fail it when it has no attempts left.

    Parameters
    ----------
    engine
        The service database.

    Returns
    -------
    list of str
        The ids queued again, for the caller to send to its queue.
    """
    now = utc_now()
    with Session(engine) as session:
        rows = session.exec(
            select(Job.id, Job.worker, Job.lease_expires_at, Job.attempts, Job.max_attempts).where(
                Job.status == "running"
            )
        ).all()
    queued: list[str] = []
    for job_id, worker, expires, attempts, most in rows:
        if not ((expires is not None and expires < now) or worker_gone(worker)):
            continue
        if attempts < most:
            values = {
                "status": "queued",
                "error": f"工作进程失联，已自动重新排队 / the worker of attempt {attempts} of {most} was lost; "
                "queued again automatically",
            }
        else:
            values = {
                "status": "failed",
                "retryable": False,
                "finished_at": now,
                "error": f"工作进程失联，{most} 次尝试已用完 / the worker was lost on attempt {attempts} of {most}; "
                "no attempts are left",
            }
        with engine.begin() as connection:
            result = connection.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.worker == worker)
                .values(worker=None, lease_expires_at=None, **values)
            )
        if result.rowcount == 1:
            log.warning(
                "job %s: worker %s lost on attempt %d of %d; job %s", job_id, worker, attempts, most, values["status"]
            )
            if values["status"] == "queued":
                queued.append(job_id)
    return queued


def mark_sent(engine: Engine, job_id: str, *, resend_after_s: float) -> None:
    """Note that a queued job was sent to the broker: it is sent again if still unclaimed after ``resend_after_s``."""
    with engine.begin() as connection:
        connection.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(lease_expires_at=utc_now() + timedelta(seconds=resend_after_s))
        )


def unsent_jobs(engine: Engine, *, resend_after_s: float) -> list[str]:
    """Queued jobs nobody claimed within ``resend_after_s`` of being sent (or created): to send again.

    Each one is stamped again here, so of several sweepers one sends it, once per period.

    Parameters
    ----------
    engine
        The service database.
    resend_after_s
        How long a queued job may wait unclaimed before its message counts as lost.

    Returns
    -------
    list of str
        The job ids to send again, oldest first.
    """
    now = utc_now()
    due = or_(
        Job.lease_expires_at < now,
        and_(Job.lease_expires_at.is_(None), Job.created_at < now - timedelta(seconds=resend_after_s)),
    )
    with Session(engine) as session:
        rows = session.exec(
            select(Job.id, Job.lease_expires_at).where(Job.status == "queued", due).order_by(Job.created_at)
        ).all()
    resend: list[str] = []
    for job_id, stamp in rows:
        same = Job.lease_expires_at.is_(None) if stamp is None else Job.lease_expires_at == stamp
        with engine.begin() as connection:
            result = connection.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued", same)
                .values(lease_expires_at=now + timedelta(seconds=resend_after_s))
            )
        if result.rowcount == 1:
            log.warning("job %s queued but unclaimed for %g s: sending it again", job_id, resend_after_s)
            resend.append(job_id)
    return resend
