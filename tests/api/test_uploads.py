"""Inventory uploads over HTTP: imported by bureau staff with the command line's checks; a
refused file answers 422 with its per-record report; uploads are bounded (size, type, zip
path traversal, zip bombs) and a refused upload writes nothing."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from api import create_app
from registry.settings import Settings
from tests.api.conftest import Api
from tests.inventory_files import sample_frame, write_gpkg


def _batches(api: Api) -> int:
    with api.engine.connect() as c:
        return int(c.execute(text("SELECT COUNT(*) FROM inventory_batch")).scalar_one())


def _post(client: TestClient, api: Api, user: str, name: str, data: bytes) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = client.post("/api/v1/inventory/imports", headers=api.auth(user),
                    files={"file": (name, data)}, data={"inventory_year": "2031", "scope": "stands"})  # fmt: skip
    return r.status_code, r.json()


def test_an_upload_is_imported_by_staff_only(api: Api, tmp_path: Path) -> None:
    gpkg = write_gpkg(sample_frame(40, 31), tmp_path / "new.gpkg").read_bytes()
    before = _batches(api)
    assert _post(api.client, api, "buyer", "new.gpkg", gpkg)[0] == 403
    assert _batches(api) == before
    status, body = _post(api.client, api, "li", "new.gpkg", gpkg)
    assert status == 201, body
    assert body["status"] == "imported" and body["n_records"] == 40
    assert _batches(api) == before + 1
    listed = api.client.get("/api/v1/inventory/imports", headers=api.auth("li")).json()
    assert listed["total"] == before + 1 and listed["items"][-1]["imported_by"] == "li@双牌县林业局"
    batch = listed["items"][-1]["id"]
    report = api.client.get(f"/api/v1/inventory/imports/{batch}/report", headers=api.auth("li"))
    assert report.status_code == 200


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def test_unsafe_uploads_are_refused_and_nothing_is_written(api: Api, tmp_path: Path) -> None:
    before = _batches(api)
    cases = {
        "a wrong type": ("stands.txt", b"not a map", "not accepted"),
        "an empty file": ("stands.gpkg", b"", "empty"),
        "path traversal": ("s.zip", _zip({"../../evil.shp": b"x"}), "unsafe path"),
        "an absolute path": ("s.zip", _zip({"/tmp/evil.shp": b"x"}), "unsafe path"),
        "a zip bomb": ("s.zip", _zip({"bomb.shp": b"\0" * (64 << 20)}), "zip bomb"),
        "not a zip": ("s.zip", b"PK but not really", "not a valid zip"),
        "two layers": ("s.zip", _zip({"a.shp": b"1", "b.shp": b"2"}), "exactly one"),
        "a broken geopackage": ("s.gpkg", b"SQLite format 3\0garbage", ""),
    }
    for case, (name, data, words) in cases.items():
        status, body = _post(api.client, api, "li", name, data)
        assert 400 <= status < 500, (case, status, body)
        assert set(body) == {"code", "message_zh", "message_en", "details"}, case
        assert words in body["message_en"], (case, body)
    assert _batches(api) == before
    assert not (tmp_path.parent / "evil.shp").exists() and not Path("/tmp/evil.shp").exists()


def test_a_refused_inventory_answers_with_its_per_record_report(api: Api, tmp_path: Path) -> None:
    frame = sample_frame(20, 32)
    frame.loc[5, "XIAO_BAN"] = frame.loc[4, "XIAO_BAN"]  # a duplicate stand key
    frame.loc[5, "LIN_BAN"] = frame.loc[4, "LIN_BAN"]
    data = write_gpkg(frame, tmp_path / "dup.gpkg").read_bytes()
    status, body = _post(api.client, api, "li", "dup.gpkg", data)
    assert status == 422, body
    assert body["details"] and body["details"]["report"]["counts"]["error"] >= 1


def test_the_size_limit(api: Api, tmp_path: Path) -> None:
    small = create_app(Settings(database_url=api.db_url, upload_max_mb=0.01))
    gpkg = write_gpkg(sample_frame(40, 33), tmp_path / "big.gpkg").read_bytes()
    assert len(gpkg) > 0.01 * (1 << 20)
    with TestClient(small) as client:
        status, body = _post(client, api, "li", "big.gpkg", gpkg)
    assert status == 422 and "larger than the limit" in body["message_en"]
