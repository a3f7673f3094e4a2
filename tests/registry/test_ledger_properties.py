"""The ledger under random operation sequences, many processes, and a kill — both engines."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, text

from registry.audit import verify_chain
from registry.db import session_scope
from registry.issuance import issue
from registry.ledger import (
    FAULT_PAUSE_ENV,
    LedgerError,
    balance,
    blocks,
    cancel,
    check_invariants,
    enforce,
    ensure_account,
    pledge,
    release,
    retire,
    transfer,
)
from registry.ledger.results import PledgeResult
from tests.registry.ledger_fixtures import ADMIN, STAFF, of, verified_project

_ids = itertools.count()


def _issued_project(engine: Engine, folder: Path) -> None:
    verified_project(engine, folder)
    with session_scope(engine) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return scenario("issued-project", _issued_project)


def test_random_operation_sequences_keep_every_invariant(issued: Engine) -> None:
    engine = issued

    class LedgerMachine(RuleBasedStateMachine):
        @initialize()
        def open_accounts(self) -> None:
            self.n = next(_ids)
            self.accounts = [f"H{self.n}-{i}" for i in range(3)]
            self.model = {a: 0 for a in self.accounts}
            self.pledges: list[tuple[int, str, int]] = []
            self.gone = 0  # retired + cancelled from these accounts
            with session_scope(engine) as s:
                for a in self.accounts:
                    ensure_account(s, a, a, "holding", a, "bank")  # banks: any may take a pledge
                transfer(s, STAFF, f"seed-{self.n}", "HOLD-L1", self.accounts[0], quantity=40)
            self.model[self.accounts[0]] = 40

        def _run(self, call) -> bool:  # type: ignore[no-untyped-def]
            try:
                with session_scope(engine) as s:
                    call(s)
                return True
            except LedgerError:
                return False

        @rule(src=st.integers(0, 2), dst=st.integers(0, 2), q=st.integers(1, 30))
        def move(self, src: int, dst: int, q: int) -> None:
            a, b = self.accounts[src], self.accounts[dst]
            ok = self._run(lambda s: transfer(s, of(a), f"m-{next(_ids)}", a, b, quantity=q))
            assert ok == (a != b and self.model[a] >= q)
            if ok:
                self.model[a] -= q
                self.model[b] += q

        @rule(src=st.integers(0, 2), dst=st.integers(0, 2), pick=st.integers(0, 50))
        def move_serials(self, src: int, dst: int, pick: int) -> None:
            a, b = self.accounts[src], self.accounts[dst]
            with session_scope(engine) as s:
                held = [x for x in blocks(s, a) if x.state == "active"]
            if not held or a == b:
                return
            block = held[pick % len(held)]
            first = block.serials.split("..")[0]
            seq = int(first[-9:]) + (pick % block.quantity)
            serial = f"{first[:-9]}{seq:09d}"
            assert self._run(lambda s: transfer(s, of(a), f"ms-{next(_ids)}", a, b, serials=serial))
            self.model[a] -= 1
            self.model[b] += 1

        @rule(src=st.integers(0, 2), q=st.integers(1, 10))
        def retire_some(self, src: int, q: int) -> None:
            a = self.accounts[src]
            ok = self._run(
                lambda s: retire(
                    s, of(a), f"r-{next(_ids)}", a, "受益人", "test", date(2026, 1, 1), quantity=q
                )
            )
            assert ok == (self.model[a] >= q)
            if ok:
                self.model[a] -= q
                self.gone += q

        @rule(src=st.integers(0, 2), q=st.integers(1, 10))
        def pledge_some(self, src: int, q: int) -> None:
            a = self.accounts[src]
            box: list[PledgeResult] = []
            ok = self._run(lambda s: box.append(pledge(s, of(a), f"p-{next(_ids)}", a, self.accounts[(src + 1) % 3],
                                                       "loan", Decimal("1000.00"), quantity=q)))  # fmt: skip
            assert ok == (self.model[a] >= q)
            if ok:
                self.model[a] -= q
                self.pledges.append((box[0].pledge, a, q))

        @rule(enforce_it=st.booleans())
        def close_pledge(self, enforce_it: bool) -> None:
            if not self.pledges:
                return
            pledge_id, holder, q = self.pledges.pop(0)
            bank = self.accounts[(self.accounts.index(holder) + 1) % 3]
            fn = enforce if enforce_it else release
            assert self._run(lambda s: fn(s, of(bank), f"c-{next(_ids)}", pledge_id))
            self.model[bank if enforce_it else holder] += q

        @rule(src=st.integers(0, 2), q=st.integers(1, 5))
        def cancel_some(self, src: int, q: int) -> None:
            a = self.accounts[src]
            ok = self._run(lambda s: cancel(s, of(a), f"x-{next(_ids)}", a, "fire", quantity=q))
            assert ok == (self.model[a] >= q)
            if ok:
                self.model[a] -= q
                self.gone += q

        @invariant()
        def ledger_tells_the_truth(self) -> None:
            if not hasattr(self, "model"):
                return
            with session_scope(engine) as s:
                assert check_invariants(s) == []
                actual = {a: balance(s, a)["active"] for a in self.accounts}
            assert actual == self.model
            pledged = sum(q for _, _, q in self.pledges)
            assert sum(actual.values()) + pledged + self.gone == 40

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=12,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    with session_scope(engine) as s:
        assert verify_chain(s).ok


WORKER = """
import random, sys
from datetime import date
from decimal import Decimal
from sqlalchemy import text
from registry.db import make_engine, session_scope
from registry.ledger import LedgerError, cancel, enforce, pledge, release, retire, transfer
from tests.registry.ledger_fixtures import of
engine = make_engine(sys.argv[1])
rng = random.Random(int(sys.argv[2]))
accounts = ["W0", "W1", "W2", "WB"]
done = refused = 0
for i in range(int(sys.argv[3])):
    a, b = rng.sample(accounts, 2)
    key, roll = f"w{sys.argv[2]}-{i}", rng.random()
    try:
        with session_scope(engine) as s:
            if roll < 0.15:
                retire(s, of(a), key, a, "b", "p", date(2026, 1, 1), quantity=rng.randint(1, 3))
            elif roll < 0.25:
                cancel(s, of(a), key, a, "fire", quantity=rng.randint(1, 2))
            elif roll < 0.4:
                pledge(s, of(a), key, a, b, "loan", Decimal("100"), quantity=rng.randint(1, 10))
            elif roll < 0.55:
                found = s.execute(text("SELECT p.id, a.code FROM pledge p JOIN ledger_account a ON a.id = p.bank_account_id "
                                       "WHERE p.status = 'active' ORDER BY random() LIMIT 1")).first()
                if found is None:
                    raise LedgerError("no open pledge", "no open pledge")
                (enforce if rng.random() < 0.5 else release)(s, of(found[1]), key, int(found[0]))
            else:
                transfer(s, of(a), key, a, b, quantity=rng.randint(1, 15))
        done += 1
    except LedgerError:  # e.g. insufficient credits: a clean refusal, counted
        refused += 1
