"""The review of a disturbance flag (扰动复核) and the reversals it confirms (逆转).

:func:`review_flag` — a verifier independent of the flag's project
(``registry.projects.core.require_independent``: not of the developer's organisation) decides:

- ``dismiss``: only the flag changes (status, reviewer, time, reason) and one audit event
  (``monitoring.flag_dismissed``) is written; the ledger is not touched.
- ``confirm`` (cause, event date between the two scenes' dates — default the later one): the
  loss is estimated by R1–R6 (:mod:`.losses`), ``Q`` credits are cancelled from the buffer pool
  by ``registry.ledger.reversals.cover_reversal`` (the project's own buffer credits first, then
  the pool; what the project's own share did not cover is its debt to the pool — the rule and
  its source in ``registry.ledger.reversals.RULE``), the reversal row records the equations'
  numbers, the ledger operation and the evidence's SHA-256, and one audit event
  (``monitoring.reversal_confirmed``) — all in one transaction. A flag outside every project
  cannot be confirmed (nothing was credited there); a stand already carrying a confirmed
  reversal over an overlapping interval (scene dates) is refused: a loss is counted once.

The same key with the same review returns the first result and moves nothing.
:func:`reversals_of` lists the reversals: public facts only (stand keys, project codes, the
numbers; no owner).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import DriverSQL
from registry.errors import Conflict, Invalid
from registry.remote_sensing.losses import stand_loss
from registry.remote_sensing.runs import find_flag
from registry.remote_sensing.tables import rs_flag, rs_reversal, rs_run, rs_scene
from registry.remote_sensing.views import FlagView, ReversalView, ReviewResult
from registry.request_keys import KeyedRequest
from registry.vocabulary import Role

__all__ = ["CAUSES", "DECISIONS", "REVIEWERS", "reversal_key", "reversals_of", "review_flag"]

CAUSES = ("fire", "pests", "felling", "wind", "other")
DECISIONS = ("confirm", "dismiss")
REVIEWERS = (Role.VERIFIER,)


def reversal_key(flag_id: int, key: str) -> str:
    """The ledger operation's idempotency key of a confirmation."""
    return f"reversal:{flag_id}:{key}"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def _notes(parameters_json: str | None) -> tuple[str, ...]:
    """What a reversal's figures rest on that is unverified: the ledger's rule, and the
    detection thresholds of the run that found it (its stored note)."""
    from registry.ledger.reversals import RULE_NOTE

    note = json.loads(parameters_json).get("note") if parameters_json else None
    return (RULE_NOTE, *([str(note)] if note else []))


def _reversal_view(row: Any) -> ReversalView:
    return ReversalView(
        int(row.id), int(row.flag_id), str(row.project_code), str(row.stand_key), str(row.cause),
        _iso(row.event_date), (_iso(row.interval_start), _iso(row.interval_end)), float(row.f),
        float(row.stock_s), float(row.l_phys), float(row.credited_c), float(row.l),
        float(row.u_area), float(row.u_change), float(row.u), int(row.quantity),
        None if row.op_id is None else int(row.op_id), int(row.own), int(row.pool),
        int(row.shortfall), int(row.debt), str(row.evidence_sha256),
        json.loads(row.equations_json), _iso(row.created_at), _notes(row.parameters_json),
    )  # fmt: skip


def _with_run() -> sa.Select[Any]:
    """A reversal's row and the parameters of the run that found it (for its notes)."""
    return (
        sa.select(rs_reversal, rs_run.c.parameters_json)
        .join(rs_flag, rs_flag.c.id == rs_reversal.c.flag_id)
        .join(rs_run, rs_run.c.id == rs_flag.c.run_id)
    )


def reversals_of(session: Session, project: str | None = None) -> list[ReversalView]:
    """The confirmed reversals (of one project), oldest first."""
    stmt = _with_run().order_by(rs_reversal.c.id)
    if project is not None:
        stmt = stmt.where(rs_reversal.c.project_code == project)
    return [_reversal_view(r) for r in session.execute(stmt)]


def _reversal_of_flag(session: Session, flag_id: int) -> ReversalView | None:
    row = session.execute(_with_run().where(rs_reversal.c.flag_id == flag_id)).first()
    return None if row is None else _reversal_view(row)


def _date(text: str) -> date:
    return date.fromisoformat(text[:10])


