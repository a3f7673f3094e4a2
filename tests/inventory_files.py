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
