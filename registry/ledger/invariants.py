"""The ledger's invariants, checked against the tables."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["check_invariants"]


def check_invariants(session: Session) -> list[str]:
    """Every violation of the ledger's invariants (empty when the ledger tells the truth): per
    project and vintage the live blocks hold what was issued, do not overlap, leave no gap and
    lie within the serials allocated; no retired or cancelled block was ever moved; no project
    repaid the buffer pool more than it owed, nor cancelled more for a shortfall than it was
    short."""
    problems = []
    for project, vintage, issued, next_seq in session.execute(
        text("SELECT project_code, vintage, issued, next_seq FROM serial_counter")
    ).all():
        live = session.execute(
            text("SELECT first_seq, last_seq FROM credit_block WHERE closed_op_id IS NULL AND project_code = :p AND vintage = :v ORDER BY first_seq"),
            {"p": project, "v": vintage},
        ).all()  # fmt: skip
        total = sum(b - a + 1 for a, b in live)
        if total != issued:
            problems.append(f"{project}/{vintage}: live blocks hold {total}, issued {issued}")
        for (_a1, b1), (a2, _b2) in pairwise(live):
            if a2 <= b1:
                problems.append(f"{project}/{vintage}: blocks overlap at {a2}")
        if live and (live[0][0] < 1 or live[-1][1] >= next_seq):
            problems.append(f"{project}/{vintage}: serials outside 1..{next_seq - 1}")
        if (
            live
            and total == issued
            and (live[0][0] != 1 or any(a2 != b1 + 1 for (_a1, b1), (a2, _b2) in pairwise(live)))
        ):
            problems.append(f"{project}/{vintage}: gaps between live blocks")
    bad = session.execute(
        text(
            "SELECT count(*) FROM credit_block WHERE closed_op_id IS NOT NULL AND state IN ('retired', 'cancelled')"
        )
    ).scalar()
    if bad:
        problems.append(f"{bad} retired or cancelled blocks were moved")
    for project, owed, short in session.execute(
        text(
            "SELECT project_code, SUM(quantity), SUM(shortfall) FROM buffer_debt GROUP BY project_code"
        )
    ).all():
        if int(owed) < 0:
            problems.append(f"{project}: repaid {-int(owed)} more to the buffer pool than it owed")
        if not 0 <= int(short) <= int(owed):
            problems.append(f"{project}: shortfall {int(short)} outside 0..debt {int(owed)}")
    return problems
