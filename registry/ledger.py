"""The credit ledger: serial blocks that are issued once, held by one account, retired at most once.

A credit is 1 t CO2e with a serial ``CN-<county>-<project>-<vintage>-<9-digit sequence>``.
Credits are held as blocks (first..last sequence) of one project and vintage, in one account and
one state (active, pledged, retired, cancelled). An operation never edits a block: it closes the
blocks it touches (``closed_op_id``) and writes the pieces, split at the requested serials, as
new blocks — history stays, balances are derived from the live (unclosed) blocks. Sequences are
never reused: a per-project-and-vintage counter only grows.

Every operation carries an idempotency key: repeating a request with the same key returns the
first result and moves nothing. It runs in one transaction with its audit event. On PostgreSQL
it locks the one account it takes credits from (``FOR NO KEY UPDATE``) before reading that
account's blocks, and the audit chain's head last; on SQLite ``BEGIN IMMEDIATE`` serialises every
write. The database guards the invariants as well (migrations 0004 and 0005), so a bug here
would be refused, not written.

Speed (``bench/ledger``): the statements go straight to the driver (:class:`registry.db.DriverSQL`)
and each operation runs a fixed handful of them whatever the number of blocks it splits — claim
the key, look up (and lock) accounts, read blocks, close them, write the pieces, record the
result, append the audit event.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.audit import append_event, canonical_json
from registry.db import DriverSQL
from registry.errors import RegistryError
from registry.organisations import KIND_NAMES, ensure_organisation

__all__ = [
    "COUNTY_CODE",
    "LedgerError",
    "Range",
    "balance",
    "blocks",
    "cancel",
    "certificate",
    "check_invariants",
    "enforce",
    "ensure_account",
    "format_block",
    "history",
    "issue",
    "parse_serial",
    "pledge",
    "release",
    "retire",
    "show",
    "transfer",
]

COUNTY_CODE = "431123"
FAULT_PAUSE_ENV = "TANHUI_FAULT_PAUSE_LEDGER"  # seconds; crash tests only
_STATES = ("active", "pledged", "retired", "cancelled")
ROUNDING_RULE = "credits = floor(verified t CO2e); buffer = ceil(credits × max(registry minimum %, project's assessed risk %))"


class LedgerError(RegistryError):
    """A ledger operation was refused; nothing moved."""


@dataclass(frozen=True)
class Range:
    """Serials first..last (inclusive) of one project and vintage."""

    project: str
    vintage: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def serial(project: str, vintage: int, seq: int) -> str:
    return f"CN-{COUNTY_CODE}-{project}-{vintage}-{seq:09d}"


def format_block(project: str, vintage: int, first: int, last: int) -> str:
    """``CN-431123-P-2026-000000001..000000500`` (first serial..last sequence)."""
    return f"{serial(project, vintage, first)}..{last:09d}"


def parse_serial(text_: str) -> Range:
    """A serial or a block written ``<first serial>..<last sequence>``."""
    value = text_.strip()
    head, _, tail = value.partition("..")
    prefix = f"CN-{COUNTY_CODE}-"
    try:
        if not head.startswith(prefix):
            raise ValueError
        rest = head[len(prefix) :]
        project_vintage, _, seq = rest.rpartition("-")
        project, _, vintage = project_vintage.rpartition("-")
        first = int(seq)
        last = int(tail) if tail else first
        if not project or len(seq) != 9 or last < first or first < 1:
            raise ValueError
        return Range(project, int(vintage), first, last)
    except ValueError as exc:
        raise LedgerError(
            f"无法识别的序列号 {value!r}，格式应为 CN-{COUNTY_CODE}-项目-年份-九位序号[..九位序号]。",
            f"not a serial {value!r}: expected CN-{COUNTY_CODE}-<project>-<vintage>-<9 digits>"
            "[..<9 digits>].",
        ) from exc


def _for_update(db: DriverSQL) -> str:
    """Row lock clause: PostgreSQL locks rows; SQLite's BEGIN IMMEDIATE already serialises."""
    return " FOR UPDATE" if db.postgres else ""


def _now() -> datetime:
    return datetime.now(UTC)


