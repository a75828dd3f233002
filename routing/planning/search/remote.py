"""Search pieces on other machines: sent over Redis to ``qingyun worker`` processes, lost pieces re-run.

A cut day's pieces and zones (:mod:`routing.planning.search.decompose`) are independent searches.
With :class:`RedisPieces` installed as the piece runner
(:func:`routing.planning.search.workers.pieces_run_by`), each :class:`SearchTask` is stored in
Redis (pickled, zlib-compressed, at most ``max_piece_mb``) and announced by ``send`` (the service
sends the Celery task ``qingyun.search_piece`` on its pieces queue, whose worker calls
:func:`serve_piece`). Whoever runs a piece first claims it (``SET NX``, expiring after
:data:`CLAIM_TTL_S` unless its heartbeat renews it), runs the search in a child process and
pushes the result to the run's reply list; the caller gets the same :class:`SearchResult` a
local run gives.

Why claims and heartbeats besides Celery's ``acks_late``: the broker hands a killed worker's
message to another only after its visibility timeout (longer than the longest solve), but a
claim whose heartbeat stops expires in seconds, and the caller then sends the piece again. Why
the caller runs pieces too (``local_lanes``, by default ``SolveParams.workers``): its own cores
would idle while it waits, and a lone ``qingyun worker`` busy with the very job that waits would
never take the pieces (one task at a time). Workers take pieces from the front of the list, the
caller's lanes from the end; a piece claimed longer than its time limit plus ``grace_s`` is taken
over by a lane (the worker sees its claim gone and stops). When the call ends — done, failed or
cancelled — the run's keys are deleted: messages still queued find nothing to do and pieces still
running elsewhere are stopped by their heartbeat.

Redis must be as private as the Celery broker: workers unpickle what it holds.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import socket
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from routing.errors import InvalidInputError
from routing.planning.search.params import SolveParams
from routing.planning.search.processes import SearchCancelled, SearchScope, current_scope, owned_by
from routing.planning.search.result import SearchResult
from routing.planning.search.workers import SearchTask, Tell, run_in_processes

log = logging.getLogger(__name__)

CLAIM_TTL_S = 6.0  # a claim not renewed this long: its runner is gone (renewed every third of it)
REPLY_TTL_S = 3600  # replies pushed after the caller left expire
PROGRESS_EVERY_S = 1.0  # improvements of a piece are reported at most this often
# a claim still ours: renew it (the Lua keeps "is it mine" and "renew" one step)
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

Send = Callable[[str, str], None]  # (run key, task label): announce a stored piece to the workers


@dataclass(frozen=True)
class _Reply:
    """What a piece's runner tells the caller: it started, improved, finished, or failed."""

    label: str
    kind: str  # "claimed", "improved", "result", "error"
    who: str
    cost: float | None = None
    result: SearchResult | None = None
    error: str | None = None  # the runner's traceback
    seconds: float = 0.0


class _Keys:
    """The Redis keys of one call: a task and a claim per piece, one reply list."""

    def __init__(self, run_key: str) -> None:
        self.run = run_key
        self.replies = f"{run_key}:replies"

    def task(self, label: str) -> str:
        return f"{self.run}:task:{label}"

    def claim(self, label: str) -> str:
        return f"{self.run}:claim:{label}"


def _pack(value: object) -> bytes:
    return zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 1)


def _unpack(blob: bytes) -> object:
    return pickle.loads(zlib.decompress(blob))  # noqa: S301 - written by our own caller into a private Redis


def runner_name(role: str) -> str:
    """``host:pid:role:xxxxxx`` — unique per run of a piece, naming the machine and process in logs.

    Parameters
    ----------
    role
        ``worker`` (a ``qingyun worker``) or ``local`` (the caller's own lane).

    Returns
    -------
    str
    """
    return f"{socket.gethostname()}:{os.getpid()}:{role}:{uuid.uuid4().hex[:6]}"


def _client(redis_url: str):
    import redis

    return redis.Redis.from_url(redis_url)


