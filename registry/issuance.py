"""Issuance: the service that turns a verified monitoring period into credits.

It checks that the caller may issue (the roles of the lifecycle's ``issue`` action), asks the
ledger for the serials (:func:`registry.ledger.issue`: buffer share, rounding, idempotency) and
moves the project to ``issued`` — all in the caller's transaction, so a refusal anywhere leaves
nothing behind. The ledger itself knows nothing of projects' lifecycles.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from registry import ledger
from registry.ledger.results import IssueResult
from registry.models import Project, ProjectStatus
from registry.projects import TRANSITIONS, Actor, require_role, transition

__all__ = ["issue"]


def issue(
    session: Session, actor: Actor, project_code: str, idempotency_key: str, minimum_pct: float,
    requested_pct: float | None = None, owner_account: str | None = None,
) -> IssueResult:  # fmt: skip
    """Issue the project's verified, not yet issued monitoring period (see
    :func:`registry.ledger.issue` for the buffer share — the registry's ``minimum_pct`` from its
    settings, raised by ``requested_pct`` or the assessed risk, never lowered — and rounding);
    the project goes ``verified`` → ``issued`` unless a later monitoring report has moved it on
    already. A retried request (same key) returns the first result and changes nothing."""
    require_role(actor, TRANSITIONS["issue"].roles, "签发碳汇积分 / issue credits")
    result = ledger.issue(session, actor, project_code, idempotency_key, minimum_pct,
                          requested_pct, owner_account)  # fmt: skip
    if result.replayed:
        return result
    status = session.execute(
        select(col(Project.status)).where(col(Project.code) == project_code)
    ).scalar_one()
    if status == ProjectStatus.VERIFIED:
        transition(session, actor, project_code, "issue", f"{result.quantity} credits issued")
    return result
