"""Many moves in one request (批量转让/退役): a CSV of transfers and retirements executed
set-based in one transaction, all or nothing.

Every line is checked before anything is written — its accounts, the actor's right to move the
credits of its source account, its quantity or serials against what the account holds after the
batch's earlier lines took theirs — and a batch with any bad line is refused as a whole with a
report naming every bad line (:class:`registry.errors.BatchRefused`). A good batch then:

- locks its source accounts (sorted, so two batches never wait on each other in a cycle),
- reads their live active blocks in one statement and allocates every line in memory, oldest
  serials first (as a single transfer or retirement would, line after line),
- closes every touched block in one statement per few thousand ids and writes the pieces (what
  stays, what moved) in one bulk insert (PostgreSQL: ``COPY``),
- writes a retirement row with its certificate for each retirement line,
- records one ledger operation (kind ``batch``) whose result lists every move — line, kind,
  accounts, quantity, serials, certificate — with the SHA-256 of the moves, and one audit event
  carrying the same (the replay rebuilds every move from it).

Credits a line receives are not available to later lines of the same batch (they are not in the
source accounts' blocks read at the start): a batch moves what the accounts held before it.
The idempotency key covers the whole batch: a retry with the same key and the same lines
returns the first result and moves nothing; the same key with other lines is refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from registry.actors import Actor
from registry.audit import canonical_json
from registry.db import DriverSQL
from registry.errors import BatchRefused, RegistryError
from registry.ledger.accounts import ACCOUNT_LOCK, SYSTEM_ACCOUNTS, system_account
from registry.ledger.blocks import Block
from registry.ledger.operations import Operation
from registry.ledger.serials import format_block, parse_serial
from registry.ledger.validation import check_date, check_text
from registry.ledger.vocabulary import AccountKind, BlockState, OperationKind
from registry.results import Result, transient

__all__ = [
    "BATCH_COLUMNS",
    "BatchLine",
    "BatchMove",
    "BatchResult",
    "execute_batch",
    "read_batch_csv",
]

BATCH_COLUMNS = ("kind", "from", "to", "quantity", "serials", "project", "beneficiary", "purpose")
KINDS = {"transfer": "transfer", "转让": "transfer", "retire": "retire", "退役": "retire"}
HEADER_ALIASES = {"类型": "kind", "转出账户": "from", "转入账户": "to", "数量": "quantity",
                  "序列号": "serials", "项目": "project", "受益方": "beneficiary", "用途": "purpose"}  # fmt: skip
MAX_LINES = 100_000
_CLOSE_CHUNK = 5_000


@dataclass(frozen=True)
class BatchLine:
    """One move as the file says it (line numbers count the header as line 1)."""

    line: int
    kind: str
    account: str
    to: str = ""
    quantity: int | None = None
    serials: str = ""
    project: str = ""
    beneficiary: str = ""
    purpose: str = ""

    def canonical(self) -> list[Any]:
        return [self.line, self.kind, self.account, self.to, self.quantity, self.serials,
                self.project, self.beneficiary, self.purpose]  # fmt: skip


@dataclass(frozen=True)
class BatchMove(Result):
    line: int
    kind: str
    account: str
    to: str
    quantity: int
    serials: tuple[str, ...]
    certificate: str = ""
    beneficiary: str = ""
    purpose: str = ""

    def to_dict(self) -> dict[str, Any]:
        """As :meth:`Result.to_dict` gives it, written out (a batch has thousands of moves)."""
        return {"line": self.line, "kind": self.kind, "account": self.account, "to": self.to,
                "quantity": self.quantity, "serials": list(self.serials), "certificate": self.certificate,
                "beneficiary": self.beneficiary, "purpose": self.purpose}  # fmt: skip


@dataclass(frozen=True)
class BatchResult(Result):
    """A batch done: how many moves and credits, the SHA-256 of its lines and of its moves."""

    lines_sha256: str
    moves_sha256: str
    n_moves: int
    quantity: int
    retired_on: str
    moves: tuple[BatchMove, ...]
    replayed: bool = transient()

    def to_dict(self) -> dict[str, Any]:
        return {"lines_sha256": self.lines_sha256, "moves_sha256": self.moves_sha256,
                "n_moves": self.n_moves, "quantity": self.quantity, "retired_on": self.retired_on,
                "moves": [m.to_dict() for m in self.moves]}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any], **extra: Any) -> BatchResult:
        moves = tuple(BatchMove.from_dict(m) for m in data["moves"])
        return cls(data["lines_sha256"], data["moves_sha256"], int(data["n_moves"]),
                   int(data["quantity"]), str(data["retired_on"]), moves, **extra)  # fmt: skip


def _problem(line: int, zh: str, en: str) -> dict[str, Any]:
    return {"line": line, "message_zh": zh, "message_en": en}


def read_batch_csv(text: str) -> tuple[list[BatchLine], list[dict[str, Any]]]:
    """The lines of a batch file (CSV with a header of :data:`BATCH_COLUMNS`, Chinese aliases
    accepted; each column once) and the problems found in their form, line by line: a row
    longer than the header, a quantity that is not plain digits, an unknown kind."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [HEADER_ALIASES.get(h.strip(), h.strip().lower()) for h in next(reader, [])]
        missing = [c for c in ("kind", "from") if c not in header]
        if missing:
            raise BatchRefused(f"批量文件缺少列：{', '.join(missing)}（表头须含 {', '.join(BATCH_COLUMNS)}）。",
                               f"the batch file lacks the columns {', '.join(missing)} (header: {', '.join(BATCH_COLUMNS)}).",
                               [])  # fmt: skip
        twice = sorted({h for h in header if header.count(h) > 1})
        unknown = sorted(set(header) - set(BATCH_COLUMNS) - {""})
        if twice or unknown:
            raise BatchRefused(f"表头有重复或未知的列：{', '.join(twice + unknown)}（可用：{', '.join(BATCH_COLUMNS)}）。",
                               f"the header repeats or does not know the columns {', '.join(twice + unknown)} "
                               f"(known: {', '.join(BATCH_COLUMNS)}).", [])  # fmt: skip
        lines: list[BatchLine] = []
        problems: list[dict[str, Any]] = []
        rows = 0
        for n, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            rows += 1
            if rows > MAX_LINES:
                raise BatchRefused(
                    f"一批最多 {MAX_LINES:,} 行。",
                    f"a batch holds at most {MAX_LINES:,} lines.",
                    [],
                )
            if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
                problems.append(_problem(n, f"此行有 {len(row)} 列，多于表头的 {len(header)} 列。",
                                         f"this row has {len(row)} cells, more than the header's {len(header)}."))  # fmt: skip
                continue
            cells = dict(zip(header, (c.strip() for c in row), strict=False))
            kind = KINDS.get(cells.get("kind", "").lower(), "")
            qty_text = cells.get("quantity", "")
            if qty_text and not re.fullmatch(r"[0-9]{1,13}", qty_text):
                problems.append(_problem(n, f"数量 {qty_text[:40]!r} 须为正整数（吨，仅阿拉伯数字）。",
                                         f"quantity {qty_text[:40]!r} must be a whole number of tonnes (digits 0–9 only)."))  # fmt: skip
                continue
            if not kind:
                problems.append(_problem(n, f"类型 {cells.get('kind', '')[:40]!r} 须为 transfer/转让 或 retire/退役。",
                                         f"kind {cells.get('kind', '')[:40]!r} must be transfer or retire."))  # fmt: skip
                continue
            lines.append(BatchLine(n, kind, cells.get("from", ""), cells.get("to", ""),
                                   int(qty_text) if qty_text else None, cells.get("serials", ""),
                                   cells.get("project", ""), cells.get("beneficiary", ""),
                                   cells.get("purpose", "")))  # fmt: skip
    except csv.Error as exc:  # a field over the csv module's limit, a NUL byte …
        raise BatchRefused(f"批量文件第 {reader.line_num} 行无法读取：{exc}。",
                           f"line {reader.line_num} of the batch file cannot be read: {exc}.", []) from None  # fmt: skip
    if not lines and not problems:
        raise BatchRefused("批量文件没有任何行。", "the batch file has no lines.", [])
    return lines, problems


