"""Benchmark: a 10,000-move batch (registry.ledger.batch) against a raw bulk write of the same
block rows, in the same run, on PostGIS and on SpatiaLite.

  tanhui  execute_batch: 10,000 transfers of 1 t from HOLD-L1 to 100 accounts, in one
          transaction — every line checked, the source account locked, its blocks read and
          allocated, the touched block closed, 10,001 block rows written (PostgreSQL: COPY;
          SQLite: executemany), one operation row and one audit event with every move and their
          SHA-256, the commit
  anchor  the same 10,001 block rows (read back after the batch) written again by a bare bulk
          write, in a transaction then rolled back — PostgreSQL: COPY into a scratch table LIKE
          credit_block INCLUDING ALL (its indexes and its no-overlap exclusion constraint, not
          its triggers: the rows would overlap the live ones); SQLite: executemany of one INSERT
          into a scratch table of credit_block's own definition and indexes
  guarded the same rows again, raw, into credit_block itself (the touched blocks closed first, as
          the batch does) with its guards firing — overlap, issued serials, holder kind — in a
          transaction rolled back: what the ledger's own database rules cost, apart from ours
Prints the seconds of each (median of --rounds), the ratio anchor / tanhui (the batch's
throughput as a share of the raw write's; target of issue #20: ≥ 30 %), the peak memory of the
process, and the ledger's invariant check at the end. Not a test: nothing here asserts timings.

    .venv/bin/python bench/ledger/batch.py [--moves 10000] [--rounds 3] [--engines PostGIS,SpatiaLite]
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from registry.actors import Actor  # noqa: E402
from registry.db import DriverSQL, make_engine, migrate, session_scope  # noqa: E402
from registry.issuance import issue  # noqa: E402
from registry.ledger import check_invariants, ensure_account  # noqa: E402
from registry.ledger.batch import BatchLine, execute_batch  # noqa: E402
from registry.models import Role  # noqa: E402
from tests.pg_cluster import PostgisCluster  # noqa: E402
from tests.registry.ledger_fixtures import verified_project  # noqa: E402

BUREAU = "双牌县林业局"  # the developer of the fixture's project: HOLD-L1's holder
STAFF = Actor.of("bench", Role.BUREAU_STAFF, BUREAU)
ACCOUNTS = [f"B{i:03d}" for i in range(100)]
COLUMNS = ("project_code", "vintage", "first_seq", "last_seq", "account_id", "state", "pledge_id",
           "labels", "created_op_id")  # fmt: skip


def prepare(url: str, credits: int) -> Any:
    engine = make_engine(url)
    migrate(engine)
    verified_project(engine, Path(tempfile.mkdtemp()), quantity=credits + 0.5)
    with session_scope(engine) as s:
        issue(s, Actor.of("bench", Role.ADMIN, BUREAU), "L1", "bench-issue", minimum_pct=0)
        for a in ACCOUNTS:
            ensure_account(s, a, a, "holding", a)
    return engine


def guarded_write(engine: Any, lines: list[BatchLine], key: str) -> float:
    """The second anchor: the batch's own writes replayed raw into credit_block itself, its
    guards firing — run the batch once and roll it back to learn its rows and the blocks it
    closes, then close those blocks and bulk-write those rows in a transaction rolled back."""
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        execute_batch(s, STAFF, key + "-probe", lines)
        db = DriverSQL(s)
        op = db.first(
            "SELECT id FROM ledger_operation WHERE idempotency_key = :k", {"k": key + "-probe"}
        )
        assert op is not None
        closed = [
            r[0]
            for r in db.rows("SELECT id FROM credit_block WHERE closed_op_id = :o", {"o": op[0]})
        ]
        rows = db.rows(
            f"SELECT {', '.join(COLUMNS)} FROM credit_block WHERE created_op_id = :o", {"o": op[0]}
        )
        s.rollback()
    with Session(engine) as s:
        db = DriverSQL(s)
        any_op = db.first("SELECT MIN(id) FROM ledger_operation")
        assert any_op is not None
        rows = [(*r[:-1], any_op[0]) for r in rows]
        t0 = time.perf_counter()
        db.rows(f"UPDATE credit_block SET closed_op_id = :o WHERE id IN ({', '.join(str(int(c)) for c in closed)})",
                {"o": any_op[0]})  # fmt: skip
        db.insert_rows("credit_block", COLUMNS, rows)
        seconds = time.perf_counter() - t0
        s.rollback()
    return seconds


def one_round(engine: Any, moves: int, round_: int) -> tuple[float, float, float]:
    rng = random.Random(round_)
    lines = [BatchLine(i + 2, "transfer", "HOLD-L1", rng.choice(ACCOUNTS), 1) for i in range(moves)]
    guarded = guarded_write(engine, lines, f"bench-batch-{round_}")
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        done = execute_batch(s, STAFF, f"bench-batch-{round_}", lines)
    ours = time.perf_counter() - t0
    assert done.n_moves == moves
    with session_scope(engine) as s:
        db = DriverSQL(s)
        op = db.first("SELECT id FROM ledger_operation WHERE idempotency_key = :k",
                      {"k": f"bench-batch-{round_}"})  # fmt: skip
        assert op is not None
        rows = db.rows(f"SELECT {', '.join(COLUMNS)} FROM credit_block WHERE created_op_id = :o",
                       {"o": op[0]})  # fmt: skip
    connection = engine.raw_connection()  # the anchor: the same rows, a bare bulk write
    try:
        cursor = connection.cursor()
        if engine.dialect.name == "postgresql":
            # a scratch table like credit_block (its indexes and the no-overlap exclusion
            # constraint, without its triggers and foreign keys): the live rows stay where they are
            cursor.execute("CREATE TEMP TABLE bench_blocks (LIKE credit_block INCLUDING ALL)")
            t0 = time.perf_counter()
            with cursor.copy(f"COPY bench_blocks ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            # the same on SQLite: a scratch table of credit_block's own definition and indexes
            cursor.execute("BEGIN IMMEDIATE")
            for (sql,) in cursor.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'credit_block' AND type IN ('table', 'index') "
                "AND sql IS NOT NULL ORDER BY type DESC"
            ).fetchall():
                cursor.execute(
                    sql.replace("credit_block", "bench_blocks").replace(" ix_block", " ix_bench")
                )
            t0 = time.perf_counter()
            marks = ", ".join("?" for _ in COLUMNS)
            cursor.executemany(
                f"INSERT INTO bench_blocks ({', '.join(COLUMNS)}) VALUES ({marks})", rows
            )
        anchor = time.perf_counter() - t0
        connection.rollback()
    finally:
        connection.close()
    return ours, anchor, guarded


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engines", default="PostGIS,SpatiaLite")
    args = parser.parse_args()
    out = []
    cluster = PostgisCluster().start()
    try:
        urls = {"PostGIS": cluster.create_database("bench_batch"),
                "SpatiaLite": f"sqlite:///{tempfile.mkdtemp()}/batch.sqlite"}  # fmt: skip
        for name, url in urls.items():
            if name not in args.engines.split(","):
                continue
            engine = prepare(url, args.moves * args.rounds)
            timings = [one_round(engine, args.moves, r) for r in range(args.rounds)]
            with session_scope(engine) as s:
                problems = check_invariants(s)
            ours = statistics.median(t[0] for t in timings)
            anchor = statistics.median(t[1] for t in timings)
            guarded = statistics.median(t[2] for t in timings)
            out.append((name, ours, anchor, guarded, problems))
            engine.dispose()
    finally:
        cluster.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nledger batch: {args.moves:,} transfers of 1 t in one batch, median of {args.rounds} rounds"
    )
    print(
        f"{'engine':<11} {'tanhui s':>9} {'raw write s':>12} {'ratio':>7} {'guarded s':>10} {'ratio':>7}  invariants"
    )
    for name, ours, anchor, guarded, problems in out:
        print(f"{name:<11} {ours:>9.3f} {anchor:>12.3f} {anchor / ours:>7.0%} {guarded:>10.3f} "
              f"{guarded / ours:>7.0%}  {'hold' if not problems else problems[:3]}   (target ≥ 30 % of the raw write)")  # fmt: skip
    print(f"peak memory of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
