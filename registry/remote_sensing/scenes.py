"""Registered scenes (遥感影像): a raster of one index on one date, copied into the scene store
under its SHA-256 and described by its grid. Registering the same name with the same bytes
again is a no-op; a scene read back is checked against its SHA-256 (a file changed in the store
is refused)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.errors import Conflict, Failure, Invalid, NotFound
from registry.remote_sensing.tables import rs_scene
from registry.results import Result, transient
from registry.vocabulary import Role

__all__ = [
    "OPERATORS",
    "READERS",
    "SceneView",
    "find_scene",
    "list_scenes",
    "register_scene",
    "scene_file",
    "scene_store",
]

OPERATORS = (Role.ADMIN, Role.BUREAU_STAFF)
READERS = (Role.ADMIN, Role.BUREAU_STAFF, Role.VERIFIER)  # the scenes, runs and flags
INDICES = ("ndvi", "nbr", "evi")


@dataclass(frozen=True)
class SceneView(Result):
    id: int
    name: str
    acquired_on: str
    index: str
    file_name: str
    sha256: str
    size_bytes: int
    crs_wkt: str
    width: int
    height: int
    transform: tuple[float, ...]
    nodata: float | None
    created_by: str
    created_at: str
    replayed: bool = transient()


def scene_store(session: Session) -> Path:
    """The scene store's folder: ``TANHUI_SCENE_STORE`` if set, else ``scenes`` next to the
    SQLite database file (the working directory's ``scenes`` for PostgreSQL)."""
    from registry.settings import Settings

    configured = Settings().scene_store
    if configured is not None:
        return configured
    bind = session.get_bind()
    url = bind.engine.url if isinstance(bind, sa.Connection) else bind.url
    database = url.database if bind.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        return Path(database).resolve().parent / "scenes"
    return Path("scenes").resolve()


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _grid(path: Path) -> dict[str, Any]:
    """The raster's grid; a file GDAL cannot read, without a CRS, in a geographic CRS (areas
    would be degrees²), of more than one band (a single-band index raster is expected) or
    without one valid pixel (all nodata / NaN) is refused."""
    import numpy as np
    import rasterio
    from rasterio.errors import RasterioIOError

    from gis_data.disturbance import require_projected
    from gis_data.errors import GisDataError

    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise Invalid(f"栅格 {path.name} 没有坐标参考系：请先为它指定 CRS（如 gdal_edit.py -a_srs）。",
                              f"raster {path.name} has no CRS: assign one first (e.g. gdal_edit.py -a_srs).")  # fmt: skip
            try:
                require_projected(ds.crs, f"栅格 {path.name} ", f"raster {path.name}")
            except GisDataError as exc:
                raise Invalid(exc.message_zh, exc.message_en) from exc
            if ds.count != 1:
                raise Invalid(f"栅格 {path.name} 有 {ds.count} 个波段：应为单波段的指数栅格（NDVI 等），请先计算指数或取出一个波段（gdal_translate -b N）。",
                              f"raster {path.name} has {ds.count} bands: a single-band index raster "
                              "(NDVI or similar) is expected; compute the index or extract one band "
                              "first (gdal_translate -b N).")  # fmt: skip
            if not _any_valid(ds, np):
                raise Invalid(f"栅格 {path.name} 没有一个有效像元（全为 nodata 或 NaN）。",
                              f"raster {path.name} has no valid pixel (all nodata or NaN).")  # fmt: skip
            return {"crs_wkt": ds.crs.to_wkt(), "width": ds.width, "height": ds.height,
                    "transform": tuple(float(v) for v in tuple(ds.transform)[:6]),
                    "nodata": None if ds.nodata is None else float(ds.nodata)}  # fmt: skip
    except RasterioIOError as exc:
        raise Invalid(f"文件 {path.name} 不是可读的栅格（GeoTIFF 等）：{exc}",
                      f"file {path.name} is not a readable raster (GeoTIFF or similar): {exc}") from exc  # fmt: skip


def _any_valid(ds: Any, np: Any) -> bool:
    """Whether one pixel of band 1 is neither nodata nor NaN (read block by block)."""
    for _, window in ds.block_windows(1):
        values = ds.read(1, window=window, masked=True)
        valid = ~np.ma.getmaskarray(values) & np.isfinite(np.ma.getdata(values))
        if bool(valid.any()):
            return True
    return False


def _view(row: Any, replayed: bool = False) -> SceneView:
    created = row.created_at
    if isinstance(created, datetime) and created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    acquired = row.acquired_on
    return SceneView(
        int(row.id), str(row.name), acquired.isoformat() if isinstance(acquired, date) else str(acquired),
        str(row.index_name), str(row.file_name), str(row.sha256), int(row.size_bytes),
        str(row.crs_wkt), int(row.width), int(row.height),
        tuple(float(v) for v in json.loads(row.transform_json)),
        None if row.nodata is None else float(row.nodata), str(row.created_by),
        created.isoformat() if isinstance(created, datetime) else str(created), replayed,
    )  # fmt: skip


def register_scene(
    session: Session, actor: Actor, path: Path, acquired_on: date, name: str | None = None,
    index: str = "ndvi", store: Path | None = None, today: date | None = None,
) -> SceneView:  # fmt: skip
    """Register the raster at ``path`` (bureau staff or admin) as the scene ``name`` (default:
    the file's stem) of ``index`` acquired on ``acquired_on``: the file is copied into the scene
    store as ``<sha256>.tif``, its grid read, one row and one audit event written. The same name
    with the same bytes and date returns the first registration (``replayed``); the same name
    with other bytes is refused, and so are these bytes under another name or date (one change
    counted twice), a date after ``today`` (default: today, UTC — the demo, which plays years
    ahead, passes its own clock), a geographic CRS, more than one band and no valid pixel."""
    require_any_role(actor, OPERATORS, "登记遥感影像 / register a scene")
    path = Path(path)
    if not path.is_file():
        raise Invalid(f"找不到影像文件 {path}。", f"no scene file at {path}.")
    if index not in INDICES:
        raise Invalid(f"未知指数 {index!r}（可用：{', '.join(INDICES)}）。",
                      f"unknown index {index!r} (one of: {', '.join(INDICES)}).")  # fmt: skip
    name = (name or path.stem).strip()
    if not name:
        raise Invalid("影像名称为空。", "the scene name is empty.")
    today = today or datetime.now(UTC).date()
    if acquired_on > today:
        raise Invalid(f"影像 {name} 的获取日期 {acquired_on} 在未来（今天 {today}，UTC）。",
                      f"scene {name}'s acquisition date {acquired_on} is in the future (today is "
                      f"{today}, UTC).")  # fmt: skip
    sha, size = _sha256(path)
    same_bytes = session.execute(
        sa.select(rs_scene).where(rs_scene.c.sha256 == sha).where(rs_scene.c.name != name)
    ).first()
    if same_bytes is not None:  # re-dating the same image would count one change twice
        raise Conflict(f"这个文件已登记为影像 {same_bytes.name!r}（{same_bytes.acquired_on}，sha256 {sha[:12]}…）：同一影像不能以另一名称或日期再登记。",
                       f"this file is already registered as scene {same_bytes.name!r} "
                       f"({same_bytes.acquired_on}, sha256 {sha[:12]}…): the same image cannot be "
                       "registered under another name or date.")  # fmt: skip
    existing = session.execute(sa.select(rs_scene).where(rs_scene.c.name == name)).first()
    if existing is not None:
        if existing.sha256 == sha and existing.acquired_on == acquired_on:
            return _view(existing, replayed=True)
        raise Conflict(f"影像名称 {name!r} 已登记为另一文件或日期（sha256 {existing.sha256[:12]}…，{existing.acquired_on}）：请换一个名称。",
                       f"scene name {name!r} is registered with another file or date (sha256 "
                       f"{existing.sha256[:12]}…, {existing.acquired_on}): choose another name.")  # fmt: skip
    grid = _grid(path)
    folder = store or scene_store(session)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sha}.tif"
    if not target.exists():  # content-addressed: a file already there is these bytes
        partial = folder / f".{sha}.{os.getpid()}.part"
        shutil.copyfile(path, partial)
        partial.replace(target)
    created = datetime.now(UTC)
    values = {"name": name, "acquired_on": acquired_on, "index_name": index,
              "file_name": path.name, "sha256": sha, "size_bytes": size,
              "crs_wkt": grid["crs_wkt"], "width": grid["width"], "height": grid["height"],
              "transform_json": json.dumps(grid["transform"]), "nodata": grid["nodata"],
              "created_by": actor.label, "created_at": created}  # fmt: skip
    scene_id = session.execute(
        sa.insert(rs_scene).values(**values).returning(rs_scene.c.id)
    ).scalar_one()
    append_event(session, actor=actor.label, action="monitoring.scene_registered",
                 entity_type="rs_scene", entity_id=name,
                 payload={"id": scene_id, "acquired_on": acquired_on.isoformat(), "index": index,
                          "file_name": path.name, "sha256": sha, "size_bytes": size,
                          "width": grid["width"], "height": grid["height"]})  # fmt: skip
    session.flush()
    row = session.execute(sa.select(rs_scene).where(rs_scene.c.id == scene_id)).one()
    return _view(row)