def _form(line: BatchLine) -> list[dict[str, Any]]:
    """What is wrong with one line on its own."""
    n, out = line.line, []
    if not line.account:
        out.append(_problem(n, "缺少转出账户。", "the source account is missing."))
    if (line.quantity is None) == (not line.serials):
        out.append(
            _problem(
                n,
                "请只给出数量或序列号之一。",
                "give either a quantity or serials, not both or neither.",
            )
        )
    if line.quantity is not None and line.quantity <= 0:
        out.append(
            _problem(
                n,
                f"数量 {line.quantity} 须为正整数（吨）。",
                f"quantity {line.quantity} must be a positive whole number of tonnes.",
            )
        )
    if line.serials:
        try:
            parse_serial(line.serials)
        except Exception as exc:  # a malformed serial: the parser's own bilingual message
            out.append(
                _problem(
                    n, getattr(exc, "message_zh", str(exc)), getattr(exc, "message_en", str(exc))
                )
            )
    if line.kind == "transfer" and not line.to:
        out.append(_problem(n, "转让须给出转入账户。", "a transfer needs the account to move to."))
    if line.kind == "transfer" and line.to == line.account:
        out.append(
            _problem(n, "转出与转入账户相同。", "the source and destination accounts are the same.")
        )
    if line.kind == "retire" and not line.beneficiary:
        out.append(_problem(n, "退役须写明受益方。", "a retirement needs its beneficiary."))
    for value, zh, en in (
        (line.beneficiary, "受益方", "beneficiary"),
        (line.purpose, "用途", "purpose"),
    ):
        try:
            check_text(value, zh, en, required=False)  # as a single retirement checks it
        except RegistryError as exc:
            out.append(_problem(n, exc.message_zh, exc.message_en))
    return out  # fmt: skip


