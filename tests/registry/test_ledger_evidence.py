"""The ledger's evidence, attacked as a curious database administrator would (both engines):
every table guarded by the database, what the guards let through found by replaying the audit
log, the chain verified under load and against a signed checkpoint, and every bad input refused
with its exit code and nothing written."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.audit import append_event, event_hash, verify_chain
from registry.checkpoints import CheckpointError, check_checkpoint, generate_key, make_checkpoint
from registry.db import is_postgres, read_scope, session_scope
from registry.errors import (
    BufferRule,
    LedgerTampered,
    OrganisationError,
    ReservedAccount,
)
from registry.issuance import issue
from registry.ledger import check_invariants, ensure_account, pledge, retire, transfer
from registry.ledger.replay import replay
from registry.ledger.views import certificate
from registry.organisations import ensure_organisation
from tests.cli_runner import run_cli
from tests.registry.ledger_fixtures import (
    ADMIN,
    BUYER_USER,
    STAFF,
    open_buyer_and_bank,
    verified_project,
)
from tests.registry.user_fixtures import cli_env

P = "CN-431123-L1-2026-"
LEDGER_TABLES = ("organisation", "ledger_account", "ledger_operation", "serial_counter",
                 "credit_block", "issuance", "retirement", "pledge", "audit_event", "audit_head")  # fmt: skip


def _activity(engine: Engine, folder: Path) -> None:
    """L1 issued (BUFFER 1–100, HOLD-L1 101–1000); BUYER got 101–400 and retired 101–150;
    HOLD-L1 pledged 401–500 to BANK."""
    verified_project(engine, folder)
    with session_scope(engine) as s:
        open_buyer_and_bank(s)
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", quantity=300)
        retire(
            s, BUYER_USER, "r-1", "BUYER", "某电力公司", "碳中和", date(2026, 6, 30), quantity=50
        )
        pledge(s, STAFF, "p-1", "HOLD-L1", "BANK", "DK-1", Decimal("150000"), quantity=100)


@pytest.fixture
def ledger(scenario: Callable[..., Engine]) -> Engine:
    return scenario("ledger-activity", _activity)


def tables_digest(engine: Engine) -> str:
    """One hash over every row of every ledger table: equal before and after means nothing
    was written."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in LEDGER_TABLES:
            for row in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all():
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# -- tampering by direct SQL -----------------------------------------------------------------------

