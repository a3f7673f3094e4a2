"""Typed results of the ledger's operations and views.

An operation's result is also what a retried request gets back: it is stored as JSON with the
operation (``ledger_operation.result_json``) and in its audit event, in the shape
:meth:`Result.to_dict` gives (field names, with ``from``/``to`` for a transfer's accounts), and
read back by :meth:`Result.from_dict`. ``replayed`` says a result is the first request's, read
back — it is not stored and not compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry.results import Result, transient

__all__ = [
    "AccountHoldings",
    "AccountMove",
    "AccountStatement",
    "BlockView",
    "CancelResult",
    "Certificate",
    "CertificateProject",
    "HistoryEntry",
    "IssueResult",
    "LedgerOverview",
    "Placement",
    "PledgeCloseResult",
    "PledgeResult",
    "PledgeView",
    "ProjectHoldings",
    "RelabelResult",
    "RetireResult",
    "RetirementLine",
    "TransferResult",
]


@dataclass(frozen=True)
class Placement(Result):
    """Where issued credits went: an account, its serials, how many (t CO2e)."""

    account: str
    serials: str
    quantity: int


@dataclass(frozen=True)
class IssueResult(Result):
    """An issuance: credits = floor(verified t CO2e), ``buffer`` of them to the pool as its share,
    ``repaid`` more to the pool repaying the project's debt after a reversal
    (ledger/reversals.py)."""

    project: str
    vintage: int
    quantity: int
    buffer: int
    buffer_pct: float
    registry_minimum_pct: float
    assessed_risk_pct: float | None
    placed: tuple[Placement, ...] = field(metadata={"of": Placement})
    rounding: str
    repaid: int = 0  # more to the buffer, beyond ``buffer``: the project's debt to the pool repaid
    shortfall_cancelled: int = 0  # of ``repaid``: cancelled for an earlier reversal's shortfall
    replayed: bool = transient()


@dataclass(frozen=True)
class TransferResult(Result):
    from_account: str = field(metadata={"key": "from"})
    to_account: str = field(metadata={"key": "to"})
    quantity: int
    serials: tuple[str, ...]
    replayed: bool = transient()


@dataclass(frozen=True)
class RetireResult(Result):
    certificate: str
    account: str
    beneficiary: str
    quantity: int
    serials: tuple[str, ...]
    retired_on: str = ""  # ISO date (results recorded before it was stored read back as "")
    replayed: bool = transient()


@dataclass(frozen=True)
class CancelResult(Result):
    account: str
    reason: str
    quantity: int
    serials: tuple[str, ...]
    replayed: bool = transient()


@dataclass(frozen=True)
class PledgeResult(Result):
    pledge: int
    account: str
    bank: str
    loan_ref: str
    amount_yuan: str  # Decimal yuan to the fen, as text
    quantity: int
    serials: tuple[str, ...]
    replayed: bool = transient()


@dataclass(frozen=True)
class PledgeCloseResult(Result):
    """A pledge released (credits active again for the holder) or enforced (to the bank)."""

    pledge: int
    action: str
    quantity: int
    serials: tuple[str, ...]
    replayed: bool = transient()


@dataclass(frozen=True)
class RelabelResult(Result):
    """An eco-label attached to (or detached from) live credits of a project: the serials whose
    blocks were rewritten, and how many retired or cancelled credits in the scope were left as
    they stood (a retirement is final: its labels are those it was retired with)."""

    project: str
    vintage: int | None
    label: str
    attached: bool
    quantity: int
    serials: tuple[str, ...]
    untouched_final: int
    replayed: bool = transient()


# -- views ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockView(Result):
    """A live block: its account, serials and eco-labels (生态标签)."""

    account: str
    project: str
    vintage: int
    serials: str
    quantity: int
    state: str
    pledge: int | None
    labels: tuple[Any, ...]


@dataclass(frozen=True)
class PledgeView(Result):
    pledge: int
    holder: str
    bank: str
    loan_ref: str
    amount_yuan: str
    quantity: int
    status: str


@dataclass(frozen=True)
class ProjectHoldings(Result):
    """Per project and vintage: issued, where it is by state (t CO2e), and in the buffer pool."""

    project: str
    vintage: int
    issued: int
    active: int
    pledged: int
    retired: int
    cancelled: int
    in_buffer: int


@dataclass(frozen=True)
class AccountHoldings(Result):
    account: str
    name: str
    kind: str
    holder: str
    holder_kind: str
    active: int
    pledged: int
    retired: int
    cancelled: int


@dataclass(frozen=True)
class LedgerOverview(Result):
    projects: tuple[ProjectHoldings, ...] = field(metadata={"of": ProjectHoldings})
    accounts: tuple[AccountHoldings, ...] = field(metadata={"of": AccountHoldings})
    pledges: tuple[PledgeView, ...] = field(metadata={"of": PledgeView})


@dataclass(frozen=True)
class RetirementLine(Result):
    certificate: str
    beneficiary: str
    purpose: str
    retired_on: str
    quantity: int


@dataclass(frozen=True)
class AccountStatement(Result):
    """One account: who holds it (``account``), its balance by state, blocks, pledges given or
    taken, retirements made from it."""

    account: dict[str, Any]
    balance: dict[str, int]
    blocks: tuple[BlockView, ...] = field(metadata={"of": BlockView})
    pledges: tuple[PledgeView, ...] = field(metadata={"of": PledgeView})
    retirements: tuple[RetirementLine, ...] = field(metadata={"of": RetirementLine})


@dataclass(frozen=True)
class CertificateProject(Result):
    project: str
    name: str
    methodology: str
    vintage: int
    quantity: int


@dataclass(frozen=True)
class Certificate(Result):
    """A retirement certificate and the audit event (seq, hash) that recorded it."""

    certificate: str
    beneficiary: str
    purpose: str
    retired_on: str
    quantity: int
    account: str
    retired_by: str
    recorded_at: str
    serials: tuple[str, ...]
    projects: tuple[CertificateProject, ...] = field(metadata={"of": CertificateProject})
    audit_event: dict[str, Any]
    labels: tuple[str, ...] = ()  # the eco-label codes the credits carried when retired
    # label code → how many of the retired credits carried it (t CO2e; at most ``quantity``)
    label_quantities: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry(Result):
    """A block that held a serial: where it was, which operation made it and which closed it."""

    block: str
    account: str
    state: str
    created_by: str
    at: str
    closed_by: str | None
    labels: tuple[str, ...] = ()  # the block's eco-label codes (a label operation rewrites it)


@dataclass(frozen=True)
class AccountMove(Result):
    """One operation that touched an account: how the account's credits changed (t CO2e,
    signed: the blocks it wrote there minus the blocks it closed there — a transfer in or an
    issuance adds, a transfer out, a retirement or a cancellation takes away; a pledge or its
    release changes the credits' state, not their number: 0) and the operation's own quantity
    (what it moved, pledged or retired in all); a retirement's certificate."""

    op: int
    kind: str
    at: str
    actor: str
    change: int
    quantity: int
    certificate: str | None
