"""Live supervision latency (issue 19): JT/T 808 frame sent → alarm seen on ``GET /alarms/stream``.

Simulated terminals drive Shenzhen road paths over real TCP, one fix every ``--interval`` s (GPS
time advancing as the wall clock does), empty and with ACC on. Violations are injected: every
terminal on one of ``--zone-paths`` of the shared paths crosses a 240 m restricted zone (back and
forth, so once per pass), and every ``--speeder-every``-th terminal drives at 80 km/h (limit 60).
A supervisor client reads ``GET /alarms/stream`` from the first API. The truth is one rule engine
fed every fix the terminals sent, in GPS-time order: each alarm key it raises, and the fix that
raised it. Latency is the time from that fix's frame leaving the terminal to the alarm's ``start``
event arriving at the client.

Modes:

- ``inprocess`` — one ``qingyun serve`` (API + gateway, rule engine in the gateway process);
- ``redis`` — two ``qingyun serve`` (two gateways, two APIs) on one database, positions over
  Redis Streams to two ``qingyun supervise work`` rule workers;
- ``redis-kill`` — as ``redis``, the first worker SIGKILLed at a third of the run.

Run::

    .venv/bin/python benchmarks/live_latency.py --mode inprocess --terminals 1000 --minutes 10
    .venv/bin/python benchmarks/live_latency.py --mode redis --terminals 5000 --minutes 10 --database postgres
    .venv/bin/python benchmarks/live_latency.py --mode redis-kill --terminals 5000 --minutes 10 --database postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

from fleet.jt808.location import Location  # noqa: E402
from fleet.simulate.terminals import Drive, SimulatedTerminal, TerminalSpec, road_drives  # noqa: E402
from routing.localtime import CHINA_TZ  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
PREFIX = f"qybench:{uuid.uuid4().hex[:8]}"
QINGYUN = str(ROOT / ".venv" / "bin" / "qingyun")
STATUS = 0x0C0003  # ACC on, positioned, GPS + BeiDou, empty


class TimedTerminal(SimulatedTerminal):
    """A terminal whose GPS time advances with the wall clock; it notes when each fix leaves."""

    sent: dict[tuple[str, float], float] = {}

    def fix(self, number: int) -> Location:
        seconds = number * self.spec.interval_s
        lon, lat, heading = self.spec.drive.at(seconds)
        when = self.spec.start_time.timestamp() + seconds
        TimedTerminal.sent[(self.spec.phone, when)] = time.time()
        return Location(
            alarm=0,
            status=STATUS,
            lat=round(lat, 6),
            lon=round(lon, 6),
            altitude_m=12,
            speed_kmh=round(self.spec.drive.speed_kmh, 1),
            heading=heading,
            time=datetime.fromtimestamp(when, CHINA_TZ),
            items={},
        )


def zones_on(net, drives: list[Drive], paths: int) -> list:
    """A restricted 240 m square (all day) on the middle of each of the first ``paths`` shared paths."""
    from fleet.audit.inputs import ZoneFeature

    out = []
    for k, drive in enumerate(drives[:paths]):
        lon, lat, _ = drive.at(drive.length_m / 2 / (drive.speed_kmh / 3.6))
        x, y = net.to_xy(np.array([lon]), np.array([lat]))
        ring = np.asarray(shapely.box(x[0] - 120, y[0] - 120, x[0] + 120, y[0] + 120).exterior.coords)
        rlon, rlat = net.to_lonlat(ring[:, 0], ring[:, 1])
        geometry = {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(rlon, rlat)]]}
        properties = {"id": f"BZ{k}", "name": f"bench zone {k}", "kind": "restricted", "schedule": []}
        out.append(ZoneFeature.model_validate({"type": "Feature", "properties": properties, "geometry": geometry}))
    return out


def fleet_specs(args, net) -> tuple[list[TerminalSpec], list]:
    paths = road_drives(count=args.distinct, seed=args.seed, distinct=args.distinct)
    zones = zones_on(net, paths, args.zone_paths)
    start = datetime.now(CHINA_TZ).replace(microsecond=0)
    specs = []
    for i in range(args.terminals):
        path = paths[i % len(paths)]
        speed = 80.0 if i % args.speeder_every == 0 else min(path.speed_kmh, 50.0)
        specs.append(
            TerminalSpec(
                phone=str(13_700_000_000 + i),
                drive=Drive(coords=path.coords, speed_kmh=speed),
                fixes=int(args.minutes * 60 / args.interval),
                interval_s=args.interval,
                start_time=start,
                blind_chance=0.0,
                seed=i,
            )
        )
    return specs, zones


def truth(net, zones: list, sent: dict) -> dict[str, tuple[str, float]]:
    """Alarm key → (device, GPS time of the fix that raised it): one engine over every fix sent, in GPS order."""
    from fleet.audit.geometry import compile_zones
    from fleet.settings import FleetSettings
    from fleet.supervise.engine import Fix, SupervisionEngine

    fleet = FleetSettings()
    engine = SupervisionEngine(
        permits={},
        zones=compile_zones(zones, projector=net),
        settings=fleet.compliance,
        track_settings=fleet.track,
        projector=net,
    )
    raised: dict[str, tuple[str, float]] = {}
    for phone, t in sorted(sent, key=lambda k: (k[1], k[0])):
        spec = SPECS[phone]
        seconds = t - spec.start_time.timestamp()
        lon, lat, _ = spec.drive.at(seconds)
        fix = Fix(
            device=phone,
            t=t,
            lon=round(lon, 6),
            lat=round(lat, 6),
            speed_kmh=round(spec.drive.speed_kmh, 1),
            status=STATUS,
        )
        for event in engine.push(fix):
            if event.kind == "start":
                raised.setdefault(event.alarm.key, (phone, t))
    return raised


SPECS: dict[str, TerminalSpec] = {}


class AlarmReader(threading.Thread):
    """Reads ``GET /alarms/stream`` and notes when each alarm's ``start`` arrived (and repeats)."""

    def __init__(self, url: str, key: str) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.first: dict[str, float] = {}
        self.stamps: dict[str, tuple[float, float]] = {}  # key → (accepted by the gateway, event published)
        self.starts: Counter = Counter()
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with httpx.Client(timeout=httpx.Timeout(10.0, read=30.0)) as client:
                    with client.stream("GET", f"{self.url}/alarms/stream", headers={"X-API-Key": self.key}) as answer:
                        if answer.status_code != 200:
                            self.errors.append(f"{answer.status_code} {answer.read()[:200]!r}")
                            time.sleep(1.0)
                            continue
                        for line in answer.iter_lines():
                            if self.stop.is_set():
                                return
                            if line.startswith("data:"):
                                self._event(json.loads(line[5:]))
            except httpx.HTTPError as error:
                self.errors.append(repr(error))
                time.sleep(0.5)

    def _event(self, data: dict) -> None:
        if data.get("event") == "start":
            self.starts[data["key"]] += 1
            if data["key"] not in self.first:
                self.first[data["key"]] = time.time()
                stamps = [datetime.fromisoformat(data[k]).timestamp() for k in ("received_at", "published_at")]
                self.stamps[data["key"]] = tuple(stamps)


