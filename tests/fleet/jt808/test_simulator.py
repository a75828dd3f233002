"""The simulator drives real road paths and, with the gateway, loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

from api.db import engine_for
from fleet.jt808.gateway import Gateway
from fleet.jt808.settings import GatewaySettings
from fleet.simulate.terminals import Drive, road_drives, simulate, terminal_specs
from fleet.tracks.store import count_positions, track

GUIXI = Path(__file__).resolve().parents[3] / "data" / "osm" / "guixi_jiangxi.osm.bz2"


@pytest.fixture(scope="module")
def drives() -> list[Drive]:
    return road_drives(count=12, seed=3, osm_path=GUIXI, distinct=6)


def test_drives_follow_road_paths_at_their_speed(drives: list[Drive]) -> None:
    from routing.network.graph import load_network

    network = load_network(path=GUIXI)
    for drive in drives[:6]:
        assert drive.length_m > 50
        fixes = [drive.at(t) for t in range(0, 120, 10)]
        snapped = network.snap(
            ids=[str(i) for i in range(len(fixes))],
            lon=[f[0] for f in fixes],
            lat=[f[1] for f in fixes],
            max_distance_m=15.0,
        )
        assert max(p.distance_m for p in snapped) < 15.0  # every fix is on a road
        lon0, lat0, _ = drive.at(0)
        lon1, lat1, _ = drive.at(1)
        step = math.hypot((lon1 - lon0) * 111_320 * math.cos(math.radians(lat0)), (lat1 - lat0) * 110_540)
        assert step == pytest.approx(drive.speed_kmh / 3.6, rel=0.05) or step < drive.speed_kmh / 3.6  # corners cut


def test_fleet_through_gateway_restart_loses_and_duplicates_nothing(drives: list[Drive], tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'fleet.db'}")  # the schema comes from the migrations
    specs = terminal_specs(drives=drives, fixes=50, rate_per_s=300.0, blind_chance=0.05, seed=11)

    async def scenario():
        first = Gateway(engine, GatewaySettings(host="127.0.0.1", port=0))
        await first.start()
        port = first.port
        fleet = asyncio.create_task(simulate(specs, host="127.0.0.1", port=port, give_up_s=60))
        while first.stats.positions_accepted < 150:
            await asyncio.sleep(0.01)
        await first.stop()  # mid-stream
        stored_at_stop = count_positions(engine)
        await asyncio.sleep(0.5)
        second = Gateway(engine, GatewaySettings(host="127.0.0.1", port=port))
        await second.start()
        reports = await fleet
        await second.stop()
        return stored_at_stop, reports, first.stats, second.stats

    stored_at_stop, reports, first, second = asyncio.run(scenario())
    assert 0 < stored_at_stop < 12 * 50
    assert sum(r.acked for r in reports) == 12 * 50
    assert sum(r.connections for r in reports) > len(reports)  # terminals reconnected after the stop
    assert sum(r.batches_sent for r in reports) > 0  # blind-area re-uploads happened
    assert count_positions(engine) == 12 * 50
    for spec in specs:
        times = [row.gps_time for row in track(engine, phone=spec.phone)]
        assert len(times) == 50 and times == sorted(times) and len(set(times)) == 50


def test_2019_terminals_register_authenticate_and_store(drives: list[Drive], tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'fleet2019.db'}")
    specs = terminal_specs(
        drives=drives[:3],
        fixes=15,
        rate_per_s=150.0,
        version="2019",
        blind_chance=0.2,
        seed=5,
        phone_base=17_299_841_700,
    )

    async def scenario():
        gateway = Gateway(engine, GatewaySettings(host="127.0.0.1", port=0))
        await gateway.start()
        reports = await simulate(specs, host="127.0.0.1", port=gateway.port, give_up_s=30)
        await gateway.stop()
        return reports, gateway.stats

    reports, stats = asyncio.run(scenario())
    assert [r.acked for r in reports] == [15, 15, 15]
    assert (stats.registrations, stats.authentications, stats.bad_frames) == (3, 3, 0)
    assert count_positions(engine) == 45
    rows = track(engine, phone=specs[0].phone)
    assert rows[0].lat == pytest.approx(drives[0].at(0)[1], abs=1e-6)
