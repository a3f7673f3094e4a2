"""The query parameters of the OGC API – Features endpoints, read by hand from the query string
(so that every refusal is an OGC exception, not the REST API's body), and the exceptions.

An exception is the JSON of OGC API – Features Part 1 (``code`` and ``description``; the
description says it in Chinese, then in English) with the registry's own ``message_zh`` and
``message_en`` beside it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

from fastapi import Request
from fastapi.responses import JSONResponse

from registry.public.stands import BBox

__all__ = ["Interval", "ItemsQuery", "OgcError", "check_only", "items_query", "ogc_error_response"]

Interval = tuple[date | None, date | None]
"""A ``datetime`` filter as days: first and last day (None: open)."""

DEFAULT_LIMIT = 100


class OgcError(Exception):
    """A refusal of an OGC request: HTTP status, OGC exception code, the message zh-CN and en."""

    def __init__(self, status: int, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.zh, self.en = status, code, zh, en


def ogc_error_response(exc: OgcError) -> JSONResponse:
    body = {"code": exc.code, "description": f"{exc.zh} / {exc.en}", "message_zh": exc.zh,
            "message_en": exc.en}  # fmt: skip
    return JSONResponse(body, exc.status)


def _bad(name: str, value: str, zh: str, en: str) -> OgcError:
    return OgcError(400, "InvalidParameterValue", f"参数 {name}={value!r} 无效：{zh}",
                    f"bad parameter {name}={value!r}: {en}")  # fmt: skip


def check_only(request: Request, allowed: tuple[str, ...]) -> None:
    """Refuse a query parameter the endpoint does not know (OGC 17-069r4, 7.5: 400), and an
    ``f`` other than ``json`` (the only encoding served: JSON and GeoJSON)."""
    unknown = sorted(set(request.query_params) - {"f", *allowed})
    if unknown:
        known = ", ".join(("f", *allowed))
        raise OgcError(
            400, "InvalidParameterValue",
            f"不认识的参数 {', '.join(unknown)}；可用：{known}。",
            f"unknown parameter {', '.join(unknown)}; known: {known}.",
        )  # fmt: skip
    f = request.query_params.get("f")
    if f is not None and f != "json":
        raise _bad("f", f, "只提供 f=json（JSON 与 GeoJSON）。", "only f=json (JSON and GeoJSON).")


def _int(request: Request, name: str, default: int, low: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, raw, "应为整数。", "expected an integer.") from None
    if value < low:
        raise _bad(name, raw, f"应不小于 {low}。", f"expected at least {low}.")
    if value > 2**62:  # beyond what the databases take as an integer
        raise _bad(name, raw, "数值过大。", "the number is too large.")
    return value


def _bbox(raw: str | None) -> BBox | None:
    if raw is None:
        return None
    try:
        numbers = [float(x) for x in raw.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(x) for x in numbers):
        raise _bad("bbox", raw, "应为 最小经度,最小纬度,最大经度,最大纬度 四个数（CRS84，度；不支持高程）。",
                   "expected four numbers min lon,min lat,max lon,max lat (CRS84 degrees; no "
                   "vertical axis).")  # fmt: skip
    x0, y0, x1, y1 = numbers
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise _bad("bbox", raw, "经度须在 -180 至 180、纬度在 -90 至 90 之间，且最小值不大于最大值（不支持跨越 180° 经线）。",
                   "longitudes within -180..180, latitudes within -90..90, minimum not above "
                   "maximum (boxes across the antimeridian are not supported).")  # fmt: skip
    return x0, y0, x1, y1


def _instant(part: str, raw: str) -> date | None:
    if part in ("", ".."):
        return None
    try:
        if len(part) == 10:
            return date.fromisoformat(part)
        return datetime.fromisoformat(part.replace("Z", "+00:00").replace("z", "+00:00")).date()
    except ValueError:
        raise _bad("datetime", raw, "应为 RFC 3339 日期时间或区间（开始/结束，开放端用 ..）。",
                   "expected an RFC 3339 date-time or an interval start/end (.. for an open "
                   "end).") from None  # fmt: skip


def _interval(raw: str | None) -> Interval | None:
    """``datetime``: an instant or an interval ``start/end`` (``..`` or empty: open), to days."""
    if raw is None:
        return None
    if "/" in raw:
        start_raw, _, end_raw = raw.partition("/")
        if "/" in end_raw or (start_raw in ("", "..") and end_raw in ("", "..")):
            raise _bad("datetime", raw, "区间两端不能都开放。", "an interval needs one closed end.")
        start, end = _instant(start_raw, raw), _instant(end_raw, raw)
        if start and end and start > end:
            raise _bad("datetime", raw, "开始晚于结束。", "the start is after the end.")
        return start, end
    day = _instant(raw, raw)
    if day is None:
        raise _bad("datetime", raw, "需要一个时刻或区间。", "expected an instant or an interval.")
    return day, day


@dataclass(frozen=True)
class ItemsQuery:
    """An items request: a page (``limit`` capped at the server's maximum), a bounding box in
    CRS84 degrees, a ``datetime`` interval in days."""

    limit: int
    offset: int
    bbox: BBox | None
    interval: Interval | None


ITEMS_PARAMS = ("limit", "offset", "bbox", "datetime")


def items_query(request: Request, max_limit: int) -> ItemsQuery:
    """Read an items request's parameters; a ``limit`` above ``max_limit`` is served as
    ``max_limit`` (OGC 17-069r4 permits it; the next link carries on)."""
    check_only(request, ITEMS_PARAMS)
    q = request.query_params
    limit = min(_int(request, "limit", min(DEFAULT_LIMIT, max_limit), 1), max_limit)
    return ItemsQuery(limit, _int(request, "offset", 0, 0), _bbox(q.get("bbox")),
                      _interval(q.get("datetime")))  # fmt: skip
