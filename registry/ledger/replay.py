"""Rebuild the ledger from its audit log alone and compare it with the tables.

The audit log records every organisation registered, every account opened and every ledger
operation with its request and its result (the serials it moved). Replaying those events in
order rebuilds what the tables must hold: organisations, accounts, operations, issuances and
serial counters, retirements, pledges, and which account holds every live serial in which state.
Any difference is a row changed behind the ledger's back — the database's guards (migrations
0004, 0005 and 0011) refuse such changes from an ordinary connection, so a difference means
someone with the tables' owner rights edited them. Each is reported with the ids involved.

The log itself is checked by :func:`registry.audit.verify_chain` (its hashes) and against
signed checkpoints (:mod:`registry.checkpoints`); replay trusts what the log says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.audit import canonical_json
from registry.ledger.labels import LIVE_STATES, label_set, labels_json
from registry.ledger.serials import format_block, parse_serial
from registry.organisations import EFFECTIVE_KIND

__all__ = ["Difference", "ReplayReport", "replay"]

Segment = list[Any]  # [first, last, account code, state, pledge id, labels (canonical JSON)]
NO_LABELS = "[]"


@dataclass(frozen=True)
class Difference:
    """One way the tables differ from the log: which table, which rows, what."""

    table: str
    ids: str
    message_zh: str
    message_en: str

    def describe(self) -> str:
        return f"{self.table} {self.ids}: {self.message_zh} / {self.message_en}"


@dataclass(frozen=True)
class ReplayReport:
    n_events: int
    differences: tuple[Difference, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


@dataclass
class _Model:
    """What the log says the ledger holds."""

    organisations: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    accounts: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    operations: dict[int, tuple[str, str, str, str]] = field(default_factory=dict)
    issuances: dict[int, tuple[str, int, int, int]] = field(default_factory=dict)
    issued: dict[tuple[str, int], int] = field(default_factory=dict)
    retirements: dict[str, tuple[int, str, str, str, int, str]] = field(default_factory=dict)
    pledges: dict[int, list[Any]] = field(default_factory=dict)
    debts: dict[int, tuple[str, str, int, int]] = field(default_factory=dict)  # buffer_debt by op
    segments: dict[tuple[str, int], list[Segment]] = field(default_factory=dict)
    problems: list[Difference] = field(default_factory=list)

    def move(self, seq: int, serials: Iterable[str], expect: tuple[str | None, str, int | None],
             to: tuple[str, str, int | None]) -> None:  # fmt: skip
        """Reassign each block of serials from ``expect`` (account, state, pledge; account None:
        any) to ``to``, splitting segments; a serial the log never placed there is a problem."""

        def fits(seg: Segment) -> bool:
            return (expect[0] is None or seg[2] == expect[0]) and tuple(seg[3:5]) == expect[1:]

        def moved(block: str, seg: Segment) -> tuple[str, str]:
            return (f"日志中的操作移动了 {block}，但按日志它们在 {seg[2]}（{seg[3]}）",
                    f"the logged operation moves {block}, which by the log were in {seg[2]} ({seg[3]})")  # fmt: skip

        self._rewrite(seq, serials, fits, lambda seg: [*to, seg[5]], moved,
                      ("日志中的操作移动了从未签发的序列号", "the logged operation moves serials that were never issued"))  # fmt: skip

    def place(self, project: str, vintage: int, block: str, account: str) -> None:
        r = parse_serial(block)
        self.segments.setdefault((project, vintage), []).append(
            [r.first, r.last, account, "active", None, NO_LABELS]
        )
        self.segments[(project, vintage)].sort(key=lambda s: s[0])

    def relabel(self, seq: int, serials: Iterable[str], label: str, attach: bool) -> None:
        """Add ``label`` to (or take it from) the labels of each block of serials, which by the
        log must be live (active or pledged) and lack (or carry) the label."""

        def fits(seg: Segment) -> bool:
            return seg[3] in LIVE_STATES and (label in label_set(seg[5])) != attach

        def becomes(seg: Segment) -> list[Any]:
            codes = set(label_set(seg[5]))
            return [*seg[2:5], labels_json(codes | {label} if attach else codes - {label})]

        def rewritten(block: str, seg: Segment) -> tuple[str, str]:
            return (f"日志中的标签操作改写了 {block}，但按日志它们为 {seg[3]}，标签 {seg[5]}",
                    f"the logged label operation rewrites {block}, which by the log were {seg[3]} "
                    f"with labels {seg[5]}")  # fmt: skip

        self._rewrite(seq, serials, fits, becomes, rewritten,
                      ("日志中的标签操作改写了从未签发的序列号", "the logged label operation rewrites serials that were never issued"))  # fmt: skip

    def _rewrite(self, seq: int, serials: Iterable[str], fits: Callable[[Segment], bool],
                 becomes: Callable[[Segment], list[Any]],
                 misfit: Callable[[str, Segment], tuple[str, str]],
                 never_issued: tuple[str, str]) -> None:  # fmt: skip
        """Split the segments at each block of serials and give the part inside what
        ``becomes(segment)`` says (account, state, pledge, labels); a part the log says does not
        ``fit`` the operation, and serials the log never issued, are problems."""
        for block in serials:
            r = parse_serial(block)
            segs = self.segments.setdefault((r.project, r.vintage), [])
            covered, kept = 0, []
            for seg in segs:
                first, last = seg[0], seg[1]
                if last < r.first or first > r.last:
                    kept.append(seg)
                    continue
                lo, hi = max(first, r.first), min(last, r.last)
                if not fits(seg):
                    zh, en = misfit(format_block(r.project, r.vintage, lo, hi), seg)
                    self.problems.append(Difference("audit_event", f"#{seq}", zh, en))
                covered += hi - lo + 1
                if first < lo:
                    kept.append([first, lo - 1, *seg[2:]])
                kept.append([lo, hi, *becomes(seg)])
                if hi < last:
                    kept.append([hi + 1, last, *seg[2:]])
            if covered != r.size:
                self.problems.append(Difference("audit_event", f"#{seq}", f"{never_issued[0]} {block}",
                                                f"{never_issued[1]}: {block}"))  # fmt: skip
            segs[:] = sorted(kept, key=lambda s: s[0])


def _events(session: Session) -> list[tuple[int, str, str, dict[str, Any]]]:
    rows = session.execute(
        text(
            "SELECT id, action, entity_id, payload FROM audit_event "
            "WHERE action LIKE 'ledger.%' OR action IN ('organisation.registered', 'organisation.kind_granted') ORDER BY id"
        )
    ).all()
    return [(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]


def _apply(model: _Model, seq: int, action: str, entity: str, payload: dict[str, Any]) -> None:
    if action == "organisation.registered":
        model.organisations[entity] = (payload["kind"], payload.get("credit_code"))
        return
    if action == "organisation.kind_granted":  # migration 0012: a registry admin's grant
        known = model.organisations.get(entity)
        if known is None:
            model.problems.append(Difference("audit_event", f"#{seq}", f"日志授予了从未登记的机构 {entity} 类型",
                                             f"the log grants a kind to {entity}, never registered"))  # fmt: skip
            return
        model.organisations[entity] = (payload["kind"], known[1])
        return
    if action == "ledger.account_opened":
        model.accounts[entity] = (payload["name"], payload["kind"], payload["holder"])
        return
    kind = action.removeprefix("ledger.")
    request, result = payload["request"], payload["result"]
    op_id = int(entity)
    model.operations[op_id] = (
        kind,
        payload["key"],
        canonical_json(request),
        canonical_json(result),
    )
    if kind == "issue":
        project, vintage = result["project"], int(result["vintage"])
        repaid = int(result.get("repaid", 0))  # to the buffer beyond its share (a reversal's debt)
        model.issuances[op_id] = (
            project,
            vintage,
            int(result["quantity"]),
            int(result["buffer"]) + repaid,
        )
        model.issued[(project, vintage)] = model.issued.get((project, vintage), 0) + int(
            result["quantity"]
        )
        for placed in result["placed"]:
            model.place(project, vintage, placed["serials"], placed["account"])
        if repaid:
            model.debts[op_id] = (project, "repayment", -repaid, 0)
    elif kind == "transfer":
        model.move(
            seq, result["serials"], (result["from"], "active", None), (result["to"], "active", None)
        )
    elif kind == "retire":
        model.move(
            seq,
            result["serials"],
            (result["account"], "active", None),
            ("RETIREMENT", "retired", None),
        )
        day = result.get("retired_on") or request.get("date") or ""
        model.retirements[result["certificate"]] = (
            op_id, request["beneficiary"], request["purpose"], str(day), int(result["quantity"]),
            "\n".join(result["serials"]),
        )  # fmt: skip
    elif kind == "cancel":
        model.move(
            seq,
            result["serials"],
            (result["account"], "active", None),
            ("CANCELLATION", "cancelled", None),
        )
        if int(result.get("debt", 0)):  # a reversal covered from the pool (ledger/reversals.py)
            model.debts[op_id] = (result["project"], "reversal", int(result["debt"]),
                                  int(result["shortfall"]))  # fmt: skip
        if "shortfall_of" in result:  # repaid credits cancelled for a reversal's shortfall
            model.debts[op_id] = (result["shortfall_of"], "shortfall_cancelled", 0,
                                  -int(result["quantity"]))  # fmt: skip
    elif kind == "pledge":
        pid = int(result["pledge"])
        model.move(
            seq,
            result["serials"],
            (result["account"], "active", None),
            (result["account"], "pledged", pid),
        )
        fen = int(Decimal(result["amount_yuan"]) * 100)
        model.pledges[pid] = [op_id, result["account"], result["bank"], result["loan_ref"], fen,
                              int(result["quantity"]), "active", None]  # fmt: skip
    elif kind == "batch":  # many transfers and retirements (ledger/batch.py), in line order
        for m in result["moves"]:
            retired = m["kind"] == "retire"
            model.move(seq, m["serials"], (m["account"], "active", None),
                       (m["to"], "retired" if retired else "active", None))  # fmt: skip
            if retired:
                model.retirements[m["certificate"]] = (
                    op_id, m["beneficiary"], m["purpose"], str(result["retired_on"]),
                    int(m["quantity"]), "\n".join(m["serials"]),
                )  # fmt: skip
    elif kind == "label":
        model.relabel(seq, result["serials"], result["label"], bool(result["attached"]))
    elif kind in ("release", "enforce"):
        pid = int(result["pledge"])
        pledge = model.pledges.get(pid)
        if pledge is None:
            model.problems.append(Difference("audit_event", f"#{seq}", f"日志中的操作结束了从未设立的质押 {pid}",
                                             f"the logged operation closes pledge {pid}, never made"))  # fmt: skip
            return
        holder, bank = pledge[1], pledge[2]
        model.move(seq, result["serials"], (holder, "pledged", pid),
                   (bank if kind == "enforce" else holder, "active", None))  # fmt: skip
        pledge[6], pledge[7] = ("enforced" if kind == "enforce" else "released"), op_id


def _merged(segments: Iterable[Segment]) -> list[tuple[Any, ...]]:
    """Adjacent segments with the same holder, state and pledge as one range."""
    out: list[list[Any]] = []
    for seg in sorted(segments, key=lambda s: s[0]):
        if out and out[-1][1] + 1 == seg[0] and out[-1][2:] == list(seg[2:]):
            out[-1][1] = seg[1]
        else:
            out.append(list(seg))
    return [tuple(s) for s in out]


def _compare(
    name: str, logged: dict[Any, Any], stored: dict[Any, Any], what: tuple[str, str]
) -> list[Difference]:
    diffs = []
    for key in sorted(set(logged) | set(stored), key=str):
        if key not in stored:
            diffs.append(
                Difference(
                    name,
                    str(key),
                    f"日志中有此{what[0]}，表中没有",
                    f"the log has this {what[1]}; the table does not",
                )
            )
        elif key not in logged:
            diffs.append(
                Difference(
                    name,
                    str(key),
                    f"表中有此{what[0]}，日志中没有（无记录的写入）",
                    f"the table has this {what[1]}; the log never recorded it",
                )
            )
        elif logged[key] != stored[key]:
            diffs.append(
                Difference(
                    name,
                    str(key),
                    f"表中为 {stored[key]!r}，日志记录为 {logged[key]!r}",
                    f"the table holds {stored[key]!r}; the log recorded {logged[key]!r}",
                )
            )
    return diffs  # fmt: skip


def _rows(session: Session, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(text(sql)).all()]


def replay(session: Session) -> ReplayReport:
    """Rebuild the ledger from the audit log and list every difference with the tables."""
    model = _Model()
    events = _events(session)
    for seq, action, entity, payload in events:
        _apply(model, seq, action, entity, payload)
    diffs = list(model.problems)
    diffs += _compare("organisation", model.organisations,
                      {n: (k, c) for n, k, c in _rows(session, f"SELECT o.name, {EFFECTIVE_KIND}, o.credit_code FROM organisation o")},
                      ("机构", "organisation"))  # fmt: skip
    diffs += _compare("ledger_account", model.accounts,
                      {c: (n, k, h) for c, n, k, h in _rows(session,
                          "SELECT a.code, a.name, a.kind, o.name FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id")},
                      ("账户", "account"))  # fmt: skip
    diffs += _compare("ledger_operation", model.operations,
                      {int(i): (k, key, req, res) for i, k, key, req, res in _rows(session,
                          "SELECT id, kind, idempotency_key, request_json, result_json FROM ledger_operation")},
                      ("操作", "operation"))  # fmt: skip
    diffs += _compare("issuance", model.issuances,
                      {int(o): (p, int(v), int(q), int(b)) for o, p, v, q, b in _rows(session,
                          "SELECT op_id, project_code, vintage, quantity, buffer_quantity FROM issuance")},
                      ("签发", "issuance"))  # fmt: skip
    diffs += _compare("serial_counter", {k: (q, q + 1) for k, q in model.issued.items()},
                      {(p, int(v)): (int(i), int(n)) for p, v, i, n in _rows(session,
                          "SELECT project_code, vintage, issued, next_seq FROM serial_counter")},
                      ("序列号计数器", "serial counter"))  # fmt: skip
    diffs += _compare("retirement", model.retirements,
                      {c: (int(o), b, p, str(d)[:10], int(q), s) for c, o, b, p, d, q, s in _rows(session,
                          "SELECT certificate_id, op_id, beneficiary, purpose, retired_on, quantity, serials FROM retirement")},
                      ("退役", "retirement"))  # fmt: skip
    diffs += _compare("pledge", {k: tuple(v) for k, v in model.pledges.items()},
                      {int(i): (int(o), h, b, ref, int(a), int(q), st, None if c is None else int(c))
                       for i, o, h, b, ref, a, q, st, c in _rows(session,
                          "SELECT p.id, p.op_id, h.code, k.code, p.loan_ref, p.amount_fen, p.quantity, p.status, p.closed_op_id "
                          "FROM pledge p JOIN ledger_account h ON h.id = p.holder_account_id "
                          "JOIN ledger_account k ON k.id = p.bank_account_id")},
                      ("质押", "pledge"))  # fmt: skip
    debt_rows: dict[int, list[tuple[str, str, int, int]]] = {}
    for o, p, k, q, f in _rows(
        session, "SELECT op_id, project_code, kind, quantity, shortfall FROM buffer_debt"
    ):
        debt_rows.setdefault(int(o), []).append((p, k, int(q), int(f)))
    for o, found in sorted(debt_rows.items()):
        if len(found) > 1:  # UNIQUE(op_id) refuses it: a row slipped in with the guards down
            diffs.append(Difference("buffer_debt", f"op {o}", f"同一操作有 {len(found)} 行欠量",
                                    f"{len(found)} debt rows for one operation"))  # fmt: skip
    diffs += _compare("buffer_debt", model.debts, {o: found[0] for o, found in debt_rows.items()},
                      ("缓冲池欠量", "buffer debt"))  # fmt: skip
    stored: dict[tuple[str, int], list[Segment]] = {}
    for p, v, first, last, code, state, pledge, labels in _rows(session,
        "SELECT b.project_code, b.vintage, b.first_seq, b.last_seq, a.code, b.state, b.pledge_id, b.labels "
        "FROM credit_block b JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL"):  # fmt: skip
        stored.setdefault((p, int(v)), []).append(
            [int(first), int(last), code, state, pledge, labels_json(label_set(labels))]
        )
    for key in sorted(set(model.segments) | set(stored)):
        want, have = _merged(model.segments.get(key, [])), _merged(stored.get(key, []))
        if want == have:
            continue
        project, vintage = key
        for seg in sorted(set(have) - set(want)):
            diffs.append(Difference("credit_block", format_block(project, vintage, seg[0], seg[1]),
                                    f"表中为 {seg[2]} 的 {seg[3]} 积分（生态标签 {seg[5]}），日志中不是这样",
                                    f"the table holds these as {seg[3]} credits of {seg[2]} (eco-labels {seg[5]}); the log does not"))  # fmt: skip
        for seg in sorted(set(want) - set(have)):
            diffs.append(Difference("credit_block", format_block(project, vintage, seg[0], seg[1]),
                                    f"按日志应为 {seg[2]} 的 {seg[3]} 积分（生态标签 {seg[5]}），表中不是这样",
                                    f"by the log these are {seg[3]} credits of {seg[2]} (eco-labels {seg[5]}); the table differs"))  # fmt: skip
    return ReplayReport(len(events), tuple(diffs))
