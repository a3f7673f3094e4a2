"""Benchmark: transfers over HTTP at 16 concurrent clients beside the same service called
in-process, on PostGIS and SpatiaLite, in the same run.

  http        16 client threads (httpx, keep-alive) POST /api/v1/credits/transfer to a real
              ``tanhui serve`` on 127.0.0.1 (SpatiaLite: 1 worker; PostGIS: --workers 2),
              each with its own user's API token and idempotency keys
  in-process  16 threads calling registry.ledger.transfer (one transaction each) on one engine
              — the anchor: the service without HTTP, authentication and JSON

Prints operations/s, p50/p99 latency and the ratio http / in-process, and the ledger's
invariants and audit chain afterwards. Not a test: nothing here asserts timings.

    .venv/bin/python bench/api/run.py [--seconds 10] [--clients 16] [--engines PostGIS,SpatiaLite]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import Result, run_clients, verdict  # noqa: E402
from registry.db import make_engine, migrate, session_scope  # noqa: E402
from registry.issuance import issue  # noqa: E402
from registry.ledger import LedgerError, ensure_account, transfer  # noqa: E402
from registry.organisations import grant_kind, register_organisation  # noqa: E402
from registry.users import add_user, bootstrap_admin, issue_secret, load_actor  # noqa: E402
from registry.vocabulary import Role  # noqa: E402
from tests.api.api_fixtures import uvicorn_server  # noqa: E402
from tests.pg_cluster import PostgisCluster  # noqa: E402
from tests.registry.ledger_fixtures import verified_project  # noqa: E402

ACCOUNTS = [f"B{i}" for i in range(8)]
CREDITS = 32_000  # ≤ what the fixture's plots can verify (about 35 900 t)
BUREAU = "双牌县林业局"


def prepare(url: str) -> dict[str, str]:
    """L1 issued (32 000 t), 8 accounts of 8 organisations with 4 000 t each, a user and an
    API token per organisation; returns account → token."""
    engine = make_engine(url)
    migrate(engine)
    verified_project(engine, Path(tempfile.mkdtemp()), quantity=CREDITS)
    tokens = {}
    with session_scope(engine) as s:
        bootstrap_admin(s, "bench-admin", BUREAU, "bench password, not a default")
        admin = load_actor(s, "bench-admin")
        issue(s, admin, "L1", "bench-issue", minimum_pct=0)
        for i, a in enumerate(ACCOUNTS):
            ensure_account(s, a, a, "holding", a)
            register_organisation(s, admin, a)
            grant_kind(s, admin, a, "buyer")
            add_user(s, admin, f"user-{a}", a, frozenset({Role.BUYER}))
            transfer(s, admin, f"seed-{i}", "HOLD-L1", a, quantity=CREDITS // len(ACCOUNTS))
            _, tokens[a] = issue_secret(s, load_actor(s, f"user-{a}"), "api_token", "bench", None)
    engine.dispose()
    return tokens


def over_http(base: str, tokens: dict[str, str], clients: int, seconds: float, tag: str) -> Result:
    def make(n: int) -> Callable[[int], bool]:
        rng = random.Random(f"{tag}-{n}")
        http = httpx.Client(base_url=base + "/api/v1", timeout=120)

        def operation(i: int) -> bool:
            a, b = rng.sample(ACCOUNTS, 2)
            r = http.post("/credits/transfer", headers={"Authorization": f"Bearer {tokens[a]}",
                          "Idempotency-Key": f"{tag}-{n}-{i}"},
                          json={"from_account": a, "to_account": b, "quantity": rng.randint(1, 20)})  # fmt: skip
            if r.status_code >= 500:
                raise RuntimeError(f"server error {r.status_code}: {r.text[:300]}")
            return r.status_code == 200

        return operation

    return run_clients(clients, seconds, make)


def in_process(url: str, clients: int, seconds: float, tag: str) -> Result:
    engine = make_engine(url, pool_size=clients, max_overflow=0)
    with session_scope(engine) as s:
        actors = {a: load_actor(s, f"user-{a}") for a in ACCOUNTS}

    def make(n: int) -> Callable[[int], bool]:
        rng = random.Random(f"{tag}-{n}")

        def operation(i: int) -> bool:
            a, b = rng.sample(ACCOUNTS, 2)
            try:
                with session_scope(engine) as s:
                    transfer(s, actors[a], f"{tag}-{n}-{i}", a, b, quantity=rng.randint(1, 20))
            except LedgerError:
                return False
            return True

        return operation

    try:
        return run_clients(clients, seconds, make)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--engines", default="PostGIS,SpatiaLite")
    args = parser.parse_args()
    rows = []
    cluster = PostgisCluster().start()
    try:
        urls = {"PostGIS": cluster.create_database("bench_api"),
                "SpatiaLite": f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"}  # fmt: skip
        for name, url in urls.items():
            if name not in args.engines.split(","):
                continue
            tokens = prepare(url)
            anchor = in_process(url, args.clients, args.seconds, "inproc")
            with uvicorn_server(url, workers=2) as base:
                http = over_http(base, tokens, args.clients, args.seconds, "http")
            rows.append((name, http, anchor, verdict(url)))
    finally:
        cluster.stop()
    print(f"\nAPI: {args.clients} concurrent clients × {args.seconds:.0f} s of random transfers "
          "(1–20 t between 8 accounts)")  # fmt: skip
    print(f"{'engine':<11} {'':<11} {'ops/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'refused':>8}")
    for name, http, anchor, check in rows:
        for label, r, kind in ((name, http, "HTTP"), ("", anchor, "in-process")):
            print(
                f"{label:<11} {kind:<11} {r.ops_per_s:>8.1f} {r.p50_ms:>7.1f} {r.p99_ms:>8.1f} {r.refused:>8}"
            )
        print(f"{'':<11} ratio HTTP / in-process {http.ops_per_s / anchor.ops_per_s:.0%}; {check}")


if __name__ == "__main__":
    main()