def _digest(items: Iterable[Any]) -> str:
    return hashlib.sha256(canonical_json(list(items)).encode()).hexdigest()


@dataclass
class _Held:
    """An account's live active blocks during allocation: what each block still has free
    (sorted intervals), what each line took from it, and the first block with anything free."""

    blocks: list[Block]
    free: dict[int, list[list[int]]]  # block id → free [first, last] intervals, in order
    taken: dict[int, list[tuple[int, int, int, str]]]  # block id → (first, last, to_id, state)
    start: int = 0


def _accounts(db: DriverSQL, codes: set[str]) -> dict[str, tuple[int, str, str]]:
    """code → (id, kind, holder organisation) for the codes that exist."""
    if not codes:
        return {}
    params = {f"c{i}": c for i, c in enumerate(sorted(codes))}
    rows = db.rows(
        "SELECT a.code, a.id, a.kind, o.name FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id "
        f"WHERE a.code IN ({', '.join(':' + k for k in params)})", params,
    )  # fmt: skip
    return {str(r[0]): (int(r[1]), str(r[2]), str(r[3])) for r in rows}


def _check_accounts(lines: Sequence[BatchLine], found: dict[str, tuple[int, str, str]],
                    actor: Actor) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    for line in lines:
        src = found.get(line.account)
        if line.account and src is None:
            out.append(
                _problem(line.line, f"没有账户 {line.account!r}。", f"no account {line.account!r}.")
            )
        elif src is not None and src[1] != AccountKind.HOLDING.value:
            out.append(_problem(line.line, f"账户 {line.account} 不是持有账户：批量只移动持有账户的积分。",
                                f"account {line.account} is not a holding account: a batch moves holders' credits only."))  # fmt: skip
        elif src is not None and src[2] != actor.organisation:
            out.append(_problem(line.line, f"{actor.name}（{actor.organisation}）无权移动账户 {line.account} 的积分（属于 {src[2]}）。",
                                f"{actor.name} ({actor.organisation}) may not move the credits of account {line.account} (it belongs to {src[2]})."))  # fmt: skip
        if line.kind == "transfer" and line.to:
            dst = found.get(line.to)
            if dst is None:
                out.append(
                    _problem(line.line, f"没有账户 {line.to!r}。", f"no account {line.to!r}.")
                )
            elif dst[1] != AccountKind.HOLDING.value:
                out.append(
                    _problem(
                        line.line,
                        f"账户 {line.to} 不是持有账户。",
                        f"account {line.to} is not a holding account.",
                    )
                )
    return out


def _load(db: DriverSQL, account_ids: list[int]) -> dict[int, _Held]:
    """Lock the source accounts (sorted) and read their live active blocks in one statement."""
    if db.postgres:
        for a in account_ids:
            db.rows("SELECT id FROM ledger_account WHERE id = :a" + ACCOUNT_LOCK, {"a": a})
    params = {f"a{i}": a for i, a in enumerate(account_ids)}
    rows = db.rows(
        "SELECT id, project_code, vintage, first_seq, last_seq, account_id, state, pledge_id, labels FROM credit_block "
        f"WHERE closed_op_id IS NULL AND state = 'active' AND account_id IN ({', '.join(':' + k for k in params)}) "
        "ORDER BY account_id, project_code, vintage, first_seq", params,
    )  # fmt: skip
    held = {a: _Held([], {}, {}) for a in account_ids}
    for r in rows:
        b = Block(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6], r[7], r[8])
        held[b.account_id].blocks.append(b)
        held[b.account_id].free[b.id] = [[b.first, b.last]]
    return held


