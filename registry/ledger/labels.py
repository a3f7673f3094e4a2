"""Eco-labels on credits (生态标签): attach a label to a project's live credits, or detach it.

A block never changes in place (migration 0007's guard covers its labels), so labelling is an
operation like the others: it closes the blocks it touches and writes them again with the new
label set — the history of a serial shows when a label came and went. Labels then travel with
the credits through every later transfer, split, pledge and release (:func:`.blocks.rewrite`
copies them onto every piece). Retired and cancelled credits are final: they keep the labels
they had, and the result counts them (``untouched_final``).

Which label may be attached, and whether a project meets its criteria, is the labels service's
business (:mod:`registry.labels`); the ledger only checks the actor is a registry admin, the code
is well formed, and that something changes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from registry.actors import Actor, require_any_role
from registry.audit import canonical_json
from registry.db import DriverSQL
from registry.errors import BadInput, NothingToLabel
from registry.ledger.accounts import ACCOUNT_LOCK
from registry.ledger.blocks import Block, Piece, rewrite
from registry.ledger.operations import Operation
from registry.ledger.results import RelabelResult
from registry.ledger.serials import parse_serial
from registry.ledger.validation import check_label_code
from registry.ledger.vocabulary import BlockState, OperationKind
from registry.vocabulary import Role

__all__ = ["LIVE_STATES", "label_set", "labels_json", "relabel"]

LIVE_STATES = (BlockState.ACTIVE.value, BlockState.PLEDGED.value)


def label_set(labels: str) -> list[str]:
    """The label codes of a block's ``labels`` JSON (codes, or objects with a ``code``)."""
    out = []
    for x in json.loads(labels or "[]"):
        out.append(str(x.get("code", x)) if isinstance(x, dict) else str(x))
    return out


def labels_json(codes: list[str] | set[str]) -> str:
    """A block's labels as stored: the sorted codes, canonical JSON (one text per set)."""
    return canonical_json(sorted(set(codes)))


def relabel(
    session: Session, actor: Actor, idempotency_key: str, project: str, label: str,
    vintage: int | None = None, attach: bool = True, serials: str | None = None,
) -> RelabelResult:  # fmt: skip
    """Attach ``label`` to (or, ``attach=False``, detach it from) every live active or pledged
    credit of ``project`` — of one ``vintage``, or within the block of ``serials`` — wherever it
    is held. Registry admins only. Retired and cancelled credits are never rewritten.

    Locks (PostgreSQL): every account holding live credits of the scope, in id order, re-read
    until the set is stable — no credit of the scope can then move in or out until the commit.
    """
    require_any_role(actor, (Role.ADMIN,), "为积分贴上或撤下生态标签 / attach or detach eco-labels")
    check_label_code(label)
    if vintage is not None and (isinstance(vintage, bool) or not isinstance(vintage, int)):
        raise BadInput(f"年份 {vintage!r} 须为整数。", f"vintage {vintage!r} must be a whole year.")
    op = Operation(session, OperationKind.LABEL, idempotency_key,
                   {"project": project, "vintage": vintage, "label": label, "attach": attach,
                    "serials": serials}, actor.label)  # fmt: skip
    if op.previous is not None:
        return RelabelResult.from_dict(op.previous, replayed=True)
    where, params = "b.project_code = :p", dict[str, Any](p=project)
    if vintage is not None:
        where += " AND b.vintage = :v"
        params["v"] = vintage
    scope = None
    if serials is not None:
        scope = parse_serial(serials)
        if scope.project != project or (vintage is not None and scope.vintage != vintage):
            raise BadInput(
                f"序列号 {serials} 不属于项目 {project}" + (f" {vintage} 年份" if vintage else "") + "。",
                f"serials {serials} are not of project {project}" + (f", vintage {vintage}" if vintage else "") + ".",
            )  # fmt: skip
        where += " AND b.vintage = :v AND b.first_seq <= :last AND b.last_seq >= :first"
        params.update({"v": scope.vintage, "first": scope.first, "last": scope.last})
    _lock_holders(op.db, where, params)
    rows = op.db.rows(
        "SELECT b.id, b.project_code, b.vintage, b.first_seq, b.last_seq, b.account_id, b.state, b.pledge_id, b.labels "
        f"FROM credit_block b WHERE b.closed_op_id IS NULL AND {where} ORDER BY b.vintage, b.first_seq",
        params,
    )  # fmt: skip
    pieces: list[Piece] = []
    final = 0
    for r in rows:
        b = Block(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6], r[7], r[8])
        first, last = b.first, b.last
        if scope is not None:
            first, last = max(first, scope.first), min(last, scope.last)
        if b.state not in LIVE_STATES:
            final += last - first + 1
        elif (label in label_set(b.labels)) != attach:
            pieces.append((b, first, last))
    if not pieces:
        where_zh = (
            f"{project}"
            + (f" {vintage} 年份" if vintage is not None else "")
            + (f" {serials}" if serials else "")
        )
        raise NothingToLabel(
            f"{where_zh} 没有需要{'贴上' if attach else '撤下'}标签 {label} 的有效或质押积分"
            f"（{'都已带有该标签' if attach else '都没有该标签'}，或已退役/注销，或不存在）。",
            f"no active or pledged credit of {project}" + (f" vintage {vintage}" if vintage is not None else "")
            + (f" {serials}" if serials else "") + f" {'lacks' if attach else 'carries'} the label {label} "
            "(all have it already, or none, or they are retired, cancelled or unknown).",
        )  # fmt: skip

    def becomes(b: Block) -> tuple[Block, int, str, int | None]:
        codes = set(label_set(b.labels))
        codes = codes | {label} if attach else codes - {label}
        return replace(b, labels=labels_json(codes)), b.account_id, b.state, b.pledge_id

    changed = rewrite(op, pieces, becomes)
    result = RelabelResult(project=project, vintage=vintage, label=label, attached=attach,
                           quantity=sum(hi - lo + 1 for _, lo, hi in pieces), serials=changed,
                           untouched_final=final)  # fmt: skip
    op.finish(result)
    return result


def _lock_holders(db: DriverSQL, where: str, params: dict[str, Any]) -> None:
    """PostgreSQL: lock every account holding live credits of the scope, in id order, until the
    set read after locking is the set locked (SQLite's BEGIN IMMEDIATE already serialises)."""
    if not db.postgres:
        return
    locked: set[int] = set()
    while True:
        held = {int(r[0]) for r in db.rows(
            f"SELECT DISTINCT b.account_id FROM credit_block b WHERE b.closed_op_id IS NULL AND {where}",
            params)}  # fmt: skip
        new = held - locked
        if not new:
            return
        ids = {f"a{i}": a for i, a in enumerate(sorted(new))}
        db.rows(
            f"SELECT id FROM ledger_account WHERE id IN ({', '.join(':' + k for k in ids)}) ORDER BY id"
            + ACCOUNT_LOCK,
            ids,
        )
        locked |= new