OP_OF_RETIREMENT = "(SELECT op_id FROM retirement LIMIT 1)"
REFUSED = [  # (case, statements, engines) — the database itself refuses each
    ("edit a retirement's beneficiary", ["UPDATE retirement SET beneficiary = '别人'"], "both"),
    ("delete a retirement", ["DELETE FROM retirement"], "both"),
    ("shrink a pledge's loan", ["UPDATE pledge SET amount_fen = 1"], "both"),
    ("reopen a pledge's terms", ["UPDATE pledge SET bank_account_id = holder_account_id"], "both"),
    ("delete a pledge", ["DELETE FROM pledge"], "both"),
    ("rewrite an operation's request", ["UPDATE ledger_operation SET request_json = '{}'"], "both"),
    ("rewrite an operation's result", ["UPDATE ledger_operation SET result_json = '{}'"], "both"),
    ("delete an operation", ["DELETE FROM ledger_operation WHERE id = (SELECT MAX(id) FROM ledger_operation)"], "both"),
    ("turn an account into the buffer", ["UPDATE ledger_account SET kind = 'buffer' WHERE code = 'BUYER'"], "both"),
    ("delete an account", ["DELETE FROM ledger_account WHERE code = 'BANK'"], "both"),
    ("declare a buyer a bank", ["UPDATE organisation SET kind = 'bank' WHERE name = '某电力公司'"], "both"),
    ("delete an organisation", ["DELETE FROM organisation WHERE name = '永州某银行'"], "both"),
    ("inflate an issuance", ["UPDATE issuance SET quantity = 5000"], "both"),
    ("delete a serial counter", ["DELETE FROM serial_counter"], "both"),
    ("wind a counter back", ["UPDATE serial_counter SET next_seq = next_seq - 10, issued = issued - 10"], "both"),
    ("un-retire a block", ["UPDATE credit_block SET state = 'active' WHERE state = 'retired'"], "both"),
    ("relabel a block", ["UPDATE credit_block SET labels = '[\"FSC\"]' WHERE closed_op_id IS NULL"], "both"),
    ("mint a GHOST project", ["INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, created_op_id) "
                              "SELECT 'GHOST', 2026, 1, 1000000, id, 'active', 1 FROM ledger_account WHERE code = 'BUYER'"], "both"),
    ("mint beyond the counter", ["INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, created_op_id) "
                                 "SELECT 'L1', 2026, 1001, 2000, id, 'active', 1 FROM ledger_account WHERE code = 'BUYER'"], "both"),
    ("a retired block in a holding account", ["UPDATE credit_block SET closed_op_id = created_op_id WHERE state = 'retired'",
                                              "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, created_op_id) "
                                              "SELECT 'L1', 2026, 101, 150, id, 'retired', 1 FROM ledger_account WHERE code = 'BUYER'"], "both"),
    ("pledged credits with no pledge", ["UPDATE credit_block SET closed_op_id = created_op_id WHERE state = 'pledged'",
                                        "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, pledge_id, created_op_id) "
                                        "SELECT 'L1', 2026, 401, 500, id, 'pledged', 999, 1 FROM ledger_account WHERE code = 'HOLD-L1'"], "both"),
    ("rewind the audit head", ["UPDATE audit_head SET seq = 1"], "both"),
    ("edit an audit event", ["UPDATE audit_event SET actor = 'mallory' WHERE id = 2"], "both"),
    ("SQLite: REPLACE the audit head", ["INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, 1, 'x')"], "spatialite"),
    ("SQLite: REPLACE an audit event", ["INSERT OR REPLACE INTO audit_event SELECT id, occurred_at, 'mallory', action, entity_type, entity_id, payload, prev_hash, hash FROM audit_event WHERE id = 2"], "spatialite"),
    ("SQLite: REPLACE a retirement", ["INSERT OR REPLACE INTO retirement SELECT id, certificate_id, op_id, '别人', purpose, retired_on, quantity, serials FROM retirement"], "spatialite"),
    ("SQLite: REPLACE a retired block as active", ["INSERT OR REPLACE INTO credit_block (id, project_code, vintage, first_seq, last_seq, account_id, state, pledge_id, labels, created_op_id, closed_op_id) "
                                                   "SELECT id, project_code, vintage, first_seq, last_seq, account_id, 'active', NULL, labels, created_op_id, NULL FROM credit_block WHERE state = 'retired'"], "spatialite"),
    ("SQLite: REPLACE a serial counter", ["INSERT OR REPLACE INTO serial_counter VALUES ('L1', 2026, 2001, 2000)"], "spatialite"),
    ("SQLite: REPLACE a pledge", ["INSERT OR REPLACE INTO pledge SELECT id, op_id, holder_account_id, bank_account_id, loan_ref, 1, quantity, status, closed_op_id FROM pledge"], "spatialite"),
    ("PostgreSQL: TRUNCATE the blocks", ["TRUNCATE credit_block CASCADE"], "postgis"),
    ("PostgreSQL: TRUNCATE the pledges", ["TRUNCATE pledge CASCADE"], "postgis"),
    ("PostgreSQL: TRUNCATE the organisations", ["TRUNCATE organisation CASCADE"], "postgis"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "statements", "engines"), REFUSED, ids=[c[0] for c in REFUSED])
def test_the_database_refuses_each_tampering(
    ledger: Engine, case: str, statements: list[str], engines: str
) -> None:
    kind = "postgis" if is_postgres(ledger) else "spatialite"
    if engines not in ("both", kind):
        return  # this engine has no such statement (REPLACE is SQLite's, TRUNCATE PostgreSQL's)
    before = tables_digest(ledger)
    with pytest.raises(DBAPIError), ledger.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    assert tables_digest(ledger) == before, case
    with session_scope(ledger) as s:
        assert check_invariants(s) == [] and replay(s).ok and verify_chain(s).ok