def _take_oldest(held: _Held, need: int, project: str) -> list[tuple[Block, int, int]] | None:
    """``need`` credits from the oldest free serials (of ``project`` if given), or None."""
    plan: list[tuple[Block, list[int], int]] = []  # (block, interval, how many) to commit
    for b in held.blocks[held.start :]:
        if project and b.project != project:
            continue
        for interval in held.free[b.id]:
            got = min(need, interval[1] - interval[0] + 1)
            plan.append((b, interval, got))
            need -= got
            if not need:
                break
        if not need:
            break
    if need:
        return None
    pieces = []
    for b, interval, got in plan:
        pieces.append((b, interval[0], interval[0] + got - 1))
        interval[0] += got
        if interval[0] > interval[1]:
            held.free[b.id].remove(interval)
    while held.start < len(held.blocks) and not held.free[held.blocks[held.start].id]:
        held.start += 1  # exhausted blocks are never looked at again
    return pieces


def _take_serials(held: _Held, r: Any) -> list[tuple[Block, int, int]] | None:
    """Exactly the serials ``r`` if all are free, or None (nothing taken)."""
    pieces = []
    for b in held.blocks:
        if b.project != r.project or b.vintage != r.vintage or b.last < r.first or b.first > r.last:
            continue
        for first, last in held.free[b.id]:
            lo, hi = max(first, r.first), min(last, r.last)
            if lo <= hi:
                pieces.append((b, lo, hi))
    if sum(hi - lo + 1 for _, lo, hi in pieces) != r.size:
        return None
    for b, lo, hi in pieces:  # cut each piece out of its free interval
        intervals = held.free[b.id]
        i = next(k for k, (first, last) in enumerate(intervals) if first <= lo and hi <= last)
        first, last = intervals.pop(i)
        intervals[i:i] = [x for x in ([first, lo - 1], [hi + 1, last]) if x[0] <= x[1]]
    return pieces


def _allocate(
    line: BatchLine, held: _Held, to_id: int, state: str
) -> list[tuple[Block, int, int]] | str:
    """The pieces this line takes (and marks them taken), or why it cannot."""
    if line.serials:
        got = _take_serials(held, parse_serial(line.serials))
        if got is None:
            return "serials"
    else:
        got = _take_oldest(held, int(line.quantity or 0), line.project)
        if got is None:
            return "quantity"
    for b, lo, hi in got:
        held.taken.setdefault(b.id, []).append((lo, hi, to_id, state))
    return got


