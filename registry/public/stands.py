"""Stands as the public sees them: the current inventory's public attributes, each stand's
project (if any), and its right holder only when that is not a household.

Private, never returned here: household names (农户), the forest-right certificate number
(林权证号), the columns a profile did not know (``extra``: they may hold names, ID numbers or
telephone numbers), and anything not listed in :data:`PUBLIC_STAND_COLUMNS`."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.errors import Invalid
from registry.listings import PageOf
from registry.models import OwnerKind

__all__ = ["PUBLIC_OWNER_KINDS", "PUBLIC_STAND_COLUMNS", "BBox", "check_bbox", "public_owner",
           "public_stands"]  # fmt: skip

PUBLIC_STAND_COLUMNS = ("stand_key", "version", "county_code", "township", "village",
                        "compartment", "subcompartment", "area_ha", "land_class", "forest_use",
                        "origin", "forest_category", "dominant_species", "species_group",
                        "age_years", "age_group", "canopy_closure", "site_class", "land_tenure",
                        "slope_class")  # fmt: skip
"""The stand attributes anyone may read (pages, tiles, the OGC API, open data)."""

PUBLIC_OWNER_KINDS = frozenset({OwnerKind.COLLECTIVE, OwnerKind.STATE, OwnerKind.ENTERPRISE})
"""Right holders named in public: village collectives, state forest farms, enterprises."""

BBox = tuple[float, float, float, float]
"""min longitude, min latitude, max longitude, max latitude (CGCS2000 degrees)."""


def public_owner(name: str | None, kind: str | None) -> str | None:
    """The right holder's name if it may be public (not a household), else None."""
    if name is None or kind is None:
        return None
    return name if kind in PUBLIC_OWNER_KINDS else None


def check_bbox(bbox: BBox) -> None:
    """Refuse a box that is not min lon ≤ max lon, min lat ≤ max lat within the globe."""
    x0, y0, x1, y1 = bbox
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise Invalid(
            f"范围 {bbox} 无效：应为 最小经度,最小纬度,最大经度,最大纬度（度）。",
            f"bad bbox {bbox}: expected min lon, min lat, max lon, max lat (degrees).",
        )


def _has_sqlite_rtree(db: DriverSQL) -> bool:
    found = db.first("SELECT COUNT(*) FROM sqlite_master WHERE name = 'idx_stand_geom'")
    return bool(found and found[0])


def public_stands(
    session: Session, *, limit: int, offset: int, project: str | None = None,
    township: str | None = None, bbox: BBox | None = None, geometry: bool = True,
    stand_key: str | None = None,
) -> PageOf:  # fmt: skip
    """Current stands by key (a stable order) with their public attributes, ``owner`` (public
    kinds only), ``project`` (the project holding the stand, if any) and, when ``geometry``, a
    GeoJSON MultiPolygon in CGCS2000 longitude/latitude (EPSG:4490; within a metre of WGS 84).

    Filters: the project's code, the township, a bounding box (stands whose geometry meets
    it: the spatial index's envelopes first, then the exact test), one stand's key."""
    db = DriverSQL(session)
    # a literal, so that SQLite uses the partial index of current stands (uq_stand_current_key,
    # in stand_key order): a bound parameter cannot match the index's WHERE is_current = 1
    where = ["s.is_current = true" if db.postgres else "s.is_current = 1"]  # fmt: skip
    params: dict[str, Any] = {"l": limit, "f": offset}
    if project is not None:
        where.append("p.code = :project")
        params["project"] = project
    if township is not None:
        where.append("s.township = :township")
        params["township"] = township
    if stand_key is not None:
        where.append("s.stand_key = :key")
        params["key"] = stand_key
    if bbox is not None:
        check_bbox(bbox)
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
        if db.postgres:
            where.append("ST_Intersects(s.geom, ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4490))")
        else:
            if _has_sqlite_rtree(db):
                where.append("s.id IN (SELECT pkid FROM idx_stand_geom WHERE xmax >= :x0 AND "
                             "xmin <= :x1 AND ymax >= :y0 AND ymin <= :y1)")  # fmt: skip
            where.append("ST_Intersects(s.geom, BuildMbr(:x0, :y0, :x1, :y1, 4490)) = 1")
    true = "true" if db.postgres else "1"  # literal: the partial index of active memberships
    joins = (" LEFT JOIN owner o ON o.id = s.owner_id"
             f" LEFT JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active = {true}"
             " LEFT JOIN project p ON p.id = ps.project_id")  # fmt: skip
    clause = " WHERE " + " AND ".join(where)
    base = " FROM stand s" + joins + clause
    # the outer joins add no rows (one owner, at most one active membership per stand): without
    # a project filter the stands are counted alone (fifty times faster on the county)
    counted = base if project is not None else " FROM stand s" + clause
    total = db.first("SELECT COUNT(*)" + counted, params)
    columns = ", ".join(f"s.{c}" for c in PUBLIC_STAND_COLUMNS)
    geo = (
        (", ST_AsGeoJSON(s.geom, 7)" if db.postgres else ", AsGeoJSON(s.geom, 7)")
        if geometry
        else ""
    )
    if project is None:  # the page's stands first (from the index alone), then their joins
        page = f"SELECT s.id FROM stand s{clause} ORDER BY s.stand_key LIMIT :l OFFSET :f"
        sql = f"SELECT {columns}, o.name, o.kind, p.code{geo} FROM stand s{joins} WHERE s.id IN ({page}) ORDER BY s.stand_key"
    else:
        sql = f"SELECT {columns}, o.name, o.kind, p.code{geo}{base} ORDER BY s.stand_key LIMIT :l OFFSET :f"
    rows = db.rows(sql, params)  # fmt: skip
    n = len(PUBLIC_STAND_COLUMNS)
    items = []
    for row in rows:
        item = dict(zip(PUBLIC_STAND_COLUMNS, row[:n], strict=True))
        item["owner"] = public_owner(row[n], row[n + 1])
        item["project"] = row[n + 2]
        if geometry:
            item["geometry"] = json.loads(row[n + 3]) if row[n + 3] else None
        items.append(item)
    return PageOf(items, int(total[0]) if total else 0, limit, offset)
