"""The one table from the registry's error categories to HTTP status codes, and the one error
body every refusal has: ``{code, message_zh, message_en, details}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry.db import database_refusal
from registry.errors import Category, RegistryError

__all__ = ["STATUS", "add_exception_handlers", "error_body"]

STATUS: dict[Category, int] = {
    Category.NOT_FOUND: 404,
    Category.FORBIDDEN: 403,
    Category.CONFLICT: 409,
    Category.INVALID: 422,
    Category.FAILURE: 503,
    Category.UNAUTHENTICATED: 401,
    Category.THROTTLED: 429,
}


def error_body(code: str, zh: str, en: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message_zh": zh, "message_en": en, "details": details}


def _details(exc: RegistryError) -> Any:
    conflicts = getattr(exc, "conflicts", None)
    if conflicts is not None:
        return {"conflicts": conflicts}
    report = getattr(exc, "report", None)  # a refused import's per-record report (a dict)
    return {"report": report} if isinstance(report, dict) else None


MACHINE_PATHS = ("/api/", "/ogc", "/tiles", "/static", "/openapi", "/docs", "/health", "/data/")


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page (not the API, the OGC API, tiles or downloads)."""
    path = request.url.path
    return not path.startswith(MACHINE_PATHS) and "text/html" in request.headers.get("accept", "")


def _answer(request: Request, status: int, body: dict[str, Any], headers: Any = None) -> Response:
    if wants_html(request):
        from api.pages.errors import error_page

        return error_page(request, status, body["message_zh"], body["message_en"])
    return JSONResponse(body, status, headers=headers)


def add_exception_handlers(app: FastAPI) -> None:
    """Registry errors by category; request validation (422); the database's own refusals
    (409); HTTP errors of the framework (404 for an unknown path, 405 …) in the same body."""

    @app.exception_handler(RegistryError)
    async def registry_error(request: Request, exc: RegistryError) -> Response:
        body = error_body(exc.category.value, exc.message_zh, exc.message_en, _details(exc))
        headers = (
            {"WWW-Authenticate": "Bearer"} if exc.category == Category.UNAUTHENTICATED else None
        )
        return _answer(request, STATUS[exc.category], body, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]  # fmt: skip
        body = error_body("invalid", "请求格式不正确。", "the request is not well formed.", errors)
        return JSONResponse(body, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        zh = {404: "找不到这个页面。", 413: "请求体超过上限（上传的文件过大）。"}.get(
            exc.status_code, "请求无法处理。"
        )
        body = error_body(f"http_{exc.status_code}", zh, str(exc.detail), None)
        return _answer(request, exc.status_code, body, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def refused_by_database(_: Request, exc: Exception) -> JSONResponse:
        refusal = database_refusal(exc)
        if refusal is None:
            body = error_body("failure", "服务器内部错误。", "internal server error.", None)
            return JSONResponse(body, 500)
        return JSONResponse(
            error_body(refusal.category.value, refusal.message_zh, refusal.message_en, None),
            STATUS[refusal.category],
        )
