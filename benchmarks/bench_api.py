"""API benchmark: p95 latency of the main GET endpoints at 50 concurrent clients, and POST /positions
throughput into PostgreSQL with a count proving nothing was lost or duplicated.

Run: ``.venv/bin/python benchmarks/bench_api.py [--database postgresql://postgres@127.0.0.1:5432/test]
[--server-workers 2] [--seconds 10] [--think 1.0] [--positions 200000]``. Each of the 50 clients pauses
``--think`` seconds on average between requests (a page polling; each client starts at a random
moment within the first pause); a second pass with no pause (closed loop) shows the saturation
throughput. The load generator is aiohttp (the bench extra): httpx's client tops out near
150 req/s on these 2 cores and would measure itself. The service runs as ``uvicorn`` subprocess(es)
on a fresh database created for the run (dropped afterwards). Floors (issue 8): p95 ≤ 100 ms per
endpoint; ≥ 5,000 positions/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.api.conftest import (  # noqa: E402  (the test suite's real-service helpers)
    drop_postgres_database,
    issue_keys,
    start_service,
    wait_for_job,
)

CLIENTS = 50
P95_FLOOR_MS = 100.0
POSITIONS_FLOOR = 5000.0


def create_postgres_database(admin_url: str) -> str:
    import psycopg

    name = f"qingyun_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def seed(service, *, folder: Path) -> dict[str, str]:
    """A solved Shenzhen plan, an audited truck with violations, stored sites: what the GETs read."""
    from fleet.settings import FleetSettings
    from fleet.simulate.tracks import simulate_haul
    from routing.network.graph import load_network
    from routing.planning.generate import generate_scenario
    from tests.api.test_supervision import _fixes

    network = load_network()
    scenario = json.loads(generate_scenario(network, restaurants=120, communities=60, seed=11).model_dump_json())
    haul = simulate_haul(network, violation="speeding", seed=1, interval_s=10, settings=FleetSettings())
    device = str(haul.positions["device"].iloc[0])
    with service.client("dispatcher") as client:
        for site in scenario["sites"]:
            client.put(f"/sites/{site['id']}", json=site)
        plan_id = client.post("/plans", json={"scenario": scenario, "time_limit_s": 10}).json()["id"]
        assert wait_for_job(client, f"/plans/{plan_id}", timeout_s=600)["status"] == "succeeded"
    with service.client("device") as client:
        client.post("/positions", json={"positions": _fixes(haul.positions, device=device)})
    with service.client("supervisor") as client:
        client.post("/permits", json={"permits": [p.model_dump(mode="json") for p in haul.permits]})
        audit = client.post(
            "/audits", json={"from": "2026-11-20T00:00:00+08:00", "to": "2026-11-23T00:00:00+08:00"}
        ).json()
        assert wait_for_job(client, audit["url"])["result"]["violations"] >= 1
    return {"plan": plan_id, "device": device, "company": haul.permits[0].company}


async def _latency(url: str, key: str, path: str, seconds: float, think_s: float) -> list[float]:
    """50 keep-alive clients on aiohttp (httpx itself saturates near 150 req/s on these 2 cores)."""
    import aiohttp

    latencies: list[float] = []
    stop = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    headers = {"X-API-Key": key, "Accept-Encoding": "gzip"}
    async with aiohttp.ClientSession(url, headers=headers, connector=connector, auto_decompress=False) as client:

        async def one_client() -> None:
            if think_s:  # users poll at their own moments, not all on the same tick
                await asyncio.sleep(random.uniform(0.0, think_s))
            while time.monotonic() < stop:
                began = time.perf_counter()
                async with client.get(path) as response:
                    body = await response.read()
                latencies.append(time.perf_counter() - began)
                assert response.status == 200 and body, (path, response.status, body[:200])
                if think_s:
                    await asyncio.sleep(random.uniform(0.5, 1.5) * think_s)

        await asyncio.gather(*(one_client() for _ in range(CLIENTS)))
    return latencies


def latency_table(service, ids: dict[str, str], *, seconds: float, think_s: float) -> list[dict]:
    key = service.keys["dispatcher"]
    supervisor = service.keys["supervisor"]
    endpoints = [
        ("GET /plans/{id}", f"/plans/{ids['plan']}", key),
        ("GET /plans/{id}/routes.geojson", f"/plans/{ids['plan']}/routes.geojson", key),
        ("GET /plans", "/plans", key),
        ("GET /sites", "/sites?limit=100", key),
        ("GET /vehicles/{id}/track", f"/vehicles/{ids['device']}/track", supervisor),
        ("GET /violations", f"/violations?company={ids['company']}", supervisor),
        ("GET /companies/{id}/score", f"/companies/{ids['company']}/score", supervisor),
    ]
    rows = []
    for name, path, api_key in endpoints:
        asyncio.run(_latency(service.url, api_key, path, 1.0, 0.0))  # warm caches and connections
        latencies = sorted(asyncio.run(_latency(service.url, api_key, path, seconds, think_s)))
        p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
        rows.append(
            {
                "endpoint": name,
                "think_s": think_s,
                "requests": len(latencies),
                "req_per_s": round(len(latencies) / seconds),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(p95, 1),
                "floor_ok": p95 <= P95_FLOOR_MS,
            }
        )
        print(
            f"{name:34s} {rows[-1]['req_per_s']:6d} req/s  p50 {rows[-1]['p50_ms']:7.1f} ms  p95 {p95:7.1f} ms",
            flush=True,
        )
    return rows


async def _ingest(url: str, key: str, batches: list[list[dict]], concurrency: int) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": key}, timeout=120) as client:

        async def sender() -> None:
            while not queue.empty():
                batch = queue.get_nowait()
                response = await client.post("/positions", json={"positions": batch})
                assert response.status_code == 200 and response.json()["accepted"] == len(batch), response.text[:300]

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def ingest(service, *, positions: int, batch: int, concurrency: int, devices: int) -> dict:
    """``positions`` fixes of ``devices`` trucks posted in batches; a tenth re-sent (must not duplicate)."""
    start = datetime(2026, 11, 22, 6, 0, tzinfo=timezone(timedelta(hours=8)))
    per_device = positions // devices
    run = uuid.uuid4().hex[:6]
    fixes = [
        {
            "device": f"B{run}{d:05d}",
            "time": (start + timedelta(seconds=10 * i)).isoformat(),
            "lon": 114.0 + (d % 100) * 0.0005 + i * 1e-5,
            "lat": 22.52 + (d // 100) * 0.0005,
            "speed_kmh": 30.0,
            "heading": 90,
            "status": 3,
        }
        for i in range(per_device)
        for d in range(devices)
    ]
    batches = [fixes[i : i + batch] for i in range(0, len(fixes), batch)]
    resend = batches[: max(1, len(batches) // 10)]
    began = time.perf_counter()
    asyncio.run(_ingest(service.url, service.keys["device"], batches + resend, concurrency))
    seconds = time.perf_counter() - began
    from api.db import engine_for
    from fleet.tracks.store import count_positions

    engine = engine_for(service.database_url)
    stored = count_positions(engine, phones=sorted({f["device"] for f in fixes}))
    sent = len(fixes) + sum(len(b) for b in resend)
    result = {
        "unique_positions": len(fixes),
        "posted_incl_resent": sent,
        "stored": stored,
        "seconds": round(seconds, 2),
        "positions_per_s": round(sent / seconds),
        "unique_per_s": round(len(fixes) / seconds),
        "batch": batch,
        "concurrency": concurrency,
        "nothing_lost_or_duplicated": stored == len(fixes),
    }
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL server (a database is created on it for the run) or 'sqlite'",
    )
    parser.add_argument("--server-workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per endpoint")
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="mean pause of each client between requests (a dispatcher's page polling); 0 = closed loop",
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()

    folder = Path(f"/tmp/qingyun-bench-api-{uuid.uuid4().hex[:6]}")
    folder.mkdir()
    sqlite = args.database == "sqlite"
    database_url = f"sqlite:///{folder / 'qingyun.db'}" if sqlite else create_postgres_database(args.database)
    service = start_service(database_url, log=folder / "service.log", WEB_CONCURRENCY=str(args.server_workers))
    try:
        service.keys = issue_keys(database_url)
        ids = seed(service, folder=folder)
        print(
            f"database {database_url.split('@')[-1]}, {args.server_workers} server process(es), {CLIENTS} clients",
            flush=True,
        )
        results = {
            "database": "sqlite" if sqlite else "postgresql",
            "server_workers": args.server_workers,
            "clients": CLIENTS,
            "latency": latency_table(service, ids, seconds=args.seconds, think_s=args.think),
            "saturation": latency_table(service, ids, seconds=args.seconds / 2, think_s=0.0),
            "ingest": ingest(service, positions=args.positions, batch=1000, concurrency=4, devices=200),
        }
    finally:
        service.stop()
        if not sqlite:
            from api.db import _engines

            for engine in _engines.values():
                engine.dispose()
            drop_postgres_database(database_url)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    ok = (
        all(r["floor_ok"] for r in results["latency"])
        and results["ingest"]["nothing_lost_or_duplicated"]
        and (sqlite or results["ingest"]["positions_per_s"] >= POSITIONS_FLOOR)
    )
    print("floors met" if ok else "FLOOR MISSED")


if __name__ == "__main__":
    main()
