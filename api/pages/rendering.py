"""Server-rendered pages: one Jinja2 environment, the page language (zh-CN first, English on
request: ``?lang=en``, remembered in a cookie), and the context every page has — the language,
a bilingual ``t(zh, en)``, the time the data stand at, who is signed in (if anyone)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import Registry
from registry.public import data_as_of

__all__ = ["LANG_COOKIE", "TEMPLATES", "Lang", "page_lang", "render", "url_with"]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LANG_COOKIE = "tanhui_lang"
Lang = Literal["zh", "en"]

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html", "xml")),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_lang(request: Request) -> Lang:
    """``?lang=en|zh`` first, then the cookie, then Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return "en" if asked == "en" else "zh"


def url_with(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    # quoted, with one leading slash: a path like //other.site/x must not become a link to it
    path = "/" + quote(request.url.path).lstrip("/")
    return path + (f"?{query}" if query else "")


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


_env.filters["num"] = _number

STATUS_NAMES = {  # a project's status as the pages say it (ProjectStatus values)
    "draft": ("草稿", "draft"), "submitted": ("已提交审定", "submitted"),
    "validated": ("已审定", "validated"), "registered": ("已登记", "registered"),
    "monitored": ("已提交监测报告", "monitored"), "verified": ("已核证", "verified"),
    "issued": ("已签发", "issued"),
}  # fmt: skip


def render(
    request: Request, registry: Registry, template: str, context: dict[str, Any],
    status_code: int = 200, as_of: str | None = None,
) -> HTMLResponse:  # fmt: skip
    """A page: ``template`` with ``context`` and what every page has. ``as_of`` is the time the
    page's data stand at (read in the same transaction as the data when the caller has it)."""
    lang = page_lang(request)

    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    def status_name(status: str) -> str:
        zh, en = STATUS_NAMES.get(status, (status, status))
        return t(zh, en)

    def label_name(code: str) -> str:
        """An eco-label's name in the page's language (the code when the catalogue lacks it)."""
        names = context.get("label_names") or {}
        return t(*names[code]) if code in names else code

    if as_of is None:
        as_of = registry.read(data_as_of)
    body = _env.get_template(template).render(
        request=request, lang=lang, t=t, status_name=status_name, label_name=label_name, data_as_of=as_of, url_with=lambda **c: url_with(request, **c),
        registry_name=registry.settings.registry_name, **context,
    )  # fmt: skip
    response = HTMLResponse(body, status_code=status_code)
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
