"""The live map in Debian's headless Chromium: a truck moves as its fixes arrive, it enters a restricted zone,
the alarm shows up in the page's list within 5 s of that fix, and the supervisor handles it there.

The service runs with a basemap declared GCJ-02 (tiles served by the service itself, so nothing
leaves the machine): every position the page draws is shifted, checked against the Python reference
transform of ``tests/api/test_map_config.py``.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.api.conftest import issue_keys, start_service
from tests.api.test_map_config import wgs84_to_gcj02
from tests.api.test_map_page import chromium

DEVICE = "13800138019"
LAT = 22.545  # the truck drives east along this latitude, 125 m per fix (30 km/h, a fix every 15 s)
STEP = 0.001216
ZONE = [[114.010, 22.543], [114.014, 22.543], [114.014, 22.547], [114.010, 22.547], [114.010, 22.543]]
TILES = "/static/vendor/leaflet/images/layers.png?z={z}&x={x}&y={y}"  # any image the service has stands in


def _fixes(first: datetime) -> list[dict]:
    """Ten fixes: nine approaching the zone (the ninth 28 m short of it), the tenth 82 m inside."""
    return [
        {
            "device": DEVICE,
            "time": (first + timedelta(seconds=15 * i)).isoformat(),
            "lon": 114.0108 if i == 9 else round(114.0 + STEP * i, 6),
            "lat": LAT,
            "speed_kmh": 30.0,
            "heading": 90,
        }
        for i in range(10)
    ]


@pytest.fixture(scope="module")
def live_service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-page")
    database_url = f"sqlite:///{folder / 'qingyun.db'}"
    service = start_service(
        database_url,
        log=folder / "service.log",
        QINGYUN_MAP_TILE_URL=TILES,
        QINGYUN_MAP_TILE_CRS="gcj02",
        QINGYUN_MAP_TILE_ATTRIBUTION="测试底图 / test basemap",
    )
    service.keys = issue_keys(database_url)
    now = datetime.now().astimezone()
    zone = {"type": "Feature", "properties": {"id": "school-1", "name": "实验小学 / school", "kind": "restricted"}}
    permit = {
        "permit_id": "P-LIVE-1",
        "device": DEVICE,
        "company": "深圳清运甲 / Shenzhen Haul A",
        "plate": "粤B·D1234",
        "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=1)).isoformat(),
        "source_site": _box(113.995, LAT, 0.002),
        "destination_sites": [_box(114.04, LAT, 0.002)],
        "route": {"type": "LineString", "coordinates": [[113.99, LAT], [114.05, LAT]]},
    }
    try:
        with service.client("supervisor") as client:
            zones = {"type": "FeatureCollection", "features": [{**zone, "geometry": _polygon(ZONE)}]}
            assert client.post("/zones", json=zones).status_code == 200
            assert client.post("/permits", json={"permits": [permit]}).status_code == 200
        yield service
    finally:
        service.stop()


def _polygon(ring: list[list[float]]) -> dict:
    return {"type": "Polygon", "coordinates": [ring]}


def _box(lon: float, lat: float, half: float) -> dict:
    w, e, s, n = lon - half, lon + half, lat - half, lat + half
    return _polygon([[w, s], [e, s], [e, n], [w, n], [w, s]])


def _marker(page) -> list[float] | None:
    """The truck marker's [lat, lng] on the page, read from the page's own module."""
    return page.evaluate(
        "async device => { const m = (await import('/static/live.js')).trucks.get(device);"
        " return m ? [m.getLatLng().lat, m.getLatLng().lng] : null; }",
        DEVICE,
    )


def _wait_marker_at(page, fix: dict, timeout_s: float = 10) -> None:
    lon, lat = wgs84_to_gcj02(fix["lon"], fix["lat"])  # the basemap is GCJ-02: the page shifts what it draws
    deadline = time.monotonic() + timeout_s
    while (at := _marker(page)) != pytest.approx([lat, lon], abs=1e-9):
        assert time.monotonic() < deadline, f"marker at {at}, expected {[lat, lon]} (fix {fix['time']})"
        time.sleep(0.1)


def test_live_page_moves_the_truck_raises_the_alarm_and_handles_it(live_service, tmp_path_factory):
    service = live_service
    from api.auth import create_key
    from api.db import engine_for

    key = create_key(engine_for(service.database_url), roles=["dispatcher", "supervisor"], name="control room").key
    fixes = _fixes(datetime.now().astimezone().replace(microsecond=0) - timedelta(seconds=150))
    with chromium() as browser, service.client("device") as device:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.add_init_script(f"localStorage.setItem('qingyun.key', {key!r});")
        page.goto(service.url + "/")
        page.wait_for_function("document.body.dataset.ready !== undefined", timeout=60_000)
        assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#plan-status")
        assert page.get_attribute("#map", "data-crs") == "gcj02"
        page.wait_for_selector("#live-stream[data-state='open']", timeout=10_000)
        page.wait_for_selector("#alarm-stream[data-state='open']", timeout=10_000)
        assert page.inner_text("#alarm-rate") == "—"  # nothing raised yet today
        assert page.locator("#zones path.zone-restricted").count() == 1

        # a truck moving: its marker follows each fix as /live/stream delivers it
        assert device.post("/positions", json={"positions": fixes[:8]}).json()["accepted"] == 8
        _wait_marker_at(page, fixes[7])
        assert device.post("/positions", json={"positions": [fixes[8]]}).json()["accepted"] == 1
        _wait_marker_at(page, fixes[8])
        assert page.locator("#alarm-list li").count() == 0

        # the offending fix: 82 m inside the restricted zone; the alarm must be listed within 5 s
        assert device.post("/positions", json={"positions": [fixes[9]]}).json()["accepted"] == 1
        row = page.wait_for_selector("#alarm-list li.flash", timeout=5_000)
        assert "闯禁区" in row.inner_text() and "entered a restricted zone" in row.inner_text()
        assert "未处理 / open" in row.inner_text()
        assert int(page.evaluate("document.body.dataset.beeps || 0")) >= 1  # the sound cue was played
        page.wait_for_selector(f".truck.alarm[data-device='{DEVICE}']", timeout=5_000)
        page.wait_for_function("document.getElementById('alarm-rate').textContent === '0.0 %'", timeout=5_000)

        # its evidence and the truck's last 30 minutes
        row.click()
        page.wait_for_selector("#alarm path.alarm-trail", timeout=10_000)
        info = page.inner_text("#alarm-info")
        assert "禁区" in info and "restricted zone" in info and "+08:00" in info and DEVICE in info
        assert page.locator("#alarm path.alarm-evidence").count() >= 1
        assert "近 30 分钟轨迹 / last 30 min: 10 点 / fixes" in page.inner_text("#alarm-trail-note")

        # acknowledge, then handle from the page: the row, the detail and the handled rate follow
        page.click("#alarm-ack")
        page.wait_for_selector("#alarm-list li.state-acknowledged", timeout=5_000)
        page.fill("#alarm-note", "已电话联系司机，车辆已驶离禁区 / called the driver, truck left the zone")
        page.fill("#alarm-evidence", '{"photo": "IMG_0001"}')
        page.click("#alarm-handle")
        page.wait_for_selector("#alarm-list li.state-handled", timeout=5_000)
        page.wait_for_function("document.getElementById('alarm-rate').textContent === '100.0 %'", timeout=5_000)
        assert "已处置 / handled" in page.inner_text("#alarm-info")
        assert page.is_disabled("#alarm-handle") and page.is_disabled("#alarm-ack")
        assert page.locator(f".truck.alarm[data-device='{DEVICE}']").count() == 0  # handled: no longer red

        # a text to the terminal (0x8300): queued for it, its state shown
        assert page.input_value("#command-phone") == DEVICE
        page.click("#command-form button")
        page.wait_for_function("document.getElementById('command-state').dataset.state === 'queued'", timeout=5_000)
        assert "已排队 / queued" in page.inner_text("#command-state")

        assert page.locator(".leaflet-tile").count() > 0  # the basemap, from the service
        shots = Path(os.environ.get("QINGYUN_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "live_page.png"))
        assert not [u for u in failed if not u.startswith(service.url)], failed  # nothing fetched from elsewhere
        page.close()
    with service.client("supervisor") as client:
        (alarm,) = client.get("/alarms", params={"device": DEVICE}).json()
        texts = client.get("/commands", params={"phone": DEVICE}).json()
    assert (alarm["type"], alarm["state"], alarm["handling_evidence"]) == (
        "restricted_zone",
        "handled",
        {"photo": "IMG_0001"},
    )
    assert [(c["msg_id"], c["summary"]) for c in texts] == [(0x8300, "请返回核准路线")]
