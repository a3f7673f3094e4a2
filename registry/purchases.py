"""Buyers' purchase requests (购买申请), table ``purchase_request`` (migration 0013).

A buyer asks for a quantity of one project's credits into a holding account of its own
organisation; bureau staff (or an admin) confirm it — the credits move by
:func:`registry.ledger.transfer` from the project's holding account ``HOLD-<code>`` (opened by
issuance for the developer) with the idempotency key ``purchase-<id>``, in the same transaction
as the request's status change and its audit event — or reject it with a comment; the buyer
may cancel it while it is requested. Who may do what is decided here:

- request: a user with the role buyer, into an account its organisation holds;
- confirm, reject: bureau staff or an admin (the ledger then checks that the user's
  organisation holds ``HOLD-<code>``, as for any transfer);
- cancel: a buyer of the organisation that asked;
- read: staff read every request; anyone else its organisation's.

A request is decided once: the row is locked (PostgreSQL ``FOR UPDATE``; SQLite serialises
writers) and only a ``requested`` row moves on, so a double click or two staff at once move
the credits once — the second is refused (:class:`PurchaseClosed`), or, with the same
idempotency key, gets the first result back. Quantities are whole credits (1 credit = 1 t CO2e).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import (
    InsufficientCredits,
    PermissionDenied,
    PurchaseClosed,
    UnknownAccount,
    UnknownProject,
    UnknownPurchaseRequest,
    WrongAccountKind,
)
from registry.ledger import transfer
from registry.ledger.operations import row_lock
from registry.ledger.validation import check_quantity, check_text
from registry.listings import STAFF_ROLES, PageOf
from registry.request_keys import KeyedRequest
from registry.results import Result, transient
from registry.vocabulary import Role

__all__ = [
    "BUYERS",
    "PurchaseRequest",
    "available_for_purchase",
    "cancel_purchase",
    "confirm_purchase",
    "purchase_page",
    "purchase_request",
    "reject_purchase",
    "request_purchase",
]

BUYERS = (Role.BUYER,)
STATUS_ZH = {
    "requested": "待确认",
    "confirmed": "已确认",
    "rejected": "已拒绝",
    "cancelled": "已撤回",
}
_COLUMNS = ("p.id, p.project_code, p.buyer_account, o.name, p.quantity, p.note, p.status, "
            "p.requested_by, p.requested_at, p.decided_by, p.decided_at, p.decision_comment, "
            "p.transfer_op_id")  # fmt: skip
_FROM = (" FROM purchase_request p JOIN ledger_account a ON a.code = p.buyer_account "
         "JOIN organisation o ON o.id = a.organisation_id")  # fmt: skip


@dataclass(frozen=True)
class PurchaseRequest(Result):
    """A purchase request as its readers see it; ``serials`` are the credits moved when it was
    confirmed (the transfer's result)."""

    id: int
    project: str
    buyer_account: str
    buyer: str
    quantity: int
    note: str
    status: str
    requested_by: str
    requested_at: str
    decided_by: str | None
    decided_at: str | None
    decision_comment: str | None
    serials: tuple[str, ...]
    replayed: bool = transient()


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _now() -> datetime:
    return datetime.now(UTC)


def _view(db: DriverSQL, row: tuple[Any, ...]) -> PurchaseRequest:
    serials: tuple[str, ...] = ()
    if row[12] is not None:
        found = db.first("SELECT result_json FROM ledger_operation WHERE id = :i", {"i": row[12]})
        if found is not None:
            serials = tuple(json.loads(found[0]).get("serials", ()))
    return PurchaseRequest(
        int(row[0]), str(row[1]), str(row[2]), str(row[3]), int(row[4]), str(row[5]), str(row[6]),
        str(row[7]), _iso(row[8]) or "", row[9], _iso(row[10]), row[11], serials,
    )  # fmt: skip


def _load(db: DriverSQL, request_id: int, lock: bool = False) -> PurchaseRequest:
    if (
        isinstance(request_id, bool)
        or not isinstance(request_id, int)
        or not 0 < request_id < 2**31
    ):
        raise UnknownPurchaseRequest(f"没有购买申请 {request_id!r}。", f"no purchase request {request_id!r}.")  # fmt: skip
    if lock:  # the row itself first (its account join would lock the account rows too)
        db.first("SELECT id FROM purchase_request WHERE id = :i" + row_lock(db), {"i": request_id})
    row = db.first(f"SELECT {_COLUMNS}{_FROM} WHERE p.id = :i", {"i": request_id})
    if row is None:
        raise UnknownPurchaseRequest(f"没有购买申请 {request_id}。", f"no purchase request {request_id}.")  # fmt: skip
    return _view(db, row)


def _require_reader(actor: Actor, found: PurchaseRequest) -> None:
    """Staff read every request; anyone else its organisation's."""
    if not actor.has(*STAFF_ROLES) and found.buyer != actor.organisation:
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}）只能查看本机构的购买申请，申请 {found.id} 属于 {found.buyer}。",
            f"{actor.name} ({actor.organisation}) reads only its organisation's purchase "
            f"requests; request {found.id} is {found.buyer}'s.",
        )