def test_sqlite_replace_of_an_existing_account_changes_nothing(ledger: Engine) -> None:
    """Where the ledger inserts with ON CONFLICT DO NOTHING, a REPLACE is ignored the same way."""
    if is_postgres(ledger):
        return
    before = tables_digest(ledger)
    with ledger.begin() as conn:
        conn.execute(text("INSERT OR REPLACE INTO ledger_account (id, code, name, kind, holder, organisation_id, created_at) "
                          "SELECT id, code, '改名', 'buffer', holder, organisation_id, created_at FROM ledger_account WHERE code = 'BUYER'"))  # fmt: skip
        conn.execute(text("INSERT OR REPLACE INTO organisation (id, name, kind, credit_code, created_at) "
                          "SELECT id, name, 'bank', credit_code, created_at FROM organisation WHERE name = '某电力公司'"))  # fmt: skip
    assert tables_digest(ledger) == before


DETECTED = [  # (case, statements, table named in the replay's difference)
    ("mint by raising the counter", ["UPDATE serial_counter SET next_seq = next_seq + 1000, issued = issued + 1000"], "serial_counter"),
    ("close a live block and re-insert it elsewhere",
     ["UPDATE credit_block SET closed_op_id = created_op_id WHERE closed_op_id IS NULL AND first_seq = 151",
      "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, created_op_id) "
      "SELECT 'L1', 2026, 151, 400, id, 'active', 1 FROM ledger_account WHERE code = 'BANK'"], "credit_block"),
    ("an operation with no event", ["INSERT INTO ledger_operation (kind, idempotency_key, request_json, result_json, actor, created_at) "
                                    "VALUES ('transfer', 'ghost-op', '{}', '{}', 'mallory', '2026-01-01')"], "ledger_operation"),
    ("an organisation with no event", ["INSERT INTO organisation (name, kind, created_at) VALUES ('影子银行', 'bank', '2026-01-01')"], "organisation"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "statements", "table"), DETECTED, ids=[c[0] for c in DETECTED])
def test_what_the_guards_let_through_the_replay_finds(
    ledger: Engine, case: str, statements: list[str], table: str
) -> None:
    with ledger.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))
    with session_scope(ledger) as s:
        report = replay(s)
        problems = check_invariants(s)
    assert not report.ok, case
    assert table in {d.table for d in report.differences}
    assert all(d.ids and d.message_zh and d.message_en for d in report.differences)
    if table == "serial_counter":  # the invariants see this one too: blocks hold less than issued
        assert problems
    if table == "credit_block":  # the totals still add up: only the log knows whose they were
        assert problems == []


def _disable_guards(conn: object, table: str, postgres: bool) -> None:
    """What the tables' owner can do (and the application's role cannot, README)."""
    if postgres:
        conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))  # type: ignore[attr-defined]
    else:
        for (name,) in conn.execute(  # type: ignore[attr-defined]
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).all():
            conn.execute(text(f"DROP TRIGGER {name}"))  # type: ignore[attr-defined]


def test_an_owner_who_disables_the_guards_is_caught_by_the_replay_and_the_certificate(
    ledger: Engine,
) -> None:
    postgres = is_postgres(ledger)
    with session_scope(ledger) as s:
        cert_id = s.execute(text("SELECT certificate_id FROM retirement")).scalar_one()
        assert certificate(s, cert_id).beneficiary == "某电力公司"
    with ledger.begin() as conn:
        _disable_guards(conn, "retirement", postgres)
        conn.execute(text("UPDATE retirement SET beneficiary = '别的公司'"))
    with session_scope(ledger) as s:
        with pytest.raises(LedgerTampered, match="differs from what the audit log recorded"):
            certificate(s, cert_id)
        report = replay(s)
    assert [(d.table, d.ids) for d in report.differences] == [("retirement", cert_id)]
    assert "别的公司" in report.differences[0].message_en


# -- the chain under load, and against a rewrite -----------------------------------------------------


def test_verify_never_reports_a_false_break_under_eight_writers(ledger: Engine) -> None:
    stop, errors, written = threading.Event(), [], [0] * 8

    def writer(i: int) -> None:
        while not stop.is_set():
            try:
                with session_scope(ledger) as s:
                    append_event(s, actor=f"w{i}", action="test.load", entity_type="load",
                                 entity_id=str(written[i]), payload={"i": i})  # fmt: skip
                written[i] += 1
            except Exception as exc:  # a writer must never fail either
                errors.append(exc)
                return

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    reports = []
    try:
        deadline = time.monotonic() + 60
        while sum(written) < 8 and time.monotonic() < deadline:  # the writers are under way
            time.sleep(0.01)
        for _ in range(20):
            with read_scope(ledger) as s:  # as `tanhui audit verify` reads: no write lock
                reports.append(verify_chain(s))
            time.sleep(0.02)  # let the writers move the head between verifications
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    assert [r.ok for r in reports] == [True] * 20, [r.problem_en for r in reports if not r.ok]
    assert len({r.n_events for r in reports}) > 1  # the log grew while it was being verified


