"""``qingyun serve`` runs the HTTP API and the JT/T 808 gateway together; SIGTERM stops both, positions kept."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.conftest import ROOT, free_port, service_env


def test_serve_runs_api_and_gateway_and_stops_cleanly(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    qingyun = str(Path(sys.executable).with_name("qingyun"))
    http_port, tcp_port = free_port(), free_port()
    server = subprocess.Popen(
        [qingyun, "serve", "--port", str(http_port), "--jt808-port", str(tcp_port)],
        cwd=tmp_path,
        env=service_env(database_url),
        stdout=open(tmp_path / "serve.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        simulated = subprocess.run(
            [qingyun, "jt808", "simulate", "--terminals", "3", "--fixes", "5", "--rate", "30", "--port", str(tcp_port)],
            cwd=ROOT,
            env=service_env(database_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode in (0, -signal.SIGTERM), (
        tmp_path / "serve.log"
    ).read_text()  # uvicorn re-raises the signal it handled
    from fleet.tracks.store import count_positions, make_engine

    engine = make_engine(database_url)
    assert count_positions(engine) == 15  # every acknowledged fix stored, through the same database as the API
    engine.dispose()