def ensure_account(
    session: Session,
    code: str,
    name: str,
    kind: str,
    holder: str,
    holder_kind: str | None = None,
    credit_code: str | None = None,
    *,
    new_holder_kind: str = "other",
) -> int:
    """The account's id, opening it (idempotently) if needed, for the organisation ``holder``.

    The holder is registered if it is new (:func:`registry.organisations.ensure_organisation`:
    kind ``holder_kind``, else ``new_holder_kind``; ``credit_code`` checked); ``holder_kind`` and
    ``credit_code``, when given, must match a registered holder. An existing account must have
    the same kind and holder.
    """  # fmt: skip
    db = DriverSQL(session)
    found = _account_and_holder(db, code)
    if found is None:
        holder_id = ensure_organisation(session, "ledger", holder, holder_kind, credit_code,
                                        default_kind=new_holder_kind).id  # fmt: skip
        # ON CONFLICT: two operations opening the same account at once — one inserts, both go on
        inserted = db.rows(
            "INSERT INTO ledger_account (code, name, kind, holder, organisation_id, created_at) "
            "VALUES (:c, :n, :k, :h, :o, :t) ON CONFLICT (code) DO NOTHING RETURNING id",
            {"c": code, "n": name, "k": kind, "h": holder.strip(), "o": holder_id, "t": _now()},
        )
        if inserted:
            append_event(session, actor="ledger", action="ledger.account_opened", entity_type="ledger_account",
                         entity_id=code, payload={"name": name, "kind": kind, "holder": holder.strip()})  # fmt: skip
        found = _account_and_holder(db, code)
        assert found is not None
    if found[1] != kind:
        raise LedgerError(
            f"账户 {code} 的类型是 {found[1]}，不是 {kind}。",
            f"account {code} is a {found[1]} account, not {kind}.",
        )
    if found[2] != holder.strip():
        raise LedgerError(
            f"账户 {code} 属于 {found[2]}，不是 {holder.strip()}。",
            f"account {code} belongs to {found[2]}, not {holder.strip()}.",
        )
    if holder_kind is not None or credit_code is not None:  # what was asked of the holder
        ensure_organisation(session, "ledger", found[2], holder_kind, credit_code)
    return int(found[0])


def _system_account(session: Session, code: str, name: str, kind: str) -> int:
    """One of the registry's own accounts (issuance, buffer, retirement, cancellation)."""
    return ensure_account(session, code, name, kind, "registry", new_holder_kind="registry")


def _account_and_holder(db: DriverSQL, code: str) -> tuple[Any, ...] | None:
    """(id, kind, holder organisation's name, its kind) of an account."""
    return db.first(
        "SELECT a.id, a.kind, o.name, o.kind FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id "
        "WHERE a.code = :c",
        {"c": code},
    )  # fmt: skip


def _account(
    db: DriverSQL, code: str, kinds: tuple[str, ...] | None = None, lock: bool = False
) -> tuple[int, str]:
    """Id and kind of one account; ``lock``: also take its lock (see :func:`_lock_account`)."""
    return _accounts(db, {code: kinds}, lock)[code]


def _accounts(
    db: DriverSQL, wanted: dict[str, tuple[str, ...] | None], lock: bool = False
) -> dict[str, tuple[int, str]]:
    """Id and kind of each account code (one query), refusing unknown codes and wrong kinds."""
    params = {f"c{i}": code for i, code in enumerate(wanted)}
    rows = db.rows(
        f"SELECT code, id, kind FROM ledger_account WHERE code IN ({', '.join(':' + k for k in params)}) ORDER BY id"
        + (_ACCOUNT_LOCK if lock and db.postgres else ""),
        params,
    )  # fmt: skip
    found = {str(r[0]): (int(r[1]), str(r[2])) for r in rows}
    for code, kinds in wanted.items():
        if code not in found:
            raise LedgerError(f"没有账户 {code!r}。", f"no account {code!r}.")
        kind = found[code][1]
        if kinds and kind not in kinds:
            raise LedgerError(
                f"账户 {code} 是 {kind} 账户，此操作需要 {'/'.join(kinds)} 账户。",
                f"account {code} is a {kind} account; this needs a {'/'.join(kinds)} account.",
            )
    return found


# NO KEY UPDATE: conflicts with itself, not with the key-share lock that inserting a block *into*
# the account takes (its foreign key) — else a transfer A→B and one B→A would deadlock
_ACCOUNT_LOCK = " FOR NO KEY UPDATE"


def _lock_account(db: DriverSQL, account_id: int) -> None:
    """Serialise the operations that take credits out of one account (PostgreSQL row lock).

    Only the account whose blocks an operation closes is locked — one account per operation,
    so no two operations can wait on each other in a cycle. Its live blocks are read after the
    lock, by a new statement, so they are what the previous operation committed. (SQLite's
    ``BEGIN IMMEDIATE`` serialises every write transaction already.)
    """
    if db.postgres:
        db.rows("SELECT id FROM ledger_account WHERE id = :a" + _ACCOUNT_LOCK, {"a": account_id})


# -- operations: idempotency, locking, splitting -----------------------------------------------


