"""The stands a raster is read over: every current stand of the county, or the active stands of
one project, with the project (if any) whose active membership holds each. Stand keys and
geometry only — no owner, no name."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.models import STORAGE_SRID

__all__ = ["stand_frame"]


def stand_frame(session: Session, project: str | None = None) -> gpd.GeoDataFrame:
    """Columns ``stand_key``, ``project_code`` (None outside every project) and ``geometry``
    (CGCS2000, EPSG:4490), by stand key; ``project``: only that project's active stands (its
    code checked by the caller)."""
    sql = (
        "SELECT s.stand_key, p.code, ST_AsBinary(s.geom) FROM stand s "
        "LEFT JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active "
        "LEFT JOIN project p ON p.id = ps.project_id WHERE s.is_current"
    )
    params: dict[str, object] = {}
    if project is not None:
        sql += " AND p.code = :p"
        params["p"] = project
    rows = DriverSQL(session).rows(sql + " ORDER BY s.stand_key", params)
    # object dtype: pandas' string dtype would turn None into NaN (printed "nan")
    codes = pd.Series([None if r[1] is None else str(r[1]) for r in rows], dtype=object)
    return gpd.GeoDataFrame(
        {"stand_key": [str(r[0]) for r in rows], "project_code": codes},
        geometry=[shapely.from_wkb(bytes(r[2])) for r in rows], crs=STORAGE_SRID,
    )  # fmt: skip
