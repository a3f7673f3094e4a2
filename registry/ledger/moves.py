"""The ledger's operations: issue, transfer, retire, cancel, pledge, release, enforce.

Each runs in the caller's transaction with its idempotency key (:class:`Operation`) and its
audit event, and returns a typed result; a retried request returns the first one's result
(``replayed``) and moves nothing.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from methodologies.engine import to_credits
from registry.actors import Actor, require_any_role
from registry.db import DriverSQL
from registry.errors import (
    BadQuantity,
    BufferRule,
    NothingToIssue,
    PledgeClosed,
    PledgeeNotBank,
    SameAccount,
    UnknownPledge,
    UnknownProject,
)
from registry.ledger.accounts import (
    account,
    account_and_holder,
    accounts,
    ensure_account,
    lock_account,
    require_holder,
    system_account,
)
from registry.ledger.blocks import Block, NewBlock, insert_blocks, live_blocks, move, select
from registry.ledger.operations import Operation, row_lock
from registry.ledger.results import (
    CancelResult,
    IssueResult,
    Placement,
    PledgeCloseResult,
    PledgeResult,
    RetireResult,
    TransferResult,
)
from registry.ledger.reversals import cancel_shortfall, outstanding_debt
from registry.ledger.serials import format_block, parse_serial
from registry.ledger.validation import (
    check_amount,
    check_date,
    check_quantity,
    check_text,
)
from registry.ledger.vocabulary import AccountKind, BlockState, OperationKind, PledgeStatus
from registry.organisations import KIND_NAMES
from registry.vocabulary import Role

__all__ = [
    "ROUNDING_RULE",
    "cancel",
    "enforce",
    "issue",
    "pledge",
    "release",
    "retire",
    "transfer",
]

ROUNDING_RULE = "credits = floor(verified t CO2e); buffer = ceil(credits × max(registry minimum %, project's assessed risk %))"
HOLDING = (AccountKind.HOLDING.value,)
HOLDING_OR_BUFFER = (AccountKind.HOLDING.value, AccountKind.BUFFER.value)


def issue(
    session: Session, actor: Actor, project_code: str, idempotency_key: str, minimum_pct: float,
    requested_pct: float | None = None, owner_account: str | None = None,
) -> IssueResult:  # fmt: skip
    """The ledger's half of an issuance: serials for the verified, not yet issued monitoring
    period of a project. :func:`registry.issuance.issue` checks who may issue and moves the
    project's lifecycle; call that, not this.

    ``minimum_pct`` is the registry's minimum buffer share (its settings); an issuer may ask for
    more (``requested_pct``), never less. The share used is the largest of these and the
    project's assessed non-permanence risk — never less than the validator assessed.
    Rounding: credits = floor(verified t CO2e); buffer = ceil(credits × share / 100) to the
    buffer account (non-permanence pool), the rest to the developer's holding account. A project
    that owes the pool for an earlier reversal (:mod:`registry.ledger.reversals`) sends
    ``repaid`` = min(its debt, credits − buffer) more to the buffer (``buffer`` is the normal
    share alone), and ``shortfall_cancelled`` = min(its shortfall, repaid) of those are then
    cancelled by a second operation (key ``<key>:shortfall``).
    """
    require_any_role(actor, (Role.ADMIN,), "签发碳汇积分 / issue credits")
    op = Operation(session, OperationKind.ISSUE, idempotency_key,
                   {"project": project_code, "buffer_pct": minimum_pct, "requested_pct": requested_pct}, actor.label)  # fmt: skip
    if op.previous is not None:
        return IssueResult.from_dict(op.previous, replayed=True)
    buffer_pct = minimum_pct if requested_pct is None else requested_pct
    if not 0 <= buffer_pct < 100 or not 0 <= minimum_pct < 100:
        raise BadQuantity(
            f"缓冲比例 {buffer_pct}% 须在 0–100 之间。",
            f"buffer share {buffer_pct}% must be within 0–100.",
        )
    if buffer_pct < minimum_pct:
        raise BufferRule(
            f"缓冲比例 {buffer_pct}% 低于登记簿的最低比例 {minimum_pct}%：只能提高，不能降低。",
            f"buffer share {buffer_pct}% is below the registry's minimum {minimum_pct}%: an issuer "
            "may raise it, never lower it.",
        )
    db = op.db
    project = db.first(
        "SELECT id, developer, status, buffer_pct FROM project WHERE code = :c" + row_lock(db),
        {"c": project_code},
    )
    if project is None:
        raise UnknownProject(f"没有项目 {project_code!r}。", f"no project {project_code!r}.")
    period = db.first(
        "SELECT m.id, m.verified_tco2e, m.end_date FROM monitoring_period m "
        "WHERE m.project_id = :p AND m.status = 'verified' "
        "AND NOT EXISTS (SELECT 1 FROM issuance i WHERE i.monitoring_period_id = m.id) ORDER BY m.period_no",
        {"p": project[0]},
    )  # fmt: skip
    if period is None:
        raise NothingToIssue(
            f"项目 {project_code} 没有待签发的已核证监测期。",
            f"project {project_code} has no verified period waiting for issuance.",
        )
    assessed = None if project[3] is None else float(project[3])
    share = buffer_pct if assessed is None else max(buffer_pct, assessed)
    credits = int(to_credits(float(period[1])))  # the one place science becomes credits
    buffer = math.ceil(credits * share / 100 - 1e-9)
    # a debt to the pool from an earlier reversal (ledger/reversals.py RULE) is repaid first;
    # the part of it the pool could not cancel then is cancelled from the repaid credits
    debt, shortfall = outstanding_debt(session, project_code)
    repaid = min(debt, credits - buffer)
    to_cancel = min(shortfall, repaid)
    end = period[2] if isinstance(period[2], date) else date.fromisoformat(str(period[2]))
    vintage = end.year
    # the counter row is the lock that serialises issuance of one project and vintage
    counter = db.first(
        "SELECT next_seq FROM serial_counter WHERE project_code = :p AND vintage = :v" + row_lock(db),
        {"p": project_code, "v": vintage},
    )  # fmt: skip
    first = int(counter[0]) if counter is not None else 1
    if counter is None:
        db.rows("INSERT INTO serial_counter (project_code, vintage, next_seq, issued) VALUES (:p, :v, :n, :i)",
                {"p": project_code, "v": vintage, "n": first + credits, "i": credits})  # fmt: skip
    else:
        db.rows("UPDATE serial_counter SET next_seq = next_seq + :q, issued = issued + :q WHERE project_code = :p AND vintage = :v",
                {"q": credits, "p": project_code, "v": vintage})  # fmt: skip
    issuance_account = system_account(session, AccountKind.ISSUANCE, actor.label)
    buffer_account = system_account(session, AccountKind.BUFFER, actor.label)
    owner = owner_account or f"HOLD-{project_code}"
    owner_id = ensure_account(session, owner, f"{project[1]} 持有账户", AccountKind.HOLDING.value,
                              str(project[1]), new_holder_kind="developer", system=owner_account is None,
                              by=actor.label)  # fmt: skip
    placed: list[Placement] = []
    rows: list[NewBlock] = []
    active = BlockState.ACTIVE.value
    seed = Block(
        0, project_code, vintage, first, first + credits - 1, issuance_account, active, None
    )
    pooled = buffer + repaid
    if pooled:
        last = first + pooled - 1
        rows.append((seed, first, last, buffer_account, active, None))
        placed.append(Placement("BUFFER", format_block(project_code, vintage, first, last), pooled))
    if credits - pooled:
        begin, last = first + pooled, first + credits - 1
        rows.append((seed, begin, last, owner_id, active, None))
        placed.append(
            Placement(owner, format_block(project_code, vintage, begin, last), credits - pooled)
        )
    insert_blocks(db, op.id, rows)
    db.rows(
        "INSERT INTO issuance (op_id, project_code, monitoring_period_id, vintage, quantity, buffer_quantity) VALUES (:o, :p, :m, :v, :q, :b)",
        {"o": op.id, "p": project_code, "m": period[0], "v": vintage, "q": credits, "b": pooled},
    )  # fmt: skip
    if repaid:
        db.rows("INSERT INTO buffer_debt (op_id, project_code, kind, quantity, shortfall) "
                "VALUES (:o, :p, 'repayment', :q, 0)", {"o": op.id, "p": project_code, "q": -repaid})  # fmt: skip
    result = IssueResult(project=project_code, vintage=vintage, quantity=credits, buffer=buffer,
                         buffer_pct=share, registry_minimum_pct=minimum_pct, assessed_risk_pct=assessed,
                         placed=tuple(placed), rounding=ROUNDING_RULE, repaid=repaid,
                         shortfall_cancelled=to_cancel)  # fmt: skip
    op.finish(result)
    if to_cancel:
        cancel_shortfall(
            session, actor, f"{idempotency_key}:shortfall", project_code, vintage, to_cancel
        )
    return result


def transfer(
    session: Session, actor: Actor, idempotency_key: str, from_account: str, to_account: str,
    quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> TransferResult:  # fmt: skip
    """Move active credits between holding/buffer accounts (a quantity, oldest first, or serials);
    only users of the source account's organisation move its credits."""
    require_holder(DriverSQL(session), actor, from_account, "转让积分 / transfer credits")
    op = Operation(session, OperationKind.TRANSFER, idempotency_key,
                   {"from": from_account, "to": to_account, "quantity": quantity, "serials": serials, "project": project}, actor.label)  # fmt: skip
    if op.previous is not None:
        return TransferResult.from_dict(op.previous, replayed=True)
    if from_account == to_account:
        raise SameAccount("转出和转入账户相同。", "source and destination are the same account.")
    _check_amount_of_credits(quantity)
    found = accounts(op.db, {from_account: HOLDING_OR_BUFFER, to_account: HOLDING})
    if found[from_account][1] == AccountKind.BUFFER:
        raise BufferRule(
            "缓冲池中的积分不能转让：只有在发生逆转（火灾、采伐等）时注销。",
            "credits in the buffer pool are never transferred: they are only cancelled to cover "
            "a reversal (fire, felling).",
        )
    src, dst = found[from_account][0], found[to_account][0]
    lock_account(op.db, src)
    pieces = select(op.db, src, BlockState.ACTIVE.value, quantity,
                    parse_serial(serials) if serials else None, project)  # fmt: skip
    moved = move(op, pieces, dst, BlockState.ACTIVE.value, None)
    result = TransferResult(
        from_account, to_account, sum(hi - lo + 1 for _, lo, hi in pieces), moved
    )
    op.finish(result)
    return result