class _Op:
    """The operation row: claims the idempotency key, or finds the first request's result.

    One statement in the common case (``INSERT … ON CONFLICT DO NOTHING RETURNING id``). When a
    concurrent request holds the same key, PostgreSQL makes the insert wait for it: if it
    commits, this request returns its result; if it rolls back, this one goes ahead.
    """

    def __init__(self, session: Session, kind: str, key: str, request: dict[str, Any], actor: str):
        self.session, self.kind, self.key, self.actor = session, kind, key, actor
        self.db = DriverSQL(session)
        self.request = canonical_json({"kind": kind, **request})
        self.id = 0
        self.previous: dict[str, Any] | None = None
        claimed = self.db.first(
            "INSERT INTO ledger_operation (kind, idempotency_key, request_json, result_json, actor, created_at) "
            "VALUES (:kind, :key, :req, '{}', :actor, :t) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            {"kind": kind, "key": key, "req": self.request, "actor": actor, "t": _now()},
        )  # fmt: skip
        if claimed is not None:
            self.id = int(claimed[0])
            return
        row = self.db.first(
            "SELECT request_json, result_json FROM ledger_operation WHERE idempotency_key = :k",
            {"k": key},
        )
        assert row is not None  # the conflicting row was committed before the insert gave way
        if row[0] != self.request:
            raise LedgerError(
                f"幂等键 {key!r} 已用于另一个不同的请求。",
                f"idempotency key {key!r} was already used for a different request.",
            )
        self.previous = json.loads(row[1])

    def finish(self, result: dict[str, Any], entity: str) -> dict[str, Any]:
        self.db.rows(
            "UPDATE ledger_operation SET result_json = :r WHERE id = :i",
            {"r": canonical_json(result), "i": self.id},
        )
        append_event(self.session, actor=self.actor, action=f"ledger.{self.kind}", entity_type="ledger_operation",
                     entity_id=str(self.id), payload={"key": self.key, "request": json.loads(self.request), "result": result})  # fmt: skip
        pause = os.environ.get(FAULT_PAUSE_ENV)
        if pause:
            self.session.flush()
            print("FAULT-INJECTION: ledger paused before commit", file=sys.stderr, flush=True)
            time.sleep(float(pause))
        return dict(json.loads(canonical_json(result)))  # the same shape as a retried request gets


@dataclass
class _Block:
    id: int
    project: str
    vintage: int
    first: int
    last: int
    account_id: int
    state: str
    pledge_id: int | None
    labels: str = "[]"  # eco-labels (生态标签), canonical JSON array; they travel with the credits

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def _live_blocks(
    db: DriverSQL,
    account_id: int,
    state: str,
    where: str = "",
    params: dict[str, Any] | None = None,
    limit: int | None = None,
) -> list[_Block]:
    """Live blocks of an account in one state, oldest serials first (the caller holds the
    account's lock, see :func:`_lock_account`)."""
    sql = ("SELECT id, project_code, vintage, first_seq, last_seq, account_id, state, pledge_id, labels FROM credit_block "
           f"WHERE closed_op_id IS NULL AND account_id = :a AND state = :s {where} "
           "ORDER BY project_code, vintage, first_seq")  # fmt: skip
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = db.rows(sql, {"a": account_id, "s": state, **(params or {})})
    return [
        _Block(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6], r[7], r[8])
        for r in rows
    ]


def _select(
    db: DriverSQL, account_id: int, state: str, quantity: int | None, serials: Range | None,
    project: str | None = None, vintage: int | None = None, pledge_id: int | None = None,
) -> list[tuple[_Block, int, int]]:  # fmt: skip
    """(block, first, last) pieces to move: a quantity from the oldest serials, or exact serials."""
    if quantity is not None and serials is not None:
        raise LedgerError(
            "请只给出数量或序列号之一。", "give either a quantity or serials, not both."
        )
    where, params = "", dict[str, Any]()
    if pledge_id is not None:
        where += " AND pledge_id = :pl"
        params["pl"] = pledge_id
    if serials is not None:
        where += (
            " AND project_code = :p AND vintage = :v AND first_seq <= :last AND last_seq >= :first"
        )
        params.update(
            {
                "p": serials.project,
                "v": serials.vintage,
                "first": serials.first,
                "last": serials.last,
            }
        )
        found = _live_blocks(db, account_id, state, where, params)
        covered = sum(min(b.last, serials.last) - max(b.first, serials.first) + 1 for b in found)
        if covered != serials.size:
            raise LedgerError(
                f"序列号 {format_block(serials.project, serials.vintage, serials.first, serials.last)} 中有 "
                f"{serials.size - covered} 个不在该账户的 {state} 状态积分里（不存在、已转出、已质押、已注销或已退役）。",
                f"{serials.size - covered} of the serials "
                f"{format_block(serials.project, serials.vintage, serials.first, serials.last)} are not {state} "
                "credits of this account (unknown, moved, pledged, retired or cancelled).",
            )
        return [(b, max(b.first, serials.first), min(b.last, serials.last)) for b in found]
    if quantity is None or quantity <= 0:
        raise LedgerError(
            f"数量 {quantity!r} 须为正整数（吨）。",
            f"quantity {quantity!r} must be a positive whole number of tonnes.",
        )
    if project is not None:
        where += " AND project_code = :p"
        params["p"] = project
    if vintage is not None:
        where += " AND vintage = :v"
        params["v"] = vintage
    # every block holds at least one credit: the oldest `quantity` blocks are enough, and if
    # they fall short the account has fewer blocks than that and all were read
    found = _live_blocks(db, account_id, state, where, params, limit=quantity)
    available = sum(b.size for b in found)
    if available < quantity:
        raise LedgerError(
            f"余额不足：需要 {quantity} 吨，该账户只有 {available} 吨 {state} 积分。",
            f"insufficient credits: {quantity} t needed, the account holds {available} t {state}.",
        )
    pieces, left = [], quantity
    for b in found:
        if left == 0:
            break
        take = min(left, b.size)
        pieces.append((b, b.first, b.first + take - 1))
        left -= take
    return pieces