print(done, refused)
"""


def test_many_processes_hammering_the_same_blocks(issued: Engine, db_url: str) -> None:
    """Every operation at once from four processes — transfers, retirements, cancellations,
    pledges, releases, enforcements: no deadlock or error, invariants and chain intact, every
    credit accounted for."""
    accounts = ("W0", "W1", "W2", "WB")
    with session_scope(issued) as s:
        for a in accounts:
            ensure_account(s, a, a, "holding", a, "bank")  # banks: any may take a pledge
        transfer(s, STAFF, "seed-w", "HOLD-L1", "W0", quantity=300)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db_url, str(seed), "30"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in range(4)]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e[-600:] for _, e in outputs if e]
    counts = [tuple(int(x) for x in o.split()) for o, _ in outputs]
    assert all(done + refused == 30 for done, refused in counts)  # nothing failed otherwise
    assert sum(done for done, _ in counts) > 0
    with session_scope(issued) as s:
        assert check_invariants(s) == []
        assert verify_chain(s).ok
        held = sum(balance(s, a)["active"] + balance(s, a)["pledged"] for a in accounts)
        retired = s.execute(text("SELECT coalesce(sum(quantity), 0) FROM retirement")).scalar()
        cancelled = balance(s, "CANCELLATION")["cancelled"]
        kinds = {r[0] for r in s.execute(text("SELECT DISTINCT kind FROM ledger_operation")).all()}
    assert held + retired + cancelled == 300
    assert {"transfer", "retire", "cancel", "pledge"} <= kinds  # the mix really ran


KILLED = """
import sys
from registry.db import make_engine, session_scope
from registry.ledger import transfer
engine = make_engine(sys.argv[1])
with session_scope(engine) as s:
    transfer(s, STAFF, "the-key", "HOLD-L1", "K1", quantity=123)
print("COMMITTED")
"""


def test_a_killed_operation_leaves_nothing_and_a_retry_moves_once(
    issued: Engine, db_url: str
) -> None:
    with session_scope(issued) as s:
        ensure_account(s, "K1", "K1", "holding", "K1")
    with issued.connect() as c:
        before = [
            c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("credit_block", "ledger_operation", "audit_event")
        ]
    proc = subprocess.Popen([sys.executable, "-c", KILLED, db_url], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, FAULT_PAUSE_ENV: "60"})  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:
        if "FAULT-INJECTION" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    issued.dispose()
    with issued.connect() as c:
        after = [
            c.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("credit_block", "ledger_operation", "audit_event")
        ]
    assert after == before
    for _ in range(2):  # the client retries with the same key: the credits move once
        with session_scope(issued) as s:
            transfer(s, STAFF, "the-key", "HOLD-L1", "K1", quantity=123)
    with session_scope(issued) as s:
        assert balance(s, "K1")["active"] == 123
        assert check_invariants(s) == []
