"""``qingyun serve``: the HTTP API in this process, the JT/T 808 gateway in a process of its own.

SIGTERM stops both with exit code 0 after the gateway committed every accepted position, and
both ports are free afterwards; a gateway process that dies is restarted (logged); a big import
through the API does not delay terminal heartbeats, since the gateway runs on its own interpreter.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.api.conftest import free_port, qingyun, service_env
from tests.fleet.jt808.test_gateway import PHONE, frame, location_body, registration_body


def sites_csv(megabytes: float) -> bytes:
    """A sites CSV of about this size (MiB), every row valid: long Chinese names and addresses."""
    rows = ["id,name,address,lon,lat,stream,demand_kg"]
    size = 0
    while size < megabytes * 1024 * 1024:
        k = len(rows)
        rows.append(f"BIG-{k:06d},{'饭店' * 90},{'深圳市福田区' * 60},{114.0 + k % 1000 / 10000:.5f},22.55,kitchen,120")
        size += len(rows[-1].encode()) + 1
    return ("\n".join(rows) + "\n").encode()


@dataclass
class Serving:
    process: subprocess.Popen
    http_port: int
    tcp_port: int
    database_url: str
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def serving(tmp_path: Path) -> Iterator[Serving]:
    """``qingyun serve`` on free ports and a SQLite file; SIGTERM (then SIGKILL) if the test did not stop it."""
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    http_port, tcp_port = free_port(), free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("qingyun")), "serve", "--port", str(http_port)]
        + ["--jt808-port", str(tcp_port)],
        cwd=tmp_path,
        env=service_env(database_url),
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    run = Serving(process, http_port, tcp_port, database_url, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, run.text()
                time.sleep(0.3)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Terminal:
    """A blocking JT/T 808 terminal on a real socket."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""
        self.serial = 0

    def send(self, msg_id: int, body: bytes) -> None:
        self.serial += 1
        self.socket.sendall(frame(msg_id, PHONE, self.serial, body))

    def reply(self) -> bytes | None:
        """The next frame, unescaped; None when the gateway closed the line."""
        while self.buffer.count(b"\x7e") < 2:
            chunk = self.socket.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        start = self.buffer.index(b"\x7e")
        end = self.buffer.index(b"\x7e", start + 1)
        wire, self.buffer = self.buffer[start : end + 1], self.buffer[end + 1 :]
        return wire[1:-1].replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")

    def authenticate(self) -> None:
        self.send(0x0100, registration_body())
        code = self.reply()[15:-1]
        self.send(0x0102, code)
        assert self.reply()[12:17] == struct.pack(">HHB", self.serial, 0x0102, 0)

    def close(self) -> None:
        self.socket.close()


