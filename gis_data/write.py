"""Write stands to GeoPackage, GeoJSON, Shapefile (UTF-8 with .cpg) or Excel."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gis_data.errors import InventoryReadError

__all__ = ["EXPORT_FORMATS", "write_stands"]

EXPORT_FORMATS = {"gpkg": "GPKG", "geojson": "GeoJSON", "shp": "ESRI Shapefile", "xlsx": None}


def write_stands(frame: gpd.GeoDataFrame, path: Path, fmt: str, layer: str = "xiaoban") -> Path:
    """Write ``frame`` as ``fmt``; spatial formats keep the CRS, Excel keeps attributes only."""
    if fmt not in EXPORT_FORMATS:
        raise InventoryReadError(
            f"不支持的导出格式 {fmt!r}，可选：{', '.join(EXPORT_FORMATS)}。",
            f"Unsupported export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}.",
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table.to_excel(path, index=False, sheet_name="小班")
        return path
    if fmt == "shp":
        for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            path.with_suffix(suffix).unlink(missing_ok=True)
        pyogrio.write_dataframe(
            frame, path, driver="ESRI Shapefile", encoding="UTF-8", layer_options={"RESIZE": "YES"}
        )
        return path
    path.unlink(missing_ok=True)
    if fmt == "gpkg":
        pyogrio.write_dataframe(frame, path, driver="GPKG", layer=layer)
    else:
        pyogrio.write_dataframe(frame, path, driver="GeoJSON")
    return path
