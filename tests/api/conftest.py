"""A real service for the API tests: uvicorn in a subprocess on a free port, on SQLite and on PostgreSQL.

PostgreSQL runs get a database of their own (created here, dropped afterwards) on the local
server (``QINGYUN_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``);
they are skipped with the reason when the server is unreachable.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import REDIS_URL, drop_postgres_database, postgres_database

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("dispatcher", "supervisor", "planner", "device", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.exceptions.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable ({exc}); CI runs these")
    return REDIS_URL


@dataclass
class Service:
    """A running API process and keys for every role."""

    url: str
    database_url: str
    process: subprocess.Popen
    keys: dict[str, str] = field(default_factory=dict)
    log: Path | None = None

    def client(self, role: str | None = None, **kwargs) -> httpx.Client:
        headers = {"X-API-Key": self.keys[role]} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, **{"timeout": 60, **kwargs})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGYUN_")}
    env.update({"QINGYUN_DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **extra})
    return env


def start_service(database_url: str, *, log: Path, **extra_env: str) -> Service:
    port = free_port()
    handle = open(log, "ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=service_env(database_url, **extra_env),
        stdout=handle,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Service(url=url, database_url=database_url, process=process, log=log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"service did not answer /health within 60 s:\n{log.read_text(errors='replace')[-3000:]}")


def issue_keys(database_url: str) -> dict[str, str]:
    """One key per role, the device key for every terminal (``qingyun keys create`` is tested in test_access.py)."""
    from api.auth import ANY_TERMINAL, create_key
    from api.db import engine_for

    engine = engine_for(database_url)
    return {
        role: create_key(
            engine, roles=[role], name=f"test {role}", terminals=[ANY_TERMINAL] if role == "device" else []
        ).key
        for role in ROLES
    }


def qingyun(*args: str, database_url: str) -> subprocess.CompletedProcess:
    """Run the ``qingyun`` console script against a database."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("qingyun")), *args],
        cwd=ROOT,
        env=service_env(database_url),
        capture_output=True,
        text=True,
        check=False,
    )


@contextmanager
def running_service(kind: str, folder: Path, **extra_env: str) -> Iterator[Service]:
    """The API on a fresh SQLite file or a fresh PostgreSQL database (dropped afterwards), keys issued."""
    database_url = f"sqlite:///{folder / 'qingyun.db'}" if kind == "sqlite" else postgres_database()
    try:
        service = start_service(database_url, log=folder / "service.log", **extra_env)
        service.keys = issue_keys(database_url)
        yield service
        service.stop()
    finally:
        if kind == "postgresql":
            from api.db import _engines

            for url in [u for u in _engines if u.endswith(database_url.rsplit("/", 1)[1])]:
                _engines.pop(url).dispose()
            drop_postgres_database(database_url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory) -> Iterator[Service]:
    """The API on each database (PostgreSQL skipped when unreachable)."""
    with running_service(request.param, tmp_path_factory.mktemp(f"api-{request.param}")) as service:
        yield service


@pytest.fixture(scope="session")
def small_scenario() -> dict:
    """A plannable Shenzhen day of 18 producers (32 sites) from the project's generator."""
    from routing.network.graph import load_network
    from routing.planning.generate import generate_scenario

    scenario = generate_scenario(load_network(), restaurants=12, communities=6, seed=3)
    return json.loads(scenario.model_dump_json())


def wait_for_job(client: httpx.Client, url: str, *, timeout_s: float = 180) -> dict:
    """Poll a job URL until it leaves queued/running; returns the last body."""
    deadline = time.monotonic() + timeout_s
    while True:
        body = client.get(url).json()
        if body["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return body
        time.sleep(0.3)
