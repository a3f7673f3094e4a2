"""Blocks of credits: read the live ones, pick what an operation moves, close and rewrite.

An operation never edits a block: it closes the blocks it touches (``closed_op_id``) and writes
the pieces, split at the requested serials, as new blocks — two statements whatever the number
of blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.db import DriverSQL
from registry.errors import BadQuantity, InsufficientCredits, SerialsNotHeld
from registry.ledger.operations import Operation
from registry.ledger.serials import Range, format_block

__all__ = [
    "Block",
    "NewBlock",
    "Piece",
    "insert_blocks",
    "live_blocks",
    "move",
    "rewrite",
    "select",
]


@dataclass
class Block:
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


Piece = tuple[Block, int, int]  # a block and the serials first..last taken from it
NewBlock = tuple[
    Block, int, int, int, str, int | None
]  # template, first, last, account, state, pledge


def live_blocks(
    db: DriverSQL,
    account_id: int,
    state: str,
    where: str = "",
    params: dict[str, Any] | None = None,
    limit: int | None = None,
) -> list[Block]:
    """Live blocks of an account in one state, oldest serials first (the caller holds the
    account's lock, see :func:`registry.ledger.accounts.lock_account`)."""
    sql = ("SELECT id, project_code, vintage, first_seq, last_seq, account_id, state, pledge_id, labels FROM credit_block "
           f"WHERE closed_op_id IS NULL AND account_id = :a AND state = :s {where} "
           "ORDER BY project_code, vintage, first_seq")  # fmt: skip
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = db.rows(sql, {"a": account_id, "s": state, **(params or {})})
    return [
        Block(int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]), r[6], r[7], r[8])
        for r in rows
    ]


def select(
    db: DriverSQL, account_id: int, state: str, quantity: int | None, serials: Range | None,
    project: str | None = None, vintage: int | None = None, pledge_id: int | None = None,
) -> list[Piece]:  # fmt: skip
    """(block, first, last) pieces to move: a quantity from the oldest serials, or exact serials."""
    if quantity is not None and serials is not None:
        raise BadQuantity(
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
        params.update({"p": serials.project, "v": serials.vintage, "first": serials.first,
                       "last": serials.last})  # fmt: skip
        found = live_blocks(db, account_id, state, where, params)
        covered = sum(min(b.last, serials.last) - max(b.first, serials.first) + 1 for b in found)
        if covered != serials.size:
            block = format_block(serials.project, serials.vintage, serials.first, serials.last)
            raise SerialsNotHeld(
                f"序列号 {block} 中有 {serials.size - covered} 个不在该账户的 {state} 状态积分里"
                "（不存在、已转出、已质押、已注销或已退役）。",
                f"{serials.size - covered} of the serials {block} are not {state} credits of this "
                "account (unknown, moved, pledged, retired or cancelled).",
            )
        return [(b, max(b.first, serials.first), min(b.last, serials.last)) for b in found]
    if quantity is None or quantity <= 0:
        raise BadQuantity(
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
    found = live_blocks(db, account_id, state, where, params, limit=quantity)
    available = sum(b.size for b in found)
    if available < quantity:
        raise InsufficientCredits(
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


def insert_blocks(db: DriverSQL, op_id: int, rows: list[NewBlock]) -> None:
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


def move(
    op: Operation, pieces: list[Piece], account_id: int, state: str, pledge_id: int | None
) -> tuple[str, ...]:
    """Close each touched block and write its pieces: before, moved, after (split at both ends).

    Two statements whatever the number of blocks: one closes them, one writes the pieces.
    Returns the moved serials, one block each.
    """
    return rewrite(op, pieces, lambda b: (b, account_id, state, pledge_id))


def rewrite(
    op: Operation,
    pieces: list[Piece],
    becomes: Callable[[Block], tuple[Block, int, str, int | None]],
) -> tuple[str, ...]:
    """Close each touched block and write its pieces: the part outside ``first..last`` as it was,
    the part inside as ``becomes(block)`` says — (template for project, vintage and labels,
    account, state, pledge). Two statements whatever the number of blocks. Returns the
    rewritten serials, one block each."""
    if not pieces:
        return ()
    ids = {f"b{i}": b.id for i, (b, _, _) in enumerate(pieces)}
    op.db.rows(
        f"UPDATE credit_block SET closed_op_id = :op WHERE id IN ({', '.join(':' + k for k in ids)})",
        {"op": op.id, **ids},
    )
    rows: list[NewBlock] = []
    moved = []
    for b, first, last in pieces:
        if first > b.first:
            rows.append((b, b.first, first - 1, b.account_id, b.state, b.pledge_id))
        template, account_id, state, pledge_id = becomes(b)
        rows.append((template, first, last, account_id, state, pledge_id))
        if last < b.last:
            rows.append((b, last + 1, b.last, b.account_id, b.state, b.pledge_id))
        moved.append(format_block(b.project, b.vintage, first, last))
    insert_blocks(op.db, op.id, rows)
    return tuple(moved)
