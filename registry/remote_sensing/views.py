"""What the monitoring services return (public facts only: stand keys and project codes, never
an owner's name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from registry.results import Result, transient

__all__ = ["FlagView", "ReversalView", "ReviewResult", "RunView"]


@dataclass(frozen=True)
class FlagView(Result):
    id: int
    run_id: int
    stand_key: str
    project: str | None
    status: str  # open | confirmed | dismissed
    before: str  # scene names
    after: str
    before_on: str
    after_on: str
    stats: dict[str, Any]
    evidence_sha256: str
    reviewed_by: str | None
    reviewed_at: str | None
    review_reason: str | None


@dataclass(frozen=True)
class RunView(Result):
    id: int
    before: str
    after: str
    project: str | None
    parameters: dict[str, Any]
    stands_checked: int
    flagged: int
    unobserved: int
    note: str
    flags: tuple[FlagView, ...] = field(metadata={"of": FlagView})


@dataclass(frozen=True)
class ReversalView(Result):
    """A confirmed reversal: the equations' numbers (R1–R6), the credits cancelled from the
    buffer pool (``own`` from the project's own share, ``pool`` from others', ``debt`` owed to
    the pool) and the ledger operation."""

    id: int
    flag_id: int
    project: str
    stand_key: str
    cause: str
    event_date: str
    interval: tuple[str, str]
    f: float
    stock_s: float
    l_phys: float
    credited_c: float
    loss: float
    u_area: float
    u_change: float
    u: float
    quantity: int
    op_id: int | None
    own: int
    pool: int
    shortfall: int
    debt: int
    evidence_sha256: str
    equations: dict[str, Any]
    created_at: str
    notes: tuple[str, ...] = ()  # the unverified rules and thresholds behind these figures


@dataclass(frozen=True)
class ReviewResult(Result):
    flag_id: int
    decision: str  # confirm | dismiss
    status: str
    reversal: ReversalView | None
    replayed: bool = transient()