def retire(
    session: Session, actor: Actor, idempotency_key: str, account_code: str, beneficiary: str, purpose: str,
    retired_on: date | None = None, quantity: int | None = None, serials: str | None = None,
    project: str | None = None,
) -> RetireResult:  # fmt: skip
    """Retire active credits for a beneficiary; returns the certificate id. Retired never moves.

    ``retired_on`` defaults to today (UTC) — and a retry of the same request (same key, no date)
    on a later day returns the first certificate, since the default is not part of the request.
    """
    require_holder(DriverSQL(session), actor, account_code, "退役积分 / retire credits")
    check_text(beneficiary, "受益方", "beneficiary")
    check_text(purpose, "用途", "purpose", required=False)
    if retired_on is not None:
        check_date(retired_on, "退役日期", "retirement date")
    op = Operation(session, OperationKind.RETIRE, idempotency_key,
                   {"account": account_code, "beneficiary": beneficiary, "purpose": purpose,
                    "date": None if retired_on is None else retired_on.isoformat(),
                    "quantity": quantity, "serials": serials, "project": project}, actor.label)  # fmt: skip
    if op.previous is not None:
        return RetireResult.from_dict(op.previous, replayed=True)
    retired_on = retired_on or datetime.now(UTC).date()
    _check_amount_of_credits(quantity)
    src, _ = account(op.db, account_code, HOLDING, lock=True)
    pieces = select(op.db, src, BlockState.ACTIVE.value, quantity,
                    parse_serial(serials) if serials else None, project)  # fmt: skip
    # after the row locks: opening an account appends an audit event, whose lock comes last
    dst = system_account(session, AccountKind.RETIREMENT, actor.label)
    moved = move(op, pieces, dst, BlockState.RETIRED.value, None)
    total = sum(hi - lo + 1 for _, lo, hi in pieces)
    certificate = f"RC-{retired_on.year}-{op.id:08d}"
    op.db.rows(
        "INSERT INTO retirement (certificate_id, op_id, beneficiary, purpose, retired_on, quantity, serials) VALUES (:c, :o, :b, :p, :d, :q, :s)",
        {"c": certificate, "o": op.id, "b": beneficiary, "p": purpose, "d": retired_on, "q": total, "s": "\n".join(moved)},
    )  # fmt: skip
    result = RetireResult(
        certificate, account_code, beneficiary, total, moved, retired_on.isoformat()
    )
    op.finish(result)
    return result


