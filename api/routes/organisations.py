"""Organisations and the kinds a registry admin grants them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from api.deps import CallerDep, PageDep
from api.schemas import Grant, OrganisationCreate, OrganisationPublic, Page
from registry.organisations import grant_kind, list_organisations, register_organisation

__all__ = ["router"]

router = APIRouter(prefix="/organisations", tags=["organisations 机构"])


@router.get("", response_model=Page[OrganisationPublic])
def organisations(
    caller: CallerDep, page: PageDep, kind: str | None = Query(None, max_length=40)
) -> dict[str, Any]:
    """机构列表（按 id） / organisations by id, optionally of one kind."""
    orgs, total = caller.read(lambda s, a: list_organisations(s, kind, page.limit, page.offset))
    return {"items": [asdict(o) for o in orgs], "total": total, "limit": page.limit,
            "offset": page.offset}  # fmt: skip


@router.post("", response_model=OrganisationPublic, status_code=201)
def create(body: OrganisationCreate, caller: CallerDep) -> dict[str, Any]:
    """登记机构（类型仅管理员可给） / register an organisation (a kind: admins only)."""
    return asdict(caller.write(
        lambda s, a: register_organisation(s, a, body.name, body.kind, body.credit_code)))  # fmt: skip


@router.post("/{name}/grant", response_model=OrganisationPublic)
def grant(name: str, body: Grant, caller: CallerDep) -> dict[str, Any]:
    """授予机构类型（管理员） / grant an organisation its kind (admin)."""
    return asdict(caller.write(lambda s, a: grant_kind(s, a, name, body.kind)))