def test_a_checkpoint_made_before_a_rewrite_exposes_it(ledger: Engine, tmp_path: Path) -> None:
    postgres = is_postgres(ledger)
    key = tmp_path / "keys" / "checkpoint.key"
    public = generate_key(key)
    with session_scope(ledger) as s:
        checkpoint = make_checkpoint(s, key, "测试登记簿", ADMIN)
    with session_scope(ledger) as s:
        assert check_checkpoint(s, checkpoint, public).ok
    # the owner rewrites event 2 and recomputes every later hash: the chain verifies again
    with ledger.begin() as conn:
        _disable_guards(conn, "audit_event", postgres)
        _disable_guards(conn, "audit_head", postgres)
        rows = conn.execute(text("SELECT id, occurred_at, actor, action, entity_type, entity_id, payload, prev_hash "
                                 "FROM audit_event ORDER BY id")).all()  # fmt: skip
        prev = "0" * 64
        for r in rows:
            actor = "mallory" if r.id == 2 else r.actor
            new = event_hash(
                r.id, r.occurred_at, actor, r.action, r.entity_type, r.entity_id, r.payload, prev
            )
            conn.execute(text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE id = :i"),
                         {"a": actor, "p": prev, "h": new, "i": r.id})  # fmt: skip
            prev = new
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})
    with session_scope(ledger) as s:
        assert verify_chain(s).ok  # a perfect rewrite: the chain alone cannot tell
        check = check_checkpoint(s, checkpoint, public)
    assert check.signature_ok and not check.in_log and not check.ok
    assert f"event {checkpoint.seq}" in check.message_en and "rewritten" in check.message_en
    # and a checkpoint someone else signed, or edited, does not pass as the registry's
    other_key = tmp_path / "keys" / "other.key"
    generate_key(other_key)
    with session_scope(ledger) as s:
        assert not check_checkpoint(
            s, checkpoint, other_key.with_name("other.key.pub")
        ).signature_ok
        with pytest.raises(CheckpointError, match="cannot read the public key"):
            check_checkpoint(s, checkpoint, tmp_path / "keys" / "missing.pub")
    with pytest.raises(CheckpointError, match="never overwritten"):
        generate_key(key)  # a key is never replaced by accident


# -- rules at the edges -----------------------------------------------------------------------------


def test_the_buffer_pool_is_never_transferred(ledger: Engine) -> None:
    before = tables_digest(ledger)
    with pytest.raises(BufferRule, match="never transferred"), session_scope(ledger) as s:
        transfer(s, ADMIN, "drain", "BUFFER", "BUYER", quantity=100)
    assert tables_digest(ledger) == before


def test_issuance_never_sets_aside_less_than_the_minimum(scenario: Callable[..., Engine]) -> None:
    engine = scenario("verified-project", verified_project)
    with pytest.raises(BufferRule, match="never lower"), session_scope(engine) as s:
        issue(s, ADMIN, "L1", "issue-low", minimum_pct=10, requested_pct=0)
    with session_scope(engine) as s:
        result = issue(s, ADMIN, "L1", "issue-high", minimum_pct=10, requested_pct=20)
    # floor(1000.5) = 1000 credits; ceil(1000 × 20 %) = 200 to the buffer
    assert (result.quantity, result.buffer) == (1000, 200)


@pytest.mark.parametrize(
    "code", ["BUFFER", "ISSUANCE", "RETIREMENT", "CANCELLATION", "HOLD-L2", "hold-x1"]
)
def test_reserved_codes_cannot_be_squatted(ledger: Engine, code: str) -> None:
    before = tables_digest(ledger)
    with pytest.raises(ReservedAccount), session_scope(ledger) as s:
        ensure_account(s, code, "抢注", "holding", "某人", "buyer")
    assert tables_digest(ledger) == before


