"""The two feature collections: ``projects`` (each project's boundary with its library card)
and ``stands`` (the current stands' public attributes). Both read through ``registry.public``
— the functions the library page, the map and the open-data dumps read through — so the
numbers agree across every surface, on SpatiaLite and PostGIS alike.

Nothing private leaves here: stands carry :data:`registry.public.PUBLIC_STAND_COLUMNS`, the
right holder only when it is a village collective, a state forest farm or an enterprise, and
the project holding them; projects carry their public card."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from api.ogc.params import Interval, ItemsQuery
from registry.public import (
    LibraryQuery,
    ProjectCard,
    library_page,
    project_boundaries,
    projects_extent,
    projects_meeting,
    public_stands,
    stands_extent,
)
from registry.public.cache import by_audit_head
from registry.public.stands import BBox

__all__ = ["COLLECTIONS", "Collection", "Features"]

Features = tuple[list[dict[str, Any]], int]
"""One page of GeoJSON features and the number the filters match."""


# what changes only with the data — project boundaries, extents — kept while the audit chain's
# head stays where it is (the registry's one cache for that, registry/public/cache.py)
_cached_boundaries = by_audit_head(project_boundaries)
_cached_projects_extent = by_audit_head(projects_extent)
_cached_stands_extent = by_audit_head(stands_extent)


def _boundaries(session: Session) -> dict[str, Any]:
    return dict(_cached_boundaries(session))


ALL = 10**9  # every project (the library pages through a list it builds whole)


@dataclass(frozen=True)
class Collection:
    id: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    extent: Callable[[Session], BBox | None]
    temporal: Callable[[Session], tuple[str | None, str | None] | None]
    items: Callable[[Session, ItemsQuery], Features]
    item: Callable[[Session, str], dict[str, Any] | None]


def _feature(fid: str, geometry: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


# --- projects -------------------------------------------------------------------------------


def _overlaps(card: ProjectCard, interval: Interval) -> bool:
    """The crediting period (its first and last day) meets the interval."""
    first, last = date.fromisoformat(card.start_date), date.fromisoformat(card.crediting_end)
    start, end = interval
    return (end is None or first <= end) and (start is None or last >= start)


def _project_properties(card: ProjectCard) -> dict[str, Any]:
    return card.to_dict()


def _projects(session: Session, q: ItemsQuery) -> Features:
    cards, _ = library_page(session, LibraryQuery(), ALL, 0)
    if q.bbox is not None:
        meeting = projects_meeting(session, q.bbox)
        cards = [c for c in cards if c.code in meeting]
    if q.interval is not None:
        interval = q.interval
        cards = [c for c in cards if _overlaps(c, interval)]
    page = cards[q.offset : q.offset + q.limit]
    shapes = _boundaries(session)
    features = [_feature(c.code, shapes.get(c.code), _project_properties(c)) for c in page]
    return features, len(cards)


def _project(session: Session, fid: str) -> dict[str, Any] | None:
    cards, _ = library_page(session, LibraryQuery(), ALL, 0)
    found = [c for c in cards if c.code == fid]
    if not found:
        return None
    return _feature(fid, _boundaries(session).get(fid), _project_properties(found[0]))


def _crediting_span(session: Session) -> tuple[str | None, str | None] | None:
    cards, _ = library_page(session, LibraryQuery(), ALL, 0)
    if not cards:
        return None
    return min(c.start_date for c in cards), max(c.crediting_end for c in cards)


_cached_crediting_span = by_audit_head(_crediting_span)


# --- stands ---------------------------------------------------------------------------------


def _stand_feature(item: dict[str, Any]) -> dict[str, Any]:
    geometry = item.pop("geometry")
    return _feature(str(item["stand_key"]), geometry, item)


def _stands(session: Session, q: ItemsQuery) -> Features:
    if q.interval is not None:  # stands have no temporal geometry: a datetime filter meets none
        return [], 0
    page = public_stands(session, limit=q.limit, offset=q.offset, bbox=q.bbox)
    return [_stand_feature(item) for item in page.items], page.total


def _stand(session: Session, fid: str) -> dict[str, Any] | None:
    page = public_stands(session, limit=1, offset=0, stand_key=fid)
    return _stand_feature(page.items[0]) if page.items else None


COLLECTIONS: dict[str, Collection] = {
    "projects": Collection(
        "projects", "碳汇项目", "Carbon-sink projects",
        "项目边界（项目内小班的并集）与项目库公开信息：方法学、状态、乡镇、面积（公顷）、计入期、"
        "预估减排量、已签发 / 已退役 / 缓冲池（tCO₂e）、年份、生态标签。时间：计入期。",
        "Project boundaries (the union of each project's stands) with the library's public "
        "card: methodology, status, townships, area (ha), crediting period, ex-ante, issued / "
        "retired / in buffer (t CO2e), vintages, eco-labels. Temporal: the crediting period.",
        _cached_projects_extent,
        _cached_crediting_span,
        _projects, _project,
    ),
    "stands": Collection(
        "stands", "小班", "Stands (小班)",
        "现行森林资源调查小班的公开属性、所属项目；权利人仅在为村集体、国有林场或企业时列出"
        "（农户姓名、林权证号等不公开）。小班没有时间属性：带 datetime 的请求不匹配任何小班。",
        "The current inventory's stands with their public attributes and project; the right "
        "holder only when it is a village collective, a state forest farm or an enterprise "
        "(household names, certificate numbers and the like are never public). Stands have no "
        "temporal geometry: a request with datetime matches none.",
        _cached_stands_extent, lambda _: None, _stands, _stand,
    ),
}  # fmt: skip
