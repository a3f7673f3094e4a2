"""Open data: ``tanhui opendata dump DIR`` writes CSV (UTF-8 with a BOM) and GeoPackage files of
the public projects, stands, issuances and retirements with a manifest whose row counts equal
the database's (counted here in SQL) and the pages' (the library's "共 N 个项目", the OGC API's
numberMatched, the public ledger's totals); checksums and sizes are the files' own; a dump is rewritten only when the audit
head moved; /data lists the files, serves them byte for byte, and makes new ones when the data
change; the page in Chromium."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyogrio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from api import create_app
from api.pages.data import wait_for_refresh
from registry.db import session_scope
from registry.ledger import retire
from registry.settings import Settings
from registry.users import load_actor
from tests.api.api_fixtures import uvicorn_server
from tests.cli_runner import run_cli
from tests.web.conftest import HTML, Web

DATASETS = ("projects", "stands", "issuances", "retirements")


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text(sql), {"t": True}).scalar_one())


def _sql_counts(engine: Engine) -> dict[str, int]:
    return {
        "projects": _count(engine, "SELECT COUNT(*) FROM project"),
        "stands": _count(engine, "SELECT COUNT(*) FROM stand WHERE is_current = :t"),
        "issuances": _count(engine, "SELECT COUNT(*) FROM issuance"),
        "retirements": _count(engine, "SELECT COUNT(*) FROM retirement"),
    }


def _head(engine: Engine) -> tuple[int, str]:
    with engine.connect() as c:
        row = c.execute(text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")).one()
    return int(row[0]), str(row[1])


def _manifest(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "current" / "manifest.json").read_text(encoding="utf-8")))


def _rows(manifest: dict[str, Any]) -> dict[str, dict[str, int]]:
    """rows per dataset and format, from the manifest"""
    out: dict[str, dict[str, int]] = {}
    for f in manifest["files"]:
        out.setdefault(f["dataset"], {})[f["format"]] = f["rows"]
    return out


def _dump(web: Web, folder: Path, *extra: str) -> Any:
    return run_cli("opendata", "dump", str(folder), *extra, env={"TANHUI_DATABASE_URL": web.db_url})


def test_dump_counts_checksums_and_formats(web: Web, tmp_path: Path) -> None:
    folder = tmp_path / "opendata"
    done = _dump(web, folder)
    assert done.returncode == 0, done.stderr
    manifest = _manifest(folder)
    counts = _sql_counts(web.engine)
    assert counts == {"projects": 1, "stands": 300, "issuances": 1, "retirements": 1}
    rows = _rows(manifest)
    assert rows == {d: {"csv": counts[d], "gpkg": counts[d]} for d in DATASETS}
    # the pages say the same: the library's count and the OGC API's numberMatched
    library = web.page("/library").text
    assert re.search(r"共 (\d+) 个项目", library).group(1) == str(counts["projects"])  # type: ignore[union-attr]
    for collection in ("projects", "stands"):
        page = web.client.get(f"/ogc/collections/{collection}/items?limit=1").json()
        assert page["numberMatched"] == rows[collection]["csv"]
    ledger = web.page("/ledger").text  # the public ledger's headings carry its totals
    for heading, dataset in (("退役", "retirements"), ("签发", "issuances")):
        total = re.search(rf"<h2>{heading} <small>(\d+)</small></h2>", ledger)
        assert total and int(total.group(1)) == rows[dataset]["csv"], heading
    # the state of the data: the audit chain's head when they were read
    seq, digest = _head(web.engine)
    assert (manifest["audit_seq"], manifest["audit_hash"]) == (seq, digest)
    assert manifest["data_as_of"] and manifest["generated_at"].endswith("Z")
    current = folder / "current"
    for f in manifest["files"]:
        data = (current / f["name"]).read_bytes()
        assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"]
        if f["format"] == "csv":
            assert data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
            with (current / f["name"]).open(encoding="utf-8-sig", newline="") as handle:
                assert sum(1 for _ in csv.DictReader(handle)) == f["rows"]
        else:
            info = pyogrio.read_info(current / f["name"])
            assert info["features"] == f["rows"]
            if f["dataset"] in ("projects", "stands"):
                assert info["crs"] == "EPSG:4490" and info["geometry_type"] == "MultiPolygon"
    # figures a reader checks by hand: L1 issued 1,000 (100 to the buffer), 30 retired
    with (current / "projects.csv").open(encoding="utf-8-sig", newline="") as handle:
        (l1,) = list(csv.DictReader(handle))
    assert (l1["code"], l1["issued"], l1["retired"], l1["in_buffer"]) == ("L1", "1000", "30", "100")
    assert l1["name"] == "账本测试项目"
    with (current / "retirements.csv").open(encoding="utf-8-sig", newline="") as handle:
        (r,) = list(csv.DictReader(handle))
    assert r["beneficiary"] == "某电力公司" and r["quantity"] == "30"
    stands = pyogrio.read_dataframe(current / "stands.gpkg")
    assert stands["stand_key"].is_unique and len(stands) == 300 and stands.geometry.notna().all()


def test_a_dump_is_rewritten_only_when_the_data_change(web: Web, tmp_path: Path) -> None:
    folder = tmp_path / "opendata"
    assert _dump(web, folder).returncode == 0
    first = (folder / "current").resolve()
    again = _dump(web, folder)
    assert again.returncode == 0 and "unchanged since the last dump" in again.stderr
    assert (folder / "current").resolve() == first
    with session_scope(web.engine) as s:  # a change: 5 more credits retired
        retire(s, load_actor(s, "buyer"), "od-retire", "BUYER", "某公司", "test", quantity=5)
    assert _dump(web, folder).returncode == 0
    second = (folder / "current").resolve()
    assert second != first and first.exists()  # the previous dump stays for downloads under way
    manifest = _manifest(folder)
    assert _rows(manifest)["retirements"]["csv"] == 2
    assert (manifest["audit_seq"], manifest["audit_hash"]) == _head(web.engine)
    with session_scope(web.engine) as s:
        retire(s, load_actor(s, "buyer"), "od-retire-2", "BUYER", "某公司", "test", quantity=5)
    assert _dump(web, folder).returncode == 0
    assert not first.exists()  # older than the previous: removed
    assert sorted(p.name for p in (folder / "snapshots").iterdir()) == sorted(
        [second.name, (folder / "current").resolve().name]
    )
    forced = _dump(web, folder, "--force", "--json")
    assert forced.returncode == 0 and json.loads(forced.stdout)["audit_seq"] == _head(web.engine)[0]


def test_an_empty_registry_dumps_empty_files(db_url: str, tmp_path: Path) -> None:
    done = run_cli("opendata", "dump", str(tmp_path / "od"), env={"TANHUI_DATABASE_URL": db_url})
    assert done.returncode == 0, done.stderr
    manifest = _manifest(tmp_path / "od")
    assert manifest["audit_seq"] == 0 and manifest["data_as_of"] is None
    assert all(f["rows"] == 0 for f in manifest["files"]) and len(manifest["files"]) == 8
    header = (tmp_path / "od" / "current" / "stands.csv").read_text(encoding="utf-8-sig")
    assert header.startswith("stand_key,version,") and header.count("\n") == 1


def test_data_page_serves_the_files_and_follows_the_data(web: Web, tmp_path: Path) -> None:
    settings = Settings(database_url=web.db_url, tiles_dir=tmp_path / "tiles",
                        opendata_dir=tmp_path / "opendata")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        registry = client.app.state.registry  # type: ignore[attr-defined]
        first = client.get("/data", headers=HTML)
        assert first.status_code == 200 and "文件正在生成" in first.text  # none yet: being made
        wait_for_refresh(registry)
        page = client.get("/data", headers=HTML).text
        manifest = _manifest(tmp_path / "opendata")
        for f in manifest["files"]:
            row = re.search(rf'<tr data-file="{re.escape(f["name"])}">(.*?)</tr>', page, re.S)
            assert row and f'data-rows="{f["rows"]}"' in row.group(1)
            got = client.get(f"/data/{f['name']}")
            assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == f["sha256"]
        assert client.get("/data/manifest.json").json() == manifest
        assert "UTF-8" in page and "BOM" in page and "文件正在生成" not in page
        assert client.get("/data/secret.txt").status_code == 404
        assert client.get("/data/..%2Fmanifest.json").status_code == 404
        with session_scope(web.engine) as s:
            retire(s, load_actor(s, "buyer"), "page-retire", "BUYER", "某公司", "test", quantity=5)
        stale = client.get("/data", headers=HTML).text
        assert "新的文件正在生成" in stale  # the old files are still listed meanwhile
        wait_for_refresh(registry)
        assert _rows(_manifest(tmp_path / "opendata"))["retirements"]["csv"] == 2
        assert "新的文件正在生成" not in client.get("/data", headers=HTML).text
        english = client.get("/data?lang=en").text
        assert "Open data" in english and "Download" in english


def test_data_page_in_chromium(
    web: Web, browser_page: Any, artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "opendata"
    assert _dump(web, folder).returncode == 0
    monkeypatch.setenv("TANHUI_OPENDATA_DIR", str(folder))  # the server serves this dump
    with uvicorn_server(web.db_url) as base:
        page = browser_page
        page.goto(base + "/data")
        assert page.locator("tr[data-file]").count() == 8
        assert page.locator('tr[data-file="stands.csv"] td[data-rows]').inner_text() == "300"
        page.screenshot(path=str(artifacts / "data.png"), full_page=True)
        page.goto(base + "/data?lang=en")
        page.screenshot(path=str(artifacts / "data-en.png"), full_page=True)
        with page.expect_download() as download:
            page.click('tr[data-file="projects.csv"] a')
        saved = tmp_path / "got.csv"
        download.value.save_as(saved)
    expected = next(f for f in _manifest(folder)["files"] if f["name"] == "projects.csv")
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == expected["sha256"]