def _push(client, keys: _Keys, reply: _Reply) -> None:
    pipe = client.pipeline()
    pipe.rpush(keys.replies, _pack(reply))
    pipe.expire(keys.replies, REPLY_TTL_S)
    pipe.execute()


def serve_piece(
    redis_url: str,
    *,
    run_key: str,
    label: str,
    who: str,
    scope: SearchScope | None = None,
    take_over: bool = False,
) -> str:
    """Run one stored piece if it is still wanted and nobody holds it: what ``qingyun.search_piece`` does.

    The search runs in a child process (registered in ``scope``, a fresh one by default); a
    heartbeat renews the claim and cancels the search once the claim or the piece is gone (the
    caller finished, or took the piece over).

    Parameters
    ----------
    redis_url
        The Redis holding the piece.
    run_key, label
        The call's key and the task's label, as ``send`` announced them.
    who
        This run's name (:func:`runner_name`), stored in the claim.
    scope
        Where the search process is registered (cancelling it stops the piece).
    take_over
        Claim the piece even if another runner holds it (the caller, for an overdue piece).

    Returns
    -------
    str
        ``"done"``, ``"gone"`` (the call ended or the piece is done), ``"taken"`` (another runner
        has it), ``"cancelled"`` or ``"failed"`` (the traceback went to the caller).
    """
    client, keys = _client(redis_url), _Keys(run_key)
    blob = client.get(keys.task(label))
    if blob is None:
        return "gone"
    try:
        task, settings = _unpack(blob)
    except Exception:  # noqa: BLE001 - e.g. a worker of another version: the caller says so
        _push(client, keys, _Reply(label, "error", who, error=traceback.format_exc()))
        return "failed"
    if not client.set(keys.claim(label), who, nx=not take_over, px=int(CLAIM_TTL_S * 1000)):
        return "taken"
    scope = scope or SearchScope()
    began = time.monotonic()
    _push(client, keys, _Reply(label, "claimed", who))
    log.info("piece %s of %s started on %s (%.0f s)", label, run_key, who, task.time_limit_s)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(client, keys, label, who, scope, stop), name=f"heartbeat {label}", daemon=True
    )
    beat.start()
    last = [-math.inf]

    def tell(_label: str, cost: float) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_S:
            last[0] = time.monotonic()
            _push(client, keys, _Reply(label, "improved", who, cost=cost))

    try:
        with owned_by(scope):
            result = run_in_processes([task], settings, tell)[task.label]
    except SearchCancelled:
        client.eval(_RELEASE, 1, keys.claim(label), who)  # the caller sees it at once, not a claim's life later
        log.info("piece %s of %s stopped on %s", label, run_key, who)
        return "cancelled"
    except Exception:  # noqa: BLE001 - a failed search is the caller's error: carried there
        _push(client, keys, _Reply(label, "error", who, error=traceback.format_exc()))
        return "failed"
    finally:
        stop.set()
        beat.join()
    seconds = time.monotonic() - began
    log.info("piece %s of %s done on %s in %.1f s: cost %.1f", label, run_key, who, seconds, result.cost)
    _push(client, keys, _Reply(label, "result", who, result=result, seconds=seconds))
    return "done"


def _heartbeat(client, keys: _Keys, label: str, who: str, scope: SearchScope, stop: threading.Event) -> None:
    """Renew the claim every third of its life; cancel the search once the claim or the piece is gone."""
    import redis

    while not stop.wait(CLAIM_TTL_S / 3):
        try:
            ours = client.eval(_RENEW, 1, keys.claim(label), who, int(CLAIM_TTL_S * 1000))
            wanted = client.exists(keys.task(label))
        except redis.RedisError:
            log.warning("piece %s: Redis unreachable for the heartbeat", label, exc_info=True)
            continue
        if not ours or not wanted:
            log.info("piece %s: no longer %s's (taken over or the call ended): stopping it", label, who)
            scope.cancel()
            return


@dataclass
class _Piece:
    """The caller's view of one piece: when it was sent, who holds it, whether a lane of ours runs it."""

    task: SearchTask
    sent_at: float
    sends: int = 1
    holder: str | None = None  # the claim's value, as last seen
    held_since: float = 0.0
    lane: _Lane | None = None


