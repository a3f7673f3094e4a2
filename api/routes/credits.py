"""The credit ledger over HTTP. Every request that moves credits needs an ``Idempotency-Key``
header: the same key with the same body returns the first result (``replayed``: true) and
moves nothing; the same key with another body is refused (409)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from api.deps import CallerDep, IdempotencyKey, PageDep, scoped_key
from api.schemas import (
    AccountCreate,
    BatchCreate,
    CancelCreate,
    IssueCreate,
    Page,
    PledgeCreate,
    RetireCreate,
    TransferCreate,
)
from registry import ledger
from registry.actors import Actor
from registry.issuance import issue as issue_credits
from registry.listings import account_statement, accounts_page, blocks_page
from registry.results import Result

__all__ = ["router"]


def _moved(result: Result) -> dict[str, Any]:
    """A ledger operation's result, and whether it is the first request's (``replayed``)."""
    return {**result.to_dict(), "replayed": bool(getattr(result, "replayed", False))}


router = APIRouter(prefix="/credits", tags=["credits 碳汇积分"])


@router.get("/accounts", response_model=Page[dict[str, Any]])
def accounts(caller: CallerDep, page: PageDep) -> dict[str, Any]:
    """账户与余额（按账户代码） / accounts and balances by code: staff see all, others their own."""
    return asdict(caller.read(lambda s, a: accounts_page(s, a, page.limit, page.offset)))


@router.post("/accounts", status_code=201)
def open_account(body: AccountCreate, caller: CallerDep) -> dict[str, Any]:
    """开立持有账户（局工作人员或管理员） / open a holding account (bureau staff or admin)."""

    def work(session: Any, actor: Actor) -> dict[str, Any]:
        ledger.open_account(session, actor, body.code, body.name, body.holder, body.holder_kind,
                            body.credit_code)  # fmt: skip
        shown: dict[str, Any] = ledger.statement(session, body.code).to_dict()["account"]
        return shown

    return caller.write(work)


@router.get("/accounts/{code}")
def account(code: str, caller: CallerDep) -> dict[str, Any]:
    """账户对账单 / an account's statement (its organisation's users, or staff)."""
    return caller.read(lambda s, a: account_statement(s, a, code)).to_dict()


@router.get("/blocks", response_model=Page[dict[str, Any]])
def blocks(
    caller: CallerDep, page: PageDep, account: str | None = Query(None, max_length=64)
) -> dict[str, Any]:
    """积分块 / live serial blocks (of one account, or all: staff)."""
    return asdict(caller.read(lambda s, a: blocks_page(s, a, account, page.limit, page.offset)))


@router.get("/serials/{serial}/history")
def serial_history(serial: str, caller: CallerDep) -> dict[str, Any]:
    """一个序列号的全部流转 / every move of one serial."""
    moves = caller.read(lambda s, a: ledger.history(s, serial))
    return {"serial": serial, "moves": [m.to_dict() for m in moves]}


@router.post("/issue")
def issue(body: IssueCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """签发（管理员） / issue a verified period's credits (admin)."""
    minimum = caller.registry.settings.buffer_pct
    return _moved(caller.write(lambda s, a: issue_credits(
        s, a, body.project, scoped_key(a, key), minimum, body.buffer_pct)))  # fmt: skip


@router.post("/transfer")
def transfer(body: TransferCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """转让（转出账户所属机构的用户） / transfer (users of the source account's organisation)."""
    return _moved(caller.write(lambda s, a: ledger.transfer(
        s, a, scoped_key(a, key), body.from_account, body.to_account, body.quantity,
        body.serials, body.project)))  # fmt: skip


@router.post("/retire")
def retire(body: RetireCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """退役（账户所属机构的用户） / retire credits (the account's organisation's users)."""
    return _moved(caller.write(lambda s, a: ledger.retire(
        s, a, scoped_key(a, key), body.account, body.beneficiary, body.purpose, body.retired_on,
        body.quantity, body.serials, body.project)))  # fmt: skip


@router.post("/batch")
def batch(body: BatchCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """批量转让/退役：整批执行或整批拒绝（逐行说明） / many transfers and retirements at once, all or
    nothing; a refusal's ``details.report.lines`` names every bad line."""
    from registry.ledger.batch import execute_batch, read_batch_csv

    lines, problems = read_batch_csv(body.csv)
    return _moved(caller.write(lambda s, a: execute_batch(
        s, a, scoped_key(a, key), lines, body.retired_on, problems)))  # fmt: skip


@router.post("/cancel")
def cancel(body: CancelCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """注销（持有机构的用户；缓冲池：管理员） / cancel (the holder's users; buffer: admins)."""
    return _moved(caller.write(lambda s, a: ledger.cancel(
        s, a, scoped_key(a, key), body.account, body.reason, body.quantity, body.serials,
        body.project)))  # fmt: skip


@router.post("/pledge")
def pledge(body: PledgeCreate, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """质押给银行（出质账户所属机构的用户） / pledge to a bank (the holder's users)."""
    return _moved(caller.write(lambda s, a: ledger.pledge(
        s, a, scoped_key(a, key), body.account, body.bank_account, body.loan_ref,
        body.amount_yuan, body.quantity, body.serials, body.project)))  # fmt: skip


@router.post("/pledges/{pledge_id}/release")
def release(pledge_id: int, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """解除质押（质权银行的用户） / release a pledge (the pledgee bank's users)."""
    return _moved(caller.write(lambda s, a: ledger.release(s, a, scoped_key(a, key), pledge_id)))


@router.post("/pledges/{pledge_id}/enforce")
def enforce(pledge_id: int, key: IdempotencyKey, caller: CallerDep) -> dict[str, Any]:
    """质权实现（质权银行的用户） / enforce a pledge (the pledgee bank's users)."""
    return _moved(caller.write(lambda s, a: ledger.enforce(s, a, scoped_key(a, key), pledge_id)))