def _database(kind: str, tmp: Path) -> tuple[str, callable]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'live.db'}", lambda: None
    import psycopg

    name = f"qingyun_live_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return POSTGRES.rsplit("/", 1)[0] + f"/{name}", drop


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in {timeout_s} s")


async def _drive(specs: list[TerminalSpec], ports: list[int]) -> list:
    async def one(i: int, spec: TerminalSpec, delay: float):
        await asyncio.sleep(delay)
        terminal = TimedTerminal(spec, host="127.0.0.1", port=ports[i % len(ports)], give_up_s=spec.fixes * 30)
        return await terminal.run()

    rng = np.random.default_rng(0)
    return await asyncio.gather(*(one(i, s, float(rng.random() * s.interval_s)) for i, s in enumerate(specs)))


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("inprocess", "redis", "redis-kill"), default="inprocess")
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--distinct", type=int, default=64, help="shared road paths")
    parser.add_argument("--zone-paths", type=int, default=8, help="paths with a restricted zone on them")
    parser.add_argument("--speeder-every", type=int, default=25, help="every n-th terminal drives at 80 km/h")
    parser.add_argument("--drain-s", type=float, default=60.0, help="wait this long after the last fix for alarms")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"command: {' '.join(sys.argv)}\ndate: {datetime.now(UTC).isoformat(timespec='seconds')}  nproc: {os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory(prefix="qingyun-live-") as tmp:
        report = run(args, Path(tmp))
    print(json.dumps(report, indent=1))