def test_one_credit_code_registered_at_once_ends_with_one_organisation(ledger: Engine) -> None:
    code, outcomes = "91350100M000100Y43", []
    barrier = threading.Barrier(2)

    def register(name: str) -> None:
        barrier.wait()
        try:
            with session_scope(ledger) as s:
                ensure_organisation(s, "x", name, "bank", code)
            outcomes.append("ok")
        except OrganisationError as exc:
            outcomes.append(exc.message_en)

    threads = [threading.Thread(target=register, args=(n,)) for n in ("甲银行", "乙银行")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcomes.count("ok") == 1 and len(outcomes) == 2
    assert "already belongs to" in next(o for o in outcomes if o != "ok")
    with ledger.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM organisation WHERE credit_code = :c"), {"c": code}
            ).scalar()
            == 1
        )


def test_a_retried_retirement_without_a_date_returns_its_certificate(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        first = retire(s, BUYER_USER, "r-today", "BUYER", "某电力公司", "碳中和", quantity=5)
    with session_scope(ledger) as s:
        again = retire(s, BUYER_USER, "r-today", "BUYER", "某电力公司", "碳中和", quantity=5)
        request = s.execute(
            text("SELECT request_json FROM ledger_operation WHERE idempotency_key = 'r-today'")
        ).scalar_one()
    assert again == first and again.replayed
    assert '"date":null' in request  # the default date is not part of the request: a retry on
    # a later day is the same request and returns the first certificate
    assert first.retired_on == datetime.now(UTC).date().isoformat()


# -- bad input through the command line ---------------------------------------------------------------

BAD_INPUT = [  # (case, arguments after `tanhui credits`, exit code, words in the English message)
    ("quantity of 2^63", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--quantity", str(2**63), "--key", "b1"], 1, "positive whole number"),
    ("negative quantity", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--quantity", "-5", "--key", "b2"], 1, "positive whole number"),
    ("serial tail beyond int64", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--serials", P + "000000401.." + "9" * 25, "--key", "b3"], 1, "not a serial"),
    ("vintage beyond int64", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--serials", "CN-431123-L1-" + "9" * 25 + "-000000401", "--key", "b4"], 1, "not a serial"),
    ("full-width digits", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--serials", P + "00000040１", "--key", "b5"], 1, "not a serial"),
    ("underscores in a serial", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--serials", P + "000_00401", "--key", "b6"], 1, "not a serial"),
    ("amount NaN", ["pledge", "--account", "HOLD-L1", "--bank", "BANK", "--loan-ref", "L", "--amount", "NaN", "--quantity", "1", "--key", "b7"], 1, "must be positive"),
    ("amount Infinity", ["pledge", "--account", "HOLD-L1", "--bank", "BANK", "--loan-ref", "L", "--amount", "Infinity", "--quantity", "1", "--key", "b8"], 1, "must be positive"),
    ("amount 1e30", ["pledge", "--account", "HOLD-L1", "--bank", "BANK", "--loan-ref", "L", "--amount", "1e30", "--quantity", "1", "--key", "b9"], 1, "must be positive"),
    ("amount of 20 digits", ["pledge", "--account", "HOLD-L1", "--bank", "BANK", "--loan-ref", "L", "--amount", "9" * 20, "--quantity", "1", "--key", "b10"], 1, "must be positive"),
    ("amount with fractions of a fen", ["pledge", "--account", "HOLD-L1", "--bank", "BANK", "--loan-ref", "L", "--amount", "100.005", "--quantity", "1", "--key", "b11"], 1, "two decimals"),
    ("amount not a number", ["pledge", "--account", "HOLD-L1", "--bank", "BANK", "--loan-ref", "L", "--amount", "十万", "--quantity", "1", "--key", "b12"], 1, "not a number"),
    ("a date that does not exist", ["retire", "--account", "BUYER", "--beneficiary", "b", "--purpose", "p", "--date", "2026-02-30", "--quantity", "1", "--key", "b13"], 2, "not a date"),
    ("a date far in the future", ["retire", "--account", "BUYER", "--beneficiary", "b", "--purpose", "p", "--date", "9999-12-31", "--quantity", "1", "--key", "b14"], 1, "must lie within"),
    ("a date long before the rules", ["retire", "--account", "BUYER", "--beneficiary", "b", "--purpose", "p", "--date", "1900-01-01", "--quantity", "1", "--key", "b15"], 1, "must lie within"),
    ("undecodable bytes in a beneficiary", ["retire", "--account", "BUYER", "--beneficiary", "某\udcff公司", "--purpose", "p", "--quantity", "1", "--key", "b16"], 1, "not text"),
    ("an empty idempotency key", ["transfer", "--from", "HOLD-L1", "--to", "BUYER", "--quantity", "1", "--key", ""], 1, "idempotency key"),
    ("a pledge id beyond int64", ["release", "--pledge", str(2**70), "--key", "b17"], 4, "does not exist"),
    ("an account code with brackets", ["open-account", "--code", "[/]X", "--name", "n", "--holder", "h"], 1, "not valid"),
    ("an empty account code", ["open-account", "--code", "", "--name", "n", "--holder", "h"], 1, "not valid"),
    ("a blank account code", ["open-account", "--code", "  ", "--name", "n", "--holder", "h"], 1, "not valid"),
    ("a look-alike account code", ["open-account", "--code", "ВUYER", "--name", "n", "--holder", "h"], 1, "not valid"),
    ("an existing code with another name", ["open-account", "--code", "BUYER", "--name", "另一个名字", "--holder", "某电力公司"], 1, "exists with the name"),
    ("a squatted system code", ["open-account", "--code", "CANCELLATION", "--name", "n", "--holder", "h"], 5, "reserved"),
    ("draining the buffer", ["transfer", "--from", "BUFFER", "--to", "BUYER", "--quantity", "10", "--key", "b18"], 5, "never transferred"),
    ("a buffer share below the minimum", ["issue", "--project", "L1", "--buffer-pct", "0", "--key", "b19"], 5, "never lower"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "args", "code", "words"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_is_refused_with_its_exit_code_and_nothing_written(
    ledger: Engine, db_url: str, tmp_path: Path, case: str, args: list[str], code: int, words: str
) -> None:
    # who acts: a user of the account the credits come from (else the admin), so that each
    # case meets the check it is about, not the holder's
    source = next((args[i + 1] for i, a in enumerate(args) if a in ("--account", "--from")), "")
    user = {"BUYER": "buyer", "HOLD-L1": "li"}.get(source, "director")
    env = cli_env(db_url, user)
    before = tables_digest(ledger)
    done = run_cli("credits", *args, env=env, cwd=tmp_path)
    assert done.returncode == code, (case, done.stdout, done.stderr)
    assert words in done.stderr.replace("\n", " "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert tables_digest(ledger) == before, case


# -- PostgreSQL: the application connects as a role that does not own the tables -----------------


def test_the_application_role_cannot_disable_the_guards(
    ledger: Engine, db_url: str, request: pytest.FixtureRequest
) -> None:
    from registry.db import grant_application_role, make_engine
    from registry.errors import DatabaseSetupError

    if not is_postgres(ledger):
        with pytest.raises(DatabaseSetupError, match="only PostgreSQL"):
            grant_application_role(ledger, "tanhui_app")
        return
    role = f"app_{db_url.rsplit('/', 1)[1]}"
    with ledger.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
    with pytest.raises(DatabaseSetupError, match="owns tables"):
        grant_application_role(ledger, "tanhui")  # the owner itself is refused as the app's role
    grant_application_role(ledger, role)
    app = make_engine(db_url.replace("tanhui@", f"{role}@"))
    try:
        with session_scope(app) as s:  # the ledger works as the application's role
            moved = transfer(s, STAFF, "as-app", "HOLD-L1", "BUYER", quantity=10)
            retire(s, BUYER_USER, "as-app-r", "BUYER", "某电力公司", "碳中和", quantity=1)
        assert moved.quantity == 10
        for sql in (
            "ALTER TABLE credit_block DISABLE TRIGGER USER",
            "DROP TRIGGER retirement_append_only ON retirement",
            "TRUNCATE pledge CASCADE",
            "DELETE FROM retirement",
            "UPDATE ledger_account SET kind = 'buffer'",
            "UPDATE retirement SET beneficiary = 'x'",
        ):
            with (
                pytest.raises(DBAPIError, match=r"owner|permission denied|never changed"),
                app.begin() as conn,
            ):
                conn.execute(text(sql))
        with session_scope(app) as s:
            assert check_invariants(s) == [] and replay(s).ok and verify_chain(s).ok
    finally:
        app.dispose()
        with ledger.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
