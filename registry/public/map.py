"""What the county map shows, read through the public surfaces so that the map, the pages, the
OGC API and the open data agree: every current stand with its public attributes (from
:func:`~registry.public.stands.public_stands`, so household names, 林权证号 and ``extra`` never
reach a tile), and every project's boundary with its library card's figures (from
:func:`~registry.public.library.library_page`).

Also the audit head (sequence number and hash of the newest audit event): every change to the
registry writes an audit event, so the head names the state of the data a tile set was built
from."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.public.library import LibraryQuery, ProjectCard, library_page
from registry.public.stands import public_stands
from registry.results import Result

__all__ = [
    "PROJECT_PROPERTIES",
    "ProjectPlace",
    "count_public_stands",
    "project_features",
    "project_places",
    "stand_features",
]

PROJECT_PROPERTIES = ("code", "name", "status", "methodology", "methodology_name",
                      "area_ha", "stands", "start_date", "crediting_end", "issued", "retired",
                      "in_buffer")  # fmt: skip
"""A project's public figures carried by the map's ``projects`` layer (from its library card)."""


def count_public_stands(session: Session) -> int:
    """The number of current stands (what the map's ``stands`` layer holds)."""
    return public_stands(session, limit=0, offset=0, geometry=False).total


def stand_features(session: Session, batch: int = 5000) -> Iterator[dict[str, Any]]:
    """Every current stand as a GeoJSON Feature (CGCS2000 longitude/latitude, EPSG:4490, within
    a metre of WGS 84) whose properties are the public attributes, the public owner and the
    project; empty values are left out. Read in pages of ``batch`` stands in key order."""
    offset = 0
    while True:
        page = public_stands(session, limit=batch, offset=offset)
        for item in page.items:
            geometry = item.pop("geometry")
            if geometry is None:
                continue
            properties = {k: v for k, v in item.items() if v is not None}
            yield {"type": "Feature", "geometry": geometry, "properties": properties}
        offset += batch
        if offset >= page.total or not page.items:
            return


def _cards(session: Session) -> dict[str, ProjectCard]:
    cards, _ = library_page(session, LibraryQuery(), limit=1_000_000, offset=0)
    return {c.code: c for c in cards}


def project_features(session: Session) -> list[dict[str, Any]]:
    """Every project with a boundary (the union of its active stands) as a GeoJSON Feature with
    :data:`PROJECT_PROPERTIES` from its library card."""
    db = DriverSQL(session)
    as_json = "ST_AsGeoJSON(boundary, 7)" if db.postgres else "AsGeoJSON(boundary, 7)"
    rows = db.rows(f"SELECT code, {as_json} FROM project WHERE boundary IS NOT NULL ORDER BY code")
    cards = _cards(session)
    out = []
    for code, geometry in rows:
        card = cards.get(str(code))
        if card is None or not geometry:
            continue
        properties = {k: getattr(card, k) for k in PROJECT_PROPERTIES}
        out.append({"type": "Feature", "geometry": json.loads(geometry), "properties": properties})
    return out


@dataclass(frozen=True)
class ProjectPlace(Result):
    """Where a project lies on the map: its card, the bounding box of its boundary (min lon,
    min lat, max lon, max lat; degrees) and a point for its label, inside the largest piece of
    the boundary (a project's stands may lie scattered over the county); None for a project
    without stands."""

    card: ProjectCard
    bbox: tuple[float, float, float, float] | None
    label: tuple[float, float] | None


def project_places(session: Session) -> list[ProjectPlace]:
    """Every project (by code) with its bounding box and label point."""
    import shapely

    db = DriverSQL(session)
    as_wkb = "ST_AsBinary(boundary)" if db.postgres else "AsBinary(boundary)"
    shapes = {
        str(code): shapely.from_wkb(bytes(wkb))
        for code, wkb in db.rows(f"SELECT code, {as_wkb} FROM project WHERE boundary IS NOT NULL")
        if wkb is not None
    }
    places = []
    for code, card in sorted(_cards(session).items()):
        shape = shapes.get(code)
        if shape is None or shape.is_empty:
            places.append(ProjectPlace(card, None, None))
            continue
        largest = max(shapely.get_parts(shape), key=lambda part: part.area)
        point = shapely.point_on_surface(largest)
        x0, y0, x1, y1 = (float(v) for v in shape.bounds)
        places.append(ProjectPlace(card, (x0, y0, x1, y1), (float(point.x), float(point.y))))
    return places
