"""The map page's sweeping layer (清扫/洒水) and the plan layer's territories, in Debian's headless Chromium.

A small Futian night is planned through ``POST /sweeping/plans``; picked on the page, every served kerb of
its GeoJSON is one solid path in its vehicle's colour, every deadhead row a dashed one, the legend names each
vehicle and the panel shows kerb-km, deadhead ratio and the planned mechanised-sweeping rate in zh and en.
The basemap is declared GCJ-02, so the drawn positions must be the WGS-84 ones shifted. A small collection
day shows its routes coloured by territory with the territory legend.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import shapely

from tests.api.conftest import issue_keys, start_service, wait_for_job
from tests.api.test_live_page import TILES
from tests.api.test_map_config import wgs84_to_gcj02
from tests.api.test_map_page import chromium

BOX = (114.055, 22.525, 114.060, 22.530)  # a corner of Futian: plans in about a second (tests/api/test_sweeping_api.py)


@pytest.fixture(scope="module")
def sweep_service(tmp_path_factory, small_scenario):
    folder = tmp_path_factory.mktemp("sweep-page")
    database_url = f"sqlite:///{folder / 'qingyun.db'}"
    service = start_service(
        database_url,
        log=folder / "service.log",
        QINGYUN_MAP_TILE_URL=TILES,
        QINGYUN_MAP_TILE_CRS="gcj02",
        QINGYUN_MAP_TILE_ATTRIBUTION="测试底图 / test basemap",
    )
    service.keys = issue_keys(database_url)
    night = {
        "name": "福田一角 / a corner of Futian",
        "area": shapely.geometry.mapping(shapely.box(*BOX)),
        "date": "2026-11-21",
        "depot": {"id": "D1", "name": "车场", "lon": 114.0575, "lat": 22.5275},
        "sweepers": 2,
        "washers": 1,
    }
    try:
        with service.client("dispatcher") as client:
            answer = client.post("/sweeping/plans", json={"scenario": night, "time_limit_s": 1, "seed": 1})
            assert answer.status_code == 202, answer.text
            sweep = wait_for_job(client, answer.json()["url"], timeout_s=120)
            assert sweep["status"] == "succeeded", sweep
            geojson = client.get(f"/sweeping/plans/{sweep['id']}/routes.geojson").json()
            answer = client.post("/plans", json={"scenario": small_scenario, "time_limit_s": 3})
            collection = wait_for_job(client, answer.json()["url"], timeout_s=300)
            assert collection["status"] == "succeeded", collection
        yield service, sweep, geojson, collection
    finally:
        service.stop()


def test_sweeping_plans_are_listed_for_the_dispatcher_and_their_geojson_has_a_line_per_served_kerb(sweep_service):
    service, sweep, geojson, _ = sweep_service
    kerbs = [f["properties"] for f in geojson["features"] if f["properties"].get("kind") == "kerb"]
    rows = [r for v in sweep["plan"]["vehicles"] for r in v["rows"]]
    assert sorted(p["kerb_id"] for p in kerbs) == sorted(k for r in rows if r["action"] == "serve" for k in r["kerbs"])
    assert all(p["action"] == "serve" and p["vehicle_kind"] in ("sweeper", "washer") for p in kerbs)
    assert geojson["properties"]["kpis"] == sweep["plan"]["kpis"]
    with service.client("dispatcher") as client:
        listed = client.get("/sweeping/plans", params={"limit": 5}).json()
        assert client.get("/sweeping/plans", params={"limit": 0}).status_code == 422
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert (item["id"], item["name"], item["status"]) == (sweep["id"], "福田一角 / a corner of Futian", "succeeded")
    assert item["created_at"].endswith("+08:00")
    with service.client("supervisor") as client:  # sweeping plans are the dispatcher's
        assert client.get("/sweeping/plans").status_code == 403


def test_map_page_draws_each_served_kerb_deadheading_dashed_a_legend_per_vehicle_and_the_rates(
    sweep_service, tmp_path_factory
):
    from api.auth import create_key
    from api.db import engine_for

    service, sweep, geojson, collection = sweep_service
    plan = sweep["plan"]
    kerbs = [f for f in geojson["features"] if f["properties"].get("kind") == "kerb"]
    deadhead = [f for f in geojson["features"] if f["properties"].get("kind") == "deadhead"]
    served = [k for v in plan["vehicles"] for r in v["rows"] if r["action"] == "serve" for k in r["kerbs"]]
    assert sorted(f["properties"]["kerb_id"] for f in kerbs) == sorted(served)  # one feature per served kerb
    key = create_key(engine_for(service.database_url), roles=["dispatcher"], name="dispatch desk").key
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.add_init_script(f"localStorage.setItem('qingyun.key', {key!r});")
        page.goto(service.url + "/")
        page.wait_for_function("document.body.dataset.ready !== undefined", timeout=60_000)
        assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("#plan-status")
        assert page.locator("#sweep path").count() == 0  # the layer is off until a plan is picked

        page.select_option("#sweep-select", sweep["id"])
        page.wait_for_selector("#sweep-panel[data-drawn]", timeout=10_000)
        assert page.locator("#sweep path.sweep-kerb").count() == len(kerbs)
        assert page.evaluate("getComputedStyle(document.getElementById('routes')).opacity") == "0.25"  # plan faded
        assert page.locator("#sweep path.sweep-deadhead").count() == len(deadhead)
        solid = page.eval_on_selector_all(
            "#sweep path.sweep-kerb",
            "els => els.map(e => [e.dataset.vehicle, e.getAttribute('stroke'), e.getAttribute('stroke-dasharray')])",
        )
        colour = {f["properties"]["vehicle_id"]: f["properties"]["colour"] for f in kerbs}
        assert all(stroke == colour[vehicle] and dash is None for vehicle, stroke, dash in solid)
        assert len(set(colour.values())) == len(colour) >= 2  # each vehicle its own colour
        dashes = page.eval_on_selector_all(
            "#sweep path.sweep-deadhead", "els => els.map(e => e.getAttribute('stroke-dasharray'))"
        )
        assert dashes and all(dashes)

        legend = page.inner_text("#sweep-legend")
        assert "清扫/洒水 / sweeping & washing" in legend
        for vehicle in colour:
            row = page.inner_text(f"#sweep-legend li[data-vehicle='{vehicle}']")
            count = sum(f["properties"]["vehicle_id"] == vehicle for f in kerbs)
            assert f"{count} 段路沿 / kerbs" in row and ("清扫车 / sweeper" in row or "洒水车 / washer" in row)
        assert "洒水车 / washer" in legend  # the washer's kerbs are drawn too
        assert "清扫路沿 / kerb served" in legend and "空驶 / deadhead" in legend

        panel = page.inner_text("#sweep-kpi")
        assert "机械化清扫率（计划）/ planned mechanised-sweeping rate" in panel and "空驶率 / deadhead ratio" in panel
        kpis = plan["kpis"]
        assert page.inner_text("td[data-sweep-kpi='sweep.planned_rate']") == f"{100 * kpis['planned_rate']:.1f} %"
        assert page.inner_text("td[data-sweep-kpi='sweep.deadhead_ratio']") == f"{100 * kpis['deadhead_ratio']:.1f} %"
        assert page.inner_text("td[data-sweep-kpi='sweep.kerb_km_served']") == (
            f"{kpis['kerb_km_served']:.2f} / {kpis['kerb_km_in_scope']:.2f} km"
        )
        assert page.locator("td[data-sweep-kpi='wash.planned_rate']").count() == 1

        # WGS-84 inside, shifted once for the GCJ-02 basemap
        first = page.evaluate(
            "async vehicle => { const v = (await import('/static/sweeping.js')).sweepView;"
            " const line = v.layer.getLayers().find(l => l.options.className === 'sweep-kerb'"
            " && l.getElement().dataset.vehicle === vehicle);"
            " const p = line.getLatLngs()[0]; return [p.lat, p.lng]; }",
            kerbs[0]["properties"]["vehicle_id"],
        )
        lon, lat = kerbs[0]["geometry"]["coordinates"][0]  # that vehicle's first kerb
        assert first == pytest.approx(list(reversed(wgs84_to_gcj02(lon, lat))), abs=1e-9)

        # the collection plan beside it: routes in their territory's colour, the territory legend
        routes = page.eval_on_selector_all(
            "#routes path.route", "els => els.map(e => [e.dataset.territory, e.getAttribute('stroke')])"
        )
        assert len(routes) == len(collection["plan"]["routes"])
        rows = page.eval_on_selector_all(
            "#plan-legend li",
            "els => els.map(e => [e.dataset.territory, e.querySelector('.swatch').style.background, e.textContent])",
        )
        assert sorted(t for t, _, _ in rows) == sorted(t for t, _ in routes)  # each territory listed once
        stroke = dict(routes)
        assert all(_hex(swatch) == stroke[t] for t, swatch, _ in rows)  # the legend's colour is its routes'
        assert all("责任片区 / territory of" in text for _, _, text in rows)
        assert page.locator("#territories path.territory").count() == len(rows)
        first_territory = rows[0][0]
        page.click(f"#plan-legend li[data-territory='{first_territory}']")  # that territory alone
        others = sum(t != first_territory for t, _ in routes)
        assert page.locator("#routes path.route.dim").count() == others
        assert page.locator("#territories path.territory.dim").count() == len(rows) - 1
        page.click(f"#plan-legend li[data-territory='{first_territory}']")  # all again
        assert page.locator("#routes path.dim, #territories path.dim").count() == 0

        shots = Path(os.environ.get("QINGYUN_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "sweeping_layer.png"))
        page.select_option("#sweep-select", "")
        page.wait_for_function("document.querySelectorAll('#sweep path').length === 0", timeout=5_000)
        assert page.is_hidden("#sweep-legend")
        assert page.evaluate("getComputedStyle(document.getElementById('routes')).opacity") == "1"
        page.evaluate(
            "async () => { const m = (await import('/static/core.js')).state.map;"
            " m.fitBounds(L.featureGroup(Object.values(m._layers).filter(l => l instanceof L.Polygon && l.options.pane === 'territories'))"
            ".getBounds(), { animate: false }); }"
        )
        page.wait_for_function(  # the basemap's tiles at the new view, then two frames for the canvas
            "[...document.querySelectorAll('.leaflet-tile')].every(t => t.classList.contains('leaflet-tile-loaded'))"
        )
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        page.screenshot(path=str(shots / "plan_territories.png"))  # the plan layer alone: areas, routes, legend
        assert not [u for u in failed if not u.startswith(service.url)], failed  # nothing fetched from elsewhere
        page.close()


def _hex(css: str) -> str:
    """``rgb(31, 119, 180)`` as ``#1f77b4``."""
    return "#" + "".join(f"{int(x):02x}" for x in css.removeprefix("rgb(").removesuffix(")").split(","))