def available_for_purchase(session: Session, project_code: str) -> int:
    """Active credits of ``project_code`` in its holding account ``HOLD-<code>`` (t CO2e): what
    a confirmation could move now (0 before issuance)."""
    row = DriverSQL(session).first(
        "SELECT COALESCE(SUM(b.last_seq - b.first_seq + 1), 0) FROM credit_block b "
        "JOIN ledger_account a ON a.id = b.account_id WHERE a.code = :a AND b.project_code = :p "
        "AND b.state = 'active' AND b.closed_op_id IS NULL",
        {"a": f"HOLD-{project_code}", "p": project_code},
    )  # fmt: skip
    return int(row[0]) if row else 0


def request_purchase(
    session: Session, actor: Actor, project_code: str, buyer_account: str, quantity: int,
    note: str = "", idempotency_key: str | None = None,
) -> PurchaseRequest:  # fmt: skip
    """A buyer asks for ``quantity`` credits of ``project_code`` into ``buyer_account`` (a
    holding account of its organisation). Refused when the project's holding account holds
    fewer active credits of it than asked (they are checked again at confirmation)."""
    require_any_role(actor, BUYERS, "申请购买碳汇 / request to buy credits")
    keyed = None
    if idempotency_key is not None:
        keyed = KeyedRequest(session, idempotency_key, "purchase.request",
                             {"project": project_code, "account": buyer_account,
                              "quantity": quantity, "note": note}, actor.label)  # fmt: skip
        if keyed.previous is not None:
            return PurchaseRequest.from_dict(keyed.previous, replayed=True)
    check_quantity(quantity)
    check_text(note, "备注", "note", required=False)
    db = DriverSQL(session)
    account = db.first(
        "SELECT a.kind, o.name FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id "
        "WHERE a.code = :c",
        {"c": buyer_account},
    )  # fmt: skip
    if account is None:
        raise UnknownAccount(f"没有账户 {buyer_account!r}。", f"no account {buyer_account!r}.")
    if account[1] != actor.organisation:
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}）只能买入本机构的账户：账户 {buyer_account} 属于 {account[1]}。",
            f"{actor.name} ({actor.organisation}) buys only into its organisation's accounts: "
            f"{buyer_account} belongs to {account[1]}.",
        )
    if account[0] != "holding":
        raise WrongAccountKind(
            f"账户 {buyer_account} 不是持有账户。",
            f"account {buyer_account} is not a holding account.",
        )
    if db.first("SELECT 1 FROM project WHERE code = :c", {"c": project_code}) is None:
        raise UnknownProject(f"没有项目 {project_code!r}。", f"no project {project_code!r}.")
    available = available_for_purchase(session, project_code)
    if quantity > available:
        raise InsufficientCredits(
            f"项目 {project_code} 可供购买的积分只有 {available:,} 吨，不足申请的 {quantity:,} 吨。",
            f"project {project_code} has {available:,} credits (t CO2e) for sale, fewer than the "
            f"{quantity:,} asked for.",
        )
    row = db.first(
        "INSERT INTO purchase_request (project_code, buyer_account, quantity, note, status, requested_by, requested_at) "
        "VALUES (:p, :a, :q, :n, 'requested', :by, :t) RETURNING id",
        {"p": project_code, "a": buyer_account, "q": quantity, "n": note, "by": actor.label, "t": _now()},
    )  # fmt: skip
    assert row is not None
    request_id = int(row[0])
    append_event(session, actor=actor.label, action="purchase.requested", entity_type="purchase_request",
                 entity_id=str(request_id), payload={"project": project_code, "account": buyer_account,
                                                     "quantity": quantity, "note": note})  # fmt: skip
    found = _load(db, request_id)
    if keyed is not None:
        keyed.finish(found.to_dict())
    return found


