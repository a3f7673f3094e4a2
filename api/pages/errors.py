"""A refusal shown as a page (the same bilingual message the API's error body carries)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.pages.rendering import render

__all__ = ["error_page"]


def error_page(request: Request, status: int, message_zh: str, message_en: str) -> HTMLResponse:
    registry = request.app.state.registry
    context = {"status_code": status, "message_zh": message_zh, "message_en": message_en}
    try:
        return render(request, registry, "error.html", context, status_code=status)
    except Exception:  # the database itself failing: a page without the data time
        return render(request, registry, "error.html", context, status_code=status, as_of="")