def run(args, tmp: Path) -> dict:
    from sqlmodel import Session

    from api.auth import create_key
    from api.db import engine_for
    from api.services.audits import store_zones
    from api.settings import Settings
    from routing.network.graph import load_network

    net = load_network()
    specs, zones = fleet_specs(args, net)
    SPECS.update({s.phone: s for s in specs})
    url, drop = _database(args.database, tmp)
    processes: list[subprocess.Popen] = []
    try:
        db = engine_for(url)
        with Session(db) as session:
            store_zones(session, zones, settings=Settings())
        key = create_key(db, roles=["supervisor"], name="live-latency").key
        db.dispose()
        env = {**os.environ, "QINGYUN_DATABASE_URL": url, "QINGYUN_JT808_MAX_CONNECTIONS": str(args.terminals + 100)}
        redis_mode = args.mode != "inprocess"
        if redis_mode:
            env |= {"QINGYUN_REDIS_URL": REDIS, "QINGYUN_LIVE_STREAM_PREFIX": PREFIX}
        servers = 2 if redis_mode else 1
        apis, ports = [], []
        for k in range(servers):
            http, jt808 = _free_port(), _free_port()  # another run on this machine may hold fixed ones
            log = open(tmp / f"serve{k}.log", "wb")
            processes.append(
                subprocess.Popen(
                    [QINGYUN, "serve", "--port", str(http), "--jt808-port", str(jt808)], env=env, stdout=log, stderr=log
                )
            )
            apis.append(f"http://127.0.0.1:{http}")
            ports.append(jt808)
        workers = []
        if redis_mode:
            for name in ("bench-w1", "bench-w2"):
                log = open(tmp / f"{name}.log", "wb")
                workers.append(
                    subprocess.Popen(
                        [QINGYUN, "supervise", "work", "--consumer", name], env=env, stdout=log, stderr=log
                    )
                )
            processes += workers
        for api, process in zip(apis, processes):
            _wait_http(api, process)
        reader = AlarmReader(apis[0], key)
        reader.start()
        started = time.time()
        if args.mode == "redis-kill":
            threading.Timer(args.minutes * 60 / 3, workers[0].kill).start()
        reports = asyncio.run(_drive(specs, ports))
        last_fix = time.time()
        raised = truth(net, zones, TimedTerminal.sent)
        while time.time() < last_fix + args.drain_s and not set(raised) <= set(reader.first):
            time.sleep(1.0)
        reader.stop.set()
        seen = [k for k in raised if k in reader.first]
        latencies = [reader.first[k] - TimedTerminal.sent[raised[k]] for k in seen]
        # where the time went: terminal → gateway accepted, → alarm event stored, → client
        stages = {
            "to_gateway": [reader.stamps[k][0] - TimedTerminal.sent[raised[k]] for k in seen],
            "to_event_log": [reader.stamps[k][1] - reader.stamps[k][0] for k in seen],
            "to_client": [reader.first[k] - reader.stamps[k][1] for k in seen],
        }
        return {
            "mode": args.mode,
            "terminals": args.terminals,
            "minutes": args.minutes,
            "database": args.database,
            "fixes_sent": len(TimedTerminal.sent),
            "fixes_acked": sum(r.acked for r in reports),
            "run_s": round(last_fix - started, 1),
            "alarms_expected": len(raised),
            "alarms_seen": len(set(raised) & set(reader.first)),
            "alarms_unexpected": sorted(set(reader.first) - set(raised))[:20],
            "duplicate_starts": sum(n - 1 for n in reader.starts.values() if n > 1),
            "latency_p50_s": _percentile(latencies, 50),
            "latency_p95_s": _percentile(latencies, 95),
            "latency_max_s": round(max(latencies), 3) if latencies else None,
            "stream_errors": reader.errors[:5],
            "stages_p50_p95_s": {name: [_percentile(v, 50), _percentile(v, 95)] for name, v in stages.items()},
            "by_type": dict(Counter(k.split("|")[1] for k in raised)),
        }
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        drop()
        _forget_streams()
        for log in sorted(tmp.glob("bench-w*.log")):  # each worker's last words: entries judged, claimed
            print(log.stem, (log.read_text(errors="replace").strip().splitlines() or ["(empty)"])[-1])


def _forget_streams() -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(f"{PREFIX}:*"))
    if keys:
        client.delete(*keys)


if __name__ == "__main__":
    main()
