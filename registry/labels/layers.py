"""Polygon layers for the labels' spatial tests (a water-source protection zone, a protected
area …), loaded from files and kept in ``label_layer`` / ``label_layer_polygon``.

A layer file (GeoPackage, Shapefile, GeoJSON; read by pyogrio through GDAL, its layer chosen as
for inventories, :func:`gis_data.read.choose_layer`) must declare its CRS; its polygons are
reprojected to CGCS2000 (EPSG:4490) with pyproj, repaired if invalid (``make_valid``, the
polygonal part kept) and stored as multipolygons with a spatial index (SpatiaLite's R*Tree or
PostGIS's GiST). A file that cannot be read, has no CRS, holds no polygon or falls outside
China is refused with a bilingual error and nothing is stored; so is a file with a degenerate
feature (its points on one line, or nothing polygonal left after repair), named by its number
(and its id field, if it has one).

Only the geometry and the feature's number are stored: none of the file's attributes (a layer
file may carry owners' names or ID numbers, and the criteria read only the polygons). The
file's SHA-256 identifies what was loaded.

The share of a stand inside a layer: candidates from the spatial index, then
``area(stand ∩ ⋃ candidates) / area(stand)`` with both areas on one Lambert azimuthal
equal-area projection of the CGCS2000 ellipsoid centred on the stand and its candidates
(:func:`gis_data.checks.area_ha`) — a ratio of areas, dimensionless, 0–1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import BadLabelInput, LabelConflict, UnknownLabel
from registry.labels.catalogue import sha256_of_file
from registry.results import Result
from registry.vocabulary import Role

__all__ = ["LayerInfo", "inside_shares", "list_layers", "load_layer", "read_layer_file"]

SUFFIXES = (".gpkg", ".shp", ".geojson", ".json")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
LAYER_EDITORS = (Role.ADMIN, Role.BUREAU_STAFF)
# columns that name a feature in an error message (compared lower-cased); never stored
ID_FIELDS = ("id", "fid", "objectid", "code", "编号", "编码", "name", "名称")


@dataclass(frozen=True)
class LayerInfo(Result):
    name: str
    source_name: str
    file_sha256: str
    source_crs: str
    n_polygons: int
    area_ha: float
    loaded_by: str
    loaded_at: str


def _refuse(path: Path, zh: str, en: str) -> BadLabelInput:
    return BadLabelInput(f"图层文件 {path.name!r}：{zh}", f"layer file {path.name!r}: {en}")


def _feature_name(frame: Any, position: int) -> tuple[str, str]:
    """How an error names a feature: its number in the file (1-based) and, if the file has an
    id field (:data:`ID_FIELDS`), its value there — (zh, en)."""
    row = frame.iloc[position]
    number = int(frame.index[position]) + 1  # the file's order (features without geometry too)
    for column in frame.columns:
        if str(column).strip().lower() in ID_FIELDS and column != frame.geometry.name:
            value = row[column]
            if value is not None and str(value) not in ("", "nan"):
                return (f"第 {number} 个要素（{column} = {value}）",
                        f"feature {number} ({column} = {value})")  # fmt: skip
    return f"第 {number} 个要素", f"feature {number}"


def _polygonal(geom: Any) -> Any:
    """The polygonal part of a geometry, repaired if invalid (``make_valid``), as a multipolygon
    (empty when nothing polygonal with an area is left)."""
    fixed = geom if shapely.is_valid(geom) else shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p) if not q.is_empty and q.area > 0]
    return shapely.MultiPolygon(polys)


def read_layer_file(path: Path, layer: str | None = None) -> tuple[Any, str]:
    """(CGCS2000 multipolygons, the file's CRS) of a polygon layer file; the attributes are not
    read further (nothing of them is stored)."""
    import pyogrio

    from gis_data.crs import STORAGE_CRS, check_in_china
    from gis_data.errors import GisDataError
    from gis_data.read import READ_ERRORS, choose_layer

    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise _refuse(path, f"格式不支持（可用：{'、'.join(SUFFIXES)}）",
                      f"the format is not supported (use {', '.join(SUFFIXES)})")  # fmt: skip
    if not path.is_file():
        raise _refuse(path, "文件不存在", "no such file")
    try:
        chosen, _ = choose_layer(str(path), path.name, layer)
        frame = pyogrio.read_dataframe(str(path), layer=chosen)
    except GisDataError as exc:
        raise _refuse(
            path, str(getattr(exc, "message_zh", exc)), str(getattr(exc, "message_en", exc))
        ) from exc
    except READ_ERRORS as exc:
        raise _refuse(path, f"无法读取（{exc}）", f"cannot be read ({exc})") from exc
    if frame.crs is None:
        raise _refuse(
            path, "没有声明坐标系（如缺 .prj），请补上", "declares no CRS (e.g. no .prj); add one"
        )
    frame = frame[frame.geometry.notna()]
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if not bool(polygonal.any()):
        raise _refuse(path, "没有面要素", "holds no polygon")
    if not bool(polygonal.all()):
        bad = int((~polygonal).sum())
        raise _refuse(path, f"有 {bad} 个非面要素（第一个为第 {int(np.flatnonzero(~polygonal.to_numpy())[0]) + 1} 个）",
                      f"{bad} features are not polygons (the first is feature {int(np.flatnonzero(~polygonal.to_numpy())[0]) + 1})")  # fmt: skip
    source_crs = frame.crs.to_string()
    try:
        projected = frame.to_crs(STORAGE_CRS)
    except Exception as exc:  # pyproj's own errors: a CRS it cannot transform
        raise _refuse(path, f"坐标系 {source_crs} 无法转换到 CGCS2000（{exc}）",
                      f"the CRS {source_crs} cannot be transformed to CGCS2000 ({exc})") from exc  # fmt: skip
    geoms = []
    source = frame.geometry.to_numpy()
    for position, g in enumerate(projected.geometry.to_numpy()):
        # degenerate in the file's own coordinates (points on a line there become a sliver of
        # nearly no area once reprojected) or after reprojection
        fixed = _polygonal(g)
        if fixed.is_empty or _polygonal(source[position]).is_empty:
            zh, en = _feature_name(frame, position)
            raise _refuse(path, f"{zh}是退化的面（点共线或面积为零，修复后无面可留），请在 GIS 中修正或删除后重新载入",
                          f"{en} is a degenerate polygon (its points lie on a line or it has no area; "
                          "nothing polygonal is left after repair): fix or delete it in a GIS and load "
                          "the file again")  # fmt: skip
        geoms.append(fixed)
    bounds = tuple(float(b) for b in projected.total_bounds)
    if not all(np.isfinite(bounds)):
        raise _refuse(path, "坐标无法换算", "coordinates cannot be transformed")
    try:
        check_in_china((bounds[0], bounds[1], bounds[2], bounds[3]), frame.crs, path.name)
    except GisDataError as exc:
        raise _refuse(
            path, str(getattr(exc, "message_zh", exc)), str(getattr(exc, "message_en", exc))
        ) from exc
    return np.array(geoms, dtype=object), source_crs


def load_layer(
    session: Session, actor: Actor, name: str, path: Path, layer: str | None = None
) -> LayerInfo:
    """Load a polygon layer file under ``name`` (admin or bureau staff). A name already used
    is refused: a layer is never replaced (load a new version under a new name)."""
    from gis_data.checks import area_ha

    require_any_role(actor, LAYER_EDITORS, "载入标签图层 / load a label layer")
    name = name.strip()
    if not name or not set(name) <= NAME_CHARS or len(name) > 64:
        raise BadLabelInput(
            f"图层名 {name!r} 只能用小写字母、数字、_ 和 -（至多 64 个）。",
            f"layer name {name!r} may hold lower-case letters, digits, _ and - (64 at most).",
        )
    db = DriverSQL(session)
    if db.first("SELECT 1 FROM label_layer WHERE name = :n", {"n": name}):
        raise LabelConflict(
            f"已有图层 {name}：图层不替换，请用新名称载入新版本。",
            f"a layer {name} exists already: layers are never replaced; load the new version "
            "under a new name.",
        )
    geoms, source_crs = read_layer_file(Path(path), layer)
    digest = sha256_of_file(Path(path))
    total = float(area_ha(np.array([shapely.union_all(geoms)], dtype=object))[0])
    now = datetime.now(UTC)
    row = db.first(
        "INSERT INTO label_layer (name, source_name, file_sha256, source_crs, n_polygons, area_ha, "
        "loaded_by, loaded_at) VALUES (:n, :s, :h, :c, :k, :a, :by, :t) RETURNING id",
        {"n": name, "s": Path(path).name, "h": digest, "c": source_crs, "k": len(geoms),
         "a": total, "by": actor.label, "t": now},
    )  # fmt: skip
    assert row is not None
    layer_id = int(row[0])
    for i, geom in enumerate(geoms):
        db.rows(
            "INSERT INTO label_layer_polygon (layer_id, feature_no, geom) "
            "VALUES (:l, :n, ST_GeomFromWKB(:g, 4490))",
            {"l": layer_id, "n": i + 1, "g": shapely.to_wkb(geom)},
        )
    append_event(session, actor=actor.label, action="label.layer_loaded", entity_type="label_layer",
                 entity_id=name, payload={"name": name, "source": Path(path).name, "sha256": digest,
                                          "source_crs": source_crs, "n_polygons": len(geoms),
                                          "area_ha": round(total, 4)})  # fmt: skip
    return _info(db, name)


def _info(db: DriverSQL, name: str) -> LayerInfo:
    row = db.first(
        "SELECT name, source_name, file_sha256, source_crs, n_polygons, area_ha, loaded_by, loaded_at "
        "FROM label_layer WHERE name = :n", {"n": name},
    )  # fmt: skip
    if row is None:
        raise UnknownLabel(
            f"没有名为 {name!r} 的标签图层（须先载入）。",
            f"no label layer named {name!r} (load it first).",
        )
    at = row[7].isoformat() if hasattr(row[7], "isoformat") else str(row[7])
    return LayerInfo(str(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]),
                     float(row[5]), str(row[6]), at)  # fmt: skip


def list_layers(session: Session) -> list[LayerInfo]:
    db = DriverSQL(session)
    return [_info(db, str(r[0])) for r in db.rows("SELECT name FROM label_layer ORDER BY name")]


def layer_digest(session: Session, name: str) -> str:
    """The SHA-256 of the file a layer was loaded from (refused if no such layer)."""
    return _info(DriverSQL(session), name).file_sha256


def inside_shares(session: Session, name: str, stands: dict[str, Any]) -> dict[str, float]:
    """For each stand (key → CGCS2000 geometry) the share of its area inside the layer (0–1)."""
    from gis_data.checks import area_ha

    db = DriverSQL(session)
    found = db.first("SELECT id FROM label_layer WHERE name = :n", {"n": name})
    if found is None:
        _info(db, name)  # raises the bilingual "no such layer"
    assert found is not None
    layer_id = int(found[0])
    out = dict.fromkeys(stands, 0.0)
    keys = sorted(stands)
    if db.postgres:
        spatial = "ST_Intersects(p.geom, ST_GeomFromWKB(:g, 4490))"
    else:
        spatial = ("p.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'label_layer_polygon' "
                   "AND f_geometry_column = 'geom' AND search_frame = ST_GeomFromWKB(:g, 4490)) "
                   "AND ST_Intersects(p.geom, ST_GeomFromWKB(:g, 4490))")  # fmt: skip
    for key in keys:
        rows = db.rows(
            f"SELECT ST_AsBinary(p.geom) FROM label_layer_polygon p WHERE p.layer_id = :l AND {spatial}",
            {"l": layer_id, "g": shapely.to_wkb(stands[key])},
        )
        if not rows:
            continue
        stand = stands[key]
        cover = shapely.union_all([shapely.from_wkb(bytes(r[0])) for r in rows])
        shared = shapely.intersection(stand, cover)
        both = area_ha(np.array([stand, shared], dtype=object))
        out[key] = float(min(1.0, both[1] / both[0])) if both[0] > 0 else 0.0
    return out
