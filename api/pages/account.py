"""The signed-in user's page (``/account``, 我的账户) and the ledger's forms on it.

What a user sees depends on its roles and organisation — the read rules of the API: the
balances and history of its organisation's accounts; retiring credits for a beneficiary (then
the certificate page); its organisation's purchase requests (buyers ask from a project page:
``/purchase-requests/new``); bureau staff: requests waiting to be confirmed or rejected, and
the inventory upload and project creation pages; a bank: the pledges it holds, to release or
enforce; a holder: a pledge to a bank; a forest owner: its own eco-compensation payments.

Every form posts to a handler here that calls the API's own route function with the form's
fields (:mod:`api.pages.forms`): the same service call, the same checks, the same idempotency
(each rendered form carries its own key); a refusal is shown as a bilingual page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api.deps import RegistryDep
from api.pages.forms import FormCallerDep, FormKey, form_value, see_other, signed_in, whole_number
from api.pages.rendering import render
from api.pages.session import page_csrf
from api.routes import credits, purchases
from api.schemas import PledgeCreate, RetireCreate
from registry import ledger
from registry.actors import Actor
from registry.compensation.rosters import my_payments
from registry.errors import Invalid, NotFound
from registry.listings import STAFF_ROLES
from registry.organisations import list_organisations
from registry.public import data_as_of, project_card
from registry.purchases import available_for_purchase, purchase_page
from registry.vocabulary import Role

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
HISTORY_ROWS = 20
NOTICES = {
    "requested": ("购买申请已提交，等待林业局确认。", "Purchase request sent; the bureau will confirm it."),
    "confirmed": ("已确认：积分已转入买方账户。", "Confirmed: the credits are in the buyer's account."),
    "rejected": ("已拒绝该购买申请。", "The purchase request was rejected."),
    "cancelled": ("已撤回该购买申请。", "The purchase request was cancelled."),
    "pledged": ("积分已质押。", "The credits are pledged."),
    "released": ("质押已解除。", "The pledge is released."),
    "enforced": ("质权已实现：积分已转入银行账户。", "The pledge is enforced: the credits are the bank's."),
}  # fmt: skip


def _account_context(session: Session, actor: Actor) -> dict[str, Any]:
    overview = ledger.show(session)
    mine = [a for a in overview.accounts if a.holder == actor.organisation and a.kind == "holding"]
    accounts: list[dict[str, Any]] = []
    pledges: list[Any] = []
    for held in mine:
        statement = ledger.statement(session, held.account)
        moves, n_moves = ledger.account_history(session, held.account, HISTORY_ROWS)
        accounts.append({"holdings": held, "statement": statement, "history": moves,
                         "n_history": n_moves})  # fmt: skip
        pledges.extend(statement.pledges)
    codes = {a.account for a in mine}
    banks, _ = list_organisations(session, "bank", limit=1000)
    bank_names = {b.name for b in banks} - {actor.organisation}
    staff = actor.has(*STAFF_ROLES)
    return {
        "accounts": accounts,
        "purchases": None if staff else purchase_page(session, actor, 50, 0),
        "pending": purchase_page(session, actor, 100, 0, "requested") if staff else None,
        "bank_pledges": [p for p in pledges if p.bank in codes and p.status == "active"],
        "bank_accounts": [
            a for a in overview.accounts if a.holder in bank_names and a.kind == "holding"
        ],
        "is_staff": staff,
        "payments": _own_payments(session, actor),
        "as_of": data_as_of(session),
    }


def _own_payments(session: Session, actor: Actor) -> dict[str, Any] | None:
    """A forest owner's own eco-compensation lines (approved and paid rosters), or why there are
    none (the user is not linked to an owner yet); None for every other role."""
    if not actor.has(Role.FOREST_OWNER):
        return None
    try:
        return {"lines": my_payments(session, actor), "unlinked": False}
    except NotFound:
        return {"lines": [], "unlinked": True}


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, registry: RegistryDep, notice: str | None = None) -> Response:
    """我的账户: what the signed-in user's roles and organisation may see and do."""

    def read(session: Session, actor: Actor) -> dict[str, Any]:
        return {"who": actor, **_account_context(session, actor)}

    found = signed_in(request, registry, read)
    if isinstance(found, Response):
        return found
    as_of = found.pop("as_of")
    context = {**found, "nav": "account", "csrf": page_csrf(request, registry),
               "notice": NOTICES.get(notice or "")}  # fmt: skip
    return render(request, registry, "account.html", context, as_of=as_of)


