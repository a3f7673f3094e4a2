"""The project library page (林区碳交易项目库): public, filtered, searched, sorted, paged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import RegistryDep
from api.pages.rendering import render
from registry.public import LibraryQuery, data_as_of, label_names, library_facets, library_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


def _text(default: None = None) -> Any:
    return Query(default, max_length=100)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/library", status_code=307)


@router.get("/library", response_class=HTMLResponse)
def library(
    request: Request, registry: RegistryDep,
    methodology: str | None = _text(), status: str | None = _text(),
    township: str | None = _text(), label: str | None = _text(), q: str | None = _text(),
    vintage: Annotated[str | None, Query(max_length=4)] = None,
    sort: Annotated[str, Query(max_length=20)] = "code", desc: bool = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:  # fmt: skip
    """Every project, with filters (methodology, status, township, vintage, label), search,
    sort and pages of twenty."""
    query = LibraryQuery(
        methodology=methodology or None, status=status or None, township=township or None,
        vintage=int(vintage) if vintage and vintage.isascii() and vintage.isdigit() else None, label=label or None,
        q=q, sort=sort, descending=desc,
    )  # fmt: skip

    def read(session: Any) -> tuple[Any, ...]:
        cards, total = library_page(session, query, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        return cards, total, library_facets(session), label_names(session), data_as_of(session)

    cards, total, facets, names, as_of = registry.read(read)
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, registry, "library.html", {
        "cards": cards, "total": total, "facets": facets, "query": query, "page": page,
        "pages": pages, "page_size": PAGE_SIZE, "label_names": names,
    }, as_of=as_of)  # fmt: skip
