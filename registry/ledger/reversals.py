"""Covering a reversal from the pooled buffer account (缓冲池抵偿碳汇逆转), and the project's debt.

A reversal is a loss of carbon stock that had been verified and credited (fire, pests, felling
after issuance). The buffer pool exists for it: credits set aside at every issuance, held by the
registry (account ``BUFFER``), never traded. :func:`cover_reversal` cancels ``quantity`` of them —
the project's own buffer credits first, then the pool's oldest — and records the part the
project's own contribution did not cover as its debt to the pool, which its next issuances repay
(:func:`registry.ledger.moves.issue` sends that many more of its credits to ``BUFFER``).

Who may ask for it is decided by the caller's service (``registry.remote_sensing.reversals``: an
independent verifier's confirmation of a detected loss); here only the role is checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.db import DriverSQL
from registry.errors import BadQuantity, UnknownProject
from registry.ledger.accounts import account, system_account
from registry.ledger.blocks import Piece, move, select
from registry.ledger.operations import Operation, row_lock
from registry.ledger.validation import check_text
from registry.ledger.vocabulary import AccountKind, BlockState, OperationKind
from registry.results import Result, transient
from registry.vocabulary import Role

__all__ = [
    "RULE",
    "RULE_SOURCES",
    "ReversalCover",
    "buffer_held",
    "cover_reversal",
    "outstanding_debt",
]

RULE = (
    "逆转抵偿规则：按逆转量注销缓冲池积分——先注销本项目存入的缓冲积分，不足部分注销缓冲池中其他项目的积分"
    "（按项目、年份、序列号先后）；超出本项目存入量的部分记为本项目对缓冲池的欠量，由本项目此后每次签发"
    "在正常缓冲比例之外再存入缓冲池偿还，还清为止；缓冲池不足以抵偿的部分（缺口）也记入欠量，偿还时先把"
    "相应数量的偿还积分直接注销，补上当初未能注销的逆转。 / "
    "Reversal rule: cancel buffer credits equal to the reversal — the project's own contributions "
    "first, then other projects' credits in the pool (by project, vintage, serial); the part beyond "
    "the project's own contribution is the project's debt to the pool, repaid from each of its later "
    "issuances by sending that many more credits to the buffer on top of the normal share until it "
    "is repaid; a part the pool cannot cover (a shortfall) is owed too, and as it is repaid that "
    "many of the repaid credits are cancelled at once, completing the reversal's cancellation."
)
RULE_SOURCES = (
    "Verra, VCS Standard v4.5 (2023-08-29) §3.2.26 and the AFOLU Buffer Account Compensation for "
    "Reversals Deed (required from 2024-01-01; Verra program notice 'New AFOLU Buffer Pool "
    "Compensation Agreement'): buffer credits are cancelled for a reversal, and the proponent "
    "compensates the pooled buffer account — read through that notice, not the Standard's own "
    "text here: unverified.",
    "Nature Carbon Standard (NCS), §5.6.2 'Reversals': credits cancelled from the shared buffer "
    "pool equal the size of the reversal.",
    "China's CCER rules (2023) set no pooled buffer account: this rule is the registry's own, by "
    "analogy with the above, until the bureau or the CCER administrator sets one — unverified.",
)

RULE_NOTE = (
    "逆转抵偿规则为登记簿自定（参照 Verra VCS 与 NCS 的缓冲池规则；国内 CCER 无缓冲池规定），未经核实。 / "
    "The reversal rule is the registry's own (after Verra VCS and NCS buffer-pool rules; China's "
    "CCER sets none): UNVERIFIED."
)


@dataclass(frozen=True)
class ReversalCover(Result):
    """Buffer credits cancelled for a reversal (t CO2e). ``account``, ``reason``, ``quantity``
    (cancelled) and ``serials`` read as a cancellation (the audit action is ``ledger.cancel``);
    ``requested`` = ``own`` + ``pool`` + ``shortfall``; ``debt`` = ``requested`` − ``own``."""

    account: str
    reason: str
    quantity: int
    serials: tuple[str, ...]
    project: str
    requested: int
    own: int
    pool: int
    shortfall: int
    debt: int
    evidence_sha256: str
    rule: str
    replayed: bool = transient()


def buffer_held(db: DriverSQL, project: str | None = None) -> int:
    """Active credits in the buffer pool (t CO2e): the project's own contributions, or all."""
    where, params = "", {}
    if project is not None:
        where, params = " AND b.project_code = :p", {"p": project}
    row = db.first(
        "SELECT COALESCE(SUM(b.last_seq - b.first_seq + 1), 0) FROM credit_block b "
        "JOIN ledger_account a ON a.id = b.account_id "
        f"WHERE b.closed_op_id IS NULL AND b.state = 'active' AND a.kind = 'buffer'{where}",
        params,
    )  # fmt: skip
    return int(row[0]) if row is not None else 0


@dataclass(frozen=True)
class ShortfallCancel(Result):
    """Repaid buffer credits cancelled for an earlier reversal's shortfall (t CO2e); reads as a
    cancellation (the audit action is ``ledger.cancel``)."""

    account: str
    reason: str
    quantity: int
    serials: tuple[str, ...]
    shortfall_of: str  # the project whose reversal the pool could not cover in full
    replayed: bool = transient()


