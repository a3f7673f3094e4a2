"""OGC API – Features at /ogc: GDAL's own OAPIF driver (ogrinfo) against a real server reads
both collections with the feature counts the database holds (counted here in SQL), a bounding
box, and pages across the server's limit; the documents, links, paging figures, single
features and the OGC exceptions in TestClient."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api import create_app
from api.ogc import CONFORMANCE
from registry.settings import Settings
from tests.api.api_fixtures import uvicorn_server
from tests.web.conftest import Web

BOX = (111.6, 25.8, 111.75, 25.95)  # a part of the sample county (lon, lat degrees)
GEOJSON = "application/geo+json"


def _sql(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def _stands_in(engine: Engine, box: tuple[float, ...]) -> int:
    """Current stands whose geometry meets the box, counted by the database itself."""
    x0, y0, x1, y1 = box
    envelope = ("ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)" if engine.dialect.name == "postgresql"
                else "BuildMbr(:x0, :y0, :x1, :y1, 4490)")  # fmt: skip
    return int(_sql(engine, f"SELECT COUNT(*) FROM stand WHERE is_current = :t AND "
                            f"ST_Intersects(geom, {envelope})", t=True, x0=x0, y0=y0, x1=x1, y1=y1))  # fmt: skip


def _current_keys(engine: Engine) -> list[str]:
    with engine.connect() as c:
        rows = c.execute(text("SELECT stand_key FROM stand WHERE is_current = :t ORDER BY stand_key"),
                         {"t": True})  # fmt: skip
        return [str(r[0]) for r in rows]


def _ogrinfo(*args: str) -> str:
    done = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, timeout=300,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _keys(listing: str) -> list[str]:
    return re.findall(r"^\s+stand_key \(String\) = (\S+)$", listing, re.M)


def test_gdal_reads_both_collections_a_bbox_and_pages(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    n_projects = int(_sql(web.engine, "SELECT COUNT(*) FROM project"))
    keys = set(_current_keys(web.engine))
    in_box = _stands_in(web.engine, BOX)
    assert n_projects == 1 and len(keys) == 300 and 0 < in_box < len(keys)
    monkeypatch.setenv("TANHUI_PAGE_LIMIT_MAX", "40")  # the server serves at most 40 a page
    with uvicorn_server(web.db_url) as base:
        url = f"OAPIF:{base}/ogc"
        layers = _ogrinfo("-so", url)
        assert re.search(r"^1: projects .*\(Multi Polygon\)$", layers, re.M), layers
        assert re.search(r"^2: stands .*\(Multi Polygon\)$", layers, re.M), layers
        for layer, expected in (("projects", n_projects), ("stands", len(keys))):
            summary = _ogrinfo("-so", url, layer)
            assert f"Feature Count: {expected}\n" in summary, summary
            assert 'ID["EPSG",4326]' in summary  # CRS84, as GDAL reads it
        # GDAL asks for 1,000 a page; the server gives 40 and a next link; GDAL follows it:
        # every current stand once, none twice, over ceil(300 / 40) = 8 pages
        listed = _keys(_ogrinfo("-oo", "PAGE_SIZE=1000", "-q", url, "stands"))
        assert len(listed) == len(keys) and set(listed) == keys
        # a bbox: GDAL sends it to the server (and tests each feature again itself)
        boxed = _keys(_ogrinfo("-q", "-spat", *map(str, BOX), url, "stands"))
        assert len(boxed) == in_box and len(set(boxed)) == in_box
        summary = _ogrinfo("-so", "-spat", *map(str, BOX), url, "stands")
        assert f"Feature Count: {in_box}\n" in summary
        project = _ogrinfo("-q", url, "projects")
        assert "code (String) = L1" in project and "issued (Integer) = 1000" in project


def test_landing_page_conformance_and_collections(web: Web) -> None:
    landing = web.client.get("/ogc")
    assert landing.status_code == 200 and landing.headers["content-type"] == "application/json"
    rels = {link["rel"]: link["href"] for link in landing.json()["links"]}
    assert rels == {"self": "http://testserver/ogc", "conformance": "http://testserver/ogc/conformance",
                    "data": "http://testserver/ogc/collections",
                    "service-desc": "http://testserver/openapi.json"}  # fmt: skip
    assert set(web.client.get("/ogc/conformance").json()["conformsTo"]) == set(CONFORMANCE)
    found = web.client.get("/ogc/collections").json()["collections"]
    assert [c["id"] for c in found] == ["projects", "stands"]
    stands = web.client.get("/ogc/collections/stands").json()
    assert stands == found[1]
    (x0, y0, x1, y1), crs = (
        stands["extent"]["spatial"]["bbox"][0],
        stands["extent"]["spatial"]["crs"],
    )
    assert crs.endswith("/OGC/1.3/CRS84")
    # the extent is the stands' own (the database's envelope of every current stand)
    db = web.engine.dialect.name == "postgresql"
    current = " FROM stand WHERE is_current = :t"
    lo = _sql(
        web.engine,
        ("SELECT MIN(ST_XMin(geom))" if db else "SELECT MIN(MbrMinX(geom))") + current,
        t=True,
    )
    hi = _sql(
        web.engine,
        ("SELECT MAX(ST_YMax(geom))" if db else "SELECT MAX(MbrMaxY(geom))") + current,
        t=True,
    )
    assert x0 == pytest.approx(lo, abs=1e-7) and y1 == pytest.approx(hi, abs=1e-7)
    assert x0 < x1 and y0 < y1
    projects = found[0]
    # L1 credits from 1 January 2026 for 30 years: its last day is 31 December 2055
    assert projects["extent"]["temporal"]["interval"] == [
        ["2026-01-01T00:00:00Z", "2055-12-31T00:00:00Z"]
    ]
    items = {link["rel"]: link for link in projects["links"]}["items"]
    assert items["type"] == GEOJSON and items["href"].endswith("/ogc/collections/projects/items")


def test_items_page_with_links_and_a_capped_limit(web: Web, tmp_path: Path) -> None:
    r = web.client.get("/ogc/collections/stands/items?limit=7&offset=14")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    page = r.json()
    assert page["type"] == "FeatureCollection"
    assert page["numberMatched"] == 300 and page["numberReturned"] == 7 == len(page["features"])
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert links["next"].endswith("limit=7&offset=21") and links["prev"].endswith(
        "limit=7&offset=7"
    )
    first = web.client.get("/ogc/collections/stands/items?limit=7").json()
    assert "prev" not in {link["rel"] for link in first["links"]}
    keys = _current_keys(web.engine)
    assert [f["id"] for f in page["features"]] == keys[14:21]
    last = web.client.get("/ogc/collections/stands/items?limit=7&offset=294").json()
    assert last["numberReturned"] == 6 and "next" not in {link["rel"] for link in last["links"]}
    # the cap: page_limit_max however many are asked for; the next link asks for the cap
    settings = Settings(database_url=web.db_url, page_limit_max=40, tiles_dir=tmp_path)
    with TestClient(create_app(settings)) as capped:
        big = capped.get("/ogc/collections/stands/items?limit=100000&offset=280").json()
    assert big["numberMatched"] == 300 and big["numberReturned"] == 20
    assert [f["id"] for f in big["features"]] == keys[280:]
    assert "next" not in {link["rel"] for link in big["links"]}
    with TestClient(create_app(settings)) as capped:
        big = capped.get("/ogc/collections/stands/items?limit=100000").json()
    assert big["numberReturned"] == 40
    assert {link["rel"]: link["href"] for link in big["links"]}["next"].endswith(
        "limit=40&offset=40"
    )


def test_bbox_and_datetime_filters(web: Web) -> None:
    box = ",".join(map(str, BOX))
    page = web.client.get(f"/ogc/collections/stands/items?bbox={box}&limit=500").json()
    assert page["numberMatched"] == _stands_in(web.engine, BOX) == page["numberReturned"]

    # L1 credits 2026-01-01 – 2055-12-31: intervals that meet it find it, others do not
    def projects(when: str) -> int:
        r = web.client.get(f"/ogc/collections/projects/items?datetime={when}")
        assert r.status_code == 200, r.text
        return int(r.json()["numberMatched"])

    assert projects("2030-06-01T00:00:00Z") == 1 and projects("2025-12-31") == 0
    assert projects("../2026-01-01") == 1 and projects("2055-12-31/..") == 1
    assert projects("2056-01-01/..") == 0 and projects("2020-01-01/2025-12-31") == 0
    # stands have no temporal geometry: a datetime filter meets none
    assert (
        web.client.get("/ogc/collections/stands/items?datetime=2026-01-01").json()["numberMatched"]
        == 0
    )
    far = web.client.get("/ogc/collections/projects/items?bbox=100,20,100.1,20.1").json()
    assert far["numberMatched"] == 0 and far["features"] == []


def test_one_feature_and_its_links(web: Web) -> None:
    key = str(_sql(web.engine, "SELECT MIN(stand_key) FROM stand WHERE is_current = :t", t=True))
    r = web.client.get(f"/ogc/collections/stands/items/{key}")
    assert r.status_code == 200 and r.headers["content-type"] == GEOJSON
    feature = r.json()
    assert feature["id"] == key and feature["geometry"]["type"] == "MultiPolygon"
    assert {link["rel"] for link in feature["links"]} == {"self", "collection"}
    project = web.client.get("/ogc/collections/projects/items/L1").json()
    assert project["properties"]["issued"] == 1000 and project["properties"]["retired"] == 30
    assert project["properties"]["in_buffer"] == 100


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/ogc/collections/nothing", 404, "no collection"),
        ("/ogc/collections/stands/items/no-such-stand", 404, "no feature"),
        ("/ogc/collections/stands/items?bbox=1,2,3", 400, "four numbers"),
        ("/ogc/collections/stands/items?bbox=120,30,110,31", 400, "minimum not above"),
        ("/ogc/collections/stands/items?limit=0", 400, "at least 1"),
        ("/ogc/collections/stands/items?limit=ten", 400, "integer"),
        ("/ogc/collections/stands/items?offset=-1", 400, "at least 0"),
        ("/ogc/collections/projects/items?datetime=yesterday", 400, "RFC 3339"),
        ("/ogc/collections/projects/items?datetime=2027-01-01/2026-01-01", 400, "after the end"),
        ("/ogc/collections/stands/items?owner=x", 400, "unknown parameter owner"),
        ("/ogc?f=html", 400, "only f=json"),
    ],
)
def test_refusals_are_ogc_exceptions_in_both_languages(
    web: Web, path: str, status: int, words: str
) -> None:
    r = web.client.get(path, headers={"Accept": "text/html"})  # a browser still gets JSON
    assert r.status_code == status and r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"code", "description", "message_zh", "message_en"}
    assert words in body["message_en"] and body["description"].startswith(body["message_zh"])
    assert re.search(r"[\u4e00-\u9fff]", body["message_zh"])
