"""The public ledger (``/ledger``): issuances and retirements, newest first, paged; searched by
serial (a serial or a range: the issuance that made it and the retirement holding it), by
beneficiary or certificate id, or narrowed to one project."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import RegistryDep
from api.pages.rendering import render
from registry.errors import Invalid
from registry.listings import PageOf
from registry.public import data_as_of, issuances_page, retirements_page

__all__ = ["PAGE_SIZE", "router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
PageNo = Annotated[int, Query(ge=1, le=100_000)]


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


@router.get("/ledger", response_class=HTMLResponse)
def ledger(
    request: Request, registry: RegistryDep,
    serial: Annotated[str | None, Query(max_length=80)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    project: Annotated[str | None, Query(max_length=40)] = None,
    ipage: PageNo = 1, rpage: PageNo = 1,
) -> HTMLResponse:  # fmt: skip
    """Issuances and retirements (pages of twenty each); ``serial``, ``q`` (beneficiary or
    certificate id contains it) and ``project`` narrow them. A malformed serial is shown
    beside the search box with the reason (422)."""
    serial, q, project = _text(serial), _text(q), _text(project)

    def read(session: Session) -> tuple[Any, ...]:
        issued: PageOf | None
        retired: PageOf | None
        try:
            issued = issuances_page(session, PAGE_SIZE, (ipage - 1) * PAGE_SIZE, project=project,
                                    serial=serial)  # fmt: skip
            retired = retirements_page(session, PAGE_SIZE, (rpage - 1) * PAGE_SIZE,
                                       project=project, serial=serial, q=q)  # fmt: skip
            refusal = None
        except Invalid as exc:  # a serial that is not one
            issued = retired = None
            refusal = (exc.message_zh, exc.message_en)
        return issued, retired, refusal, data_as_of(session)

    issued, retired, refusal, as_of = registry.read(read)
    return render(request, registry, "ledger.html", {
        "issued": issued, "retired": retired, "refusal": refusal, "serial": serial, "q": q,
        "project": project, "ipage": ipage, "rpage": rpage, "page_size": PAGE_SIZE,
        "nav": "ledger",
    }, status_code=422 if refusal else 200, as_of=as_of)  # fmt: skip
