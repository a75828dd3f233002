"""Resource limits of the service, over a real socket: body size, imports off the event loop, wrong-key rate limit."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import Service, issue_keys, start_service

MB = 1024 * 1024
FORM = b"\r\nContent-Type: multipart/form-data; boundary=qy"
PART = b'--qy\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Iterator[Service]:
    """A service of its own (SQLite): 3 wrong keys per 3 s per address (the limiter is reached quickly), 20,000 rows."""
    folder = tmp_path_factory.mktemp("limits")
    database_url = f"sqlite:///{folder / 'qingyun.db'}"
    service = start_service(
        database_url,
        log=folder / "service.log",
        QINGYUN_AUTH_FAILURES_MAX="3",
        QINGYUN_AUTH_FAILURES_WINDOW_S="3",
        QINGYUN_IMPORT_MAX_ROWS="20000",
    )
    service.keys = issue_keys(database_url)
    yield service
    service.stop()


def _health_times(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            began = time.perf_counter()
            assert client.get("/health").status_code == 200
            out.append(time.perf_counter() - began)
            time.sleep(0.02)


def _answer_to(url: str, head: bytes, body_chunks: Iterator[bytes]) -> tuple[bytes, float]:
    """Stream a request on a raw socket (a thread sends) and read the answer; (status line, seconds)."""
    host, port = url.removeprefix("http://").split(":")
    began = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=30) as connection:

        def send() -> None:
            try:
                connection.sendall(head)
                for chunk in body_chunks:
                    connection.sendall(chunk)
            except OSError:
                pass  # the server answered and closed: the rest is never read

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = b""
        while b"\r\n" not in answer:
            answer += connection.recv(65536)
        seconds = time.perf_counter() - began
        connection.shutdown(socket.SHUT_RDWR)
        sender.join(timeout=30)
    return answer.split(b"\r\n", 1)[0], seconds


def test_a_50_mb_upload_is_refused_within_a_second_while_health_answers(limited):
    key = limited.keys["dispatcher"].encode()
    path = b"POST /sites/import HTTP/1.1\r\nHost: x\r\nX-API-Key: " + key
    stop, health = threading.Event(), []
    watcher = threading.Thread(target=_health_times, args=(limited.url, stop, health))
    watcher.start()
    try:
        # a declared length over the limit: refused before one byte of the body is read
        head = path + FORM + b"\r\nContent-Length: " + str(50 * MB).encode() + b"\r\n\r\n"
        status, seconds = _answer_to(limited.url, head, iter([PART] + [b"x" * 65536] * (50 * MB // 65536)))
        assert status.split()[1] == b"413" and seconds < 1.0, (status, seconds)
        # a chunked body declares nothing: it is counted as it streams and refused when it passes 20 MB
        head = path + FORM + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunks = [b"%x\r\n%s\r\n" % (len(PART), PART)] + [b"10000\r\n" + b"x" * 65536 + b"\r\n"] * (50 * MB // 65536)
        status, seconds = _answer_to(limited.url, head, iter(chunks))
        assert status.split()[1] == b"413" and seconds < 10, (status, seconds)
        deadline = time.monotonic() + 10
        while len(health) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        watcher.join()
    assert health and max(health) < 1.0
    with limited.client("dispatcher") as client:
        refused = client.post("/sites/import", files={"file": ("big.csv", b"x" * (21 * MB), "text/csv")})
    assert refused.status_code == 413 and "20 MB" in refused.json()["detail"]


def _big_sites_csv(megabytes: float) -> bytes:
    """A sites CSV of about this size: long names and addresses, every 10th row without a stream."""
    rows = ["id,name,address,lon,lat,stream,demand_kg"]
    size, k = 0, 0
    while size < megabytes * MB:
        stream = "" if k % 10 == 9 else "kitchen"
        row = f"BIG-{k:06d},{'饭店' * 90},{'深圳市福田区' * 60},{114.0 + k % 1000 / 10000:.5f},22.55,{stream},120"
        rows.append(row)
        size += len(row.encode()) + 1
        k += 1
    return ("\n".join(rows) + "\n").encode()


def test_health_answers_during_a_19_mb_import_and_the_answer_is_a_summary(limited):
    content = _big_sites_csv(19)
    stop, health = threading.Event(), []
    watcher = threading.Thread(target=_health_times, args=(limited.url, stop, health))
    watcher.start()
    try:
        with limited.client("dispatcher", timeout=600) as client:
            answer = client.post("/sites/import", files={"file": ("big.csv", content, "text/csv")})
    finally:
        stop.set()
        watcher.join()
    assert answer.status_code == 200, answer.text[:500]
    body = answer.json()
    assert body["imported"] > 10_000 and body["rejected_count"] == body["imported"] // 9
    assert len(body["rejected"]) == 100 and "stream" in str(body["rejected"][0])
    assert len(answer.content) < 50_000  # a summary, not every row
    assert len(health) > 5 and max(health) < 1.0, f"/health took up to {max(health):.2f} s during the import"


def test_wrong_keys_from_one_address_are_answered_429_but_a_valid_key_passes(limited):
    with limited.client("supervisor") as valid:
        assert valid.get("/violations").status_code == 200  # known valid before the limit is reached
        with limited.client() as guesser:
            guesser.headers["X-API-Key"] = "qy_00000000_guess"
            codes = [guesser.get("/violations").status_code for _ in range(5)]
            assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
            refused = guesser.get("/sites")
            assert int(refused.headers["Retry-After"]) >= 1
            assert "QINGYUN_AUTH_FAILURES_MAX" in refused.json()["detail"]
            assert valid.get("/violations").status_code == 200  # valid keys are unaffected
            time.sleep(3.2)  # the window passes
            assert guesser.get("/violations").status_code == 401


def test_an_import_over_the_row_limit_is_refused_naming_the_setting(limited):
    rows = "".join(f"ROWS-{k},114.05,22.55,kitchen,10\n" for k in range(20_001))
    with limited.client("dispatcher") as client:
        answer = client.post(
            "/sites/import", files={"file": ("many.csv", f"id,lon,lat,stream,demand_kg\n{rows}", "text/csv")}
        )
        assert answer.status_code == 422 and "QINGYUN_IMPORT_MAX_ROWS" in answer.json()["detail"]
        assert "20,001" in answer.json()["detail"]
        assert client.get("/sites/ROWS-0").status_code == 404  # nothing of it stored