@router.post("/account/retire")
def retire(
    caller: FormCallerDep, form_key: FormKey,
    account: Annotated[str, Form(max_length=64)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
    beneficiary: Annotated[str, Form(max_length=500)] = "",
    purpose: Annotated[str, Form(max_length=500)] = "",
    project: Annotated[str, Form(max_length=100)] = "",
) -> Response:  # fmt: skip
    """退役 → the certificate's page."""
    body = form_value(RetireCreate, account=account, beneficiary=beneficiary.strip(),
                      purpose=purpose.strip(), quantity=whole_number(quantity, "数量", "the quantity"),
                      project=project or None)  # fmt: skip
    done = credits.retire(body, form_key, caller)
    return see_other(f"/certificates/{done['certificate']}")


@router.post("/account/pledge")
def pledge(
    caller: FormCallerDep, form_key: FormKey,
    account: Annotated[str, Form(max_length=64)] = "",
    bank_account: Annotated[str, Form(max_length=64)] = "",
    loan_ref: Annotated[str, Form(max_length=200)] = "",
    amount_yuan: Annotated[str, Form(max_length=30)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
) -> Response:  # fmt: skip
    """质押给银行（出质账户所属机构）."""
    body = form_value(PledgeCreate, account=account, bank_account=bank_account,
                      loan_ref=loan_ref.strip(), amount_yuan=amount_yuan.strip(),
                      quantity=whole_number(quantity, "数量", "the quantity"))  # fmt: skip
    credits.pledge(body, form_key, caller)
    return see_other("/account?notice=pledged#accounts")


@router.post("/account/pledges/{pledge_id}/{action}")
def close_pledge(pledge_id: int, action: str, caller: FormCallerDep, form_key: FormKey) -> Response:
    """解除质押 / 质权实现 (the pledgee bank's users)."""
    if action == "release":
        credits.release(pledge_id, form_key, caller)
        return see_other("/account?notice=released#pledges")
    if action == "enforce":
        credits.enforce(pledge_id, form_key, caller)
        return see_other("/account?notice=enforced#pledges")
    raise Invalid(f"未知操作 {action!r}。", f"unknown action {action!r}.")


# -- purchase requests --------------------------------------------------------------------------


@router.get("/purchase-requests/new", response_class=HTMLResponse)
def purchase_form(request: Request, registry: RegistryDep, project: str = "") -> Response:
    """申请购买 a project's credits: into which of the organisation's accounts, how many (what
    is for sale is shown)."""

    def read(session: Session, actor: Actor) -> dict[str, Any]:
        card = project_card(session, project)
        overview = ledger.show(session)
        mine = [
            a for a in overview.accounts if a.holder == actor.organisation and a.kind == "holding"
        ]
        return {"who": actor, "card": card, "accounts": mine,
                "available": available_for_purchase(session, card.code), "as_of": data_as_of(session)}  # fmt: skip

    found = signed_in(request, registry, read)
    if isinstance(found, Response):
        return found
    as_of = found.pop("as_of")
    context = {**found, "nav": "account", "csrf": page_csrf(request, registry)}
    return render(request, registry, "purchase_new.html", context, as_of=as_of)


@router.post("/purchase-requests")
def purchase_request(
    caller: FormCallerDep, form_key: FormKey,
    project: Annotated[str, Form(max_length=100)] = "",
    buyer_account: Annotated[str, Form(max_length=64)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    """Send the request (a buyer); its state shows on the account page."""
    body = form_value(purchases.PurchaseCreate, project=project, buyer_account=buyer_account,
                      quantity=whole_number(quantity, "数量", "the quantity"), note=note.strip())  # fmt: skip
    done = purchases.create(body, form_key, caller)
    return see_other(f"/account?notice=requested#purchase-{done['id']}")


@router.post("/purchase-requests/{request_id}/{action}")
def decide_purchase(
    request_id: int, action: str, caller: FormCallerDep, form_key: FormKey,
    comment: Annotated[str, Form(max_length=500)] = "",
) -> Response:  # fmt: skip
    """Confirm or reject (bureau staff), cancel (the buyer)."""
    decision = form_value(purchases.PurchaseDecision, comment=comment.strip())
    if action == "confirm":
        purchases.confirm(request_id, form_key, caller, decision)
    elif action == "reject":
        purchases.reject(request_id, decision, form_key, caller)
    elif action == "cancel":
        purchases.cancel(request_id, form_key, caller)
    else:
        raise Invalid(f"未知操作 {action!r}。", f"unknown action {action!r}.")
    done = {"confirm": "confirmed", "reject": "rejected", "cancel": "cancelled"}[action]
    return see_other(f"/account?notice={done}#purchases")