def gateway_pids(run: Serving) -> list[int]:
    """The gateway processes serve started, in order (from its log)."""
    return [int(pid) for pid in re.findall(r"JT/T 808 gateway process (\d+) listening", run.text())]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def bindable(port: int) -> bool:
    """Whether a server could listen on the port now (SO_REUSEADDR, as uvicorn and asyncio set it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stored_positions(database_url: str) -> int:
    from fleet.tracks.store import count_positions, make_engine

    engine = make_engine(database_url)
    try:
        return count_positions(engine)
    finally:
        engine.dispose()


def test_sigterm_stops_api_and_gateway_process_with_every_accepted_position_stored(tmp_path):
    with serving(tmp_path) as run:
        (gateway_pid,) = gateway_pids(run)
        assert gateway_pid != run.process.pid and alive(gateway_pid)  # the gateway is a process of its own
        terminal = Terminal(run.tcp_port)
        terminal.authenticate()
        fixes = [
            location_body(
                lat=22.5, lon=114.0 + i / 1e4, time=f"261121{8 + i // 3600:02d}{i // 60 % 60:02d}{i % 60:02d}"
            )
            for i in range(300)
        ]
        first = terminal.serial + 1
        terminal.socket.sendall(b"".join(frame(0x0200, PHONE, first + i, body) for i, body in enumerate(fixes)))
        run.process.send_signal(signal.SIGTERM)  # at once: some fixes may still be in flight
        acked = 0
        while (reply := terminal.reply()) is not None:
            if reply[:2] == b"\x80\x01" and reply[14:17] == b"\x02\x00\x00":
                acked += 1
        terminal.close()
        run.process.wait(timeout=60)
        log = run.text()
    assert run.process.returncode == 0, log
    assert "JT/T 808 gateway process exited with code 0" in log
    assert not alive(gateway_pid)
    stored = stored_positions(run.database_url)
    assert acked <= stored == 300, (acked, stored)  # written before the gateway let the line go
    assert bindable(run.http_port) and bindable(run.tcp_port)


def test_a_gateway_process_that_dies_is_restarted_and_logged(tmp_path):
    with serving(tmp_path) as run:
        (first,) = gateway_pids(run)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # the same port answers again, served by a new process
            try:
                terminal = Terminal(run.tcp_port)
                terminal.authenticate()
                break
            except (OSError, AttributeError, TypeError):
                assert time.monotonic() < deadline, run.text()
                time.sleep(0.3)
        terminal.send(0x0200, location_body(lat=22.5, lon=114.0, time="261121080000"))
        assert terminal.reply()[14:17] == b"\x02\x00\x00"
        terminal.close()
        (_, second) = gateway_pids(run)
        assert httpx.get(f"http://127.0.0.1:{run.http_port}/health", timeout=5).status_code == 200
        run.process.send_signal(signal.SIGTERM)
        run.process.wait(timeout=60)
        log = run.text()
    assert run.process.returncode == 0, log
    assert second != first and not alive(second)
    assert "JT/T 808 gateway process died (exit code -9)" in log and "JT/T 808 gateway restarted" in log
    assert stored_positions(run.database_url) == 1


def test_heartbeat_round_trips_stay_under_100_ms_during_a_20_mb_import(tmp_path):
    """A 19 MiB (19.9 MB) sites CSV posted to the running serve; heartbeats every 20 ms meanwhile.

    The bound is generous: the gateway is a separate process, so its reply waits only for a
    free core (2 here, the API parsing on one); a heartbeat costs well under 1 ms of CPU.
    """
    content = sites_csv(19)
    with serving(tmp_path) as run:
        created = qingyun("keys", "create", "--role", "dispatcher", database_url=run.database_url)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        terminal = Terminal(run.tcp_port)
        terminal.authenticate()
        answer: list[httpx.Response] = []

        def post() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{run.http_port}", timeout=600) as client:
                client.headers["X-API-Key"] = key
                answer.append(client.post("/sites/import", files={"file": ("big.csv", content, "text/csv")}))

        importer = threading.Thread(target=post)
        importer.start()
        round_trips = []
        while importer.is_alive():
            began = time.perf_counter()
            terminal.send(0x0002, b"")
            reply = terminal.reply()
            round_trips.append(time.perf_counter() - began)
            assert reply[12:17] == struct.pack(">HHB", terminal.serial, 0x0002, 0)
            time.sleep(0.02)
        importer.join()
        terminal.close()
    assert answer[0].status_code == 200, answer[0].text[:300]
    round_trips.sort()
    median, most = round_trips[len(round_trips) // 2], round_trips[-1]
    figures = f"{len(round_trips)} heartbeats: median {median * 1000:.1f} ms, max {most * 1000:.1f} ms"
    print(figures)
    assert len(round_trips) > 20, figures  # the import did last a while
    assert round_trips[-1] < 0.1, figures


def test_kill_9_of_serve_stops_its_gateway_process_and_frees_the_port(tmp_path):
    """The orphaned gateway notices its parent is gone, commits what it accepted and exits."""
    with serving(tmp_path) as run:
        (gateway_pid,) = gateway_pids(run)
        terminal = Terminal(run.tcp_port)
        terminal.authenticate()
        terminal.send(0x0200, location_body(lat=22.5, lon=114.0, time="261121080000"))
        assert terminal.reply()[14:17] == b"\x02\x00\x00"
        run.process.kill()
        run.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while alive(gateway_pid) or not bindable(run.tcp_port):
            assert time.monotonic() < deadline, run.text()
            time.sleep(0.2)
        terminal.close()
    assert "parent process" in run.text() and stored_positions(run.database_url) == 1
