"""Helpers that write small inventory files for tests (real files, real drivers)."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pyogrio

from gis_data.sample import generate_sample_inventory

SAMPLE_STANDS = 120
SAMPLE_SEED = 7


def sample_frame(n: int = SAMPLE_STANDS, seed: int = SAMPLE_SEED) -> gpd.GeoDataFrame:
    return generate_sample_inventory(n, seed)


def write_shapefile_gbk_no_cpg(frame: gpd.GeoDataFrame, path: Path, prj: bool = True) -> Path:
    """A Shapefile as bureaus send it: GBK .dbf, no .cpg, language-driver byte 0."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(
        frame, path, driver="ESRI Shapefile", encoding="GBK", layer_options={"RESIZE": "YES"}
    )
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0
    dbf.write_bytes(bytes(raw))
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def write_gpkg(frame: gpd.GeoDataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, driver="GPKG", layer="xiaoban")
    return path


def copy_shapefile(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for part in src.parent.glob(src.stem + ".*"):
        shutil.copy(part, dst_dir / part.name)
    return dst_dir / src.name


SLOPE_NAMES = {"1": "平坡", "2": "缓坡", "3": "斜坡", "4": "陡坡", "5": "急坡", "6": "险坡"}


def with_slope_class_names(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The sample with 坡度 written as class names (平坡 … 险坡) instead of degrees."""
    from gis_data.sample import slope_class_codes

    out = frame.copy()
    codes = slope_class_codes(out["PO_DU"].to_numpy(dtype=float))
    out["PO_DU"] = [SLOPE_NAMES[c] for c in codes]
    return out


def write_shapefile(frame: gpd.GeoDataFrame, path: Path, encoding: str, cpg: str | None) -> Path:
    """A Shapefile whose .dbf is in ``encoding`` and whose .cpg says ``cpg`` (None: no .cpg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(
        frame, path, driver="ESRI Shapefile", encoding=encoding, layer_options={"RESIZE": "YES"}
    )
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # no language driver byte: only the .cpg and the bytes speak
    dbf.write_bytes(bytes(raw))
    path.with_suffix(".cpg").unlink(missing_ok=True)
    if cpg is not None:
        path.with_suffix(".cpg").write_text(cpg, encoding="ascii")
    return path
