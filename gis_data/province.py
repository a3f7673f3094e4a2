"""A synthetic multi-county 小班 inventory for province-scale runs (bench/province).

SYNTHETIC DATA — no record describes a real stand, county or person. Each county is the
synthetic Shuangpai sample (:func:`gis_data.sample.generate_sample_inventory`, its own seed)
moved side by side on a grid in CGCS2000 / 3-degree Gauss–Krüger zone 37 (EPSG:4525), so the
counties never overlap. Each gets its own county code ``439NNN`` — the prefecture number 439x
does not exist in Hunan, so the codes cannot be mistaken for real counties — and its own
township names (``合成NNN县`` before the sample's), so that a township names one area only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from gis_data.sample import SAMPLE_CRS, SYNTHETIC_NOTE, generate_sample_inventory

__all__ = ["county_code", "generate_county", "write_province_inventory"]

GRID_COLUMNS = 5  # counties per grid row
GAP_M = 2_000.0  # m between neighbouring counties' extents


def county_code(index: int) -> str:
    """The synthetic county code of county ``index`` (0-based): ``439001``, ``439002``, …"""
    return f"439{index + 1:03d}"


def generate_county(index: int, n_stands: int, seed: int = 4300) -> gpd.GeoDataFrame:
    """County ``index`` of the province: the sample with ``n_stands`` stands (seed ``seed +
    index``), moved to its grid cell (column ``index % 5``, row ``index // 5``); EPSG:4525."""
    frame = generate_sample_inventory(n_stands, seed + index)
    x0, y0, x1, y1 = frame.total_bounds
    # every county's extent is about the same (the same boundary), so a fixed pitch suffices
    dx = (index % GRID_COLUMNS) * (x1 - x0 + GAP_M)
    dy = -(index // GRID_COLUMNS) * (y1 - y0 + GAP_M)
    code = county_code(index)
    frame["XIAN"] = code
    frame["XIANG"] = f"合成{code[3:]}县" + frame["XIANG"].astype(str)
    moved = shapely.transform(frame.geometry.values, lambda xy: xy + np.array([dx, dy]))
    return frame.set_geometry(gpd.GeoSeries(moved, crs=SAMPLE_CRS, index=frame.index))


def province_counties(
    n_counties: int, stands_per_county: int, seed: int = 4300
) -> Iterator[gpd.GeoDataFrame]:
    """The counties one after another (one county in memory at a time)."""
    for index in range(n_counties):
        yield generate_county(index, stands_per_county, seed)


def write_province_inventory(
    path: Path, n_counties: int = 20, stands_per_county: int = 50_000, seed: int = 4300,
    progress: bool = False,
) -> Path:  # fmt: skip
    """Write the province (``n_counties`` × ``stands_per_county`` stands) as one GeoPackage
    layer ``xiaoban`` (``.gpkg``) or a FlatGeobuf (``.fgb``), county by county (appended, so
    memory holds one county). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    driver = "FlatGeobuf" if path.suffix == ".fgb" else "GPKG"
    for index, county in enumerate(province_counties(n_counties, stands_per_county, seed)):
        options: dict[str, Any] = {"layer": "xiaoban"} if driver == "GPKG" else {}
        if index == 0 and driver == "GPKG":
            options["layer_options"] = {"DESCRIPTION": f"合成省级小班 {SYNTHETIC_NOTE}"}
        # declared MultiPolygon (a county's first stands may all be single polygons)
        pyogrio.write_dataframe(county, path, driver=driver, append=index > 0,
                                promote_to_multi=True, **options)  # fmt: skip
        if progress:
            print(f"  county {county_code(index)}: {len(county):,} stands", flush=True)
    return path
