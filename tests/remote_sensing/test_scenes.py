"""Scenes registered into the store by SHA-256, on both engines: the same file again is a
no-op, another file under the same name is refused, a changed file in the store is refused, a
file that is no raster is refused with nothing written, and the tables refuse edits."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from sqlalchemy import Engine, text

from registry.audit import verify_chain
from registry.db import session_scope
from registry.errors import Conflict, Failure, Invalid, PermissionDenied
from registry.remote_sensing.scenes import find_scene, list_scenes, register_scene, scene_file
from tests.registry.ledger_fixtures import BANK_USER, BUYER_USER
from tests.registry.project_fixtures import ADMIN, STAFF, VERIFIER


def _tif(path: Path, value: float) -> Path:
    data = np.full((3, 4), value, dtype="float32")
    with rasterio.open(path, "w", driver="GTiff", width=4, height=3, count=1, dtype="float32",
                       crs="EPSG:4525", transform=from_origin(37_500_000, 2_800_000, 10, 10),
                       nodata=-9999.0) as ds:  # fmt: skip
        ds.write(data, 1)
    return path


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_a_scene_is_stored_by_its_hash_and_checked(engine: Engine, tmp_path: Path) -> None:
    store = tmp_path / "store"
    tif = _tif(tmp_path / "a.tif", 0.7)
    digest = hashlib.sha256(tif.read_bytes()).hexdigest()
    with session_scope(engine) as s:
        scene = register_scene(s, STAFF, tif, date(2025, 8, 1), "2025", store=store)
    assert scene.sha256 == digest and not scene.replayed
    assert (scene.width, scene.height, scene.nodata) == (4, 3, -9999.0)
    assert scene.transform == (10.0, 0.0, 37_500_000.0, 0.0, -10.0, 2_800_000.0)
    assert (store / f"{digest}.tif").read_bytes() == tif.read_bytes()
    with session_scope(engine) as s:  # the same name, bytes and date: the first registration
        again = register_scene(s, STAFF, tif, date(2025, 8, 1), "2025", store=store)
    assert again.replayed and again.id == scene.id
    assert _count(engine, "rs_scene") == 1
    other = _tif(tmp_path / "b.tif", 0.5)
    with pytest.raises(Conflict), session_scope(engine) as s:
        register_scene(s, STAFF, other, date(2025, 8, 1), "2025", store=store)
    with pytest.raises(PermissionDenied), session_scope(engine) as s:
        register_scene(s, VERIFIER, other, date(2026, 8, 1), "2026", store=store)
    bad = tmp_path / "not.tif"
    bad.write_text("not a raster")
    with pytest.raises(Invalid) as refused, session_scope(engine) as s:
        register_scene(s, STAFF, bad, date(2026, 8, 1), "2026", store=store)
    assert "不是可读的栅格" in refused.value.message_zh and "not a readable raster" in str(
        refused.value
    )
    assert _count(engine, "rs_scene") == 1
    with session_scope(engine) as s:
        assert scene_file(s, find_scene(s, "2025"), store) == store / f"{digest}.tif"
        assert verify_chain(s).ok
    (store / f"{digest}.tif").write_bytes(other.read_bytes())  # tampered in the store
    with pytest.raises(Failure) as tampered, session_scope(engine) as s:
        scene_file(s, find_scene(s, "2025"), store)
    assert "SHA-256" in tampered.value.message_zh
    with pytest.raises(Exception, match="append-only"), engine.begin() as c:
        c.execute(text("UPDATE rs_scene SET name = 'x'"))


def _raster(path: Path, data: np.ndarray, crs: str = "EPSG:4525", cell: float = 10.0) -> Path:
    bands = data if data.ndim == 3 else data[np.newaxis]
    origin = (37_500_000, 2_800_000) if crs == "EPSG:4525" else (111.6, 25.9)
    with rasterio.open(path, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1],
                       count=bands.shape[0], dtype="float32", crs=crs,
                       transform=from_origin(*origin, cell, cell), nodata=-9999.0) as ds:  # fmt: skip
        ds.write(bands.astype("float32"))
    return path


def test_the_same_image_cannot_be_registered_again_under_another_name_or_date(
    engine: Engine, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    tif = _tif(tmp_path / "a.tif", 0.7)
    with session_scope(engine) as s:
        register_scene(s, STAFF, tif, date(2025, 8, 1), "2025", store=store)
    with pytest.raises(Conflict) as renamed, session_scope(engine) as s:  # re-dated, renamed
        register_scene(s, STAFF, tif, date(2026, 8, 1), "2026", store=store)
    assert "已登记为影像 '2025'" in renamed.value.message_zh
    assert "already registered as scene '2025'" in str(renamed.value)
    with pytest.raises(Conflict), session_scope(engine) as s:  # same name, another date
        register_scene(s, STAFF, tif, date(2026, 8, 1), "2025", store=store)
    with session_scope(engine) as s:  # same name, bytes and date: still a no-op
        assert register_scene(s, STAFF, tif, date(2025, 8, 1), "2025", store=store).replayed
    assert _count(engine, "rs_scene") == 1


def test_a_future_date_a_geographic_crs_many_bands_or_no_valid_pixel_are_refused(
    engine: Engine, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    ok = _tif(tmp_path / "ok.tif", 0.7)
    today = datetime.now(UTC).date()
    with pytest.raises(Invalid) as future, session_scope(engine) as s:
        register_scene(s, STAFF, ok, today + timedelta(days=1), "tomorrow", store=store)
    assert "在未来" in future.value.message_zh and "in the future" in str(future.value)
    degrees = _raster(tmp_path / "deg.tif", np.full((3, 4), 0.7), "EPSG:4490", 0.0001)
    with pytest.raises(Invalid) as geographic, session_scope(engine) as s:
        register_scene(s, STAFF, degrees, date(2025, 8, 1), "deg", store=store)
    assert "gdalwarp -t_srs EPSG:4525 -tr 10 10" in geographic.value.message_zh
    assert "degrees²" in str(geographic.value)
    two = _raster(tmp_path / "two.tif", np.full((2, 3, 4), 0.7))
    with pytest.raises(Invalid) as bands, session_scope(engine) as s:
        register_scene(s, STAFF, two, date(2025, 8, 1), "two", store=store)
    assert "2 个波段" in bands.value.message_zh and "single-band" in str(bands.value)
    empty = np.full((3, 4), -9999.0)
    empty[0, :2] = np.nan  # NaN and nodata: nothing valid
    void = _raster(tmp_path / "void.tif", empty)
    with pytest.raises(Invalid) as nothing, session_scope(engine) as s:
        register_scene(s, STAFF, void, date(2025, 8, 1), "void", store=store)
    assert "没有一个有效像元" in nothing.value.message_zh and "no valid pixel" in str(nothing.value)
    assert _count(engine, "rs_scene") == 0
    with session_scope(engine) as s:  # today itself is fine; one valid pixel suffices
        register_scene(s, STAFF, ok, today, "today", store=store)
        empty[2, 3] = 0.4
        register_scene(s, STAFF, _raster(tmp_path / "one.tif", empty), today, "one", store=store)
    assert _count(engine, "rs_scene") == 2


def test_the_scene_list_is_for_staff_admins_and_verifiers(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as s:
        register_scene(s, STAFF, _tif(tmp_path / "a.tif", 0.7), date(2025, 8, 1), "2025",
                       store=tmp_path / "store")  # fmt: skip
    with session_scope(engine) as s:
        for reader in (STAFF, ADMIN, VERIFIER):
            assert [v.name for v in list_scenes(s, reader)] == ["2025"]
        for outsider in (BUYER_USER, BANK_USER):
            with pytest.raises(PermissionDenied):
                list_scenes(s, outsider)