def _insert_blocks(
    db: DriverSQL, op_id: int, rows: list[tuple[_Block, int, int, int, str, int | None]]
) -> None:
    """Write new live blocks — (template block for project, vintage and labels, first, last,
    account, state, pledge) each — in one statement."""
    if not rows:
        return
    values, params = [], dict[str, Any](op=op_id)
    for i, (b, first, last, account_id, state, pledge_id) in enumerate(rows):
        values.append(f"(:p{i}, :v{i}, :f{i}, :l{i}, :a{i}, :s{i}, :pl{i}, :lb{i}, :op)")
        params.update({f"p{i}": b.project, f"v{i}": b.vintage, f"f{i}": first, f"l{i}": last,
                       f"a{i}": account_id, f"s{i}": state, f"pl{i}": pledge_id, f"lb{i}": b.labels})  # fmt: skip
    db.rows(
        "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, pledge_id, labels, created_op_id) "
        "VALUES " + ", ".join(values),
        params,
    )  # fmt: skip


def _move(
    op: _Op,
    pieces: list[tuple[_Block, int, int]],
    account_id: int,
    state: str,
    pledge_id: int | None,
) -> list[str]:
    """Close each touched block and write its pieces: before, moved, after (split at both ends).

    Two statements whatever the number of blocks: one closes them, one writes the pieces.
    """
    if not pieces:
        return []
    ids = {f"b{i}": b.id for i, (b, _, _) in enumerate(pieces)}
    op.db.rows(
        f"UPDATE credit_block SET closed_op_id = :op WHERE id IN ({', '.join(':' + k for k in ids)})",
        {"op": op.id, **ids},
    )
    rows: list[tuple[_Block, int, int, int, str, int | None]] = []
    moved = []
    for b, first, last in pieces:
        if first > b.first:
            rows.append((b, b.first, first - 1, b.account_id, b.state, b.pledge_id))
        rows.append((b, first, last, account_id, state, pledge_id))
        if last < b.last:
            rows.append((b, last + 1, b.last, b.account_id, b.state, b.pledge_id))
        moved.append(format_block(b.project, b.vintage, first, last))
    _insert_blocks(op.db, op.id, rows)
    return moved


# -- public operations --------------------------------------------------------------------------


