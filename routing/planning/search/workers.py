"""Searches on both cores: typed search tasks run in worker processes, their progress merged.

Each :class:`SearchTask` runs :func:`routing.planning.search.searcher.search` in a forked
process (at most ``SolveParams.workers`` at once); workers send typed messages back over one
queue — progress, the result, or the error that stopped them — and the caller gets one
:class:`SearchResult` per task label. The processes belong to the caller
(:mod:`routing.planning.search.processes`): they hold no inherited socket, die with it, and
are killed when the call ends early (an error, Ctrl-C, or the job's scope cancelled).

A caller may hand the pieces of a cut day to other machines instead: inside ``with
pieces_run_by(runner)`` the calls that say ``remote=True`` go to that :class:`PieceRunner`
(:class:`routing.planning.search.remote.RedisPieces` when ``QINGYUN_REDIS_URL`` is set; the
service installs it around every job, so this library never learns of Celery or the service).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing as mp
import os
import queue
import time
import traceback
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from routing.planning.problem import Problem
from routing.planning.search.params import Progress, ProgressCallback, SolveParams
from routing.planning.search.processes import SearchScope, current_scope, detach_child, kill_group
from routing.planning.search.result import CostPoint, SearchResult
from routing.planning.search.searcher import search


@dataclass(frozen=True)
class SearchTask:
    """One search to run: a problem (a day or a piece of it), how, for how long, from where.

    Attributes
    ----------
    label : str
        Unique among the tasks of one call; ``"piece|strategy"``: progress sums the best per piece.
    problem : Problem
        What to search.
    strategy : str
        ``"FIRST+IMPROVEMENT"``.
    time_limit_s : float
        Seconds, model building included.
    initial_routes : dict, optional
        Visit ids per truck to start from.
    """

    label: str
    problem: Problem
    strategy: str
    time_limit_s: float
    initial_routes: dict[str, list[str]] | None = None

    def run(self, settings: SolveParams, report=None) -> SearchResult:
        """Run this search here, in this process."""
        return search(
            self.problem,
            settings,
            strategy=self.strategy,
            time_limit_s=self.time_limit_s,
            report=report,
            initial=self.initial_routes,
        )


@dataclass(frozen=True)
class _Message:
    """What a worker sends back about its task: an improvement, then its result or the error that stopped it."""

    label: str
    improved: CostPoint | None = None  # (seconds since the search began, cost)
    result: SearchResult | None = None
    error: str | None = None  # the worker's traceback


Tell = Callable[[str, float], None]  # (task label, cost): an improvement of that task


class PieceRunner(Protocol):
    """Runs one call's search tasks somewhere else than this process's children (other machines)."""

    def run(self, tasks: list[SearchTask], settings: SolveParams, tell: Tell) -> dict[str, SearchResult]:
        """Run every task; ``tell`` at improvements; task label → its result (raises as :func:`run_tasks`)."""
        ...


_runner: ContextVar[PieceRunner | None] = ContextVar("piece_runner", default=None)


@contextlib.contextmanager
def pieces_run_by(runner: PieceRunner | None) -> Iterator[PieceRunner | None]:
    """Searches of ``run_tasks(..., remote=True)`` started in this block (this thread) go to ``runner``.

    Parameters
    ----------
    runner
        Where the pieces go; None keeps them in this process's children.
    """
    token = _runner.set(runner)
    try:
        yield runner
    finally:
        _runner.reset(token)


def current_runner() -> PieceRunner | None:
    """The piece runner installed by :func:`pieces_run_by` here, or None (pieces run in child processes)."""
    return _runner.get()


def _worker(task: SearchTask, settings: SolveParams, out, parent_pid: int) -> None:
    detach_child(parent_pid)

    def report(elapsed: float, cost: float) -> None:
        out.put(_Message(task.label, improved=(elapsed, cost)))

    try:
        result = task.run(settings, report)
    except BaseException:  # noqa: BLE001 - carried to the parent, which re-raises it
        out.put(_Message(task.label, error=traceback.format_exc()))
        return
    out.put(_Message(task.label, result=result))


def run_tasks(
    tasks: list[SearchTask],
    settings: SolveParams,
    progress: ProgressCallback | None,
    *,
    began: float | None = None,
    others: float = 0.0,
    remote: bool = False,
) -> dict[str, SearchResult]:
    """Run searches, ``settings.workers`` at a time (in this process when one worker or one task).

    With ``remote`` and a piece runner installed (:func:`pieces_run_by`), several tasks go to that
    runner instead (other machines); the result is the same in kind.

    Progress reports the best total: per piece the best of its searches, plus ``others``
    (the cost of pieces not searched in this call), timed from ``began``.

    Parameters
    ----------
    tasks : list of SearchTask
        Searches with distinct labels; started in this order.
    settings : SolveParams
        Search settings (``workers``: processes at once).
    progress : callable, optional
        Receives a :class:`Progress` at every improvement.
    began : float, optional
        ``time.monotonic()`` that progress times count from (default: now).
    others : float
        Cost added to every progress report.
    remote : bool
        The tasks are independent pieces worth sending to other machines (a cut day's zones).

    Returns
    -------
    dict
        Task label → its result.

    Raises
    ------
    SearchCancelled
        If the job's searches were stopped (:meth:`SearchScope.cancel`, at a shutdown).
    RuntimeError
        If a search failed (with its traceback) or a worker process died.
    """
    began = time.monotonic() if began is None else began
    best: dict[str, float] = {}

    def tell(label: str, cost: float) -> None:
        best[label] = min(cost, best.get(label, math.inf))
        if progress is not None:
            progress(Progress(elapsed_s=time.monotonic() - began, best_cost=others + _combined(best), worker=label))

    current_scope().check()
    runner = current_runner() if remote and len(tasks) > 1 else None
    if runner is not None:
        return runner.run(tasks, settings, tell)
    if settings.workers <= 1 or len(tasks) == 1:
        return {task.label: task.run(settings, lambda e, c, label=task.label: tell(label, c)) for task in tasks}
    return run_in_processes(tasks, settings, tell)


def run_in_processes(tasks: list[SearchTask], settings: SolveParams, tell: Tell) -> dict[str, SearchResult]:
    """Run each task in a child process of this one, ``settings.workers`` at a time, in the current scope.

    Children are registered in :func:`current_scope` (its cancel kills them) and killed when the
    call ends early. Raises as :func:`run_tasks`.
    """
    # fork: workers inherit the problem without re-importing the caller's main module
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    scope = current_scope()
    out = ctx.Queue()
    pending = list(tasks)
    running: dict[str, mp.Process] = {}
    try:
        return _collect(ctx, out, pending, running, settings, tell, scope)
    finally:  # an error, Ctrl-C or a cancelled scope: no search outlives this call
        for proc in running.values():
            kill_group(proc.pid)
            proc.join()
            scope.discard(proc.pid)
        out.close()


def _collect(ctx, out, pending, running, settings, tell, scope: SearchScope) -> dict[str, SearchResult]:
    results: dict[str, SearchResult] = {}
    while pending or running:
        scope.check()
        while pending and len(running) < max(1, settings.workers):
            task = pending.pop(0)
            proc = ctx.Process(target=_worker, args=(task, settings, out, os.getpid()), daemon=True)
            proc.start()
            running[task.label] = proc
            scope.add(proc.pid)
        try:
            message = out.get(timeout=0.5)
        except queue.Empty:
            for label, proc in list(running.items()):
                if not proc.is_alive() and label not in results:
                    proc.join()
                    del running[label]
                    scope.discard(proc.pid)
                    scope.check()  # killed by a cancel: say so, not "exited with -9"
                    raise RuntimeError(f"search worker {label} exited with code {proc.exitcode}") from None
            continue
        if message.improved is not None:
            tell(message.label, message.improved[1])
        elif message.error is not None:
            raise RuntimeError(f"search {message.label} failed:\n{message.error}")
        else:
            results[message.label] = message.result
            proc = running.pop(message.label)
            proc.join()
            scope.discard(proc.pid)
    return results


def _combined(best: dict[str, float]) -> float:
    """Best total so far: per piece the best of its strategies, summed over pieces."""
    per_piece: dict[str, float] = {}
    for label, cost in best.items():
        piece = label.split("|")[0]
        per_piece[piece] = min(cost, per_piece.get(piece, math.inf))
    return sum(per_piece.values())
