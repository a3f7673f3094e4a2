"""Project documents (项目文件) over HTTP: bureau staff generate a design document, a monitoring
report or a workbook (``POST /documents``: built and rendered in a read transaction, stored
with its SHA-256 in the audit log in a short write one); anyone lists and downloads the public
documents of a project, bureau staff also its drafts; anyone may ask whether a file is one the
registry issued (``POST /documents/verify`` with the file as the request body)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from api.deps import CallerDep, RegistryDep
from api.pages.session import viewer
from registry.actors import Actor
from registry.errors import Unauthenticated
from registry.users import actor_for_secret

__all__ = ["document_response", "router"]

router = APIRouter(prefix="/documents", tags=["documents 项目文件"])


class DocumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^(pdd|monitoring_report|workbook)$")
    project: str = Field(min_length=1, max_length=64)
    period: int | None = Field(default=None, ge=1, le=1000)
    formats: list[str] | None = Field(default=None, max_length=4)


def _optional_actor(request: Request, session: Session) -> Actor | None:
    """Who asks, if anyone: a Bearer token, or a signed-in page's session cookie; None for an
    anonymous reader (who sees the public documents only)."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("需要 Bearer 令牌。", "a Bearer token is needed.")
        return actor_for_secret(session, "api_token", value.strip())
    return viewer(request, session)


def document_response(info: Any, content: bytes) -> Response:
    """A stored document as a download, its SHA-256 in a header (to check what arrived)."""
    return Response(
        content, media_type=info.media_type,
        headers={"Content-Disposition": f'attachment; filename="{info.file_name}"',
                 "X-Document-SHA256": info.sha256, "Cache-Control": "private, no-store"
                 if info.audience != "public" else "public, max-age=300"},
    )  # fmt: skip


@router.post("", status_code=201)
def generate(body: DocumentCreate, caller: CallerDep) -> list[dict[str, Any]]:
    """生成项目文件（管理员、局工作人员） / generate a project document (admin, bureau staff)."""
    from registry.documents.store import build_files, store_files

    built = caller.read(
        lambda s, a: build_files(s, a, body.kind, body.project, body.period, body.formats)
    )
    return [d.to_dict() for d in caller.write(lambda s, a: store_files(s, a, built))]


@router.get("")
def listing(
    request: Request, registry: RegistryDep,
    project: Annotated[str, Query(min_length=1, max_length=64)],
) -> list[dict[str, Any]]:  # fmt: skip
    """项目文件清单：公开的，及工作人员可见的草稿 / a project's documents (staff: drafts too)."""
    from registry.documents.store import list_documents

    found = registry.read(lambda s: list_documents(s, project, _optional_actor(request, s)))
    return [d.to_dict() for d in found]


@router.post("/verify")
async def verify(request: Request, registry: RegistryDep) -> dict[str, Any]:
    """核对文件（请求体为文件本身） / is this file (the request body) one the registry issued?"""
    from registry.documents.store import verify_document

    content = await request.body()
    return registry.read(lambda s: verify_document(s, content)).to_dict()


@router.get("/{doc_id}")
def download(
    request: Request, registry: RegistryDep, doc_id: Annotated[int, Path(ge=1, le=2**62)]
) -> Response:
    """下载项目文件（草稿仅工作人员） / download a document (drafts: bureau staff only)."""
    from registry.documents.store import get_document

    info, content = registry.read(lambda s: get_document(s, doc_id, _optional_actor(request, s)))
    return document_response(info, content)
