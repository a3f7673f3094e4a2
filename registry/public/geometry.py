"""Where things are, as the public sees them: project boundaries (the union of a project's
active stands, stored on the project when its stands change), which projects meet a bounding
box, and the extents of the current stands and of the projects.

Coordinates are CGCS2000 longitude/latitude (EPSG:4490), the registry's storage; CGCS2000 and
WGS 84 agree within a metre, so GeoJSON and OGC API clients read them as WGS 84 (CRS84)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.public.stands import BBox, check_bbox

__all__ = ["project_boundaries", "projects_extent", "projects_meeting", "stands_extent"]


def project_boundaries(session: Session, codes: list[str] | None = None) -> dict[str, Any]:
    """Each project's boundary as a GeoJSON MultiPolygon (7 decimals, about 1 cm), or None for a
    project without stands; ``codes``: only these projects (all when None)."""
    db = DriverSQL(session)
    geo = "ST_AsGeoJSON(boundary, 7)" if db.postgres else "AsGeoJSON(boundary, 7)"
    rows = db.rows(f"SELECT code, {geo} FROM project ORDER BY code")
    wanted = None if codes is None else set(codes)
    return {
        str(code): (json.loads(text) if text else None)
        for code, text in rows
        if wanted is None or code in wanted
    }


def projects_meeting(session: Session, bbox: BBox) -> set[str]:
    """The codes of the projects whose boundary meets the box (min lon, min lat, max lon,
    max lat; degrees): an exact intersection test, not only the envelopes'."""
    check_bbox(bbox)
    db = DriverSQL(session)
    box = (
        "ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490)"
        if db.postgres
        else "BuildMbr(:x0, :y0, :x1, :y1, 4490)"
    )
    test = f"ST_Intersects(boundary, {box})" + ("" if db.postgres else " = 1")
    rows = db.rows(
        f"SELECT code FROM project WHERE boundary IS NOT NULL AND {test}",
        {"x0": bbox[0], "y0": bbox[1], "x1": bbox[2], "y1": bbox[3]},
    )
    return {str(r[0]) for r in rows}


def _extent(
    db: DriverSQL, column: str, table_where: str, params: dict[str, Any] | None = None
) -> BBox | None:
    if db.postgres:
        sql = (f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
               f"(SELECT ST_Extent({column}) AS e FROM {table_where}) x")  # fmt: skip
    else:
        sql = (f"SELECT MbrMinX(e), MbrMinY(e), MbrMaxX(e), MbrMaxY(e) FROM "
               f"(SELECT Extent({column}) AS e FROM {table_where}) x")  # fmt: skip
    row = db.first(sql, params)
    if row is None or row[0] is None:
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def stands_extent(session: Session) -> BBox | None:
    """The bounding box of the current stands (None when there are none)."""
    return _extent(DriverSQL(session), "geom", "stand WHERE is_current = :cur", {"cur": True})


def projects_extent(session: Session) -> BBox | None:
    """The bounding box of every project's boundary (None when no project has stands)."""
    return _extent(DriverSQL(session), "boundary", "project WHERE boundary IS NOT NULL")