def _decide(
    session: Session, actor: Actor, request_id: int, action: str, comment: str,
    idempotency_key: str | None,
) -> PurchaseRequest:  # fmt: skip
    """Confirm, reject or cancel a ``requested`` request (the row locked first)."""
    db = DriverSQL(session)
    keyed = None
    if idempotency_key is not None:
        keyed = KeyedRequest(session, idempotency_key, f"purchase.{action}",
                             {"request": request_id, "comment": comment}, actor.label)  # fmt: skip
        if keyed.previous is not None:
            return PurchaseRequest.from_dict(keyed.previous, replayed=True)
    check_text(comment, "意见", "comment", required=action == "reject")
    found = _load(db, request_id, lock=True)
    if action == "cancel" and found.buyer != actor.organisation:
        raise PermissionDenied(
            f"{actor.name}（{actor.organisation}）不能撤回 {found.buyer} 的购买申请 {found.id}。",
            f"{actor.name} ({actor.organisation}) may not cancel {found.buyer}'s purchase "
            f"request {found.id}.",
        )
    if found.status != "requested":
        raise PurchaseClosed(
            f"购买申请 {found.id} 已{STATUS_ZH.get(found.status, found.status)}，不能再处理。",
            f"purchase request {found.id} is {found.status} already; it cannot be decided again.",
        )
    op_id = None
    payload: dict[str, Any] = {"comment": comment}
    if action == "confirm":
        moved = transfer(session, actor, f"purchase-{found.id}", f"HOLD-{found.project}",
                         found.buyer_account, found.quantity, project=found.project)  # fmt: skip
        op = db.first("SELECT id FROM ledger_operation WHERE idempotency_key = :k",
                      {"k": f"purchase-{found.id}"})  # fmt: skip
        assert op is not None
        op_id = int(op[0])
        payload.update(transfer_op=op_id, quantity=moved.quantity, serials=list(moved.serials))
    status = {"confirm": "confirmed", "reject": "rejected", "cancel": "cancelled"}[action]
    changed = db.rows(
        "UPDATE purchase_request SET status = :s, decided_by = :by, decided_at = :t, decision_comment = :c, "
        "transfer_op_id = :o WHERE id = :i AND status = 'requested' RETURNING id",
        {"s": status, "by": actor.label, "t": _now(), "c": comment or None, "o": op_id, "i": found.id},
    )  # fmt: skip
    if not changed:  # unreachable while the row lock holds; the last guard against a race
        raise PurchaseClosed(f"购买申请 {found.id} 已被处理。", f"purchase request {found.id} was decided already.")  # fmt: skip
    append_event(session, actor=actor.label, action=f"purchase.{status}", entity_type="purchase_request",
                 entity_id=str(found.id), payload=payload)  # fmt: skip
    decided = _load(db, found.id)
    if keyed is not None:
        keyed.finish(decided.to_dict())
    return decided


def confirm_purchase(
    session: Session, actor: Actor, request_id: int, comment: str = "",
    idempotency_key: str | None = None,
) -> PurchaseRequest:  # fmt: skip
    """Bureau staff confirm: the credits move from ``HOLD-<project>`` to the buyer's account
    (oldest serials first) in this transaction, with the request's new status."""
    require_any_role(actor, STAFF_ROLES, "确认购买申请 / confirm purchase requests")
    return _decide(session, actor, request_id, "confirm", comment, idempotency_key)


def reject_purchase(
    session: Session, actor: Actor, request_id: int, comment: str,
    idempotency_key: str | None = None,
) -> PurchaseRequest:  # fmt: skip
    """Bureau staff reject, saying why (the comment is required); nothing moves."""
    require_any_role(actor, STAFF_ROLES, "拒绝购买申请 / reject purchase requests")
    return _decide(session, actor, request_id, "reject", comment, idempotency_key)


def cancel_purchase(
    session: Session, actor: Actor, request_id: int, idempotency_key: str | None = None
) -> PurchaseRequest:
    """The buyer withdraws its request while it is still requested; nothing moves."""
    require_any_role(actor, BUYERS, "撤回购买申请 / cancel purchase requests")
    return _decide(session, actor, request_id, "cancel", "", idempotency_key)


def purchase_request(session: Session, actor: Actor, request_id: int) -> PurchaseRequest:
    """One request (staff: any; others: their organisation's)."""
    found = _load(DriverSQL(session), request_id)
    _require_reader(actor, found)
    return found


def purchase_page(
    session: Session, actor: Actor, limit: int, offset: int, status: str | None = None,
    project: str | None = None,
) -> PageOf:  # fmt: skip
    """Requests newest first (by id): staff see all, anyone else its organisation's; filtered
    by status or project."""
    where = ["1 = 1"]
    params_: dict[str, Any] = {"l": limit, "f": offset}
    if not actor.has(*STAFF_ROLES):
        where.append("o.name = :org")
        params_["org"] = actor.organisation
    if status:
        where.append("p.status = :s")
        params_["s"] = status
    if project:
        where.append("p.project_code = :pc")
        params_["pc"] = project
    db = DriverSQL(session)
    clause = " WHERE " + " AND ".join(where)
    total = db.first(f"SELECT COUNT(*){_FROM}{clause}", params_)
    rows = db.rows(
        f"SELECT {_COLUMNS}{_FROM}{clause} ORDER BY p.id DESC LIMIT :l OFFSET :f", params_
    )
    items = [_view(db, r).to_dict() for r in rows]
    return PageOf(items, int(total[0]) if total else 0, limit, offset)
