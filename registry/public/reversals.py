"""The public facts of confirmed reversals (已确认的逆转): what the public API, the project page
and the monitoring report show — the project, the stand key, the cause, the event date, the
disturbed area, the reversal ``L ± L×U`` (t CO2e, eqs. R4–R5 of
``registry.remote_sensing.losses``), the credits cancelled from the buffer pool (``Q``, eq. R6)
and how they were covered (the project's own buffer share, the pool, the debt to the pool), the
ledger operation and the evidence's SHA-256. Never an owner's name, the reviewer or the
review's free-text reason (a verifier might name a household there)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry.results import Result

__all__ = ["PublicReversal", "public_reversals"]


@dataclass(frozen=True)
class PublicReversal(Result):
    """One confirmed reversal. Units: ``disturbed_ha`` ha; ``f`` the disturbed share (R1);
    ``l_phys`` physical stock lost (R2), ``loss`` the credited part L (R4) and ``loss_pm`` its
    ± L×U (R5), all t CO2e; ``u`` relative (90 % half-width); credits are 1 t CO2e each."""

    id: int
    project: str
    stand_key: str
    cause: str
    event_date: str
    interval_start: str
    interval_end: str
    disturbed_ha: float
    f: float
    l_phys: float
    loss: float
    u: float
    loss_pm: float
    credits_cancelled: int
    own: int
    pool: int
    shortfall: int
    debt: int
    ledger_op: int | None
    evidence_sha256: str
    confirmed_at: str
    notes: tuple[str, ...] = ()  # unverified rule and thresholds behind the figures


def public_reversals(session: Session, project: str | None = None) -> list[PublicReversal]:
    """The confirmed reversals (of ``project``), oldest first, public facts only."""
    from registry.remote_sensing.reversals import reversals_of
    from registry.remote_sensing.runs import find_flag

    out = []
    for r in reversals_of(session, project):
        stats = find_flag(session, r.flag_id).stats
        out.append(PublicReversal(
            r.id, r.project, r.stand_key, r.cause, r.event_date, r.interval[0], r.interval[1],
            float(stats.get("disturbed_ha", 0.0)), r.f, r.l_phys, r.loss, r.u, r.loss * r.u,
            r.quantity, r.own, r.pool, r.shortfall, r.debt, r.op_id, r.evidence_sha256,
            r.created_at, r.notes,
        ))  # fmt: skip
    return out
