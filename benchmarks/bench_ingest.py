"""JT/T 808 ingest benchmark: decode throughput, then end-to-end TCP → database.

1. Decode: a stream of realistic location frames (simulated trucks, items 0x01/0x30/0x31)
   cut into 64 KiB reads, split, unescaped, checksummed, header and 0x0200 body decoded —
   the gateway's hot path — on one core. Floor: 50,000 frames/s.
2. End-to-end: the gateway runs as its own process (``qingyun jt808 serve``); 1,000
   simulated terminals in this process drive Shenzhen road paths and send their fixes.
   Per database (SQLite file, local PostgreSQL): a clean run for throughput (floor for
   PostgreSQL: 5,000 positions/s), then a run where the gateway is stopped mid-stream
   (SIGTERM, graceful) and later killed (SIGKILL, crash) and restarted each time; the
   stored count must equal the number of distinct fixes, with each terminal's track
   complete.

Run: .venv/bin/python benchmarks/bench_ingest.py [--terminals 1000] [--fixes 60] [--rate 10000] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fleet.jt808.frame import FrameSplitter, decode_escaped  # noqa: E402
from fleet.jt808.location import decode_location  # noqa: E402
from fleet.jt808.messages import encode_message  # noqa: E402
from fleet.simulate.terminals import Drive, SimulatedTerminal, TerminalSpec, road_drives, simulate, terminal_specs  # noqa: E402
from routing.localtime import CHINA_TZ  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def bench_decode(frames: int = 200_000) -> None:
    drive = Drive(coords=[(113.93, 22.52), (113.99, 22.55), (114.05, 22.54)], speed_kmh=36)
    wires = []
    for terminal in range(100):
        spec = TerminalSpec(
            phone=str(13_900_000_000 + terminal),
            drive=drive,
            fixes=0,
            interval_s=1,
            start_time=datetime(2026, 11, 21, 8, tzinfo=CHINA_TZ),
        )
        sim = SimulatedTerminal(spec, host="", port=0)
        wires.extend(encode_message(sim.fix(n), phone=spec.phone, serial=n) for n in range(frames // 100))
    stream = b"".join(wires)
    escaped_7d = sum(1 for w in wires if b"\x7d" in w[1:-1])
    reads = [stream[i : i + 65536] for i in range(0, len(stream), 65536)]
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        splitter = FrameSplitter()
        count = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for data in reads:
            for escaped in splitter.feed(data)[0]:
                frame = decode_escaped(escaped)
                decode_location(frame.body, error_at=frame.error)
                count += 1
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    assert count == len(wires)
    print(
        f"decode: {count} location frames ({sum(map(len, wires)) / count:.0f} B avg, {escaped_7d} with escapes), "
        f"best of 3: {count / best_wall:,.0f} frames/s wall, {count / best_cpu:,.0f} frames/s per CPU-second"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    """``qingyun jt808 serve`` in a subprocess."""

    def __init__(self, *, url: str, port: int, log: Path) -> None:
        self.url, self.port, self.log = url, port, log
        self.process: subprocess.Popen | None = None
        self.cpu_s = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "qingyun"),
                "jt808",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database-url",
                self.url,
            ],
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gateway did not start, see {self.log}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.cpu_s += self.cpu_seconds()
        self.process.send_signal(sig)
        self.process.wait(60)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the running gateway process (from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@functools.cache
def _engine(url: str):
    from sqlalchemy import create_engine

    return create_engine(url)


def _count(url: str) -> tuple[int, int, int]:
    """(rows, distinct terminals, min rows of a terminal) in the position table."""
    from sqlalchemy import text

    with _engine(url).connect() as connection:
        rows, terminals = connection.execute(
            text("SELECT count(*), count(DISTINCT terminal_phone) FROM position")
        ).one()
        least = connection.execute(
            text("SELECT min(n) FROM (SELECT count(*) AS n FROM position GROUP BY terminal_phone) AS per_terminal")
        ).scalar()
    return rows, terminals, least or 0


def _drive(
    specs, port: int, *, gateway: GatewayProcess, interruptions: list[tuple[float, int]]
) -> tuple[list, float, list[tuple[float, int, float]]]:
    """Run the fleet; a monitor thread (off the busy event loop) samples the stored count and
    the gateway's CPU time and interrupts the gateway at the given shares of the total."""
    total = sum(spec.fixes for spec in specs)
    samples: list[tuple[float, int, float]] = []
    done = threading.Event()
    started = time.perf_counter()

    def monitor() -> None:
        pending = list(interruptions)
        while not done.wait(0.2):
            stored = _count(gateway.url)[0]
            samples.append((time.perf_counter() - started, stored, gateway.cpu_s + gateway.cpu_seconds()))
            if pending and stored >= pending[0][0] * total:
                sig = pending.pop(0)[1]
                gateway.stop(sig)
                print(
                    f"    gateway stopped with {signal.Signals(sig).name} at {_count(gateway.url)[0]} stored; "
                    "restart in 2 s",
                    flush=True,
                )
                time.sleep(2)
                gateway.start()

    watcher = threading.Thread(target=monitor, name="bench-monitor")
    watcher.start()
    try:
        reports = asyncio.run(simulate(specs, host="127.0.0.1", port=port, give_up_s=900))
    finally:
        done.set()
        watcher.join()
    return reports, time.perf_counter() - started, samples


