"""The gateway as a process of its own: its own signal handling, started and watched by ``qingyun serve``.

Under ``qingyun serve`` the gateway runs in a child process so that an HTTP request that
keeps the API's event loop or CPU busy (a big import) cannot delay terminal replies. The
child stops on SIGTERM or SIGINT, and when its parent dies, after committing every accepted
position. If it dies on its own the parent restarts it (logged), unless it dies again within
``CRASH_WINDOW_S`` of each start ``MAX_QUICK_CRASHES`` times in a row: then the parent gives up
and stops too (a port taken by another program, a database refusing connections), so a
supervisor (systemd, Docker) sees the failure instead of a service silently without gateway.
The child also runs the live path (``fleet.supervise.live.position_sink``): committed positions are
judged by the rule engine in a thread of the gateway process, or appended to Redis Streams.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from fleet.jt808.gateway import Gateway, GatewayStats
from fleet.jt808.settings import GatewaySettings
from routing.errors import ConflictError

if TYPE_CHECKING:
    from fleet.settings import FleetSettings
    from fleet.supervise.live import PositionSink
    from routing.network.settings import NetworkSettings

log = logging.getLogger(__name__)

CRASH_WINDOW_S = 10.0
MAX_QUICK_CRASHES = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


async def serve_until_signalled(
    engine: Engine,
    settings: GatewaySettings,
    *,
    ready: Callable[[int], None] | None = None,
    stop_with_parent: bool = False,
    sink: PositionSink | None = None,
) -> GatewayStats:
    """Run a gateway until SIGTERM or SIGINT (or its parent's death), then flush and return its counters.

    Plain signal handlers, not ``loop.add_signal_handler``: under load asyncio's wake-up socket
    can be full and a signal delivered through it is lost.

    Parameters
    ----------
    engine
        The migrated track database.
    settings
        The gateway's settings.
    ready
        Called with the bound port once the gateway listens.
    stop_with_parent
        Also stop when the parent process dies (the child of ``qingyun serve``; not a gateway
        started from a shell, which may outlive it under ``nohup``).
    sink
        The live path for committed positions (``fleet.supervise.live.position_sink``); None: stored only.

    Returns
    -------
    GatewayStats
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def request_stop(_signum: int, _frame: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    gateway = Gateway(engine, settings, sink=sink)
    await gateway.start()
    if ready is not None:
        ready(gateway.port)
    parent = os.getppid()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                if stop_with_parent and os.getppid() != parent:  # orphaned: nobody else will stop us
                    log.warning("parent process %d gone: stopping the gateway", parent)
                    break
    finally:
        await gateway.stop()  # commits every accepted position
    return gateway.stats


def _child(
    database_url: str,
    settings: dict,
    connection: multiprocessing.connection.Connection,
    live: tuple[dict, dict] | None = None,
) -> None:
    """Entry point of the gateway process: report the port (or the error) on ``connection``, serve.

    ``live``: the parent's (fleet, network) settings for the live path; None: resolved here from the
    environment this process inherited, as the parent would have.
    """
    from fleet.settings import FleetSettings
    from fleet.supervise.live import network_loader, position_sink
    from fleet.tracks.store import make_engine
    from routing.network.settings import NetworkSettings

    os.setpgrp()  # a terminal's Ctrl-C reaches the parent only; it stops us in order
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    engine = make_engine(database_url)  # migrated by the parent before it started us
    fleet, network = (
        (FleetSettings(**live[0]), NetworkSettings(**live[1])) if live else (FleetSettings(), NetworkSettings())
    )
    sink = position_sink(fleet, db=engine, network=network_loader(network))
    try:
        stats = asyncio.run(
            serve_until_signalled(
                engine,
                GatewaySettings(**settings),
                ready=lambda port: connection.send(port),
                stop_with_parent=True,
                sink=sink,
            )
        )
    except OSError as error:  # cannot bind
        connection.send(f"{type(error).__name__}: {error}")
        raise SystemExit(2) from None
    log.info(
        "gateway process stopped: %d connections, %d frames, %d positions stored",
        stats.connections,
        stats.frames,
        stats.positions_accepted,
    )


class GatewayProcess:
    """The gateway in a child process, restarted when it dies, stopped (flushed) on :meth:`stop`.

    Parameters
    ----------
    database_url
        The database the parent migrated.
    settings
        The gateway's settings (its port must be fixed, not 0, to survive restarts).
    fleet, network
        The live path's rule and road-network settings; None: the child resolves them from the
        environment it inherits.
    """

    def __init__(
        self,
        database_url: str,
        settings: GatewaySettings,
        *,
        fleet: FleetSettings | None = None,
        network: NetworkSettings | None = None,
    ) -> None:
        self._url = database_url
        self._settings = settings
        self._live = (fleet.model_dump(), network.model_dump()) if fleet is not None and network is not None else None
        self._context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited threads or loop
        self._process: multiprocessing.process.BaseProcess | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and a stop never interleave
        self._watcher: threading.Thread | None = None
        self.port: int | None = None
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, *, timeout_s: float = 60.0) -> int:
        """Start the child and wait until it listens; return its port.

        Raises
        ------
        ConflictError
            When the child cannot listen (port taken) or does not come up within ``timeout_s``.
        """
        receive, send = self._context.Pipe(duplex=False)
        self._process = self._context.Process(
            target=_child,
            args=(self._url, self._settings.model_dump(), send, self._live),
            name="qingyun-jt808",
            daemon=False,
        )
        self._process.start()
        send.close()
        answer: object = "did not report"
        if receive.poll(timeout_s):
            try:
                answer = receive.recv()
            except EOFError:
                answer = f"exited with code {self._process.exitcode}"
        receive.close()
        if not isinstance(answer, int):
            self._process.join(5)
            raise ConflictError(
                f"网关无法启动 / the JT/T 808 gateway could not listen on "
                f"{self._settings.host}:{self._settings.port}: {answer}"
            )
        self.port = answer
        log.info("JT/T 808 gateway process %d listening on %s:%d", self._process.pid, self._settings.host, answer)
        return answer

    def watch(self, *, on_give_up: Callable[[], None]) -> None:
        """Restart the child whenever it dies unasked; call ``on_give_up`` after too many quick crashes."""

        def loop() -> None:
            quick = 0
            while not self._stopping.is_set():
                started = time.monotonic()
                self._process.join()
                if self._stopping.is_set():
                    return
                lived = time.monotonic() - started
                quick = quick + 1 if lived < CRASH_WINDOW_S else 0
                log.error("JT/T 808 gateway process died (exit code %s) after %.1f s", self._process.exitcode, lived)
                if quick >= MAX_QUICK_CRASHES:
                    log.error("gateway died %d times within %g s of starting: giving up", quick, CRASH_WINDOW_S)
                    on_give_up()
                    return
                with self._lock:
                    if self._stopping.is_set():
                        return
                    try:
                        self.start()
                    except ConflictError as error:
                        log.error("%s", error)
                        on_give_up()
                        return
                self.restarts += 1
                log.warning("JT/T 808 gateway restarted (pid %d, restart %d)", self._process.pid, self.restarts)

        self._watcher = threading.Thread(target=loop, name="qingyun-jt808-watch", daemon=True)
        self._watcher.start()

    def stop(self, *, timeout_s: float = 60.0) -> int | None:
        """SIGTERM the child and wait for it to flush and exit (SIGKILL after ``timeout_s``); its exit code."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return None
        if process.is_alive():
            os.kill(process.pid, signal.SIGTERM)
        # join returns as soon as the child's end of its sentinel pipe closes, which can come a moment before
        # the child has exited (a thread still unwinding): wait out the whole timeout before killing it
        deadline = time.monotonic() + timeout_s
        while process.is_alive() and (left := deadline - time.monotonic()) > 0:
            process.join(left)
            if process.is_alive():
                time.sleep(0.05)
        if process.is_alive():
            log.error("gateway process did not stop within %g s: killed", timeout_s)
            process.kill()
            process.join()
        return process.exitcode
