"""Benchmark: 8 concurrent workers doing random transfers and retirements for a fixed time.

On PostGIS and on SpatiaLite, in the same run:
  tanhui  registry.ledger.transfer / retire (block locking, splitting, idempotency key, audit
          event, all in one transaction per operation)
  anchor  raw SQL: a single-row balance update per operation (UPDATE balance SET n = n + q
          WHERE account = …, one transaction), same workers, same duration and accounts
Prints operations per second, p50/p99 latency, the ratio tanhui / anchor, and the invariant
check at the end. Target (issue #6): ≥ 30 % of the anchor's throughput, 0 violations.
Not a test: nothing here asserts timings.

    .venv/bin/python bench/ledger/run.py [--seconds 10] [--workers 8] [--rounds 3]

Two shared cores make single runs noisy (±30 % seen): each round runs tanhui and then the
anchor back to back, and the verdict is the median of the rounds' ratios.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from registry.audit import verify_chain  # noqa: E402
from registry.db import make_engine, migrate, session_scope  # noqa: E402
from registry.ledger import LedgerError, check_invariants, ensure_account, issue, retire, transfer  # noqa: E402
from tests.pg_cluster import PostgisCluster  # noqa: E402
from tests.registry.ledger_fixtures import verified_project  # noqa: E402

ACCOUNTS = [f"B{i}" for i in range(8)]
CREDITS = 80_000


def tanhui_worker(url: str, seed: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        _tanhui_worker(url, seed, seconds, out)
    except Exception as exc:  # report, never leave the parent waiting
        out.put(([], f"{type(exc).__name__}: {exc}"[:500]))


def _tanhui_worker(url: str, seed: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(url)
    rng = random.Random(seed)
    latencies, refused, n = [], 0, 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a, b = rng.sample(ACCOUNTS, 2)
        t0 = time.perf_counter()
        try:
            with session_scope(engine) as s:
                if rng.random() < 0.1:
                    retire(
                        s, "bench", f"{seed}-{n}", a, "bench", "bench", date(2026, 1, 1), quantity=1
                    )
                else:
                    transfer(s, "bench", f"{seed}-{n}", a, b, quantity=rng.randint(1, 20))
            latencies.append(time.perf_counter() - t0)
        except LedgerError:
            refused += 1
        n += 1
    out.put((latencies, refused))


def anchor_worker(url: str, seed: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    try:
        _anchor_worker(url, seed, seconds, out)
    except Exception as exc:  # report, never leave the parent waiting
        out.put(([], f"{type(exc).__name__}: {exc}"[:500]))


def _anchor_worker(url: str, seed: str, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(url)
    rng = random.Random(seed)
    latencies = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = rng.choice(ACCOUNTS)
        q = rng.randint(-20, 20)
        t0 = time.perf_counter()
        with engine.begin() as conn:  # one transaction, one row
            conn.execute(
                text("UPDATE bench_balance SET n = n + :q WHERE account = :a"), {"q": q, "a": a}
            )
        latencies.append(time.perf_counter() - t0)
    out.put((latencies, 0))


def run(
    worker, url: str, workers: int, seconds: float, round_: int = 0
) -> tuple[float, float, float, int]:  # type: ignore[no-untyped-def]
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    # the seed names the worker's idempotency keys: unique per round and worker
    procs = [
        mp.Process(target=worker, args=(url, f"r{round_}w{i}", seconds, queue))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 120) for _ in procs]
    crashed = [r[1] for r in results if isinstance(r[1], str)]
    if crashed:
        raise SystemExit(f"a worker failed: {crashed[0]}")
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r[0])
    refused = sum(r[1] for r in results)
    if not latencies:
        return 0.0, float("nan"), float("nan"), refused
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    return len(latencies) / seconds, statistics.median(latencies) * 1000, p99 * 1000, refused


def prepare(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    # enough credits that refusals stay rare: 10 000 t per account, transfers of 1–20 t
    verified_project(engine, Path(tempfile.mkdtemp()), quantity=CREDITS)
    with session_scope(engine) as s:
        issue(s, "bench", "L1", "bench-issue", buffer_pct=0)
        for i, a in enumerate(ACCOUNTS):
            ensure_account(s, a, a, "holding", a)
            transfer(s, "bench", f"seed-{i}", "HOLD-L1", a, quantity=CREDITS // len(ACCOUNTS))
    with engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE bench_balance (account VARCHAR PRIMARY KEY, n BIGINT NOT NULL)")
        )
        for a in ACCOUNTS:
            conn.execute(text("INSERT INTO bench_balance VALUES (:a, 1000000)"), {"a": a})
    engine.dispose()


def verdict(url: str) -> str:
    engine = make_engine(url)
    with session_scope(engine) as s:
        problems = check_invariants(s)
        chain = verify_chain(s)
    engine.dispose()
    return f"{len(problems)} violations, audit chain {'OK' if chain.ok else 'BROKEN'} ({chain.n_events} events)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    mp.set_start_method("spawn")
    rows = []
    cluster = PostgisCluster().start()
    try:
        engines = {
            "PostGIS": cluster.create_database("bench"),
            "SpatiaLite": f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite",
        }
        for name, url in engines.items():
            prepare(url)
            rounds = []
            for r in range(args.rounds):
                ours = run(tanhui_worker, url, args.workers, args.seconds, r)
                anchor = run(anchor_worker, url, args.workers, args.seconds, r)
                rounds.append((ours[0] / anchor[0], ours, anchor))
            rounds.sort(key=lambda x: x[0])
            _, ours, anchor = rounds[len(rounds) // 2]  # the median round
            ratios = ", ".join(f"{x[0]:.0%}" for x in rounds)
            rows.append((name, ours, anchor, verdict(url), ratios))
    finally:
        cluster.stop()
    print(
        f"\nledger: {args.workers} workers × {args.seconds:.0f} s × {args.rounds} rounds, random transfers (90 %) and retirements (10 %), 2 cores"
    )
    print(f"{'engine':<11} {'':<8} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'refused':>8}")
    for name, ours, anchor, check, ratios in rows:
        print(
            f"{name:<11} {'tanhui':<8} {ours[0]:>8.1f} {ours[1]:>8.1f} {ours[2]:>8.1f} {ours[3]:>8}"
        )
        print(f"{'':<11} {'raw SQL':<8} {anchor[0]:>8.1f} {anchor[1]:>8.1f} {anchor[2]:>8.1f}")
        print(
            f"{'':<11} ratio {ours[0] / anchor[0]:.0%} of the raw update's throughput (median round; rounds {ratios}); {check}"
        )
    print("target: ≥ 30 % of the raw update's throughput, 0 violations")
    print(json.dumps({n: {"ops_per_s": o[0], "anchor_ops_per_s": a[0]} for n, o, a, *_ in rows}))


if __name__ == "__main__":
    main()
