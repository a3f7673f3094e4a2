"""OGC API – Features, Part 1: Core, with GeoJSON (OGC 17-069r4), at ``/ogc``: the landing
page, the conformance declaration, the collections ``projects`` and ``stands``, their items
(``bbox``, ``datetime``, ``limit`` capped at ``page_limit_max``, ``offset``; ``numberMatched``,
``numberReturned``, next and prev links) and single features.

Not served: an OpenAPI description of ``/ogc`` (the ``service-desc`` link is the registry's
REST API description, ``/openapi.json``, which does not list these paths), HTML encodings,
other CRS (Part 2), filters (Part 3). The conformance declaration says exactly what is served."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import Registry
from api.ogc.collections import COLLECTIONS, Collection
from api.ogc.params import OgcError, check_only, items_query, ogc_error_response

__all__ = ["CONFORMANCE", "router"]

router = APIRouter(prefix="/ogc", include_in_schema=False)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
JSON, GEOJSON = "application/json", "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.1"


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _json(body: dict[str, Any], media_type: str = JSON) -> JSONResponse:
    return JSONResponse(body, media_type=media_type)


def _answer(work: Callable[[], JSONResponse]) -> JSONResponse:
    """Run a request; a refusal becomes an OGC exception (a registry refusal too)."""
    from registry.errors import RegistryError

    try:
        return work()
    except OgcError as exc:
        return ogc_error_response(exc)
    except RegistryError as exc:
        status = {"not_found": 404, "invalid": 400}.get(exc.category.value, 500)
        return ogc_error_response(OgcError(status, exc.category.value, exc.message_zh,
                                           exc.message_en))  # fmt: skip


def _registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def _collection(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise OgcError(404, "NotFound", f"没有名为 {collection_id!r} 的集合（可用：projects、stands）。",
                       f"no collection {collection_id!r} (projects, stands).")  # fmt: skip
    return found


@router.get("")
def landing(request: Request) -> JSONResponse:
    """The landing page: what this is and where everything is."""

    def work() -> JSONResponse:
        check_only(request, ())
        root, name = _root(request), _registry(request).settings.registry_name
        base = str(request.base_url).rstrip("/")
        return _json({
            "title": f"{name} · OGC API – Features",
            "description": "项目边界与小班的公开数据（OGC API – Features 第 1 部分：核心，GeoJSON）。"
                           " / Public project boundaries and stands (OGC API – Features Part 1: "
                           "Core, GeoJSON). /openapi.json describes the registry's REST API, "
                           "not these paths.",
            "links": [
                {"rel": "self", "type": JSON, "title": "本页 / this document", "href": root},
                {"rel": "service-desc", "type": OPENAPI,
                 "title": "登记系统 REST API 说明 / the registry's REST API definition",
                 "href": base + "/openapi.json"},
                {"rel": "conformance", "type": JSON, "title": "符合的标准类 / conformance",
                 "href": root + "/conformance"},
                {"rel": "data", "type": JSON, "title": "数据集合 / collections",
                 "href": root + "/collections"},
            ],
        })  # fmt: skip

    return _answer(work)


@router.get("/conformance")
def conformance(request: Request) -> JSONResponse:
    def work() -> JSONResponse:
        check_only(request, ())
        return _json({"conformsTo": list(CONFORMANCE)})

    return _answer(work)


def _rfc3339(day: str | None) -> str | None:
    return None if day is None else f"{day}T00:00:00Z"


def _describe(request: Request, c: Collection, session: Any) -> dict[str, Any]:
    root = _root(request)
    extent: dict[str, Any] = {}
    box = c.extent(session)
    if box is not None:
        extent["spatial"] = {"bbox": [[round(v, 7) for v in box]], "crs": CRS84}
    span = c.temporal(session)
    if span is not None:
        extent["temporal"] = {"interval": [[_rfc3339(span[0]), _rfc3339(span[1])]],
                              "trs": GREGORIAN}  # fmt: skip
    return {
        "id": c.id, "title": f"{c.title_zh} / {c.title_en}",
        "description": f"{c.description_zh} / {c.description_en}",
        "itemType": "feature", "crs": [CRS84], "extent": extent,
        "links": [
            {"rel": "self", "type": JSON, "title": c.title_en,
             "href": f"{root}/collections/{c.id}"},
            {"rel": "items", "type": GEOJSON, "title": f"{c.title_en} (GeoJSON)",
             "href": f"{root}/collections/{c.id}/items"},
        ],
    }  # fmt: skip


@router.get("/collections")
def collections(request: Request) -> JSONResponse:
    def work() -> JSONResponse:
        check_only(request, ())
        described = _registry(request).read(
            lambda s: [_describe(request, c, s) for c in COLLECTIONS.values()]
        )
        root = _root(request) + "/collections"
        return _json({"links": [{"rel": "self", "type": JSON, "href": root}],
                      "collections": described})  # fmt: skip

    return _answer(work)


@router.get("/collections/{collection_id}")
def collection(request: Request, collection_id: str) -> JSONResponse:
    def work() -> JSONResponse:
        check_only(request, ())
        c = _collection(collection_id)
        return _json(_registry(request).read(lambda s: _describe(request, c, s)))

    return _answer(work)


def _page_link(request: Request, rel: str, offset: int, limit: int) -> dict[str, Any]:
    params = dict(request.query_params)
    params.update(offset=str(offset), limit=str(limit))
    href = f"{_root(request)}{request.url.path.removeprefix('/ogc')}?{urlencode(params)}"
    return {"rel": rel, "type": GEOJSON, "href": href}


@router.get("/collections/{collection_id}/items")
def items(request: Request, collection_id: str) -> JSONResponse:
    """A page of features. ``numberMatched``: what the filters match; the next link is there
    while more remain, the prev link when the page does not start at the first."""

    def work() -> JSONResponse:
        c = _collection(collection_id)
        registry = _registry(request)
        q = items_query(request, registry.settings.page_limit_max)
        features, matched = registry.read(lambda s: c.items(s, q))
        self_href = f"{_root(request)}{request.url.path.removeprefix('/ogc')}"
        if request.url.query:
            self_href += "?" + request.url.query
        links = [
            {"rel": "self", "type": GEOJSON, "href": self_href},
            {"rel": "collection", "type": JSON, "href": f"{_root(request)}/collections/{c.id}"},
        ]
        if q.offset + len(features) < matched:
            links.append(_page_link(request, "next", q.offset + len(features), q.limit))
        if q.offset > 0:
            links.append(_page_link(request, "prev", max(0, q.offset - q.limit), q.limit))
        return _json({
            "type": "FeatureCollection", "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "links": links, "features": features,
        }, GEOJSON)  # fmt: skip

    return _answer(work)


@router.get("/collections/{collection_id}/items/{feature_id}")
def item(request: Request, collection_id: str, feature_id: str) -> JSONResponse:
    def work() -> JSONResponse:
        check_only(request, ())
        c = _collection(collection_id)
        feature = _registry(request).read(lambda s: c.item(s, feature_id))
        if feature is None:
            raise OgcError(404, "NotFound", f"集合 {c.id} 中没有 {feature_id!r}。",
                           f"no feature {feature_id!r} in {c.id}.")  # fmt: skip
        root = f"{_root(request)}/collections/{c.id}"
        feature["links"] = [
            {"rel": "self", "type": GEOJSON, "href": f"{root}/items/{request.url.path.rsplit('/', 1)[1]}"},
            {"rel": "collection", "type": JSON, "href": root},
        ]  # fmt: skip
        return _json(feature, GEOJSON)

    return _answer(work)
