"""The map page (Leaflet, vendored) in a real headless Chromium (Debian ``chromium`` driven by Playwright): a Shenzhen plan.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``; Playwright's own browser download is
never used). The screenshot goes to ``$QINGYUN_SCREENSHOT_DIR`` (default: the test's temporary
folder), never over the committed ``docs/map_page.png``: ``make test`` leaves the work tree clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api.conftest import issue_keys, start_service, wait_for_job

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator:
    """Debian's headless Chromium under Playwright (skips the test when either is missing); the other page tests share it."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is absent: install it with `apt-get install -y chromium` (Debian package)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (Python package, test extra) not installed"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def shenzhen_plan(tmp_path_factory, shenzhen):
    """A Shenzhen collection day (generator, 120 restaurants + 60 community points) solved through the API, plus one audit."""
    import json

    from fleet.settings import FleetSettings
    from fleet.simulate.tracks import simulate_haul
    from routing.planning.generate import generate_scenario
    from tests.api.test_supervision import _fixes

    folder = tmp_path_factory.mktemp("map")
    database_url = f"sqlite:///{folder / 'qingyun.db'}"
    service = start_service(database_url, log=folder / "service.log")
    service.keys = issue_keys(database_url)
    scenario = json.loads(generate_scenario(shenzhen, restaurants=120, communities=60, seed=11).model_dump_json())
    haul = simulate_haul(shenzhen, violation="suspected_dumping", seed=2, interval_s=30, settings=FleetSettings())
    try:
        with service.client("dispatcher") as client:
            plan_id = client.post("/plans", json={"scenario": scenario, "time_limit_s": 10}).json()["id"]
            body = wait_for_job(client, f"/plans/{plan_id}", timeout_s=300)
        assert body["status"] == "succeeded", body
        with service.client("device") as client:
            device = str(haul.positions["device"].iloc[0])
            assert (
                client.post("/positions", json={"positions": _fixes(haul.positions, device=device)}).status_code == 200
            )
        with service.client("supervisor") as client:
            client.post("/permits", json={"permits": [p.model_dump(mode="json") for p in haul.permits]})
            audit = client.post(
                "/audits", json={"from": "2026-11-21T00:00:00+08:00", "to": "2026-11-23T00:00:00+08:00"}
            ).json()
            assert wait_for_job(client, audit["url"])["result"]["violations"] >= 1
        yield service, body["plan"], device
    finally:
        service.stop()


def test_map_page_shows_every_route_numbered_stops_kpis_violations_and_plays_a_track(
    browser, shenzhen_plan, tmp_path_factory
):
    service, plan, device = shenzhen_plan
    # one key holding the dispatcher and supervisor roles, as a control-room account would
    from api.auth import create_key
    from api.db import engine_for

    key = create_key(engine_for(service.database_url), roles=["dispatcher", "supervisor"], name="control room").key
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.add_init_script(f"localStorage.setItem('qingyun.key', {key!r});")
    page.goto(service.url + "/")
    page.wait_for_function("document.body.dataset.ready !== undefined", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#plan-status")

    drawn = page.eval_on_selector_all(
        "#routes path.route",
        "els => els.map(e => [e.dataset.vehicle, e.getAttribute('stroke'), e.getAttribute('d').length])",
    )
    assert sorted(v for v, _, _ in drawn) == sorted(r["vehicle_id"] for r in plan["routes"])  # every route, once
    assert len({c for _, c, _ in drawn}) == min(len(drawn), 16)  # own colour per truck (palette of 16)
    assert all(length > 100 for _, _, length in drawn)
    sites = sum(1 for r in plan["routes"] for s in r["stops"] if s["kind"] == "site")
    assert page.locator("#stops .stop").count() == sites
    numbers = page.eval_on_selector_all("#stops .stop", "els => els.map(e => Number(e.textContent))")
    assert sorted(numbers)[-1] == max(sum(s["kind"] == "site" for s in r["stops"]) for r in plan["routes"])
    assert "到达 / ETA" in page.locator("#stops .stop").first.get_attribute("title")
    assert int(page.get_attribute("#roads", "data-roads")) > 5000  # the road network is drawn, on a canvas
    assert page.locator("#roads canvas").count() == 1
    assert page.locator(".leaflet-tile").count() == 0  # offline default: no basemap tiles
    clearance = page.inner_text("td[data-kpi='clearance_rate']")
    assert clearance == f"{100 * plan['kpi']['clearance_rate']:.1f} %"

    page.click("#route-list li >> nth=0")  # a truck's stops with ETAs
    assert page.locator("#stop-table tr").count() == len(plan["routes"][0]["stops"]) + 1
    assert page.locator("#routes path.route.dim").count() == len(plan["routes"]) - 1

    assert page.locator("#violation-list li").count() >= 1
    page.click("#violation-list li >> nth=0")
    assert page.locator("#violations path.evidence").count() >= 1
    detail = page.inner_text("#violation-detail")
    assert "疑似偷倒" in detail and "suspected" in detail.lower() and device in detail

    page.fill("#track-vehicle", device)
    page.click("#track-form button")
    page.wait_for_selector("#track-head")
    first_time = page.inner_text("#track-time")
    page.eval_on_selector("#track-slider", "s => { s.value = s.max; s.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#track-time") != first_time and "+08:00" in page.inner_text("#track-time")

    page.click("#route-list li >> nth=0")
    shots = Path(os.environ.get("QINGYUN_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    screenshot = shots / "map_page.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 50_000
    assert not [u for u in failed if not u.startswith(service.url)], failed  # nothing fetched from elsewhere
    page.close()
