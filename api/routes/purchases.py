"""Buyers' purchase requests over HTTP (:mod:`registry.purchases`): a buyer asks for a quantity
of a project's credits; bureau staff confirm (the credits move by a ledger transfer) or reject;
the buyer may cancel while it is requested. Every request that changes something needs an
``Idempotency-Key`` header, as the ledger's do: the same key with the same body returns the
first result (``replayed``: true) and changes nothing; the same key with another body is
refused (409)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, IdempotencyKey, PageDep, scoped_key
from api.schemas import Page
from registry.purchases import (
    PurchaseRequest,
    cancel_purchase,
    confirm_purchase,
    purchase_page,
    purchase_request,
    reject_purchase,
    request_purchase,
)

__all__ = ["router"]

router = APIRouter(prefix="/purchase-requests", tags=["purchase requests 购买申请"])
Status = Literal["requested", "confirmed", "rejected", "cancelled"]


class PurchaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: str = Field(min_length=1, max_length=100)
    buyer_account: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10**12)
    note: str = Field(default="", max_length=500)


class PurchaseDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=500)


def _shown(found: PurchaseRequest) -> dict[str, Any]:
    return {**found.to_dict(), "replayed": found.replayed}


@router.get("", response_model=Page[dict[str, Any]])
def requests(
    caller: CallerDep, page: PageDep,
    status: Annotated[Status | None, Query()] = None,
    project: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:  # fmt: skip
    """购买申请（新的在前） / purchase requests, newest first: staff see all, others their own
    organisation's."""
    shown = caller.read(lambda s, a: purchase_page(s, a, page.limit, page.offset, status, project))
    return {"items": shown.items, "total": shown.total, "limit": page.limit, "offset": page.offset}


@router.post("", status_code=201)
def create(body: PurchaseCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """申请购买（买方，买入本机构账户） / request credits (a buyer, into its organisation's account)."""
    return _shown(caller.write(lambda s, a: request_purchase(
        s, a, body.project, body.buyer_account, body.quantity, body.note, scoped_key(a, key))))  # fmt: skip


@router.get("/{request_id}")
def show(request_id: int, caller: CallerDep) -> dict[str, Any]:
    """一条购买申请 / one purchase request (staff, or the buyer's organisation)."""
    return caller.read(lambda s, a: purchase_request(s, a, request_id)).to_dict()


@router.post("/{request_id}/confirm")
def confirm(
    request_id: int, key: IdempotencyKey, caller: CallerDep, body: PurchaseDecision | None = None
) -> dict[str, Any]:
    """确认（局工作人员）：积分从项目持有账户转入买方账户 / confirm (bureau staff): the credits
    move from the project's holding account to the buyer's, once."""
    comment = body.comment if body else ""
    return _shown(caller.write(
        lambda s, a: confirm_purchase(s, a, request_id, comment, scoped_key(a, key))))  # fmt: skip


@router.post("/{request_id}/reject")
def reject(
    request_id: int, body: PurchaseDecision, key: IdempotencyKey, caller: CallerDep
) -> dict[str, Any]:
    """拒绝并说明理由（局工作人员） / reject with a reason (bureau staff); nothing moves."""
    return _shown(caller.write(
        lambda s, a: reject_purchase(s, a, request_id, body.comment, scoped_key(a, key))))  # fmt: skip


@router.post("/{request_id}/cancel")
def cancel(request_id: int, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """撤回（申请的买方） / cancel while requested (the buyer that asked); nothing moves."""
    return _shown(caller.write(lambda s, a: cancel_purchase(s, a, request_id, scoped_key(a, key))))
