"""The county map's vector tiles: read by real GIS tools (GDAL's MBTiles/MVT driver through
``ogrinfo``, ``tippecanoe-decode``), holding every stand at the maximum zoom with its public
attributes only (no household name, no 林权证号, nothing of ``extra``), rebuilt only when the
registry changed, left as they were when a build fails; served with range requests (PMTiles)
and as z/x/y tiles (MBTiles, TMS rows flipped) — on SpatiaLite and PostGIS."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.ledger import retire
from registry.public.stands import PUBLIC_STAND_COLUMNS
from registry.tiles import (
    MAX_ZOOM,
    MBTILES,
    PMTILES,
    STAMP,
    TilesFailed,
    build_tiles,
    read_stamp,
    tippecanoe_binary,
)
from registry.users import load_actor
from tests.web.conftest import Web
from tests.web.web_fixtures import BENEFICIARY, PURPOSE

ALLOWED = {*PUBLIC_STAND_COLUMNS, "owner", "project"}
PROJECT_FIELDS = {"code", "name", "status", "methodology", "methodology_name", "area_ha",
                  "stands", "start_date", "crediting_end", "issued", "retired", "in_buffer"}  # fmt: skip


def tiles_dir(web: Web) -> Path:
    folder: Path = web.client.app.state.registry.settings.tiles_dir  # type: ignore[attr-defined]
    return folder


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a point (Web Mercator, written out): x = ⌊(lon + 180)/360 · 2^z⌋,
    y = ⌊(1 − ln(tan φ + sec φ)/π)/2 · 2^z⌋."""
    n = 2**z
    phi = math.radians(lat)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.log(math.tan(phi) + 1.0 / math.cos(phi)) / math.pi) / 2.0 * n)
    return x, y


