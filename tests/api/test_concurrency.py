"""A real server (``tanhui serve`` under uvicorn on 127.0.0.1) and 16 clients at once: the
ledger's invariants, the audit chain and its replay hold afterwards, nothing fails with a 5xx
("database is locked" included), and one idempotency key sent twice at once moves credits once.
Loops are bounded in count; every request has a timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine

from registry.audit import verify_chain
from registry.db import read_scope, session_scope
from registry.issuance import issue
from registry.ledger import balance, check_invariants
from registry.ledger.replay import replay
from registry.users import load_actor
from tests.api.api_fixtures import api_registry, read_tokens, uvicorn_server

CLIENTS = 16
ROUNDS = 6  # operations per client


def _issued(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as s:
        issue(s, load_actor(s, "director"), "L1", "setup-issue", 10)  # HOLD-L1: 900 credits
    return read_tokens(engine)


def test_sixteen_clients_transfer_and_retire_at_once(
    scenario: Callable[..., Engine], db_url: str
) -> None:
    engine = scenario("api", api_registry)
    tokens = _issued(engine)
    li = {"Authorization": f"Bearer {tokens['li']}"}
    buyer = {"Authorization": f"Bearer {tokens['buyer']}"}
    moved: list[int] = []
    retired: list[int] = []
    statuses: list[int] = []
    lock = threading.Lock()
    with uvicorn_server(db_url, workers=2) as base:

        def client(n: int) -> None:
            with httpx.Client(base_url=base + "/api/v1", timeout=120) as http:
                for i in range(ROUNDS):
                    if n % 2 == 0:
                        q = 1 + (n + i) % 5
                        r = http.post("/credits/transfer", headers={**li, "Idempotency-Key": f"t-{n}-{i}"},
                                      json={"from_account": "HOLD-L1", "to_account": "BUYER", "quantity": q})  # fmt: skip
                        target = moved
                    else:
                        q = 1
                        r = http.post("/credits/retire", headers={**buyer, "Idempotency-Key": f"r-{n}-{i}"},
                                      json={"account": "BUYER", "beneficiary": "某电力公司", "quantity": q})  # fmt: skip
                        target = retired
                    with lock:
                        statuses.append(r.status_code)
                        if r.status_code == 200:
                            target.append(q)
                        else:  # the only refusal expected: the buyer had too few credits yet
                            assert r.status_code == 409 and "insufficient" in r.text, r.text

        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))

        # one key, sent twice at the same moment: the credits move once
        barrier = threading.Barrier(2)
        body = {"from_account": "HOLD-L1", "to_account": "BUYER", "quantity": 11}

        def twin(_: int) -> httpx.Response:
            with httpx.Client(base_url=base + "/api/v1", timeout=120) as http:
                barrier.wait(timeout=30)
                return http.post("/credits/transfer", json=body,
                                 headers={**li, "Idempotency-Key": "twin"})  # fmt: skip

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(twin, range(2))
    assert len(statuses) == CLIENTS * ROUNDS and all(s < 500 for s in statuses)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert sorted([a.json()["replayed"], b.json()["replayed"]]) == [False, True]
    assert {k: v for k, v in a.json().items() if k != "replayed"} == {
        k: v for k, v in b.json().items() if k != "replayed"
    }
    with read_scope(engine) as s:
        assert check_invariants(s) == []
        assert verify_chain(s).ok
        report = replay(s)
        assert report.ok, report.differences[:3]
        held = balance(s, "BUYER")
        developer = balance(s, "HOLD-L1")
    # totals by hand: what arrived minus what was retired, once for the twin
    assert held["active"] == sum(moved) + 11 - sum(retired)
    assert held["retired"] == 0  # retired credits sit in the RETIREMENT account
    assert developer["active"] == 900 - sum(moved) - 11
    assert len(retired) > 0 and len(moved) == CLIENTS // 2 * ROUNDS