def issue(
    session: Session, actor: str, project_code: str, idempotency_key: str, buffer_pct: float,
    owner_account: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Issue the verified, not yet issued monitoring period of a project (state verified → issued).

    ``buffer_pct`` is the registry's minimum buffer share (settings, or what the issuer asks
    for); the share used is the larger of it and the project's assessed non-permanence risk
    (:func:`registry.projects.assess_risk`) — never less than the validator assessed.
    Rounding: credits = floor(verified t CO2e); buffer = ceil(credits × share / 100) to the
    buffer account (non-permanence pool), the rest to the project developer's holding account.
    """
    from registry.models import Role
    from registry.projects import Actor, transition

    op = _Op(
        session,
        "issue",
        idempotency_key,
        {"project": project_code, "buffer_pct": buffer_pct},
        actor,
    )
    if op.previous is not None:
        return op.previous
    db = op.db
    project = db.first(
        "SELECT id, developer, status, buffer_pct FROM project WHERE code = :c" + _for_update(db),
        {"c": project_code},
    )
    if project is None:
        raise LedgerError(f"没有项目 {project_code!r}。", f"no project {project_code!r}.")
    period = db.first(
        "SELECT m.id, m.verified_tco2e, m.end_date FROM monitoring_period m "
        "WHERE m.project_id = :p AND m.status = 'verified' "
        "AND NOT EXISTS (SELECT 1 FROM issuance i WHERE i.monitoring_period_id = m.id) ORDER BY m.period_no",
        {"p": project[0]},
    )  # fmt: skip
    if period is None:
        raise LedgerError(
            f"项目 {project_code} 没有待签发的已核证监测期。",
            f"project {project_code} has no verified period waiting for issuance.",
        )
    if not 0 <= buffer_pct < 100:
        raise LedgerError(
            f"缓冲比例 {buffer_pct}% 须在 0–100 之间。",
            f"buffer share {buffer_pct}% must be within 0–100.",
        )
    assessed = None if project[3] is None else float(project[3])
    share = buffer_pct if assessed is None else max(buffer_pct, assessed)
    credits = math.floor(float(period[1]) + 1e-9)
    buffer = math.ceil(credits * share / 100 - 1e-9)
    end = period[2] if isinstance(period[2], date) else date.fromisoformat(str(period[2]))
    vintage = end.year
    # the counter row is the lock that serialises issuance of one project and vintage
    counter = db.first(
        "SELECT next_seq FROM serial_counter WHERE project_code = :p AND vintage = :v" + _for_update(db),
        {"p": project_code, "v": vintage},
    )  # fmt: skip
    first = int(counter[0]) if counter is not None else 1
    if counter is None:
        db.rows("INSERT INTO serial_counter (project_code, vintage, next_seq, issued) VALUES (:p, :v, :n, :i)",
                {"p": project_code, "v": vintage, "n": first + credits, "i": credits})  # fmt: skip
    else:
        db.rows("UPDATE serial_counter SET next_seq = next_seq + :q, issued = issued + :q WHERE project_code = :p AND vintage = :v",
                {"q": credits, "p": project_code, "v": vintage})  # fmt: skip
    issuance_account = _system_account(session, "ISSUANCE", "签发账户 issuance", "issuance")
    buffer_account = _system_account(session, "BUFFER", "缓冲池 buffer pool", "buffer")
    owner = owner_account or f"HOLD-{project_code}"
    owner_id = ensure_account(session, owner, f"{project[1]} 持有账户", "holding", str(project[1]),
                              new_holder_kind="developer")  # fmt: skip
    placed, rows = [], list[tuple[_Block, int, int, int, str, int | None]]()
    seed = _Block(
        0, project_code, vintage, first, first + credits - 1, issuance_account, "active", None
    )
    if buffer:
        rows.append((seed, first, first + buffer - 1, buffer_account, "active", None))
        placed.append(
            {
                "account": "BUFFER",
                "serials": format_block(project_code, vintage, first, first + buffer - 1),
                "quantity": buffer,
            }
        )
    if credits - buffer:
        rows.append((seed, first + buffer, first + credits - 1, owner_id, "active", None))
        placed.append(
            {
                "account": owner,
                "serials": format_block(project_code, vintage, first + buffer, first + credits - 1),
                "quantity": credits - buffer,
            }
        )
    _insert_blocks(db, op.id, rows)
    db.rows(
        "INSERT INTO issuance (op_id, project_code, monitoring_period_id, vintage, quantity, buffer_quantity) VALUES (:o, :p, :m, :v, :q, :b)",
        {"o": op.id, "p": project_code, "m": period[0], "v": vintage, "q": credits, "b": buffer},
    )  # fmt: skip
    if project[2] == "verified":
        transition(
            session, Actor(actor, Role.ADMIN), project_code, "issue", f"{credits} credits issued"
        )
    return op.finish({"project": project_code, "vintage": vintage, "quantity": credits, "buffer": buffer,
                      "buffer_pct": share, "registry_minimum_pct": buffer_pct, "assessed_risk_pct": assessed,
                      "placed": placed, "rounding": ROUNDING_RULE}, project_code)  # fmt: skip


def transfer(
    session: Session, actor: str, idempotency_key: str, from_account: str, to_account: str,
    quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Move active credits between holding/buffer accounts (a quantity, oldest first, or serials)."""
    op = _Op(session, "transfer", idempotency_key,
             {"from": from_account, "to": to_account, "quantity": quantity, "serials": serials, "project": project}, actor)  # fmt: skip
    if op.previous is not None:
        return op.previous
    if from_account == to_account:
        raise LedgerError("转出和转入账户相同。", "source and destination are the same account.")
    found = _accounts(op.db, {from_account: ("holding", "buffer"), to_account: ("holding",)})
    src, dst = found[from_account][0], found[to_account][0]
    _lock_account(op.db, src)
    pieces = _select(
        op.db, src, "active", quantity, parse_serial(serials) if serials else None, project
    )
    moved = _move(op, pieces, dst, "active", None)
    return op.finish(
        {
            "from": from_account,
            "to": to_account,
            "quantity": sum(hi - lo + 1 for _, lo, hi in pieces),
            "serials": moved,
        },
        to_account,
    )


