"""Read-only views of the ledger: blocks, balances, the overview, an account's statement,
pledges, retirement certificates and a serial's history. They take no locks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.db import DriverSQL
from registry.errors import LedgerTampered, UnknownAccount, UnknownCertificate
from registry.ledger.accounts import account
from registry.ledger.labels import label_set
from registry.ledger.results import (
    AccountHoldings,
    AccountMove,
    AccountStatement,
    BlockView,
    Certificate,
    CertificateProject,
    HistoryEntry,
    LedgerOverview,
    PledgeView,
    ProjectHoldings,
    RetirementLine,
)
from registry.ledger.serials import format_block, parse_serial
from registry.ledger.vocabulary import BlockState

__all__ = [
    "account_history",
    "balance",
    "blocks",
    "certificate",
    "history",
    "retired_labels",
    "show",
]

STATES = tuple(s.value for s in BlockState)


def _rows(
    session: Session, sql: str, params: dict[str, Any] | None = None
) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in session.execute(text(sql), params or {}).all()]


def blocks(session: Session, account_code: str | None = None) -> list[BlockView]:
    """Live blocks (of one account, or all), with their serial text and eco-labels."""
    sql = ("SELECT a.code, b.project_code, b.vintage, b.first_seq, b.last_seq, b.state, b.pledge_id, b.labels "
           "FROM credit_block b JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL")  # fmt: skip
    params: dict[str, Any] = {}
    if account_code:
        sql += " AND a.code = :c"
        params["c"] = account_code
    sql += " ORDER BY a.code, b.project_code, b.vintage, b.first_seq"
    return [
        BlockView(r[0], r[1], int(r[2]), format_block(r[1], r[2], r[3], r[4]), int(r[4] - r[3] + 1),
                  r[5], r[6], tuple(json.loads(r[7])))
        for r in _rows(session, sql, params)
    ]  # fmt: skip


def balance(session: Session, account_code: str) -> dict[str, int]:
    """Credits of an account by state (t CO2e)."""
    account(DriverSQL(session), account_code)
    return _by_state(blocks(session, account_code))


def _by_state(held: list[BlockView]) -> dict[str, int]:
    out = dict.fromkeys(STATES, 0)
    for b in held:
        out[b.state] += b.quantity
    return out


def show(session: Session) -> LedgerOverview:
    """The ledger at a glance (t CO2e): per project and vintage what was issued and where it is
    now (by state, and how much of it sits in the buffer pool), every account with its holdings
    by state, and the pledges still in force."""
    live = {(p, v, st): int(q) for p, v, st, q in _rows(session,
        "SELECT project_code, vintage, state, SUM(last_seq - first_seq + 1) FROM credit_block "
        "WHERE closed_op_id IS NULL GROUP BY project_code, vintage, state")}  # fmt: skip
    buffered = {(p, v): int(q) for p, v, q in _rows(session,
        "SELECT b.project_code, b.vintage, SUM(b.last_seq - b.first_seq + 1) FROM credit_block b "
        "JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL AND a.kind = 'buffer' "
        "AND b.state = 'active' GROUP BY b.project_code, b.vintage")}  # fmt: skip
    projects = tuple(
        ProjectHoldings(p, int(v), int(issued), in_buffer=buffered.get((p, v), 0),
                        **{st: live.get((p, v, st), 0) for st in STATES})
        for p, v, issued in _rows(session, "SELECT project_code, vintage, issued FROM serial_counter ORDER BY project_code, vintage")
    )  # fmt: skip
    held: dict[str, dict[str, int]] = {}
    for code, st, q in _rows(session,
        "SELECT a.code, b.state, SUM(b.last_seq - b.first_seq + 1) FROM credit_block b "
        "JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL GROUP BY a.code, b.state"
    ):  # fmt: skip
        held.setdefault(code, dict.fromkeys(STATES, 0))[st] = int(q)
    accounts = tuple(
        AccountHoldings(code, name, kind, holder, holder_kind,
                        **held.get(code, dict.fromkeys(STATES, 0)))
        for code, name, kind, holder, holder_kind in _rows(session,
            "SELECT a.code, a.name, a.kind, o.name, o.kind FROM ledger_account a "
            "JOIN organisation o ON o.id = a.organisation_id ORDER BY a.kind, a.code")
    )  # fmt: skip
    return LedgerOverview(projects, accounts, pledges(session, None, only_active=True))


def statement(session: Session, account_code: str) -> AccountStatement:
    """One account: who holds it, its balance by state, its live blocks, the pledges it gave or
    took, and the retirements made from it (certificate ids)."""
    row = session.execute(
        text(
            "SELECT a.id, a.code, a.name, a.kind, o.name, a.created_at, o.kind, o.credit_code FROM ledger_account a "
            "JOIN organisation o ON o.id = a.organisation_id WHERE a.code = :c"
        ),
        {"c": account_code},
    ).first()
    if row is None:
        raise UnknownAccount(f"没有账户 {account_code!r}。", f"no account {account_code!r}.")
    held = blocks(session, account_code)
    sources = _retirement_sources(session)
    retirements = tuple(
        RetirementLine(cert, who, why, str(on), int(q))
        for cert, who, why, on, q in _rows(session,
            "SELECT certificate_id, beneficiary, purpose, retired_on, quantity FROM retirement ORDER BY id")
        if sources.get(cert) == account_code
    )  # fmt: skip
    return AccountStatement(
        account={"code": row[1], "name": row[2], "kind": row[3], "holder": row[4], "opened": str(row[5]),
                 "holder_kind": row[6], "holder_credit_code": row[7]},
        balance=_by_state(held),
        blocks=tuple(held),
        pledges=pledges(session, int(row[0]), only_active=False),
        retirements=retirements,
    )  # fmt: skip


def _retirement_sources(session: Session) -> dict[str, str]:
    """Each certificate's source account: a retirement's request names it; a batch's result
    names it for each of its retirement lines (ledger/batch.py), read once per batch."""
    out: dict[str, str] = {}
    batches: set[int] = set()
    for certificate_id, kind, request, op_id in _rows(session,
        "SELECT r.certificate_id, o.kind, o.request_json, o.id FROM retirement r "
        "JOIN ledger_operation o ON o.id = r.op_id"):  # fmt: skip
        if kind == "batch":
            batches.add(int(op_id))
        else:
            out[str(certificate_id)] = str(json.loads(request).get("account", ""))
    for op_id in sorted(batches):
        (result,) = _rows(
            session, "SELECT result_json FROM ledger_operation WHERE id = :o", {"o": op_id}
        )[0]
        out.update(
            {
                m["certificate"]: m["account"]
                for m in json.loads(result)["moves"]
                if m["certificate"]
            }
        )
    return out


def retired_labels(session: Session, op_id: int, serials: Sequence[str]) -> dict[str, int]:
    """The eco-labels the retired credits of one certificate carried, with how many (t CO2e):
    the retired blocks the operation wrote that lie within the certificate's serials (an
    operation may write several certificates: a batch)."""
    ranges = [parse_serial(s) for s in serials]
    carried: dict[str, int] = {}
    for project, vintage, first, last, labels in _rows(session,
        "SELECT project_code, vintage, first_seq, last_seq, labels FROM credit_block WHERE created_op_id = :o "
        "AND state = 'retired'", {"o": op_id}):  # fmt: skip
        size = sum(max(0, min(int(last), r.last) - max(int(first), r.first) + 1)
                   for r in ranges if r.project == project and r.vintage == int(vintage))  # fmt: skip
        if size:
            for code in label_set(labels):
                carried[code] = carried.get(code, 0) + size
    return dict(sorted(carried.items()))


def pledges(session: Session, account_id: int | None, only_active: bool) -> tuple[PledgeView, ...]:
    """Pledges (given or taken by the account, or all), loan amounts in yuan."""
    sql = ("SELECT p.id, h.code, k.code, p.loan_ref, p.amount_fen, p.quantity, p.status FROM pledge p "
           "JOIN ledger_account h ON h.id = p.holder_account_id JOIN ledger_account k ON k.id = p.bank_account_id "
           "WHERE 1 = 1")  # fmt: skip
    params: dict[str, Any] = {}
    if account_id is not None:
        sql += " AND (p.holder_account_id = :a OR p.bank_account_id = :a)"
        params["a"] = account_id
    if only_active:
        sql += " AND p.status = 'active'"
    return tuple(
        PledgeView(int(i), holder, bank, ref, str((Decimal(int(fen)) / 100).quantize(Decimal("0.01"))),
                   int(q), status)
        for i, holder, bank, ref, fen, q, status in _rows(session, sql + " ORDER BY p.id", params)
    )  # fmt: skip


def certificate(session: Session, certificate_id: str) -> Certificate:
    """A retirement certificate: what was retired (serials, projects, vintages, t CO2e), for
    whom and why, from which account, the eco-labels the retired credits carried with how many
    of them carried each (a retirement may be only partly labelled), and the audit event that
    recorded it — its sequence number and hash, which the audit chain's verification checks
    against the whole chain."""
    row = session.execute(
        text("SELECT r.certificate_id, r.beneficiary, r.purpose, r.retired_on, r.quantity, r.serials, r.op_id, "
             "o.actor, o.created_at, o.request_json FROM retirement r JOIN ledger_operation o ON o.id = r.op_id "
             "WHERE r.certificate_id = :c"),
        {"c": certificate_id.strip()},
    ).first()  # fmt: skip
    if row is None:
        raise UnknownCertificate(
            f"没有编号为 {certificate_id!r} 的退役证书。",
            f"no retirement certificate {certificate_id!r}.",
        )
    serials = tuple(str(row[5]).split("\n"))
    per_project: dict[tuple[str, int], int] = {}
    for block in serials:
        r = parse_serial(block)
        per_project[(r.project, r.vintage)] = per_project.get((r.project, r.vintage), 0) + r.size
    codes = {f"p{i}": p for i, p in enumerate(sorted({p for p, _ in per_project}))}
    names = {code: (name, methodology) for code, name, methodology in _rows(session,
        f"SELECT code, name, methodology FROM project WHERE code IN ({', '.join(':' + k for k in codes)})",
        codes)}  # fmt: skip
    event = session.execute(
        text("SELECT id, hash, occurred_at, payload FROM audit_event WHERE entity_type = 'ledger_operation' "
             "AND entity_id = :op"),
        {"op": str(row[6])},
    ).first()  # fmt: skip
    account_code = _check_against_the_log(row, None if event is None else json.loads(event[3]))
    assert event is not None
    # the retired blocks the retirement wrote (not the remainders of blocks it cut, which it
    # also wrote and which stay active): each label with the credits that carried it
    carried = retired_labels(session, int(row[6]), serials)
    return Certificate(
        certificate=row[0], beneficiary=row[1], purpose=row[2], retired_on=str(row[3]),
        quantity=int(row[4]), account=account_code, retired_by=row[7],
        recorded_at=str(row[8]), serials=serials,
        projects=tuple(CertificateProject(p, names.get(p, ("", ""))[0], names.get(p, ("", ""))[1], v, q)
                       for (p, v), q in sorted(per_project.items())),
        audit_event={"seq": int(event[0]), "hash": event[1], "occurred_at": event[2]},
        labels=tuple(sorted(carried)),
        label_quantities=dict(sorted(carried.items())),
    )  # fmt: skip


def _check_against_the_log(row: Any, payload: dict[str, Any] | None) -> str:
    """A certificate is shown only as the audit log recorded it: its retirement row must equal
    the event written with it (certificate, beneficiary, purpose, date, quantity, serials) — a
    retirement's, or the line of a batch that wrote it. Returns the source account."""
    recorded, account_code = None, ""
    if payload is not None:
        request, result = payload["request"], payload["result"]
        if "moves" in result:  # a batch (ledger/batch.py): the line with this certificate
            move = next((m for m in result["moves"] if m.get("certificate") == row[0]), None)
            if move is not None:
                recorded = (move["certificate"], move["beneficiary"], move["purpose"],
                            str(result["retired_on"]), int(move["quantity"]), "\n".join(move["serials"]))  # fmt: skip
                account_code = str(move["account"])
        else:
            day = result.get("retired_on") or request.get("date") or ""
            recorded = (result["certificate"], request["beneficiary"], request["purpose"], str(day),
                        int(result["quantity"]), "\n".join(result["serials"]))  # fmt: skip
            account_code = str(request["account"])
    stored = (row[0], row[1], row[2], str(row[3])[:10], int(row[4]), str(row[5]))
    if recorded != stored:
        raise LedgerTampered(
            f"退役证书 {row[0]} 的记录与审计日志不符，不予出具：表中为 {stored!r}，日志记录为 {recorded!r}。",
            f"retirement {row[0]} differs from what the audit log recorded, so no certificate is "
            f"shown: the table holds {stored!r}, the log {recorded!r}.",
        )
    return account_code


