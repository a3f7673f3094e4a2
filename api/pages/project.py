"""A project's public page (``/projects/{code}``): its key figures, map, lifecycle, monitoring
periods, issuances and retirements, the confirmed disturbances and reversals (干扰与逆转),
downloads, and the grievance form; and the downloads
themselves (the frozen ex-ante, the stands' public attributes, as CSV).

Every project in the library has a page, drafts included (the library lists them all): a
draft says that it is one. A signed-in user sees the same page plus its role's actions
(``partials/project_actions.html``); bureau staff also see how many grievances wait."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.deps import Registry, RegistryDep
from api.pages.form_token import form_token
from api.pages.rendering import render
from api.pages.session import page_csrf, viewer
from registry.db import DriverSQL
from registry.documents.store import get_document, list_documents
from registry.listings import STAFF_ROLES
from registry.public import data_as_of, exante_csv, label_names, project_page, stands_csv
from registry.public.project_page import ACTION_NAMES, ROLE_NAMES
from registry.public.reversals import public_reversals

__all__ = [
    "GRIEVANCE_FORM",
    "GrievanceForm",
    "ReversalRow",
    "render_project",
    "reversal_rows",
    "router",
]

router = APIRouter(include_in_schema=False)
GRIEVANCE_FORM = "grievance"  # the signed form token's purpose
CodePath = Annotated[str, Path(max_length=40)]


@dataclass(frozen=True)
class GrievanceForm:
    """What the grievance form holds (kept when a submission is refused: nothing is lost)."""

    name: str = ""
    contact: str = ""
    message: str = ""


CAUSE_NAMES = {"fire": ("火灾", "fire"), "pests": ("病虫害", "pests"), "felling": ("采伐", "felling"),
               "wind": ("风灾", "wind"), "other": ("其他", "other")}  # fmt: skip


@dataclass(frozen=True)
class ReversalRow:
    """One disturbance event on the page: the confirmed reversals of one date and cause, their
    stands counted, the credits cancelled from the buffer pool summed, the evidence SHA-256s."""

    event_date: str
    cause: str
    stands: int
    credits_cancelled: int
    evidence: tuple[str, ...]


def reversal_rows(reversals: list[Any]) -> list[ReversalRow]:
    """The project's confirmed reversals (``registry.public.reversals``, public facts only)
    grouped by event date and cause, oldest first."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in reversals:
        groups.setdefault((r.event_date[:10], r.cause), []).append(r)
    return [
        ReversalRow(day, cause, len({r.stand_key for r in found}),
                    sum(r.credits_cancelled for r in found),
                    tuple(dict.fromkeys(r.evidence_sha256 for r in found)))
        for (day, cause), found in sorted(groups.items())
    ]  # fmt: skip


def _open_grievances(session: Session, code: str) -> int:
    row = DriverSQL(session).first(
        "SELECT COUNT(*) FROM grievance WHERE project_code = :p AND status = 'open'", {"p": code}
    )
    return int(row[0]) if row else 0


def render_project(
    request: Request, registry: Registry, code: str, *, form: GrievanceForm | None = None,
    refusal: tuple[str, str] | None = None, status_code: int = 200, sent: bool = False,
) -> HTMLResponse:  # fmt: skip
    """The project page; with ``form`` and ``refusal`` after a refused grievance (the form
    filled in again, the reason above it)."""

    def read(session: Session) -> tuple[Any, ...]:
        page = project_page(session, code)
        who = viewer(request, session)
        waiting = _open_grievances(session, code) if who and who.has(*STAFF_ROLES) else None
        documents = list_documents(session, code, who)
        found = public_reversals(session, code)
        reversals = reversal_rows(found)
        notes = list(dict.fromkeys(n for r in found for n in r.notes))
        return (page, who, waiting, label_names(session), data_as_of(session), documents,
                reversals, notes)  # fmt: skip

    page, who, waiting, names, as_of, documents, reversals, notes = registry.read(read)
    return render(request, registry, "project.html", {
        "page": page, "card": page.card, "summary": page.summary, "viewer": who,
        "csrf": page_csrf(request, registry) if who else None, "open_grievances": waiting,
        "form": form or GrievanceForm(), "refusal": refusal, "grievance_sent": sent,
        "form_token": form_token(registry.secret, GRIEVANCE_FORM, page.card.code),
        "action_names": ACTION_NAMES, "role_names": ROLE_NAMES, "nav": "library",
        "label_names": names, "documents": documents, "reversals": reversals,
        "reversal_notes": notes,
        "cause_names": CAUSE_NAMES,
    }, status_code=status_code, as_of=as_of)  # fmt: skip


@router.get("/projects/{code}", response_class=HTMLResponse)
def project(
    request: Request, registry: RegistryDep, code: CodePath,
    grievance: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:  # fmt: skip
    """A project's public page (an unknown code: the bilingual 404 page)."""
    return render_project(request, registry, code, sent=grievance == "received")


def _csv_response(body: str, filename: str) -> Response:
    # UTF-8 with a byte-order mark: spreadsheet programs then read the Chinese correctly
    filename = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in filename)
    return Response(
        "\ufeff" + body, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip


@router.get("/projects/{code}/exante.csv")
def exante_download(registry: RegistryDep, code: CodePath) -> Response:
    """The ex-ante frozen at registration, by year (t CO2e), unverified parameters named."""
    body = registry.read(lambda s: exante_csv(s, code))
    return _csv_response(body, f"{code}-exante.csv")


@router.get("/projects/{code}/stands.csv")
def stands_download(registry: RegistryDep, code: CodePath) -> Response:
    """The project's stands, public attributes only (no household names)."""
    body = registry.read(lambda s: stands_csv(s, code))
    return _csv_response(body, f"{code}-stands.csv")


@router.get("/projects/{code}/documents/{doc_id}")
def document_download(
    request: Request, registry: RegistryDep, code: CodePath,
    doc_id: Annotated[int, Path(ge=1, le=2**62)],
) -> Response:  # fmt: skip
    """A project document listed on the page: public ones for anyone, drafts for bureau staff
    signed in (anyone else: not found)."""
    from api.routes.docs import document_response
    from registry.errors import DocumentNotFound

    def read(session: Session) -> tuple[Any, bytes]:
        info, content = get_document(session, doc_id, viewer(request, session))
        if info.project != code:
            raise DocumentNotFound(f"项目 {code} 没有编号为 {doc_id} 的文件。",
                                   f"project {code} has no document number {doc_id}.")  # fmt: skip
        return info, content

    return document_response(*registry.read(read))
