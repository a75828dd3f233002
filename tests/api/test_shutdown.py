"""Search processes belong to their job: a stopped or killed ``qingyun serve`` frees its port and leaves no search behind.

Before, the forked searches inherited the HTTP listening socket and outlived the server until
their time limit (up to 15 min), so the port stayed taken. These tests run the real command
during a long solve and watch the port and the process table (``/proc``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.db import engine_for
from api.tables import Job
from routing.planning.search.processes import SearchCancelled, SearchScope, detach_child, owned_by
from tests.api.conftest import ROOT, free_port, issue_keys, service_env

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # state, ppid, …


def alive(pid: int) -> bool:
    """Exists and is not a zombie (a killed child of init may linger unreaped in a container)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None and fields[0] not in ("Z", "X"):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def port_bindable(port: int) -> bool:
    """Whether a server could listen on the port now (SO_REUSEADDR, as uvicorn binds)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def wait_for(predicate, *, timeout_s: float) -> float | None:
    """Seconds until ``predicate()`` held, or None after ``timeout_s``."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        if predicate():
            return time.monotonic() - began
        time.sleep(0.05)
    return None


def start_serve(database_url: str, port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("qingyun")), "serve", "--port", str(port), "--jt808-port", "0"],
        cwd=ROOT,
        env=service_env(database_url),
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )

    def healthy() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    assert wait_for(healthy, timeout_s=60) is not None, "qingyun serve did not answer /health"
    return process


def solving(tmp_path: Path, scenario: dict, *, time_limit_s: float) -> tuple[subprocess.Popen, int, str, str, set[int]]:
    """``qingyun serve`` on a fresh SQLite file, mid-solve: (process, port, database, plan id, search pids)."""
    database_url = f"sqlite:///{tmp_path / 'qingyun.db'}"
    port = free_port()
    serve = start_serve(database_url, port, tmp_path / "serve.log")
    key = issue_keys(database_url)["dispatcher"]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": key}, timeout=60) as client:
        plan_id = client.post("/plans", json={"scenario": scenario, "time_limit_s": time_limit_s}).json()["id"]
    searches: set[int] = set()

    def searching() -> bool:
        searches.update(descendants(serve.pid))
        return len(descendants(serve.pid)) >= 2  # the day's searches, one per strategy

    assert wait_for(searching, timeout_s=120) is not None, "the search processes did not start"
    return serve, port, database_url, plan_id, searches


def test_sigterm_during_a_solve_frees_the_port_and_leaves_no_search(tmp_path, small_scenario):
    serve, port, database_url, plan_id, searches = solving(tmp_path, small_scenario, time_limit_s=300)
    assert not port_bindable(port)
    serve.send_signal(signal.SIGTERM)
    freed = wait_for(lambda: port_bindable(port), timeout_s=10)
    gone = wait_for(lambda: not any(alive(pid) for pid in searches), timeout_s=10)
    print(f"SIGTERM → port free after {freed} s, searches gone after {gone} s")
    assert freed is not None, "the port was still taken 10 s after SIGTERM"
    assert gone is not None, f"search processes still running 10 s after SIGTERM: {[p for p in searches if alive(p)]}"
    assert serve.wait(timeout=30) == 0
    with engine_for(database_url).connect() as connection:
        job = connection.execute(Job.__table__.select().where(Job.__table__.c.id == plan_id)).one()
    # handed back, not failed: the next start runs it without using an attempt
    assert (job.status, job.attempts, job.retryable) == ("queued", 0, False), job
    assert "shutdown" in job.error


def test_kill_9_during_a_solve_ends_the_searches_with_the_server(tmp_path, small_scenario):
    serve, port, _, _, searches = solving(tmp_path, small_scenario, time_limit_s=300)
    serve.send_signal(signal.SIGKILL)
    serve.wait()
    gone = wait_for(lambda: not any(alive(pid) for pid in searches), timeout_s=10)
    freed = wait_for(lambda: port_bindable(port), timeout_s=10)
    print(f"kill -9 → searches gone after {gone} s, port free after {freed} s")
    assert gone is not None, f"search processes outlived the killed server: {[p for p in searches if alive(p)]}"
    assert freed is not None, "the port was still taken 10 s after kill -9"


def test_a_search_process_holds_no_inherited_socket_and_leads_its_own_group():
    listener = socket.create_server(("127.0.0.1", 0))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child, as a search process starts
        detach_child(os.getppid())
        kinds = []
        for name in os.listdir("/proc/self/fd"):
            try:
                kinds.append(os.readlink(f"/proc/self/fd/{name}"))
            except OSError:
                pass
        sockets = sum(kind.startswith("socket:") for kind in kinds)
        os.write(write, f"{sockets} {os.getpgid(0) == os.getpid()}".encode())
        os._exit(0)
    os.close(write)
    answer = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    listener.close()
    assert answer == "0 True"


def test_a_cancelled_scope_kills_its_searches_and_refuses_new_ones():
    scope = SearchScope()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    scope.add(child.pid)
    assert scope.cancel() == 1
    assert child.wait(timeout=10) == -signal.SIGKILL
    with owned_by(scope), pytest.raises(SearchCancelled):
        scope.check()