def history(session: Session, serial_text: str) -> list[HistoryEntry]:
    """Every block that ever held this serial, oldest first: where it was and which operation."""
    r = parse_serial(serial_text)
    rows = _rows(session,
        "SELECT b.id, a.code, b.state, b.first_seq, b.last_seq, o1.kind, o1.created_at, o2.kind, b.labels "
        "FROM credit_block b JOIN ledger_account a ON a.id = b.account_id "
        "JOIN ledger_operation o1 ON o1.id = b.created_op_id LEFT JOIN ledger_operation o2 ON o2.id = b.closed_op_id "
        "WHERE b.project_code = :p AND b.vintage = :v AND b.first_seq <= :s AND b.last_seq >= :s ORDER BY b.id",
        {"p": r.project, "v": r.vintage, "s": r.first})  # fmt: skip
    return [HistoryEntry(format_block(r.project, r.vintage, x[3], x[4]), x[1], x[2], x[5], str(x[6]), x[7],
                         tuple(label_set(x[8])))
            for x in rows]  # fmt: skip


def account_history(
    session: Session, account_code: str, limit: int = 50, offset: int = 0
) -> tuple[list[AccountMove], int]:
    """The operations that touched an account, newest first — how each changed the account's
    credits, what it moved in all, a retirement's certificate — and how many there are."""
    found = account(DriverSQL(session), account_code)
    touched = ("FROM credit_block b JOIN ledger_operation o ON o.id = b.created_op_id OR o.id = b.closed_op_id "
               "LEFT JOIN (SELECT op_id, CASE WHEN COUNT(*) = 1 THEN MIN(certificate_id) END AS certificate_id "
               "FROM retirement GROUP BY op_id) r ON r.op_id = o.id WHERE b.account_id = :a")  # fmt: skip
    total = _rows(session, f"SELECT COUNT(DISTINCT o.id) {touched}", {"a": found[0]})[0][0]
    size = "(b.last_seq - b.first_seq + 1)"
    rows = _rows(session,
        f"SELECT o.id, o.kind, o.created_at, o.actor, o.result_json, r.certificate_id, "
        f"SUM(CASE WHEN b.created_op_id = o.id THEN {size} ELSE 0 END) - "
        f"SUM(CASE WHEN b.closed_op_id = o.id THEN {size} ELSE 0 END) {touched} "
        "GROUP BY o.id, o.kind, o.created_at, o.actor, o.result_json, r.certificate_id "
        "ORDER BY o.id DESC LIMIT :l OFFSET :f",
        {"a": found[0], "l": limit, "f": offset})  # fmt: skip
    moves = [
        AccountMove(int(r[0]), str(r[1]), r[2].isoformat() if hasattr(r[2], "isoformat") else str(r[2]),
                    str(r[3]), int(r[6]), int(json.loads(r[4]).get("quantity", 0)), r[5])
        for r in rows
    ]  # fmt: skip
    return moves, int(total)