def review_flag(
    session: Session, actor: Actor, key: str, flag_id: int, decision: str, reason: str,
    cause: str | None = None, event_date: date | None = None,
) -> ReviewResult:  # fmt: skip
    """Confirm or dismiss flag ``flag_id`` (see the module's docstring)."""
    require_any_role(actor, REVIEWERS, "复核扰动标记 / review a disturbance flag")
    if decision not in DECISIONS:
        raise Invalid(f"复核结论须为 confirm 或 dismiss，而不是 {decision!r}。",
                      f"the decision must be confirm or dismiss, not {decision!r}.")  # fmt: skip
    if not reason.strip():
        raise Invalid("复核须写明理由。", "a review needs a reason.")
    request = KeyedRequest(session, key, "monitoring.review",
                           {"flag": flag_id, "decision": decision, "reason": reason, "cause": cause,
                            "event_date": None if event_date is None else event_date.isoformat()},
                           actor.label)  # fmt: skip
    if request.previous is not None:
        flag = find_flag(session, flag_id)
        return ReviewResult(flag_id, decision, flag.status, _reversal_of_flag(session, flag_id),
                            replayed=True)  # fmt: skip
    flag = find_flag(session, flag_id)
    project = None
    if flag.project is not None:
        from registry.projects.core import lock_project, require_independent

        project = lock_project(session, flag.project)
        require_independent(actor, project, "verify")
    if flag.status != "open":
        raise Conflict(f"标记 {flag_id} 已复核（{flag.status}，{flag.reviewed_by}）。",
                       f"flag {flag_id} was already reviewed ({flag.status}, {flag.reviewed_by}).")  # fmt: skip
    now = datetime.now(UTC)
    if decision == "dismiss":
        _close(session, flag_id, "dismissed", actor, now, reason)
        append_event(session, actor=actor.label, action="monitoring.flag_dismissed",
                     entity_type="rs_flag", entity_id=str(flag_id),
                     payload={"stand_key": flag.stand_key, "project": flag.project,
                              "reason": reason, "evidence_sha256": flag.evidence_sha256})  # fmt: skip
        result = ReviewResult(flag_id, decision, "dismissed", None)
    else:
        if project is None:
            raise Invalid(f"标记 {flag_id}（小班 {flag.stand_key}）不属于任何项目：未签发积分，无可逆转，只能驳回（dismiss）。",
                          f"flag {flag_id} (stand {flag.stand_key}) is outside every project: nothing "
                          "was credited there, so there is no reversal to confirm; dismiss it.")  # fmt: skip
        reversal = _confirm(session, actor, key, flag, project, reason, cause, event_date, now)
        result = ReviewResult(flag_id, decision, "confirmed", reversal)
    session.flush()
    request.finish(result.to_dict())
    return result


def _close(session: Session, flag_id: int, status: str, actor: Actor, now: datetime,
           reason: str) -> None:  # fmt: skip
    session.execute(sa.update(rs_flag).where(rs_flag.c.id == flag_id).values(
        status=status, reviewed_by=actor.label, reviewed_at=now, review_reason=reason))  # fmt: skip


def _scene_pair(flag_ids: Any) -> sa.Select[Any]:
    """(flag id, before SHA-256, after SHA-256) of the flags selected by ``flag_ids``."""
    before, after = rs_scene.alias("before_scene"), rs_scene.alias("after_scene")
    return (
        sa.select(rs_flag.c.id, before.c.sha256, after.c.sha256)
        .join(rs_run, rs_run.c.id == rs_flag.c.run_id)
        .join(before, before.c.id == rs_run.c.before_scene_id)
        .join(after, after.c.id == rs_run.c.after_scene_id)
        .where(rs_flag.c.id.in_(flag_ids))
    )


def _same_images(session: Session, flag: FlagView) -> None:
    """Refuse a flag whose two images (by SHA-256) are those of a confirmed reversal of the
    same stand: the same change re-dated would be counted twice."""
    mine = session.execute(_scene_pair([flag.id])).one()
    confirmed = (
        sa.select(rs_reversal.c.flag_id)
        .where(rs_reversal.c.project_code == flag.project)
        .where(rs_reversal.c.stand_key == flag.stand_key)
    )
    for other_id, before_sha, after_sha in session.execute(_scene_pair(confirmed)):
        if (before_sha, after_sha) == (mine[1], mine[2]):
            raise Conflict(f"标记 {flag.id} 的两期影像（SHA-256 {before_sha[:12]}…/{after_sha[:12]}…）与小班 {flag.stand_key} 已确认的逆转（标记 {other_id}）相同：同一变化只计一次。",
                           f"flag {flag.id}'s two images (SHA-256 {before_sha[:12]}…/"
                           f"{after_sha[:12]}…) are those of stand {flag.stand_key}'s confirmed "
                           f"reversal (flag {other_id}): one change is counted once.")  # fmt: skip