def execute_batch(
    session: Session, actor: Actor, key: str, lines: Sequence[BatchLine],
    retired_on: date | None = None, problems: Sequence[dict[str, Any]] = (),
) -> BatchResult:  # fmt: skip
    """Run the batch (see the module docstring) in the caller's transaction; ``problems`` are
    those already found in the file's form (:func:`read_batch_csv`), reported with the rest."""
    if retired_on is not None:
        check_date(retired_on, "退役日期", "retirement date")  # as a single retirement does
    lines_sha = _digest(line.canonical() for line in lines)
    op = Operation(session, OperationKind.BATCH, key,
                   {"lines_sha256": lines_sha, "lines": len(lines),
                    "retired_on": None if retired_on is None else retired_on.isoformat()}, actor.label)  # fmt: skip
    if op.previous is not None:
        return BatchResult.from_dict(op.previous, replayed=True)
    day = retired_on or datetime.now(UTC).date()
    db = op.db
    found = list(problems)
    for line in lines:
        found += _form(line)
    accounts = _accounts(
        db, {line.account for line in lines} | {line.to for line in lines if line.to}
    )
    found += _check_accounts(lines, accounts, actor)
    if found:
        raise _refused(found, len(lines))
    sources = sorted({accounts[line.account][0] for line in lines})
    held = _load(db, sources)
    # after the row locks: opening an account appends an audit event, whose lock comes last
    retirement_id = system_account(session, AccountKind.RETIREMENT, actor.label)
    allocated: list[tuple[BatchLine, list[tuple[Block, int, int]]]] = []
    for line in lines:
        retire = line.kind == "retire"
        to_id = retirement_id if retire else accounts[line.to][0]
        got = _allocate(line, held[accounts[line.account][0]], to_id,
                        BlockState.RETIRED.value if retire else BlockState.ACTIVE.value)  # fmt: skip
        if got == "serials":
            found.append(_problem(line.line, f"序列号 {line.serials} 不全是账户 {line.account} 的可用积分（或已被本批前面的行取走）。",
                                  f"the serials {line.serials} are not all available credits of {line.account} (or an earlier line of this batch took them)."))  # fmt: skip
        elif got == "quantity":
            found.append(_problem(line.line, f"账户 {line.account} 的可用积分不足 {line.quantity} 吨（含本批前面各行取走的）。",
                                  f"account {line.account} lacks {line.quantity} t of available credits (after this batch's earlier lines)."))  # fmt: skip
        else:
            assert not isinstance(got, str)
            allocated.append((line, got))
    if found:
        raise _refused(found, len(lines))
    _write(db, op.id, held)
    retirement_code = SYSTEM_ACCOUNTS[AccountKind.RETIREMENT][0]
    moves, certificates = [], []
    for line, pieces in allocated:
        serials = tuple(format_block(b.project, b.vintage, lo, hi) for b, lo, hi in pieces)
        qty = sum(hi - lo + 1 for _, lo, hi in pieces)
        certificate = f"RC-{day.year}-{op.id:08d}-{line.line:05d}" if line.kind == "retire" else ""
        moves.append(BatchMove(line.line, line.kind, line.account,
                               retirement_code if line.kind == "retire" else line.to, qty, serials,
                               certificate, line.beneficiary, line.purpose))  # fmt: skip
        if certificate:
            certificates.append({"c": certificate, "o": op.id, "b": line.beneficiary, "p": line.purpose,
                                 "d": day, "q": qty, "s": "\n".join(serials)})  # fmt: skip
    db.many("INSERT INTO retirement (certificate_id, op_id, beneficiary, purpose, retired_on, quantity, serials) "
            "VALUES (:c, :o, :b, :p, :d, :q, :s)", certificates)  # fmt: skip
    result = BatchResult(lines_sha, _digest(m.to_dict() for m in moves), len(moves),
                         sum(m.quantity for m in moves), day.isoformat(), tuple(moves))  # fmt: skip
    op.finish(result)
    return result


def _refused(problems: list[dict[str, Any]], n: int) -> BatchRefused:
    bad = sorted({p["line"] for p in problems})
    shown = ", ".join(str(b) for b in bad[:20]) + ("…" if len(bad) > 20 else "")
    return BatchRefused(
        f"批量未执行（{n:,} 行中 {len(bad):,} 行有误：第 {shown} 行），什么都没有改变。",
        f"the batch was not run ({len(bad):,} of {n:,} lines are wrong: line {shown}); nothing changed.",
        sorted(problems, key=lambda p: p["line"]),
    )


def _write(db: DriverSQL, op_id: int, held: dict[int, _Held]) -> None:
    """Close every touched block; write what stays and what moved — set-based."""
    closed: list[int] = []
    rows: list[tuple[Any, ...]] = []
    for h in held.values():
        for b in h.blocks:
            taken = h.taken.get(b.id)
            if not taken:
                continue
            closed.append(b.id)
            kept = [(first, last, b.account_id, b.state) for first, last in h.free[b.id]]
            for first, last, to_id, state in kept + taken:  # what stays, what moved
                rows.append(
                    (b.project, b.vintage, first, last, to_id, state, None, b.labels, op_id)
                )
    for i in range(0, len(closed), _CLOSE_CHUNK):
        chunk = closed[i : i + _CLOSE_CHUNK]
        params = {f"b{j}": c for j, c in enumerate(chunk)}
        db.rows(f"UPDATE credit_block SET closed_op_id = :op WHERE closed_op_id IS NULL AND id IN ({', '.join(':' + k for k in params)})",
                {"op": op_id, **params})  # fmt: skip
    db.insert_rows("credit_block", ("project_code", "vintage", "first_seq", "last_seq", "account_id", "state",
                                    "pledge_id", "labels", "created_op_id"), rows)  # fmt: skip