@dataclass
class _Lane:
    """One of the caller's own runs of a piece: a thread around :func:`serve_piece`."""

    thread: threading.Thread
    scope: SearchScope
    outcome: list[str]


class RedisPieces:
    """A piece runner over Redis: pieces go to ``qingyun worker`` processes and the caller's own lanes.

    Parameters
    ----------
    redis_url
        The Redis the pieces, claims and replies live in (the Celery broker's).
    send
        Announces a stored piece: ``send(run_key, label)`` makes a worker call :func:`serve_piece`.
    local_lanes
        Pieces the caller runs itself at once (None: ``SolveParams.workers``; 0: only workers).
    grace_s
        A piece held this long past its time limit is taken over by a lane of the caller.
    max_sends
        Times a piece whose runner died is sent again (after that only the caller's lanes take it).
    unclaimed_s
        With no lanes of its own, the caller gives up on a piece no worker claimed this long.
    max_piece_mb
        Largest compressed piece sent (Redis holds at most 512 MB a value).
    """

    def __init__(
        self,
        redis_url: str,
        *,
        send: Send,
        local_lanes: int | None = None,
        grace_s: float = 30.0,
        max_sends: int = 3,
        unclaimed_s: float = 120.0,
        max_piece_mb: float = 256.0,
    ) -> None:
        self.redis_url, self.send = redis_url, send
        self.local_lanes, self.grace_s, self.max_sends = local_lanes, grace_s, max_sends
        self.unclaimed_s, self.max_piece_mb = unclaimed_s, max_piece_mb
        self.ran_on: dict[str, str] = {}  # task label → the runner that delivered its result (all calls)

    def run(self, tasks: list[SearchTask], settings: SolveParams, tell: Tell) -> dict[str, SearchResult]:
        """Run the tasks on workers and local lanes; task label → its result.

        Raises
        ------
        SearchCancelled
            The caller's scope was cancelled (its pieces are stopped wherever they run).
        RuntimeError
            A piece's search failed (with the runner's traceback), or no one took it.
        InvalidInputError
            A piece is larger than ``max_piece_mb`` compressed.
        """
        client, keys = _client(self.redis_url), _Keys(f"qingyun:pieces:{uuid.uuid4().hex}")
        lanes = max(1, settings.workers) if self.local_lanes is None else self.local_lanes
        pieces: dict[str, _Piece] = {}
        try:
            sent = replace(settings, initial_routes=None)  # each task carries its own
            ttl = int(max(t.time_limit_s for t in tasks) + self.grace_s + 3600)
            for task in tasks:  # in order: workers take the first, the caller's lanes the last
                self._store(client, keys.task(task.label), task, sent, ttl=ttl)  # sent one by one: workers start
                self.send(keys.run, task.label)
                pieces[task.label] = _Piece(task, sent_at=time.monotonic())
            return self._collect(client, keys, pieces, lanes, tell)
        finally:  # done, failed or cancelled: queued messages find nothing, running pieces stop
            for piece in pieces.values():
                if piece.lane is not None:
                    piece.lane.scope.cancel()
            try:
                client.delete(keys.replies, *(keys.task(t.label) for t in tasks), *(keys.claim(t.label) for t in tasks))
            except Exception:  # noqa: BLE001 - Redis gone: its keys expire, the first error is the one to raise
                log.warning("could not delete the keys of %s", keys.run, exc_info=True)
            for piece in pieces.values():
                if piece.lane is not None:
                    piece.lane.thread.join()

    def _store(self, client, key: str, task: SearchTask, settings: SolveParams, *, ttl: int) -> None:
        blob = _pack((task, settings))  # a 300-site zone: 1.5 MB pickled, 0.4 MB compressed, 50 ms
        if len(blob) > self.max_piece_mb * 2**20:
            raise InvalidInputError(
                f"分区过大 / piece {task.label} ({len(task.problem.sites)} sites) is {len(blob) / 2**20:.1f} MB "
                f"compressed, above the {self.max_piece_mb:g} MB a piece may travel to a worker: lower "
                f"decompose_above ({settings.decompose_above}) or zone_target_sites ({settings.zone_target_sites})"
            )
        client.set(key, blob, ex=ttl)

    def _collect(self, client, keys: _Keys, pieces: dict[str, _Piece], lanes: int, tell: Tell):
        scope = current_scope()
        results: dict[str, SearchResult] = {}
        while len(results) < len(pieces):
            scope.check()
            got = client.blpop([keys.replies], timeout=0.5)
            while got is not None:  # every reply waiting, before the claims are judged
                self._handle(_unpack(got[1]), client, keys, results, tell)
                got = client.lpop(keys.replies)
                got = None if got is None else (keys.replies, got)
            waiting = {label: p for label, p in pieces.items() if label not in results}
            if waiting:
                self._watch(client, keys, waiting, lanes)
        return results

    def _handle(self, reply: _Reply, client, keys: _Keys, results: dict, tell: Tell) -> None:
        if reply.label in results:
            return  # a second run's late word
        if reply.kind == "error":
            raise RuntimeError(f"search {reply.label} failed on {reply.who}:\n{reply.error}")
        if reply.kind == "improved":
            tell(reply.label, reply.cost)
        elif reply.kind == "result":
            results[reply.label] = reply.result
            self.ran_on[reply.label] = reply.who
            tell(reply.label, reply.result.cost)
            client.delete(keys.task(reply.label), keys.claim(reply.label))  # a redelivered message: nothing to do
            log.info("piece %s done by %s in %.1f s", reply.label, reply.who, reply.seconds)

    def _watch(self, client, keys: _Keys, waiting: dict[str, _Piece], lanes: int) -> None:
        """Judge every waiting piece by its claim: held, lost (sent again), overdue or unclaimed (a lane takes it)."""
        now = time.monotonic()
        holders = client.mget([keys.claim(label) for label in waiting])
        free = lanes - sum(1 for p in waiting.values() if p.lane is not None and p.lane.thread.is_alive())
        for (label, piece), held in zip(reversed(waiting.items()), reversed(holders)):
            holder = held.decode() if held is not None else None
            if piece.lane is not None:
                if piece.lane.thread.is_alive():
                    continue
                piece.lane = None  # ours ended without a result: taken by a worker, or stopped
            if holder is not None and holder != piece.holder:
                piece.holder, piece.held_since = holder, now
            elif holder is None and piece.holder is not None:  # its runner died or let go
                log.warning("piece %s lost on %s (no heartbeat): sending it again", label, piece.holder)
                piece.holder = None
                if piece.sends < self.max_sends:
                    self.send(keys.run, label)
                    piece.sends, piece.sent_at = piece.sends + 1, now
            overdue = holder is not None and now - piece.held_since > piece.task.time_limit_s + self.grace_s
            if free > 0 and (holder is None or overdue):
                if overdue:
                    log.warning("piece %s overdue on %s: taken over here", label, holder)
                piece.lane = self._start_lane(keys, label, take_over=overdue)
                free -= 1
            elif holder is None and lanes == 0 and now - piece.sent_at > self.unclaimed_s:
                raise RuntimeError(
                    f"no worker took piece {label} within {self.unclaimed_s:.0f} s: is a `qingyun worker` "
                    "consuming the pieces queue?"
                )

    def _start_lane(self, keys: _Keys, label: str, *, take_over: bool) -> _Lane:
        scope, outcome = SearchScope(), []

        def serve() -> None:
            try:
                outcome.append(
                    serve_piece(
                        self.redis_url,
                        run_key=keys.run,
                        label=label,
                        who=runner_name("local"),
                        scope=scope,
                        take_over=take_over,
                    )
                )
            except Exception:  # noqa: BLE001 - Redis failed under the lane: the piece is judged again
                log.exception("piece %s could not be run here", label)
                outcome.append("failed")

        thread = threading.Thread(target=serve, name=f"piece {label}", daemon=True)
        thread.start()
        return _Lane(thread, scope, outcome)