def cancel(
    session: Session, actor: Actor, idempotency_key: str, account_code: str, reason: str,
    quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> CancelResult:  # fmt: skip
    """Cancel active credits (reversal after fire or felling), from a holder (its users) or the
    buffer pool (registry admins)."""
    require_holder(DriverSQL(session), actor, account_code, "注销积分 / cancel credits")
    op = Operation(session, OperationKind.CANCEL, idempotency_key,
                   {"account": account_code, "reason": reason, "quantity": quantity, "serials": serials, "project": project}, actor.label)  # fmt: skip
    if op.previous is not None:
        return CancelResult.from_dict(op.previous, replayed=True)
    check_text(reason, "注销原因", "reason for the cancellation")
    _check_amount_of_credits(quantity)
    src, _ = account(op.db, account_code, HOLDING_OR_BUFFER, lock=True)
    pieces = select(op.db, src, BlockState.ACTIVE.value, quantity,
                    parse_serial(serials) if serials else None, project)  # fmt: skip
    dst = system_account(session, AccountKind.CANCELLATION, actor.label)
    moved = move(op, pieces, dst, BlockState.CANCELLED.value, None)
    result = CancelResult(account_code, reason, sum(hi - lo + 1 for _, lo, hi in pieces), moved)
    op.finish(result)
    return result


def pledge(
    session: Session, actor: Actor, idempotency_key: str, account_code: str, bank_account: str, loan_ref: str,
    amount_yuan: Decimal | str, quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> PledgeResult:  # fmt: skip
    """Pledge active credits to a bank (an organisation a registry admin granted the kind bank):
    they stay in the holder's account, locked to the pledge; the holder's users pledge."""
    require_holder(DriverSQL(session), actor, account_code, "质押积分 / pledge credits")
    op = Operation(session, OperationKind.PLEDGE, idempotency_key,
                   {"account": account_code, "bank": bank_account, "loan_ref": loan_ref, "amount_yuan": str(amount_yuan),
                    "quantity": quantity, "serials": serials, "project": project}, actor.label)  # fmt: skip
    if op.previous is not None:
        return PledgeResult.from_dict(op.previous, replayed=True)
    check_text(loan_ref, "贷款合同号", "loan reference")
    amount = check_amount(amount_yuan)
    _check_amount_of_credits(quantity)
    if account_code == bank_account:
        raise SameAccount(
            "不能把积分质押给持有人自己。", "credits cannot be pledged to their own holder."
        )
    found = accounts(op.db, {account_code: HOLDING, bank_account: HOLDING})
    src, bank = found[account_code][0], found[bank_account][0]
    pledgee = account_and_holder(op.db, bank_account)
    assert pledgee is not None  # accounts() found it
    if pledgee[3] != "bank":
        raise PledgeeNotBank(
            f"质权人须为银行：账户 {bank_account} 属于 {pledgee[2]}（{KIND_NAMES[pledgee[3]]}）；"
            "银行的机构类型须由登记簿管理员授予。",
            f"credits are pledged to a bank: account {bank_account} belongs to {pledgee[2]} "
            f"({pledgee[3]}); a registry admin grants an organisation the kind bank.",
        )
    lock_account(op.db, src)
    # money: Decimal yuan to the fen (checked above), stored as whole fen (exact on both engines)
    pieces = select(op.db, src, BlockState.ACTIVE.value, quantity,
                    parse_serial(serials) if serials else None, project)  # fmt: skip
    total = sum(hi - lo + 1 for _, lo, hi in pieces)
    inserted = op.db.first(
        "INSERT INTO pledge (op_id, holder_account_id, bank_account_id, loan_ref, amount_fen, quantity, status) "
        "VALUES (:o, :h, :b, :l, :a, :q, 'active') RETURNING id",
        {"o": op.id, "h": src, "b": bank, "l": loan_ref, "a": int(amount * 100), "q": total},
    )  # fmt: skip
    assert inserted is not None
    pledge_id = int(inserted[0])
    moved = move(op, pieces, src, BlockState.PLEDGED.value, pledge_id)
    result = PledgeResult(
        pledge_id, account_code, bank_account, loan_ref, str(amount), total, moved
    )
    op.finish(result)
    return result


def _check_amount_of_credits(quantity: int | None) -> None:
    """A quantity, when one is given, within the ledger's bounds (before any SQL)."""
    if quantity is not None:
        check_quantity(quantity)


def _close_pledge(
    session: Session, actor: Actor, idempotency_key: str, pledge_id: int, enforce_: bool
) -> PledgeCloseResult:
    kind = OperationKind.ENFORCE if enforce_ else OperationKind.RELEASE
    if isinstance(pledge_id, bool) or not isinstance(pledge_id, int) or not 1 <= pledge_id < 2**31:
        raise UnknownPledge(f"质押 {pledge_id!r} 不存在。", f"pledge {pledge_id!r} does not exist.")
    pledgee = DriverSQL(session).first(
        "SELECT a.code FROM pledge p JOIN ledger_account a ON a.id = p.bank_account_id WHERE p.id = :i",
        {"i": pledge_id},
    )
    if pledgee is None:
        raise UnknownPledge(f"质押 {pledge_id} 不存在。", f"pledge {pledge_id} does not exist.")
    what = "执行质押 / enforce the pledge" if enforce_ else "解除质押 / release the pledge"
    require_holder(DriverSQL(session), actor, str(pledgee[0]), what)
    op = Operation(session, kind, idempotency_key, {"pledge": pledge_id}, actor.label)
    if op.previous is not None:
        return PledgeCloseResult.from_dict(op.previous, replayed=True)
    row = op.db.first(
        "SELECT holder_account_id, bank_account_id, status FROM pledge WHERE id = :i" + row_lock(op.db),
        {"i": pledge_id},
    )  # fmt: skip
    if row is None:
        raise UnknownPledge(f"质押 {pledge_id} 不存在。", f"pledge {pledge_id} does not exist.")
    if row[2] != PledgeStatus.ACTIVE:
        raise PledgeClosed(
            f"质押 {pledge_id} 已结束（{row[2]}）。", f"pledge {pledge_id} is closed ({row[2]})."
        )
    holder, bank = int(row[0]), int(row[1])
    lock_account(op.db, holder)
    found = live_blocks(
        op.db, holder, BlockState.PLEDGED.value, " AND pledge_id = :pl", {"pl": pledge_id}
    )
    pieces = [(b, b.first, b.last) for b in found]
    moved = move(op, pieces, bank if enforce_ else holder, BlockState.ACTIVE.value, None)
    status = PledgeStatus.ENFORCED if enforce_ else PledgeStatus.RELEASED
    op.db.rows("UPDATE pledge SET status = :s, closed_op_id = :o WHERE id = :i",
               {"s": status.value, "o": op.id, "i": pledge_id})  # fmt: skip
    result = PledgeCloseResult(pledge_id, kind.value, sum(b.size for b in found), moved)
    op.finish(result)
    return result


def release(
    session: Session, actor: Actor, idempotency_key: str, pledge_id: int
) -> PledgeCloseResult:
    """The bank releases a pledge: the credits are active again in the holder's account."""
    return _close_pledge(session, actor, idempotency_key, pledge_id, False)


def enforce(
    session: Session, actor: Actor, idempotency_key: str, pledge_id: int
) -> PledgeCloseResult:
    """The bank enforces a pledge: the credits move to the bank's account, active."""
    return _close_pledge(session, actor, idempotency_key, pledge_id, True)
