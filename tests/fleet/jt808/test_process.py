"""The gateway as a process of its own (what ``qingyun serve`` runs): restarted when it dies, but not forever."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

from api.db import engine_for
from fleet.jt808.process import MAX_QUICK_CRASHES, GatewayProcess
from fleet.jt808.settings import GatewaySettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_gateway_process_that_keeps_dying_at_once_is_given_up(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    engine_for(url).dispose()  # migrated, as serve does before it starts the gateway
    gateway = GatewayProcess(url, GatewaySettings(host="127.0.0.1", port=free_port()))
    gave_up = threading.Event()
    gateway.start()
    gateway.watch(on_give_up=gave_up.set)
    killed = []
    try:
        for crash in range(MAX_QUICK_CRASHES):
            deadline = time.monotonic() + 60
            while gateway.restarts < crash:  # wait for the restart to listen
                assert time.monotonic() < deadline
                time.sleep(0.05)
            killed.append(gateway.pid)
            os.kill(gateway.pid, signal.SIGKILL)
        assert gave_up.wait(60)
    finally:
        gateway.stop()
    assert len(set(killed)) == MAX_QUICK_CRASHES and gateway.restarts == MAX_QUICK_CRASHES - 1
