"""Read inventory files (Shapefile, also inside a .zip; GeoPackage; GeoJSON; FileGDB, a .gdb
folder or zipped) with pyogrio.

Reading does not judge the data (that is :mod:`gis_data.checks`); it only finds the layer,
the text encoding and the declared CRS, and renames columns to canonical names through a field
profile.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from gis_data.encoding import DbfEncoding, detect_dbf_encoding
from gis_data.errors import InventoryReadError, UsageError
from gis_data.profile import FieldProfile

__all__ = ["RawInventory", "choose_layer", "file_fingerprint", "read_inventory"]

SUPPORTED = {
    ".shp": "ESRI Shapefile", ".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON",
    ".gdb": "OpenFileGDB",
}  # fmt: skip
POLYGON_TYPES = ("Polygon", "MultiPolygon", "CurvePolygon", "MultiSurface", "Unknown")
READ_ERRORS = (
    pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FeatureError,
    pyogrio.errors.FieldError, pyogrio.errors.GeometryError, pyogrio.errors.CRSError,
    UnicodeDecodeError, ValueError, OSError, RuntimeError, KeyError, IndexError,
)  # fmt: skip
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


@dataclass
class RawInventory:
    """An inventory as read: canonical columns plus the file's facts."""

    source: str  # the path the user gave
    dataset: str  # what GDAL opened (may be a /vsizip/ path)
    driver: str
    layer: str | None
    frame: gpd.GeoDataFrame  # canonical column names; geometry in the file's CRS (or none)
    file_crs: CRS | None
    columns: dict[str, str]  # canonical -> column name in the file
    extra_columns: list[str]  # file columns the profile does not know (kept as extra attributes)
    encoding: DbfEncoding | None
    fingerprint: str  # sha256 of the file(s) as bytes
    profile: FieldProfile
    layer_warnings: list[tuple[str, str]] = field(default_factory=list)


def _shapefile_parts(path: Path) -> dict[str, Path]:
    parts = {}
    for suffix in SHAPEFILE_SIDECARS:
        for candidate in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
            if candidate.exists():
                parts[suffix] = candidate
                break
    return parts