def decode(path: Path, z: int, x: int, y: int) -> dict[str, list[dict[str, Any]]]:
    """One tile decoded by tippecanoe-decode: each layer's features' properties."""
    out = subprocess.run([str(tippecanoe_binary("tippecanoe-decode")), str(path), str(z), str(x),
                          str(y)], capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    layers: dict[str, list[dict[str, Any]]] = {}
    for layer in json.loads(out.stdout)["features"]:
        layers[layer["properties"]["layer"]] = [f["properties"] for f in layer["features"]]
    return layers


def ogr_features(path: Path, zoom: int) -> dict[str, list[dict[str, str]]]:
    """Every feature of an MBTiles file at one zoom level as GDAL's ``ogrinfo`` lists it
    (the MBTiles driver reading the MVT tiles): layer → features' ``field = value`` pairs."""
    out = subprocess.run(["ogrinfo", "-ro", "-al", "-oo", f"ZOOM_LEVEL={zoom}", str(path)],
                         capture_output=True, text=True, check=True, timeout=120).stdout  # fmt: skip
    layers: dict[str, list[dict[str, str]]] = {}
    current: dict[str, str] | None = None
    layer = ""
    for line in out.splitlines():
        if line.startswith("Layer name: "):
            layer = line.split(": ", 1)[1].strip()
            layers.setdefault(layer, [])
        elif line.startswith("OGRFeature("):
            current = {}
            layers[layer].append(current)
        elif current is not None and (m := re.match(r"^\s+(\w+) \(\w+\) = (.*)$", line)):
            current[m.group(1)] = m.group(2)
    return layers


def db_rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as c:
        return list(c.execute(text(sql)))


def household_names(engine: Engine) -> list[str]:
    return [str(r[0]) for r in db_rows(engine, "SELECT name FROM owner WHERE kind = 'household'")]


def test_gdal_reads_every_stand_with_public_attributes_only(web: Web) -> None:
    folder = tiles_dir(web)
    stamp = build_tiles(web.engine, folder)
    keys = {str(r[0]) for r in db_rows(web.engine, "SELECT stand_key FROM stand WHERE is_current = true")}  # fmt: skip
    assert stamp.stands == len(keys) == 300 and stamp.projects == 1 and not stamp.skipped

    info = subprocess.run(["ogrinfo", "-ro", "-so", str(folder / MBTILES)], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip
    assert "using driver `MBTiles'" in info or "MBTiles" in info
    assert re.search(r"\d+: stands", info) and re.search(r"\d+: projects", info)

    layers = ogr_features(folder / MBTILES, MAX_ZOOM)
    # a stand crossing a tile edge is in each tile it touches: count stands by key
    found = {f["stand_key"] for f in layers["stands"]}
    assert found == keys, f"missing at z{MAX_ZOOM}: {sorted(keys - found)[:5]}"
    fields = {name for f in layers["stands"] for name in f}
    assert fields <= ALLOWED, f"not public: {fields - ALLOWED}"
    assert {"stand_key", "species_group", "area_ha", "township"} <= fields
    assert {f["code"] for f in layers["projects"]} == {"L1"}
    assert {name for f in layers["projects"] for name in f} <= PROJECT_FIELDS

    # owners in the tiles are the public kinds only; and some are there (the positive case)
    public = {str(r[0]) for r in db_rows(web.engine, "SELECT name FROM owner WHERE kind <> 'household'")}  # fmt: skip
    shown = {f["owner"] for f in layers["stands"] if "owner" in f}
    assert shown and shown <= public


def test_a_tile_over_the_stands_decodes_without_private_data(web: Web) -> None:
    folder = tiles_dir(web)
    build_tiles(web.engine, folder)
    names = household_names(web.engine)
    certs = [str(r[0]) for r in db_rows(web.engine, "SELECT forest_right_cert FROM stand "
             "WHERE forest_right_cert IS NOT NULL AND forest_right_cert <> ''")]  # fmt: skip
    assert names, "the fixture has household owners"
    # a tile at the maximum zoom under one of L1's stands (its centroid, by SQL)
    key, lon, lat = db_rows(web.engine,
        "SELECT s.stand_key, ST_X(ST_Centroid(s.geom)), ST_Y(ST_Centroid(s.geom)) FROM stand s "
        "JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active = true "
        "WHERE s.is_current = true ORDER BY s.stand_key LIMIT 1")[0]  # fmt: skip
    x, y = tile_of(float(lon), float(lat), MAX_ZOOM)
    layers = decode(folder / MBTILES, MAX_ZOOM, x, y)
    stands = layers["stands"]
    assert key in {p["stand_key"] for p in stands}
    assert next(p for p in stands if p["stand_key"] == key)["project"] == "L1"
    assert {k for p in stands for k in p} <= ALLOWED
    dumped = json.dumps(layers, ensure_ascii=False)
    assert not [n for n in names if n in dumped]
    # and nowhere in any tile of either file (every tile's bytes, decompressed)
    with sqlite3.connect(folder / MBTILES) as db:
        blobs = [gzip.decompress(r[0]) for r in db.execute("SELECT tile_data FROM tiles")]
    raw = (folder / PMTILES).read_bytes()
    for secret in [*names, *certs]:
        b = secret.encode()
        assert not any(b in blob for blob in blobs), secret
        assert b not in raw  # the PMTiles file: directories, metadata (tiles are gzipped)


def test_rebuilt_only_when_the_registry_changed(web: Web) -> None:
    folder = tiles_dir(web)
    first = build_tiles(web.engine, folder)
    inode = (folder / PMTILES).stat().st_ino
    again = build_tiles(web.engine, folder)
    assert again.skipped and again.audit_seq == first.audit_seq
    assert (folder / PMTILES).stat().st_ino == inode  # not rewritten
    with session_scope(web.engine) as s:  # a change: 10 more credits retired
        retire(
            s, load_actor(s, "buyer"), "tiles-retire", "BUYER", BENEFICIARY, PURPOSE, quantity=10
        )
    changed = build_tiles(web.engine, folder)
    assert not changed.skipped and changed.audit_seq > first.audit_seq
    assert (folder / PMTILES).stat().st_ino != inode  # a new file renamed into place
    assert read_stamp(folder) == changed
    # the projects layer carries the new figure: 30 retired by the fixture + 10 = 40
    projects = ogr_features(folder / MBTILES, 10)["projects"]
    assert {f["retired"] for f in projects} == {"40"}
    assert not list(folder.glob(".build-*"))  # no temporary folder left


def test_a_failed_build_says_why_and_leaves_the_old_tiles(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tiles_dir(web)
    build_tiles(web.engine, folder)
    before = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in (MBTILES, PMTILES, STAMP)}  # fmt: skip
    # tippecanoe itself refuses a minimum zoom above the maximum: a real failure of the program
    monkeypatch.setattr("registry.tiles.MIN_ZOOM", MAX_ZOOM + 1)
    with pytest.raises(TilesFailed) as failed:
        build_tiles(web.engine, folder, force=True)
    assert (
        "地图切片程序出错" in failed.value.message_zh
        and "原有的瓦片未改动" in failed.value.message_zh
    )
    assert "the tiling program failed" in failed.value.message_en
    assert "cannot be greater than maxzoom" in failed.value.message_en  # tippecanoe's own words
    after = {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in before}
    assert after == before
    assert not list(folder.glob(".build-*"))


def test_served_with_range_requests_and_as_xyz_tiles(web: Web) -> None:
    folder = tiles_dir(web)
    r = web.client.get("/tiles/1/0/0.pbf")
    assert r.status_code == 503 and "尚未生成" in r.json()["message_zh"]  # and the build starts
    deadline = time.monotonic() + 120
    while not web.client.get("/tiles/status").json()["ready"]:
        assert time.monotonic() < deadline, "the server did not build the tiles"
        time.sleep(0.5)
    status = web.client.get("/tiles/status").json()
    assert status["current"] and status["stamp"]["stands"] == 300

    whole = (folder / PMTILES).read_bytes()
    r = web.client.get("/tiles/registry.pmtiles", headers={"Range": "bytes=0-126"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-126/{len(whole)}"
    assert r.content == whole[:127] and r.content[:7] == b"PMTiles" and r.content[7] == 3
    r = web.client.get("/tiles/registry.pmtiles", headers={"Range": "bytes=1000-1099"})
    assert r.status_code == 206 and r.content == whole[1000:1100]

    lon, lat = db_rows(web.engine, "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
                       "FROM stand WHERE is_current = true ORDER BY stand_key LIMIT 1")[0]  # fmt: skip
    x, y = tile_of(float(lon), float(lat), 12)
    with sqlite3.connect(folder / MBTILES) as db:  # MBTiles rows count from the south (TMS)
        stored = db.execute("SELECT tile_data FROM tiles WHERE zoom_level = 12 AND tile_column = ? "
                            "AND tile_row = ?", (x, 2**12 - 1 - y)).fetchone()[0]  # fmt: skip
    r = web.client.get(f"/tiles/12/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.content == gzip.decompress(stored)  # the client undid the gzip
    r = web.client.get(f"/tiles/12/{x}/{y}.pbf", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers and r.content == gzip.decompress(stored)
    assert web.client.get(f"/tiles/12/{(x + 2048) % 4096}/{y}.pbf").status_code == 204  # empty
    assert web.client.get("/tiles/20/0/0.pbf").status_code == 404  # beyond the zoom range
    tilejson = web.client.get("/tiles/registry.json").json()
    assert tilejson["tiles"][0].endswith("/tiles/{z}/{x}/{y}.pbf")
    assert {v["id"] for v in tilejson["vector_layers"]} == {"stands", "projects"}