def retire(
    session: Session, actor: str, idempotency_key: str, account: str, beneficiary: str, purpose: str,
    retired_on: date, quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Retire active credits for a beneficiary; returns the certificate id. Retired never moves."""
    op = _Op(session, "retire", idempotency_key,
             {"account": account, "beneficiary": beneficiary, "purpose": purpose, "date": retired_on.isoformat(),
              "quantity": quantity, "serials": serials, "project": project}, actor)  # fmt: skip
    if op.previous is not None:
        return op.previous
    if not beneficiary.strip():
        raise LedgerError("退役须写明受益方。", "a retirement needs a beneficiary.")
    src, _ = _account(op.db, account, ("holding",), lock=True)
    pieces = _select(
        op.db, src, "active", quantity, parse_serial(serials) if serials else None, project
    )
    # after the row locks: opening an account appends an audit event, whose lock comes last
    dst = _system_account(session, "RETIREMENT", "退役账户 retirement", "retirement")
    moved = _move(op, pieces, dst, "retired", None)
    total = sum(hi - lo + 1 for _, lo, hi in pieces)
    certificate = f"RC-{retired_on.year}-{op.id:08d}"
    op.db.rows(
        "INSERT INTO retirement (certificate_id, op_id, beneficiary, purpose, retired_on, quantity, serials) VALUES (:c, :o, :b, :p, :d, :q, :s)",
        {"c": certificate, "o": op.id, "b": beneficiary, "p": purpose, "d": retired_on, "q": total, "s": "\n".join(moved)},
    )  # fmt: skip
    return op.finish(
        {
            "certificate": certificate,
            "account": account,
            "beneficiary": beneficiary,
            "quantity": total,
            "serials": moved,
        },
        certificate,
    )


def cancel(
    session: Session, actor: str, idempotency_key: str, account: str, reason: str,
    quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Cancel active credits (reversal after fire or felling), from a holder or the buffer pool."""
    op = _Op(session, "cancel", idempotency_key,
             {"account": account, "reason": reason, "quantity": quantity, "serials": serials, "project": project}, actor)  # fmt: skip
    if op.previous is not None:
        return op.previous
    if not reason.strip():
        raise LedgerError("注销须写明原因。", "a cancellation needs a reason.")
    src, _ = _account(op.db, account, ("holding", "buffer"), lock=True)
    pieces = _select(
        op.db, src, "active", quantity, parse_serial(serials) if serials else None, project
    )
    dst = _system_account(session, "CANCELLATION", "注销账户 cancellation", "cancellation")
    moved = _move(op, pieces, dst, "cancelled", None)
    return op.finish(
        {
            "account": account,
            "reason": reason,
            "quantity": sum(hi - lo + 1 for _, lo, hi in pieces),
            "serials": moved,
        },
        account,
    )


def pledge(
    session: Session, actor: str, idempotency_key: str, account: str, bank_account: str, loan_ref: str,
    amount_yuan: Decimal, quantity: int | None = None, serials: str | None = None, project: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Pledge active credits to a bank: they stay in the holder's account, locked to the pledge."""
    op = _Op(session, "pledge", idempotency_key,
             {"account": account, "bank": bank_account, "loan_ref": loan_ref, "amount_yuan": str(amount_yuan),
              "quantity": quantity, "serials": serials, "project": project}, actor)  # fmt: skip
    if op.previous is not None:
        return op.previous
    if account == bank_account:
        raise LedgerError(
            "不能把积分质押给持有人自己。", "credits cannot be pledged to their own holder."
        )
    found = _accounts(op.db, {account: ("holding",), bank_account: ("holding",)})
    src, bank = found[account][0], found[bank_account][0]
    pledgee = _account_and_holder(op.db, bank_account)
    assert pledgee is not None  # _accounts found it
    if pledgee[3] != "bank":
        raise LedgerError(
            f"质权人须为银行：账户 {bank_account} 属于 {pledgee[2]}（{KIND_NAMES[pledgee[3]]}）；"
            "为银行开户时请将持有机构登记为银行（bank）。",
            f"credits are pledged to a bank: account {bank_account} belongs to {pledgee[2]} "
            f"({pledgee[3]}); open a bank's account with holder kind 'bank'.",
        )
    _lock_account(op.db, src)
    # money: Decimal yuan, rounded half-up to the fen, stored as whole fen (exact on both engines)
    amount = Decimal(amount_yuan).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if amount <= 0:
        raise LedgerError("贷款金额须为正数（元）。", "the loan amount must be positive (yuan).")
    pieces = _select(
        op.db, src, "active", quantity, parse_serial(serials) if serials else None, project
    )
    total = sum(hi - lo + 1 for _, lo, hi in pieces)
    inserted = op.db.first(
        "INSERT INTO pledge (op_id, holder_account_id, bank_account_id, loan_ref, amount_fen, quantity, status) "
        "VALUES (:o, :h, :b, :l, :a, :q, 'active') RETURNING id",
        {"o": op.id, "h": src, "b": bank, "l": loan_ref, "a": int(amount * 100), "q": total},
    )  # fmt: skip
    assert inserted is not None
    pledge_id = int(inserted[0])
    moved = _move(op, pieces, src, "pledged", pledge_id)
    return op.finish({"pledge": pledge_id, "account": account, "bank": bank_account, "loan_ref": loan_ref,
                      "amount_yuan": str(amount), "quantity": total, "serials": moved}, str(pledge_id))  # fmt: skip


def _close_pledge(
    session: Session, actor: str, idempotency_key: str, pledge_id: int, enforce_: bool
) -> dict[str, Any]:
    kind = "enforce" if enforce_ else "release"
    op = _Op(session, kind, idempotency_key, {"pledge": pledge_id}, actor)
    if op.previous is not None:
        return op.previous
    row = op.db.first(
        "SELECT holder_account_id, bank_account_id, status FROM pledge WHERE id = :i" + _for_update(op.db),
        {"i": pledge_id},
    )  # fmt: skip
    if row is None or row[2] != "active":
        raise LedgerError(
            f"质押 {pledge_id} 不存在或已结束。", f"pledge {pledge_id} does not exist or is closed."
        )
    holder, bank = int(row[0]), int(row[1])
    _lock_account(op.db, holder)
    found = _live_blocks(op.db, holder, "pledged", " AND pledge_id = :pl", {"pl": pledge_id})
    pieces = [(b, b.first, b.last) for b in found]
    moved = _move(op, pieces, bank if enforce_ else holder, "active", None)
    op.db.rows("UPDATE pledge SET status = :s, closed_op_id = :o WHERE id = :i",
               {"s": "enforced" if enforce_ else "released", "o": op.id, "i": pledge_id})  # fmt: skip
    return op.finish(
        {
            "pledge": pledge_id,
            "action": kind,
            "quantity": sum(b.size for b in found),
            "serials": moved,
        },
        str(pledge_id),
    )


def release(session: Session, actor: str, idempotency_key: str, pledge_id: int) -> dict[str, Any]:
    """The bank releases a pledge: the credits are active again in the holder's account."""
    return _close_pledge(session, actor, idempotency_key, pledge_id, False)


def enforce(session: Session, actor: str, idempotency_key: str, pledge_id: int) -> dict[str, Any]:
    """The bank enforces a pledge: the credits move to the bank's account, active."""
    return _close_pledge(session, actor, idempotency_key, pledge_id, True)


# -- views --------------------------------------------------------------------------------------


def blocks(session: Session, account: str | None = None) -> list[dict[str, Any]]:
    """Live blocks (of one account, or all), with their serial text and eco-labels."""
    sql = ("SELECT a.code, b.project_code, b.vintage, b.first_seq, b.last_seq, b.state, b.pledge_id, b.labels "
           "FROM credit_block b JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL")  # fmt: skip
    params: dict[str, Any] = {}
    if account:
        sql += " AND a.code = :c"
        params["c"] = account
    sql += " ORDER BY a.code, b.project_code, b.vintage, b.first_seq"
    return [
        {"account": r[0], "project": r[1], "vintage": r[2], "serials": format_block(r[1], r[2], r[3], r[4]),
         "quantity": r[4] - r[3] + 1, "state": r[5], "pledge": r[6], "labels": json.loads(r[7])}
        for r in session.execute(text(sql), params).all()
    ]  # fmt: skip


def balance(session: Session, account: str) -> dict[str, int]:
    """Credits of an account by state (t CO2e)."""
    _account(DriverSQL(session), account)
    return _by_state(blocks(session, account))


def _by_state(held: list[dict[str, Any]]) -> dict[str, int]:
    out = dict.fromkeys(_STATES, 0)
    for b in held:
        out[b["state"]] += b["quantity"]
    return out


def show(session: Session, account: str | None = None) -> dict[str, Any]:
    """The ledger at a glance (t CO2e), or one account's statement.

    Without ``account``: per project and vintage what was issued and where it is now (by state,
    and how much of it sits in the buffer pool), every account with its holdings by state, and
    the pledges still in force. With ``account``: who holds it, its balance by state, its live
    blocks, the pledges it gave or took, and the retirements made from it (certificate ids).
    """
    if account is not None:
        return _account_statement(session, account)

    def run(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in session.execute(text(sql)).all()]

    live = {(p, v, st): int(q) for p, v, st, q in run(
        "SELECT project_code, vintage, state, SUM(last_seq - first_seq + 1) FROM credit_block "
        "WHERE closed_op_id IS NULL GROUP BY project_code, vintage, state")}  # fmt: skip
    buffered = {(p, v): int(q) for p, v, q in run(
        "SELECT b.project_code, b.vintage, SUM(b.last_seq - b.first_seq + 1) FROM credit_block b "
        "JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL AND a.kind = 'buffer' "
        "AND b.state = 'active' GROUP BY b.project_code, b.vintage")}  # fmt: skip
    projects = [
        {"project": p, "vintage": v, "issued": int(issued), **{st: live.get((p, v, st), 0) for st in _STATES},
         "in_buffer": buffered.get((p, v), 0)}
        for p, v, issued in run("SELECT project_code, vintage, issued FROM serial_counter ORDER BY project_code, vintage")
    ]  # fmt: skip
    held: dict[str, dict[str, int]] = {}
    for code, st, q in run(
        "SELECT a.code, b.state, SUM(b.last_seq - b.first_seq + 1) FROM credit_block b "
        "JOIN ledger_account a ON a.id = b.account_id WHERE b.closed_op_id IS NULL GROUP BY a.code, b.state"
    ):  # fmt: skip
        held.setdefault(code, dict.fromkeys(_STATES, 0))[st] = int(q)
    accounts = [
        {"account": code, "name": name, "kind": kind, "holder": holder, "holder_kind": holder_kind,
         **held.get(code, dict.fromkeys(_STATES, 0))}
        for code, name, kind, holder, holder_kind in run(
            "SELECT a.code, a.name, a.kind, o.name, o.kind FROM ledger_account a "
            "JOIN organisation o ON o.id = a.organisation_id ORDER BY a.kind, a.code")
    ]  # fmt: skip
    return {
        "projects": projects,
        "accounts": accounts,
        "pledges": _pledges(session, None, only_active=True),
    }


def _account_statement(session: Session, account: str) -> dict[str, Any]:
    row = session.execute(
        text(
            "SELECT a.id, a.code, a.name, a.kind, o.name, a.created_at, o.kind, o.credit_code FROM ledger_account a "
            "JOIN organisation o ON o.id = a.organisation_id WHERE a.code = :c"
        ),
        {"c": account},
    ).first()
    if row is None:
        raise LedgerError(f"没有账户 {account!r}。", f"no account {account!r}.")
    held = blocks(session, account)
    retirements = [
        {"certificate": cert, "beneficiary": who, "purpose": why, "retired_on": str(on), "quantity": int(q)}
        for cert, who, why, on, q, request in session.execute(text(
            "SELECT r.certificate_id, r.beneficiary, r.purpose, r.retired_on, r.quantity, o.request_json "
            "FROM retirement r JOIN ledger_operation o ON o.id = r.op_id ORDER BY r.id")).all()
        if json.loads(request).get("account") == account
    ]  # fmt: skip
    return {
        "account": {"code": row[1], "name": row[2], "kind": row[3], "holder": row[4], "opened": str(row[5]),
                    "holder_kind": row[6], "holder_credit_code": row[7]},
        "balance": _by_state(held),
        "blocks": held,
        "pledges": _pledges(session, int(row[0]), only_active=False),
        "retirements": retirements,
    }  # fmt: skip


def _pledges(session: Session, account_id: int | None, only_active: bool) -> list[dict[str, Any]]:
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
    return [
        {"pledge": int(i), "holder": holder, "bank": bank, "loan_ref": ref,
         "amount_yuan": str((Decimal(int(fen)) / 100).quantize(Decimal("0.01"))), "quantity": int(q), "status": status}
        for i, holder, bank, ref, fen, q, status in session.execute(text(sql + " ORDER BY p.id"), params).all()
    ]  # fmt: skip


def certificate(session: Session, certificate_id: str) -> dict[str, Any]:
    """A retirement certificate: what was retired (serials, projects, vintages, t CO2e), for
    whom and why, from which account, and the audit event that recorded it — its sequence
    number and hash, which ``tanhui audit verify`` checks against the whole chain."""
    row = session.execute(
        text("SELECT r.certificate_id, r.beneficiary, r.purpose, r.retired_on, r.quantity, r.serials, r.op_id, "
             "o.actor, o.created_at, o.request_json FROM retirement r JOIN ledger_operation o ON o.id = r.op_id "
             "WHERE r.certificate_id = :c"),
        {"c": certificate_id.strip()},
    ).first()  # fmt: skip
    if row is None:
        raise LedgerError(
            f"没有编号为 {certificate_id!r} 的退役证书。",
            f"no retirement certificate {certificate_id!r}.",
        )
    serials = str(row[5]).split("\n")
    per_project: dict[tuple[str, int], int] = {}
    for block in serials:
        r = parse_serial(block)
        per_project[(r.project, r.vintage)] = per_project.get((r.project, r.vintage), 0) + r.size
    codes = {f"p{i}": p for i, p in enumerate(sorted({p for p, _ in per_project}))}
    names = {code: (name, methodology) for code, name, methodology in session.execute(
        text(f"SELECT code, name, methodology FROM project WHERE code IN ({', '.join(':' + k for k in codes)})"),
        codes).all()}  # fmt: skip
    event = session.execute(
        text("SELECT id, hash, occurred_at FROM audit_event WHERE entity_type = 'ledger_operation' "
             "AND entity_id = :op"),
        {"op": str(row[6])},
    ).first()  # fmt: skip
    assert event is not None  # written in the retirement's own transaction
    return {
        "certificate": row[0], "beneficiary": row[1], "purpose": row[2], "retired_on": str(row[3]),
        "quantity": int(row[4]), "account": json.loads(row[9])["account"], "retired_by": row[7],
        "recorded_at": str(row[8]), "serials": serials,
        "projects": [{"project": p, "name": names.get(p, ("", ""))[0], "methodology": names.get(p, ("", ""))[1],
                      "vintage": v, "quantity": q} for (p, v), q in sorted(per_project.items())],
        "audit_event": {"seq": int(event[0]), "hash": event[1], "occurred_at": event[2]},
    }  # fmt: skip


def history(session: Session, serial_text: str) -> list[dict[str, Any]]:
    """Every block that ever held this serial, oldest first: where it was and which operation."""
    r = parse_serial(serial_text)
    rows = session.execute(
        text("SELECT b.id, a.code, b.state, b.first_seq, b.last_seq, o1.kind, o1.created_at, o2.kind "
             "FROM credit_block b JOIN ledger_account a ON a.id = b.account_id "
             "JOIN ledger_operation o1 ON o1.id = b.created_op_id LEFT JOIN ledger_operation o2 ON o2.id = b.closed_op_id "
             "WHERE b.project_code = :p AND b.vintage = :v AND b.first_seq <= :s AND b.last_seq >= :s ORDER BY b.id"),
        {"p": r.project, "v": r.vintage, "s": r.first},
    ).all()  # fmt: skip
    return [{"block": format_block(r.project, r.vintage, x[3], x[4]), "account": x[1], "state": x[2],
             "created_by": x[5], "at": str(x[6]), "closed_by": x[7]} for x in rows]  # fmt: skip


def check_invariants(session: Session) -> list[str]:
    """Every violation of the ledger's invariants (empty when the ledger tells the truth)."""
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
            and sum(b - a + 1 for a, b in live) == issued
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
    return problems