def file_fingerprint(chunks: list[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(hashlib.sha256(chunk).digest())
    return digest.hexdigest()


def _open_zip(path: Path) -> tuple[str, str, dict[str, bytes]]:
    """Find the one dataset inside a .zip; return (gdal path, suffix, bytes of its parts)."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InventoryReadError(
            f"无法打开压缩包 {str(path)!r}：{exc}。请确认文件完整。",
            f"Cannot open the zip file {str(path)!r}: {exc}. Check that the file is complete.",
        ) from exc
    with archive:
        names = [n for n in archive.namelist() if "__MACOSX" not in n]
        gdbs = sorted({n[: n.lower().index(".gdb/") + 4] for n in names if ".gdb/" in n.lower()})
        files = [n for n in names if not n.endswith("/") and ".gdb/" not in n.lower()]
        datasets = [n for n in files if Path(n).suffix.lower() in SUPPORTED] + gdbs
        if len(datasets) != 1:
            raise InventoryReadError(
                f"压缩包 {str(path)!r} 中应恰好有一个 .shp/.gpkg/.geojson/.gdb，实际找到 {datasets!r}。",
                f"The zip {str(path)!r} must hold exactly one .shp/.gpkg/.geojson/.gdb; found "
                f"{datasets!r}.",
            )
        member = datasets[0]
        suffix = Path(member).suffix.lower()
        parts = {}
        if suffix == ".gdb":
            for name in sorted(n for n in names if n.startswith(member + "/")):
                if not name.endswith("/"):
                    parts[name] = archive.read(name)
        else:
            stem = member[: -len(Path(member).suffix)]
            for name in files:
                if name[: -len(Path(name).suffix) or None] == stem:
                    parts[Path(name).suffix.lower()] = archive.read(name)
    return f"/vsizip/{path.resolve()}/{member}", suffix, parts


def _redecode_latin1(frame: gpd.GeoDataFrame, encoding: str) -> gpd.GeoDataFrame:
    """Turn text read as Latin-1 back into bytes and decode them as ``encoding``, in place."""
    codec = {"GBK": "gbk", "GB18030": "gb18030", "UTF-8": "utf-8"}[encoding]
    for name in frame.columns:
        column = frame[name]
        if name == getattr(frame, "_geometry_column_name", None):
            continue
        if not (pd.api.types.is_string_dtype(column.dtype) or column.dtype == object):
            continue
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        if not len(uniques):
            continue
        # undecodable bytes were found and reported per record by detect_dbf_encoding; they
        # are replaced here only so the report can show the rest, and are never stored
        decoded = np.array(
            [
                u.encode("latin-1").decode(codec, "replace") if isinstance(u, str) else u
                for u in uniques
            ],
            dtype=object,
        )
        values = decoded[np.maximum(codes, 0)]
        values[codes < 0] = None
        frame[name] = pd.Series(values, index=frame.index, dtype=object)
    geometry_name = getattr(frame, "_geometry_column_name", None)
    renamed = {}
    for name in frame.columns:
        if name == geometry_name or not isinstance(name, str):
            continue
        try:
            raw = name.encode("latin-1")
        except UnicodeEncodeError:
            continue
        # a .dbf keeps 10 bytes of a name: a cut double-byte character is dropped
        renamed[name] = raw.decode(codec, errors="ignore")
    return frame.rename(columns=renamed)


def _gdb_blobs(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def _check_shp_length(shp: bytes, source: str) -> None:
    """A .shp states its own length (bytes 24–27, big-endian, in 16-bit words): a file cut
    short in transfer is refused whole, not read as stands without geometry."""
    stated = struct.unpack(">i", shp[24:28])[0] * 2 if len(shp) >= 100 else -1
    if stated != len(shp):
        raise InventoryReadError(
            f"{source!r} 的 .shp 已损坏或不完整：文件头记载 {stated} 字节，实际 {len(shp)} 字节。"
            "请重新拷贝或导出。",
            f"The .shp of {source!r} is damaged or incomplete: its header says {stated} bytes, "
            f"the file has {len(shp)}. Copy or export it again.",
        )


def choose_layer(dataset: str, source: str, layer: str | None) -> tuple[str, list[tuple[str, str]]]:
    """The layer to read: ``layer`` if the file has it; else the only polygon layer.

    Several polygon layers and no ``--layer`` is refused (bad usage) with the list, never a
    silent pick of the first.
    """
    try:
        layers = [(str(name), str(gtype)) for name, gtype in pyogrio.list_layers(dataset)]
    except READ_ERRORS as exc:
        raise InventoryReadError(
            f"无法读取 {source!r}：{exc}。文件可能损坏或不是有效的矢量数据。",
            f"Cannot read {source!r}: {exc}. The file may be damaged or not vector data.",
        ) from exc
    if not layers:
        raise InventoryReadError(f"{source!r} 中没有图层。", f"{source!r} holds no layer.")
    listing = "、".join(f"{n}（{t}）" for n, t in layers)
    listing_en = ", ".join(f"{n} ({t})" for n, t in layers)
    if layer is not None:
        if layer not in [n for n, _ in layers]:
            raise UsageError(
                f"{source!r} 中没有图层 {layer!r}。可用图层：{listing}。",
                f"{source!r} has no layer {layer!r}. Layers: {listing_en}.",
            )
        return layer, []
    polygons = [n for n, t in layers if t.split(" ")[0] in POLYGON_TYPES]
    if len(polygons) > 1:
        raise UsageError(
            f"{source!r} 有 {len(polygons)} 个面图层，不会替您选择：{listing}。请用 --layer 图层名 指定小班图层。",
            f"{source!r} has {len(polygons)} polygon layers and tanhui will not pick one: "
            f"{listing_en}. Name the stand layer with --layer NAME.",
        )
    chosen = polygons[0] if polygons else layers[0][0]
    warnings = []
    if len(layers) > 1:
        warnings.append(
            (
                f"文件含 {len(layers)} 个图层（{listing}），读取唯一的面图层 {chosen!r}。",
                f"The file has {len(layers)} layers ({listing_en}); the only polygon layer, "
                f"{chosen!r}, is read.",
            )
        )
    return chosen, warnings


def _geojson_declares_crs(blob: bytes) -> bool:
    return b'"crs"' in blob


def read_inventory(
    path: Path,
    profile: FieldProfile,
    encoding: str | None = None,
    layer: str | None = None,
) -> RawInventory:
    """Read an inventory file into canonical columns.

    ``encoding`` forces the attribute encoding (e.g. ``"GBK"``); otherwise a Shapefile's .dbf
    is examined by :func:`gis_data.encoding.detect_dbf_encoding` (a .cpg is checked against
    the bytes). GeoPackage, GeoJSON and FileGDB are UTF-8 by their specifications. ``layer``
    chooses the layer of a GeoPackage or FileGDB (required when it has several polygon layers).
    """
    path = Path(path)
    source = str(path)
    if not path.exists():
        raise InventoryReadError(
            f"找不到文件 {source!r}。请检查路径。",
            f"File not found: {source!r}. Check the path.",
        )
    suffix = path.suffix.lower()
    if suffix == ".zip":
        dataset, suffix, blobs = _open_zip(path)
    elif suffix == ".gdb" and path.is_dir():
        dataset = str(path)
        blobs = _gdb_blobs(path)
    elif suffix in SUPPORTED and path.is_file():
        dataset = str(path)
        if suffix == ".shp":
            blobs = {s: p.read_bytes() for s, p in _shapefile_parts(path).items()}
        else:
            blobs = {suffix: path.read_bytes()}
    else:
        raise InventoryReadError(
            f"不支持的文件类型 {path.suffix!r}（{source!r}）。支持 .shp、.zip（内含 .shp 或 .gdb）、"
            ".gpkg、.geojson、.gdb 文件夹。",
            f"Unsupported file type {path.suffix!r} ({source!r}). Supported: .shp, .zip "
            "(holding a .shp or a .gdb), .gpkg, .geojson, a .gdb folder.",
        )
    driver = SUPPORTED[suffix]
    detected: DbfEncoding | None = None
    read_encoding = encoding
    if driver == "ESRI Shapefile":
        for needed in (".shp", ".shx", ".dbf"):
            if needed not in blobs:
                raise InventoryReadError(
                    f"Shapefile {source!r} 缺少 {needed} 文件。Shapefile 至少需要 .shp、.shx、.dbf。",
                    f"Shapefile {source!r} has no {needed} file; a Shapefile needs .shp, .shx "
                    "and .dbf together.",
                )
        _check_shp_length(blobs[".shp"], source)
        if encoding is None:
            cpg = blobs[".cpg"].decode("latin-1") if ".cpg" in blobs else None
            try:
                detected = detect_dbf_encoding(blobs[".dbf"], cpg)
            except (struct.error, ValueError, IndexError) as exc:
                raise InventoryReadError(
                    f"{source!r} 的 .dbf 属性表已损坏：{exc}。",
                    f"The .dbf attribute table of {source!r} is damaged: {exc}.",
                ) from exc
            read_encoding = detected.encoding
    if driver not in ("GPKG", "OpenFileGDB") and layer is not None:
        raise UsageError(
            "--layer 只用于 GeoPackage 和 FileGDB。",
            "--layer applies to GeoPackage and FileGDB only.",
        )
    layer, warnings = choose_layer(dataset, source, layer)
    try:
        # GBK via GDAL's iconv is slow; Latin-1 maps every byte to one character, so we
        # read as Latin-1 and decode the distinct values of each text column ourselves.
        latin1_then = (
            read_encoding
            if driver == "ESRI Shapefile" and read_encoding in ("GBK", "GB18030", "UTF-8")
            else None
        )
        frame = pyogrio.read_dataframe(
            dataset,
            layer=layer,
            encoding="ISO-8859-1" if latin1_then else read_encoding,
            use_arrow=True,
            fid_as_index=False,
        )
        if latin1_then:
            frame = _redecode_latin1(frame, latin1_then)
    except READ_ERRORS as exc:
        raise InventoryReadError(
            f"无法读取 {source!r}（图层 {layer!r}）：{exc}。文件可能损坏或不是有效的矢量数据。",
            f"Cannot read {source!r} (layer {layer!r}): {exc}. The file may be damaged or not "
            "vector data.",
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InventoryReadError(
            f"{source!r} 没有几何列，不是空间数据。",
            f"{source!r} has no geometry column; it is not spatial data.",
        )
    file_crs = frame.crs
    if driver == "GeoJSON" and not _geojson_declares_crs(next(iter(blobs.values()))):
        # RFC 7946 GeoJSON is longitude/latitude; metres without a "crs" member are a file
        # whose CRS was lost, not WGS 84: treat it like a Shapefile without .prj
        minx, miny, maxx, maxy = frame.total_bounds if len(frame) else (0, 0, 0, 0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            file_crs = None
    attribute_columns = [c for c in frame.columns if c != frame.geometry.name]
    columns = profile.match_columns(attribute_columns)
    used = set(columns.values())
    extra = [c for c in attribute_columns if c not in used]
    renamed = pd.DataFrame({canon: frame[col] for canon, col in columns.items()})
    for col in extra:
        renamed[f"extra:{col}"] = frame[col]
    out = gpd.GeoDataFrame(renamed, geometry=frame.geometry.values, crs=file_crs)
    return RawInventory(
        source=source,
        dataset=dataset,
        driver=driver,
        layer=layer,
        frame=out,
        file_crs=file_crs,
        columns=columns,
        extra_columns=extra,
        encoding=detected,
        fingerprint=file_fingerprint([blobs[k] for k in sorted(blobs)]),
        profile=profile,
        layer_warnings=warnings,
    )


def read_area_of_interest(path: Path) -> Any:
    """Union of the polygons of a file, in CGCS2000 (EPSG:4490); the file must declare its CRS."""
    from shapely import union_all

    from gis_data.crs import STORAGE_CRS

    path = Path(path)
    try:
        frame = pyogrio.read_dataframe(str(path), use_arrow=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InventoryReadError(
            f"无法读取范围文件 {str(path)!r}：{exc}",
            f"cannot read the area file {str(path)!r}: {exc}",
        ) from exc
    if frame.crs is None:
        raise InventoryReadError(
            f"范围文件 {str(path)!r} 没有坐标系（缺少 .prj），请补上。",
            f"the area file {str(path)!r} has no CRS (no .prj); add one.",
        )
    polygons = frame.to_crs(STORAGE_CRS).geometry
    polygons = polygons[polygons.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        raise InventoryReadError(
            f"范围文件 {str(path)!r} 中没有面要素。",
            f"the area file {str(path)!r} holds no polygon.",
        )
    return union_all(polygons.values)