def _steady_rates(samples: list[tuple[float, int, float]], total: int) -> tuple[float, float]:
    """Between the samples at 10 % and 90 % of the total (registration and tail excluded):
    stored rows per wall second and per CPU second of the gateway process."""
    low = next((s for s in samples if s[1] >= 0.1 * total), None)
    high = next((s for s in samples if s[1] >= 0.9 * total), None)
    if low is None or high is None or high[0] <= low[0] or high[2] <= low[2]:
        return float("nan"), float("nan")
    rows = high[1] - low[1]
    return rows / (high[0] - low[0]), rows / (high[2] - low[2])


def bench_end_to_end(
    *, label: str, url: str, drives: list[Drive], fixes: int, rate: float, interrupted: bool, log: Path
) -> None:
    port = _free_port()
    gateway = GatewayProcess(url=url, port=port, log=log)
    gateway.start()
    specs = terminal_specs(
        drives=drives, fixes=fixes, rate_per_s=rate, blind_chance=0.01, seed=int(time.time()) % 10_000
    )
    interruptions = [(0.25, signal.SIGTERM), (0.6, signal.SIGKILL)] if interrupted else []
    simulator_cpu = time.process_time()
    reports, seconds, samples = _drive(specs, port, gateway=gateway, interruptions=interruptions)
    simulator_cpu = time.process_time() - simulator_cpu
    gateway.stop()
    expected = len(specs) * fixes
    rows, terminals, least = _count(url)
    acked = sum(r.acked for r in reports)
    batches = sum(r.batches_sent for r in reports)
    wall_rate, cpu_rate = _steady_rates(samples, expected)
    verdict = "OK" if rows == expected == acked and least == fixes and terminals == len(specs) else "MISMATCH"
    kind = "stop+kill+restart" if interrupted else "clean"
    _engine(url).dispose()
    if "search_path" in url:  # a PostgreSQL schema of this run only
        from sqlalchemy import create_engine, text

        admin = create_engine(POSTGRES)
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {url.rsplit('%3D', 1)[1]} CASCADE"))
        admin.dispose()
    print(
        f"{label:10s} {kind:18s} {len(specs)} terminals × {fixes} fixes = {expected}: stored {rows}, acked {acked}, "
        f"terminals {terminals}, fewest per terminal {least}, blind-area batches {batches}, "
        f"{seconds:.1f} s in all; steady {wall_rate:,.0f} positions/s wall, {cpu_rate:,.0f} per gateway CPU-second; "
        f"CPU s in all: gateway {gateway.cpu_s:.1f}, simulator {simulator_cpu:.1f}  [{verdict}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--fixes", type=int, default=60)
    parser.add_argument("--rate", type=float, default=10_000, help="offered positions/s, all terminals")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-decode", action="store_true")
    args = parser.parse_args()
    print(f"date {time.strftime('%Y-%m-%d %H:%M')} UTC, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    if not args.skip_decode:
        bench_decode()
    drives = road_drives(count=args.terminals, seed=1)
    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    targets = [("SQLite", lambda: f"sqlite:///{work / uuid.uuid4().hex}.db")]
    if not args.skip_postgres:
        targets.append(("PostgreSQL", lambda: _postgres_schema()))
    for label, make_url in targets:
        for interrupted in (False, True):
            bench_end_to_end(
                label=label,
                url=make_url(),
                drives=drives,
                fixes=args.fixes,
                rate=args.rate,
                interrupted=interrupted,
                log=work / "gateway.log",
            )
    print(f"gateway logs: {work / 'gateway.log'}")


def _postgres_schema() -> str:
    from sqlalchemy import create_engine, text

    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


if __name__ == "__main__":
    main()