def outstanding_debt(session: Session, project: str) -> tuple[int, int]:
    """(debt, shortfall) the project still owes the pool (t CO2e): reversals beyond its own
    contributions less what its issuances repaid, and the part of them the pool could not
    cancel less what was cancelled since (``buffer_debt``, migration 0020)."""
    row = DriverSQL(session).first(
        "SELECT COALESCE(SUM(quantity), 0), COALESCE(SUM(shortfall), 0) FROM buffer_debt "
        "WHERE project_code = :p",
        {"p": project},
    )
    return (int(row[0]), int(row[1])) if row is not None else (0, 0)


def cancel_shortfall(
    session: Session, actor: Actor, key: str, project: str, vintage: int, quantity: int
) -> ShortfallCancel:
    """Cancel ``quantity`` of the project's buffer credits of ``vintage`` (just repaid by its
    issuance) for the shortfall of an earlier reversal; called by the ledger's issuance, in its
    transaction, right after the repayment (its own idempotency key and audit event)."""
    op = Operation(session, OperationKind.CANCEL, key,
                   {"account": "BUFFER", "shortfall_of": project, "vintage": vintage,
                    "quantity": quantity}, actor.label)  # fmt: skip
    if op.previous is not None:
        return ShortfallCancel.from_dict(op.previous, replayed=True)
    buffer_id, _ = account(op.db, "BUFFER", (AccountKind.BUFFER.value,), lock=True)
    cancelled_to = system_account(session, AccountKind.CANCELLATION, actor.label)
    pieces = select(op.db, buffer_id, BlockState.ACTIVE.value, quantity, None, project, vintage)
    moved = move(op, pieces, cancelled_to, BlockState.CANCELLED.value, None)
    op.db.rows("INSERT INTO buffer_debt (op_id, project_code, kind, quantity, shortfall) "
               "VALUES (:o, :p, 'shortfall_cancelled', 0, :s)",
               {"o": op.id, "p": project, "s": -quantity})  # fmt: skip
    result = ShortfallCancel("BUFFER", "逆转缺口补注销 / a reversal's shortfall cancelled on repayment",
                             quantity, moved, project)  # fmt: skip
    op.finish(result)
    return result


def cover_reversal(
    session: Session, actor: Actor, key: str, project: str, quantity: int, reason: str,
    evidence_sha256: str,
) -> ReversalCover:  # fmt: skip
    """Cancel ``quantity`` buffer credits for a reversal of ``project`` under :data:`RULE`, in the
    caller's transaction, with the idempotency ``key`` (a retry returns the first result)."""
    require_any_role(actor, (Role.VERIFIER, Role.ADMIN), "以缓冲池抵偿碳汇逆转 / cover a reversal from the buffer pool")  # fmt: skip
    op = Operation(session, OperationKind.CANCEL, key,
                   {"account": "BUFFER", "reversal_of": project, "quantity": quantity, "reason": reason,
                    "evidence_sha256": evidence_sha256}, actor.label)  # fmt: skip
    if op.previous is not None:
        return ReversalCover.from_dict(op.previous, replayed=True)
    check_text(reason, "逆转原因", "reason for the reversal")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise BadQuantity(f"逆转量 {quantity!r} 须为非负整数（吨）。",
                          f"the reversal {quantity!r} must be a whole number of tonnes, 0 or more.")  # fmt: skip
    db = op.db
    # the project row serialises this with the project's issuance (which repays the debt)
    if db.first("SELECT id FROM project WHERE code = :c" + row_lock(db), {"c": project}) is None:
        raise UnknownProject(f"没有项目 {project!r}。", f"no project {project!r}.")
    system_account(session, AccountKind.BUFFER, actor.label)
    buffer_id, _ = account(db, "BUFFER", (AccountKind.BUFFER.value,), lock=True)
    cancelled_to = system_account(session, AccountKind.CANCELLATION, actor.label)
    own = min(quantity, buffer_held(db, project))
    moved: list[str] = []
    if own:
        moved += move(
            op, _pieces(db, buffer_id, own, project), cancelled_to, BlockState.CANCELLED.value, None
        )
    pool = min(quantity - own, buffer_held(db))
    if pool:
        moved += move(
            op, _pieces(db, buffer_id, pool, None), cancelled_to, BlockState.CANCELLED.value, None
        )
    debt = quantity - own
    shortfall = quantity - own - pool
    if debt:
        db.rows("INSERT INTO buffer_debt (op_id, project_code, kind, quantity, shortfall) "
                "VALUES (:o, :p, 'reversal', :q, :s)",
                {"o": op.id, "p": project, "q": debt, "s": shortfall})  # fmt: skip
    result = ReversalCover(account="BUFFER", reason=reason, quantity=own + pool, serials=tuple(moved),
                           project=project, requested=quantity, own=own, pool=pool,
                           shortfall=shortfall, debt=debt,
                           evidence_sha256=evidence_sha256, rule=RULE)  # fmt: skip
    op.finish(result)
    return result


def _pieces(db: DriverSQL, buffer_id: int, quantity: int, project: str | None) -> list[Piece]:
    return select(db, buffer_id, BlockState.ACTIVE.value, quantity, None, project)
