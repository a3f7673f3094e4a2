"""The county map page (/map): the projects beside the map with links to their pages, the
legend, a bilingual notice while the tiles are first built (on the first request), no basemap
unless one is set; and in Chromium: the map drawn from the tiles (rendered features and the
species colours in its pixels), a popup per click, the list of projects in view, the link to
the project page, Shift-drag selection; the project page's map script on its own — on both
engines."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from api import create_app
from registry.db import read_scope
from registry.public.stands import public_stands
from registry.settings import Settings
from registry.tiles import build_tiles
from tests.web.conftest import Web

BACKGROUND = (0xEE, 0xF1, 0xEC)  # the map's background where no stand is (stand_map.js)
MOSO_BAMBOO = (0x1E, 0x88, 0xE5)  # the legend's colour of moso bamboo (api/tiles.py)
OPACITY = 0.9  # the stands' fill opacity without a basemap (stand_map.js)


def _config(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="map-config" type="application/json">(.*?)</script>', html, re.S)
    assert found
    config: dict[str, Any] = json.loads(found.group(1))
    return config


def _wait_for_tiles(web: Web) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        status: dict[str, Any] = web.client.get("/tiles/status").json()
        if status["ready"]:
            return status
        assert time.monotonic() < deadline, f"tiles not built: {status}"
        time.sleep(0.5)


def _head_seq(web: Web) -> int:
    with web.engine.connect() as c:
        return int(c.execute(text("SELECT seq FROM audit_head WHERE id = 1")).scalar_one())


def test_map_page_before_and_after_the_tiles_are_built(web: Web) -> None:
    r = web.page("/map")
    assert r.status_code == 200
    assert "地图瓦片尚未生成" in r.text  # the first request starts the build
    assert re.search(
        r'<a class="map-project" data-project="L1" href="/projects/L1">账本测试项目</a>', r.text
    )
    assert "杉木" in r.text and "毛竹" in r.text and "项目边界" in r.text  # the legend
    config = _config(r.text)
    assert config["basemap"] is None and config["pmtiles"] is None
    assert not re.search(r'(src|href)="(https?:)?//', r.text)  # nothing asked of another server
    en = web.page("/map?lang=en").text
    assert "have not been built yet" in en or "Tiles built at audit event" in en
    assert "Chinese fir" in en and "Projects in view" in en

    status = _wait_for_tiles(web)
    assert status["current"] and status["stamp"]["audit_seq"] == _head_seq(web)
    r = web.page("/map?lang=zh")
    assert "地图瓦片尚未生成" not in r.text
    assert f"瓦片对应审计事件 #{_head_seq(web)}" in r.text and "300 个小班" in r.text
    assert _config(r.text)["pmtiles"] == status["pmtiles"]


def test_a_basemap_only_when_one_is_set(web: Web, tmp_path: Path) -> None:
    url = "https://basemap.example/{z}/{x}/{y}.png"
    build_tiles(web.engine, tmp_path / "t2")  # built already: the page starts no build
    settings = Settings(database_url=web.db_url, tiles_dir=tmp_path / "t2", basemap_url=url)
    with TestClient(create_app(settings)) as client:
        r = client.get("/map", headers={"Accept": "text/html"})
    assert _config(r.text)["basemap"] == url


def test_project_places_enclose_the_project_stands(web: Web) -> None:
    places = {p["code"]: p for p in web.client.get("/tiles/projects.json").json()["projects"]}
    with read_scope(web.engine) as s:
        stands = public_stands(s, limit=1000, offset=0, project="L1").items
    shapes = [shapely.geometry.shape(item["geometry"]) for item in stands]
    union = shapely.union_all(shapes)
    x0 = min(g.bounds[0] for g in shapes)
    y0 = min(g.bounds[1] for g in shapes)
    x1 = max(g.bounds[2] for g in shapes)
    y1 = max(g.bounds[3] for g in shapes)
    got = places["L1"]["bbox"]
    assert all(abs(a - b) < 1e-6 for a, b in zip(got, (x0, y0, x1, y1), strict=True))
    assert union.buffer(1e-9).contains(shapely.Point(places["L1"]["label"]))
    assert places["L1"]["issued"] == 1000 and places["L1"]["retired"] == 30


def test_cached_figures_follow_the_registry(web: Web) -> None:
    """The library cards are cached by audit head (registry.public.cache): a retirement moves
    the head, and the next answer counts it — 30 retired by the fixture + 10 = 40."""
    from registry.db import session_scope
    from registry.ledger import retire
    from registry.users import load_actor
    from tests.web.web_fixtures import BENEFICIARY, PURPOSE

    def retired() -> int:
        places = web.client.get("/tiles/projects.json").json()["projects"]
        return int(next(p for p in places if p["code"] == "L1")["retired"])

    assert retired() == 30 and retired() == 30  # the second from the cache
    with session_scope(web.engine) as s:
        retire(
            s, load_actor(s, "buyer"), "cache-retire", "BUYER", BENEFICIARY, PURPOSE, quantity=10
        )
    assert retired() == 40
    row = web.page("/library").text.split('<tr data-project="L1">')[1].split("</tr>")[0]
    _area, _exante, issued, retired_, buffer = re.findall(r'<td class="n">([^<]*)</td>', row)
    assert (issued, retired_, buffer) == ("1,000", "40", "100")


def _blend(colour: tuple[int, int, int]) -> tuple[float, ...]:
    """A fill at opacity 0.9 over the background: 0.9 · c + 0.1 · background, per channel."""
    return tuple(OPACITY * c + (1 - OPACITY) * b for c, b in zip(colour, BACKGROUND, strict=True))


def test_county_map_in_chromium(
    web: Web, live_server: str, browser_page: Any, artifacts: Path
) -> None:
    from PIL import Image

    page = browser_page
    engine = "postgis" if web.db_url.startswith("postgres") else "spatialite"
    page.goto(live_server + "/map")
    page.wait_for_selector("#county-map[data-ready='1']", timeout=180_000)  # built, then drawn
    rendered = page.evaluate(
        "window.tanhuiMap.queryRenderedFeatures({layers: ['stands-fill']})"
        ".map(f => f.properties.stand_key)"
    )
    with web.engine.connect() as c:
        keys = {
            str(r[0])
            for r in c.execute(text("SELECT stand_key FROM stand WHERE is_current = true"))
        }
    assert rendered and set(rendered) <= keys

    # the canvas is not blank: the blended colour of moso bamboo (L1's stands) is drawn
    shot = Image.open(io.BytesIO(page.locator("#county-map canvas").screenshot())).convert("RGB")
    expected = _blend(MOSO_BAMBOO)  # (50.8, 146.5, 229.7)
    bamboo = sum(
        n for n, rgb in shot.getcolors(maxcolors=1 << 20) or []
        if all(abs(a - b) <= 3 for a, b in zip(rgb, expected, strict=True))
    )  # fmt: skip
    assert bamboo > 200, f"no moso bamboo pixels near {expected}"

    # the projects in view, and the label's popup with the link to the project
    assert page.locator(".map-projects a.map-project[data-project=L1]").is_visible()
    page.locator(".map-label[data-project=L1]").click()
    assert page.locator(".maplibregl-popup a.map-project-link[data-project=L1]").is_visible()

    # a click on a stand: its public attributes, no household name
    key, lon, lat = next(
        (
            item["stand_key"],
            *shapely.point_on_surface(shapely.geometry.shape(item["geometry"])).coords[0],
        )
        for item in _stands(web)
        if item["project"] is None
    )
    page.evaluate(f"new Promise(r => {{ const m = window.tanhuiMap; m.once('idle', r); "
                  f"m.jumpTo({{center: [{lon}, {lat}], zoom: 15}}); }})")  # fmt: skip
    box = page.locator("#county-map").bounding_box()
    point = page.evaluate(
        f"(() => {{ const p = window.tanhuiMap.project([{lon}, {lat}]); return [p.x, p.y]; }})()"
    )
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    popup = page.locator(".maplibregl-popup .popup-stand")
    popup.wait_for()
    assert key in popup.inner_text()
    with web.engine.connect() as c:
        names = [
            str(r[0]) for r in c.execute(text("SELECT name FROM owner WHERE kind = 'household'"))
        ]
    assert not [n for n in names if n in page.content()]
    page.screenshot(path=str(artifacts / f"map-popup-{engine}.png"))

    # Shift-drag: the stands in the box, in a DOM event on the map element
    page.evaluate("document.getElementById('county-map').addEventListener('tanhui:selection', "
                  "e => { window.__selection = e.detail; })")  # fmt: skip
    page.locator(".maplibregl-popup-close-button").click()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.keyboard.down("Shift")
    page.mouse.move(x - 120, y - 90)
    page.mouse.down()
    page.mouse.move(x + 20, y + 10, steps=5)
    page.mouse.move(x + 120, y + 90, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    selection = page.evaluate("window.__selection")
    assert selection and selection["stand_keys"], "no tanhui:selection event"
    assert set(selection["stand_keys"]) <= keys
    bx0, by0, bx1, by1 = selection["bbox"]
    assert bx0 < lon < bx1 and by0 < lat < by1  # the box was drawn around the centre
    assert set(selection["stand_keys"]) <= _keys_meeting(web, (bx0, by0, bx1, by1), 1e-5)
    if selection["complete"]:  # every stand well inside the box is selected
        assert _keys_meeting(web, (bx0, by0, bx1, by1), -1e-5) <= set(selection["stand_keys"])
    page.screenshot(path=str(artifacts / f"map-selection-{engine}.png"))

    # back to the county: the projects in view; the link opens the project page
    page.goto(live_server + "/map")
    page.wait_for_selector("#county-map[data-ready='1']")
    page.screenshot(path=str(artifacts / f"map-{engine}.png"))
    page.locator(".map-projects a.map-project[data-project=L1]").click()
    page.wait_for_url("**/projects/L1")


def _stands(web: Web) -> list[dict[str, Any]]:
    with read_scope(web.engine) as s:
        return public_stands(s, limit=1000, offset=0).items


def _keys_meeting(web: Web, bbox: tuple[float, float, float, float], margin: float) -> set[str]:
    """The stands whose shape meets the box (shapely, from the stands' GeoJSON), the box widened
    (or narrowed) by ``margin`` degrees — 1e-5° is about a metre, more than the tiles' rounding
    (4096 units a z14 tile: 0.6 m)."""
    box = shapely.box(*bbox).buffer(margin, join_style="mitre")
    return {
        i["stand_key"]
        for i in _stands(web)
        if shapely.geometry.shape(i["geometry"]).intersects(box)
    }


def test_project_map_script_on_its_own(
    web: Web, live_server: str, browser_page: Any, artifacts: Path
) -> None:
    """stand_map.js in a page holding only ``<div id="stand-map" data-project="L1">`` (as the
    project page includes it): it loads MapLibre itself, zooms to L1 and highlights its stands."""
    page = browser_page
    page.goto(live_server + "/health")
    page.evaluate("""() => {
        document.body.innerHTML = '<div id="stand-map" data-project="L1" style="width: 800px"></div>';
        const s = document.createElement('script'); s.src = '/static/js/stand_map.js';
        document.body.appendChild(s);
    }""")
    page.wait_for_selector("#stand-map[data-ready='1']", timeout=180_000)
    places = {p["code"]: p for p in web.client.get("/tiles/projects.json").json()["projects"]}
    x0, y0, x1, y1 = places["L1"]["bbox"]
    bounds = page.evaluate("window.tanhuiMap.getBounds().toArray()")
    assert bounds[0][0] <= x0 and bounds[0][1] <= y0 and bounds[1][0] >= x1 and bounds[1][1] >= y1
    projects = page.evaluate(
        "[...new Set(window.tanhuiMap.queryRenderedFeatures({layers: ['stands-fill']})"
        ".map(f => f.properties.project).filter(Boolean))]"
    )
    assert projects == ["L1"]
    # L1's stands in green, the others in grey (stand_map.js), at opacity 0.9 over the background
    from PIL import Image

    shot = Image.open(io.BytesIO(page.locator("#stand-map canvas").screenshot())).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20) or []
    for fill in (
        (0x2E, 0x7D, 0x32),
        (0xD5, 0xDC, 0xD5),
    ):  # → (65.2, 136.6, 68.6), (215.5, 222.1, 215.3)
        expected = _blend(fill)
        near = sum(
            n
            for n, rgb in colours
            if all(abs(a - b) <= 3 for a, b in zip(rgb, expected, strict=True))
        )
        assert near > 200, f"no pixels near {expected}"
    assert not page.locator("#tiles-notice").is_visible()
    page.screenshot(
        path=str(
            artifacts
            / f"project-map-{'postgis' if web.db_url.startswith('postgres') else 'spatialite'}.png"
        )
    )
