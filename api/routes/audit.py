"""The audit log: its events (paged, newest first) and the verification of its hash chain."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from api.deps import CallerDep, PageDep
from api.schemas import Page
from registry.listings import audit_page, audit_verification

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit 审计"])


@router.get("/events", response_model=Page[dict[str, Any]])
def events(
    caller: CallerDep, page: PageDep, action: str | None = Query(None, max_length=100),
    entity_type: str | None = Query(None, max_length=100),
) -> dict[str, Any]:  # fmt: skip
    """审计事件（新的在前） / audit events, newest first (staff and verifiers)."""
    return asdict(caller.read(lambda s, a: audit_page(s, a, page.limit, page.offset, action,
                                                      entity_type)))  # fmt: skip


@router.get("/verify")
def verify(caller: CallerDep) -> dict[str, Any]:
    """校验哈希链 / verify the hash chain (staff and verifiers)."""
    return asdict(caller.read(audit_verification))