def _confirm(
    session: Session, actor: Actor, key: str, flag: FlagView, project: Any, reason: str,
    cause: str | None, event_date: date | None, now: datetime,
) -> ReversalView:  # fmt: skip
    from registry.ledger.reversals import cover_reversal

    if cause not in CAUSES:
        raise Invalid(f"确认逆转须给出原因（{', '.join(CAUSES)}），而不是 {cause!r}。",
                      f"a confirmation needs a cause ({', '.join(CAUSES)}), not {cause!r}.")  # fmt: skip
    from registry.projects.monitoring import crediting_end

    start, end = _date(flag.before_on), _date(flag.after_on)
    event = event_date or end
    _same_images(session, flag)
    if not start < event <= end:
        raise Invalid(f"事件日期 {event} 须在两期影像之间（{start} 之后，{end} 及之前）。",
                      f"the event date {event} must lie between the scenes ({start} < date ≤ {end}).")  # fmt: skip
    if event < project.start_date:
        raise Invalid(f"事件日期 {event} 早于项目 {project.code} 的开始日期 {project.start_date}：开始前的损失已含在起始碳储量中，不是逆转。",
                      f"the event date {event} is before project {project.code}'s start "
                      f"{project.start_date}: a loss before the start is in the starting stock, "
                      "not a reversal.")  # fmt: skip
    last = crediting_end(project)
    if event >= last:
        raise Invalid(f"事件日期 {event} 在项目 {project.code} 的计入期结束（{last} 之前）之后：计入期后不再签发，无可逆转。",
                      f"the event date {event} is after project {project.code}'s crediting period "
                      f"(ends before {last}): nothing is credited after it, so nothing is reversed.")  # fmt: skip
    overlapping = session.execute(
        sa.select(rs_reversal.c.id, rs_reversal.c.flag_id)
        .where(rs_reversal.c.project_code == flag.project)
        .where(rs_reversal.c.stand_key == flag.stand_key)
        .where(rs_reversal.c.interval_start < end).where(rs_reversal.c.interval_end > start)
    ).first()  # fmt: skip
    if overlapping is not None:
        raise Conflict(f"小班 {flag.stand_key} 在 {start}–{end} 期间已有确认的逆转（标记 {overlapping[1]}）：同一损失只计一次。",
                       f"stand {flag.stand_key} already carries a confirmed reversal over "
                       f"{start}–{end} (flag {overlapping[1]}): a loss is counted once.")  # fmt: skip
    stats = flag.stats
    f_prior, loss_prior = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(rs_reversal.c.f), 0.0),
                  sa.func.coalesce(sa.func.sum(rs_reversal.c.l), 0.0))
        .where(rs_reversal.c.project_code == flag.project)
        .where(rs_reversal.c.stand_key == flag.stand_key)
    ).one()  # fmt: skip
    estimate = stand_loss(session, project, flag.stand_key, float(stats["disturbed_share"]),
                          float(stats["area_u"]), event, float(f_prior), float(loss_prior))  # fmt: skip
    equations = estimate.equations()
    op_key = reversal_key(flag.id, key)
    own = pool = shortfall = debt = 0
    op_id = None
    if estimate.quantity > 0:
        cover = cover_reversal(session, actor, op_key, project.code, estimate.quantity,
                               f"{cause}: {reason}", flag.evidence_sha256)  # fmt: skip
        own, pool = int(cover.own), int(cover.pool)
        shortfall, debt = int(cover.shortfall), int(cover.debt)
        equations["ledger_rule"] = cover.rule
        row = DriverSQL(session).first(
            "SELECT id FROM ledger_operation WHERE idempotency_key = :k", {"k": op_key}
        )
        op_id = None if row is None else int(row[0])
    _close(session, flag.id, "confirmed", actor, now, reason)
    values = {
        "flag_id": flag.id, "project_code": project.code, "stand_key": flag.stand_key,
        "cause": cause, "event_date": event, "interval_start": start, "interval_end": end,
        "f": estimate.f, "stock_s": estimate.stock, "l_phys": estimate.l_phys,
        "credited_c": estimate.credited, "l": estimate.loss, "u_area": estimate.u_area,
        "u_change": estimate.u_change, "u": estimate.u, "quantity": estimate.quantity,
        "op_id": op_id, "own": own, "pool": pool, "shortfall": shortfall, "debt": debt,
        "evidence_sha256": flag.evidence_sha256,
        "equations_json": json.dumps(equations, ensure_ascii=False, sort_keys=True),
        "created_by": actor.label, "created_at": now,
    }  # fmt: skip
    session.execute(sa.insert(rs_reversal).values(**values))
    append_event(session, actor=actor.label, action="monitoring.reversal_confirmed",
                 entity_type="rs_flag", entity_id=str(flag.id),
                 payload={"project": project.code, "stand_key": flag.stand_key, "cause": cause,
                          "event_date": event.isoformat(), "reason": reason,
                          "estimate": {"L_phys": estimate.l_phys, "L": estimate.loss,
                                       "U": estimate.u, "Q": estimate.quantity},
                          "equations": equations, "op_id": op_id, "own": own, "pool": pool,
                          "shortfall": shortfall, "debt": debt,
                          "evidence_sha256": flag.evidence_sha256})  # fmt: skip
    session.flush()
    found = _reversal_of_flag(session, flag.id)
    assert found is not None
    return found
