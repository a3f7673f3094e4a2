"""A bank's view of its pledges (质押贷款): the pledged credits' value under a price scenario
against the loan, as loan-to-value, flagged when it is high or the price fell.

For each active pledge: value V = q × P × (1 + uplift of the labels the pledged credits carry)
with q the pledged credits and P the scenario's price in force (``valuation.label_premium``);
LTV = loan amount / V. Flags: LTV above the threshold (the bank's own parameter; default 0.7,
unverified: no published rule was checked), and a price in force now below the scenario's
price in force when the pledge was made (the moment its ledger operation was recorded: the
price the registry knew then). Money exact,
rounded once to the fen (ROUND_HALF_UP); LTV shown to 4 decimals (ROUND_HALF_UP), the
threshold compared exactly.

Who sees what: admins and bureau staff every pledge; a bank's users the pledges made to its
own organisation's accounts; nobody else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.compensation.allocation import FEN
from registry.compensation.prices import moment, parse_decimal, price_in_force, price_known_at
from registry.compensation.valuation import fen, held_by_labels, label_notes, label_premium
from registry.errors import BadValuationInput
from registry.results import Result
from registry.vocabulary import Role

__all__ = ["DEFAULT_LTV_THRESHOLD", "LoanLine", "LoanView", "loan_to_value"]

DEFAULT_LTV_THRESHOLD = Decimal("0.7")
THRESHOLD_SOURCE = (
    "贷款价值比阈值为银行自定参数，默认 0.7 未经核实 / the LTV threshold is the bank's own "
    "parameter; the default 0.7 is unverified"
)


@dataclass(frozen=True)
class LoanLine(Result):
    """One active pledge valued: credits, loan, value, LTV and the flags raised."""

    pledge: int
    loan_ref: str
    holder_account: str
    bank_account: str
    bank: str
    pledged_on: str
    quantity: int
    amount_yuan: str
    price_yuan: str
    price_at_pledge_yuan: str | None
    value_yuan: str
    ltv: str
    over_threshold: bool
    price_fell: bool
    flags: tuple[str, ...]


@dataclass(frozen=True)
class LoanView(Result):
    scenario: str
    price_yuan: str
    price_date: str
    price_status: str
    threshold: str
    threshold_source: str
    unverified: tuple[str, ...]
    loans: tuple[LoanLine, ...] = field(metadata={"of": LoanLine})


def loan_to_value(
    session: Session, actor: Actor, scenario: str, threshold: Decimal | str | float | None = None
) -> LoanView:
    """Every active pledge the actor may see, valued under ``scenario``'s price in force."""
    require_any_role(actor, (Role.ADMIN, Role.BUREAU_STAFF, Role.BANK),
                     "查看质押贷款 / see pledged loans")  # fmt: skip
    unverified: list[str] = []
    if threshold is None:
        limit = DEFAULT_LTV_THRESHOLD
        unverified.append(THRESHOLD_SOURCE)
    else:
        limit = parse_decimal(threshold, "贷款价值比阈值", "LTV threshold")
    if limit <= 0:
        raise BadValuationInput(
            f"贷款价值比阈值 {limit} 无效：应大于 0。",
            f"the LTV threshold {limit} must be above 0.",
        )
    price = price_in_force(session, scenario)
    if not price.verified:
        unverified.append(
            f"价格情景 {price.name}（{price.price_yuan} 元/吨，{price.price_date}）来源未核实：{price.source} / "
            f"price scenario {price.name} ({price.price_yuan} yuan/t, {price.price_date}): source unverified"
        )
    sql = (
        "SELECT p.id, p.loan_ref, h.code, k.code, o.name, op.created_at, p.quantity, p.amount_fen "
        "FROM pledge p JOIN ledger_account h ON h.id = p.holder_account_id "
        "JOIN ledger_account k ON k.id = p.bank_account_id "
        "JOIN organisation o ON o.id = k.organisation_id "
        "JOIN ledger_operation op ON op.id = p.op_id WHERE p.status = 'active'"
    )
    params: dict[str, Any] = {}
    if not actor.has(Role.ADMIN, Role.BUREAU_STAFF):  # a bank's users: their own pledges only
        sql += " AND o.name = :org"
        params["org"] = actor.organisation
    lines = []
    priced: set[str] = set()  # labels whose premium went into a pledge's value
    for pid, ref, holder, bank_code, bank, created, quantity, amount_fen in session.execute(
        text(sql + " ORDER BY p.id"), params
    ).all():
        pledged_at = moment(created)
        pledged_on = pledged_at.date()
        by_labels = held_by_labels(session, "b.pledge_id = :p", {"p": int(pid)})
        uplifts = {k: Decimal(v) for k, v in price.label_premiums.items()}
        _, premium = label_premium(by_labels, price.price, uplifts)
        priced |= {c for labels in by_labels for c in labels if uplifts.get(c)}
        value = Decimal(int(quantity)) * price.price + premium
        amount = Decimal(int(amount_fen)) * FEN
        before = price_known_at(session, scenario, pledged_at)
        fell = before is not None and price.price < before.price
        over = amount > limit * value
        ltv = (amount / value).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        flags = []
        if over:
            flags.append(
                f"贷款价值比 {ltv} 高于阈值 {limit} / LTV {ltv} above the threshold {limit}"
            )
        if fell:
            assert before is not None
            flags.append(
                f"价格自质押日下跌：{before.price_yuan} → {price.price_yuan} 元/吨 / "
                f"the price fell since the pledge: {before.price_yuan} → {price.price_yuan} yuan/t"
            )
        if before is None:
            flags.append(
                f"质押时（{pledged_on}）尚无此情景的价格，无法判断是否下跌 / no price of the "
                f"scenario was recorded when the pledge was made ({pledged_on}): a fall cannot be told"
            )
        lines.append(LoanLine(
            pledge=int(pid), loan_ref=ref, holder_account=holder, bank_account=bank_code,
            bank=bank, pledged_on=pledged_on.isoformat(), quantity=int(quantity),
            amount_yuan=str(fen(amount)), price_yuan=price.price_yuan,
            price_at_pledge_yuan=before.price_yuan if before else None,
            value_yuan=str(fen(value)), ltv=str(ltv), over_threshold=over, price_fell=fell,
            flags=tuple(flags),
        ))  # fmt: skip
    unverified += label_notes(session, priced)
    return LoanView(
        scenario=price.name, price_yuan=price.price_yuan, price_date=price.price_date,
        price_status=price.status, threshold=str(limit),
        threshold_source=THRESHOLD_SOURCE if threshold is None else "用户给定 / given by the user",
        unverified=tuple(unverified), loans=tuple(lines),
    )  # fmt: skip
