"""Search processes belong to their caller: they hold no socket, die with it, and are killed together.

A search process is forked (it inherits the problem without pickling), so it would also inherit
every descriptor of its parent — under ``qingyun serve`` the HTTP listening socket, which kept
the port taken after the server died. :func:`detach_child` runs first in every search process:

- every inherited socket is replaced by ``/dev/null`` (the descriptor number stays taken, so an
  inherited object that closes it later closes nothing of ours);
- on Linux the kernel sends it SIGKILL when the thread that forked it ends (``PR_SET_PDEATHSIG``),
  so ``kill -9`` of the server or worker ends its searches too;
- it leads a process group of its own, which its owner kills (:meth:`SearchScope.cancel`).

A :class:`SearchScope` is what a job owns: the searches started inside ``with owned_by(scope)``
(on that thread) are registered in it, and :meth:`SearchScope.cancel` kills them and refuses
new ones. This module imports nothing heavy: the job engine uses it without loading the solver.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from contextvars import ContextVar

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class SearchCancelled(RuntimeError):
    """The searches of a job were stopped by their owner (a shutdown); the job itself did nothing wrong."""


class SearchScope:
    """The search processes started for one job: registered as they start, killed together on cancel."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pids: set[int] = set()
        self.cancelled = False

    def add(self, pid: int) -> None:
        """Register a started search process; kills it at once if the scope was cancelled meanwhile."""
        with self._lock:
            self._pids.add(pid)
            cancelled = self.cancelled
        if cancelled:
            kill_group(pid)

    def discard(self, pid: int) -> None:
        """Forget a search process that ended."""
        with self._lock:
            self._pids.discard(pid)

    def check(self) -> None:
        """Raise :class:`SearchCancelled` once the scope is cancelled (checked before every new search)."""
        if self.cancelled:
            raise SearchCancelled("搜索已被停止 / the searches were stopped (the server or worker is shutting down)")

    def cancel(self) -> int:
        """Kill every running search of the scope and refuse new ones; returns how many were killed."""
        with self._lock:
            self.cancelled = True
            pids = sorted(self._pids)
        for pid in pids:
            kill_group(pid)
        return len(pids)


_current: ContextVar[SearchScope | None] = ContextVar("search_scope", default=None)


@contextlib.contextmanager
def owned_by(scope: SearchScope) -> Iterator[SearchScope]:
    """Searches started in this block (this thread) belong to ``scope``."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def current_scope() -> SearchScope:
    """The scope searches started here belong to: the job's, or a fresh one (a plain ``qingyun plan``)."""
    return _current.get() or SearchScope()


def kill_group(pid: int) -> None:
    """SIGKILL a search process's group (the process and anything it started); gone already is fine."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):  # the group, or the process if it has none yet
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, signal.SIGKILL)
            return


def detach_child(parent_pid: int) -> None:
    """First thing in a forked search process: drop inherited sockets, die with the parent, lead a group.

    Parameters
    ----------
    parent_pid
        The pid of the process that forked this one; if it is already gone, this process exits.
    """
    with contextlib.suppress(OSError):
        os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    _drop_inherited_sockets()


def _drop_inherited_sockets() -> None:
    folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    try:
        fds = [int(name) for name in os.listdir(folder)]
    except OSError:
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            if fd == null:
                continue
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.dup2(null, fd)  # the socket is released; the number stays taken by /dev/null
            except OSError:
                continue  # the descriptor of the listing itself, already closed
    finally:
        os.close(null)