def find_scene(session: Session, name: str) -> SceneView:
    """The scene called ``name``; an unknown name is refused."""
    row = session.execute(sa.select(rs_scene).where(rs_scene.c.name == name)).first()
    if row is None:
        raise NotFound(f"没有名为 {name!r} 的已登记影像（tanhui monitor scenes list）。",
                       f"no registered scene named {name!r} (tanhui monitor scenes list).")  # fmt: skip
    return _view(row)


def list_scenes(session: Session, actor: Actor) -> list[SceneView]:
    """The registered scenes, oldest first: admin, bureau staff and verifiers only (buyers and
    banks have no use for the bureau's images)."""
    require_any_role(actor, READERS, "查看遥感影像 / read the scenes")
    rows = session.execute(sa.select(rs_scene).order_by(rs_scene.c.acquired_on, rs_scene.c.id))
    return [_view(r) for r in rows]


def scene_file(session: Session, scene: SceneView, store: Path | None = None) -> Path:
    """The scene's file in the store, its SHA-256 checked: a missing or changed file is
    refused (nothing is read from it)."""
    path = (store or scene_store(session)) / f"{scene.sha256}.tif"
    if not path.is_file():
        raise Failure(f"影像 {scene.name} 的文件 {path} 不在影像库中。",
                      f"scene {scene.name}'s file {path} is missing from the scene store.")  # fmt: skip
    sha, _ = _sha256(path)
    if sha != scene.sha256:
        raise Failure(f"影像 {scene.name} 的文件已被改动（SHA-256 不符：{sha[:12]}… ≠ {scene.sha256[:12]}…），拒绝使用。",
                      f"scene {scene.name}'s file was changed (SHA-256 {sha[:12]}… ≠ "
                      f"{scene.sha256[:12]}…): refused.")  # fmt: skip
    return path
