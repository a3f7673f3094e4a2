"""The credit ledger, read like a ledger statement, on both engines."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.audit import verify_chain
from registry.db import session_scope
from registry.errors import Category, RegistryError
from registry.issuance import issue
from registry.ledger import (
    LedgerError,
    balance,
    blocks,
    cancel,
    certificate,
    check_invariants,
    enforce,
    ensure_account,
    history,
    parse_serial,
    pledge,
    release,
    retire,
    show,
    statement,
    transfer,
)
from registry.models import Role
from registry.projects import Actor
from tests.registry.ledger_fixtures import (
    ADMIN,
    BANK_USER,
    BUYER_USER,
    STAFF,
    open_buyer_and_bank,
    verified_project,
)
from tests.registry.user_fixtures import add_test_users

P = "CN-431123-L1-2026-"


def _verified_project_with_a_buyer_and_a_bank(engine: Engine, folder: Path) -> None:
    verified_project(engine, folder)
    with session_scope(engine) as s:
        open_buyer_and_bank(s)
    add_test_users(engine)


@pytest.fixture
def ledger(scenario: Callable[..., Engine]) -> Engine:
    return scenario("ledger", _verified_project_with_a_buyer_and_a_bank)


def live(engine: Engine, account: str) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        return [(b.serials.replace(P, ""), b.state) for b in blocks(s, account)]


def snapshot(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as c:
        return tuple(c.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                     ("credit_block", "ledger_operation", "audit_event", "retirement", "pledge"))  # fmt: skip


def test_serials_parse_and_format() -> None:
    r = parse_serial("CN-431123-SP-FM-2026-01-2026-000000101..000000400")
    assert (r.project, r.vintage, r.first, r.last, r.size) == ("SP-FM-2026-01", 2026, 101, 400, 300)
    with pytest.raises(LedgerError, match="not a serial"):
        parse_serial("CN-431123-X-2026-12")


def test_a_ledger_statement(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        result = issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)
    # floor(1000.5) = 1000 credits; buffer ceil(1000 × 10 %) = 100 → serials 1–100; owner 101–1000
    assert (result.quantity, result.buffer, result.vintage) == (1000, 100, 2026)
    assert live(ledger, "BUFFER") == [("000000001..000000100", "active")]
    assert live(ledger, "HOLD-L1") == [("000000101..000001000", "active")]
    with session_scope(ledger) as s:  # a retried request moves nothing and returns the same
        assert issue(s, ADMIN, "L1", "issue-1", minimum_pct=10) == result
        assert s.execute(text("SELECT issued FROM serial_counter")).scalar() == 1000
        assert s.execute(text("SELECT status FROM project WHERE code = 'L1'")).scalar() == "issued"

    with session_scope(ledger) as s:
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", quantity=300)  # oldest serials first
        transfer(s, STAFF, "t-2", "HOLD-L1", "BUYER", serials=P + "000000500..000000599")  # middle
    assert live(ledger, "HOLD-L1") == [
        ("000000401..000000499", "active"),
        ("000000600..000001000", "active"),
    ]
    assert live(ledger, "BUYER") == [
        ("000000101..000000400", "active"),
        ("000000500..000000599", "active"),
    ]

    with session_scope(ledger) as s:
        r = retire(
            s,
            BUYER_USER,
            "r-1",
            "BUYER",
            "某电力公司",
            "2026 年度碳中和",
            date(2026, 6, 30),
            quantity=50,
        )
    assert r.certificate.startswith("RC-2026-") and r.serials == (P + "000000101..000000150",)
    assert live(ledger, "RETIREMENT") == [("000000101..000000150", "retired")]

    with session_scope(ledger) as s:
        p = pledge(
            s,
            STAFF,
            "p-1",
            "HOLD-L1",
            "BANK",
            "DK-2026-001",
            Decimal("150000.00"),
            quantity=200,
        )
    assert live(ledger, "HOLD-L1") == [("000000401..000000499", "pledged"), ("000000600..000000700", "pledged"),
                                       ("000000701..000001000", "active")]  # fmt: skip
    with pytest.raises(LedgerError, match="not active"), session_scope(ledger) as s:
        transfer(s, STAFF, "t-pledged", "HOLD-L1", "BUYER", serials=P + "000000450")
    with session_scope(ledger) as s:
        release(s, BANK_USER, "rel-1", p.pledge)
        p2 = pledge(
            s,
            STAFF,
            "p-2",
            "HOLD-L1",
            "BANK",
            "DK-2026-002",
            Decimal("50000"),
            quantity=100,
        )
        enforce(s, BANK_USER, "enf-1", p2.pledge)
        cancel(s, ADMIN, "c-1", "BUFFER", "2027 年山火损失 fire reversal", quantity=20)
    assert live(ledger, "BANK") == [
        ("000000401..000000499", "active"),
        ("000000600..000000600", "active"),
    ]
    assert live(ledger, "CANCELLATION") == [("000000001..000000020", "cancelled")]
    with session_scope(ledger) as s:
        assert balance(s, "HOLD-L1") == {
            "active": 1000 - 100 - 300 - 100 - 100,
            "pledged": 0,
            "retired": 0,
            "cancelled": 0,
        }
        assert balance(s, "BUYER")["active"] == 350 and balance(s, "BUFFER")["active"] == 80
        assert check_invariants(s) == []
        assert verify_chain(s).ok
        moves = [(h.account, h.state, h.created_by) for h in history(s, P + "000000101")]
    assert moves == [
        ("HOLD-L1", "active", "issue"),
        ("BUYER", "active", "transfer"),
        ("RETIREMENT", "retired", "retire"),
    ]


def test_the_ledger_at_a_glance_and_an_account_statement(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)  # BUFFER 1–100, HOLD-L1 101–1000
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", quantity=300)  # 101–400
        r = retire(
            s, BUYER_USER, "r-1", "BUYER", "某电力公司", "碳中和", date(2026, 6, 30), quantity=50
        )  # 101–150
        p = pledge(
            s, STAFF, "p-1", "HOLD-L1", "BANK", "DK-1", Decimal("150000"), quantity=200
        )  # 401–600
        cancel(s, ADMIN, "c-1", "BUFFER", "山火 fire", quantity=20)  # 1–20
        glance = show(s).to_dict()
        buyer, bank = statement(s, "BUYER").to_dict(), statement(s, "BANK").to_dict()
        with pytest.raises(LedgerError, match="no account"):
            statement(s, "NOBODY")
    # issued 1000 = active 730 + pledged 200 + retired 50 + cancelled 20; the buffer keeps 100 − 20
    assert glance["projects"] == [{"project": "L1", "vintage": 2026, "issued": 1000, "active": 730, "pledged": 200,
                                   "retired": 50, "cancelled": 20, "in_buffer": 80}]  # fmt: skip
    holdings = {
        a["account"]: (a["active"], a["pledged"], a["retired"], a["cancelled"])
        for a in glance["accounts"]
    }
    assert holdings == {
        "BANK": (0, 0, 0, 0),
        "BUFFER": (80, 0, 0, 0),
        "BUYER": (250, 0, 0, 0),  # 300 in, 50 retired
        "CANCELLATION": (0, 0, 0, 20),
        "HOLD-L1": (400, 200, 0, 0),  # 900 − 300 transferred, 200 of the rest pledged
        "ISSUANCE": (0, 0, 0, 0),
        "RETIREMENT": (0, 0, 50, 0),
    }
    in_force = {"pledge": p.pledge, "holder": "HOLD-L1", "bank": "BANK", "loan_ref": "DK-1",
                "amount_yuan": "150000.00", "quantity": 200, "status": "active"}  # fmt: skip
    assert glance["pledges"] == [in_force]
    assert buyer["account"]["holder"] == "某电力公司" and buyer["account"]["kind"] == "holding"
    assert buyer["balance"] == {"active": 250, "pledged": 0, "retired": 0, "cancelled": 0}
    assert [b["serials"].replace(P, "") for b in buyer["blocks"]] == ["000000151..000000400"]
    assert buyer["retirements"] == [{"certificate": r.certificate, "beneficiary": "某电力公司", "purpose": "碳中和",
                                     "retired_on": "2026-06-30", "quantity": 50}]  # fmt: skip
    assert buyer["pledges"] == [] and bank["pledges"] == [in_force] and bank["retirements"] == []


def test_a_retirement_certificate_names_what_was_retired_and_where_the_log_recorded_it(
    ledger: Engine,
) -> None:
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)  # HOLD-L1 101–1000
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", serials=P + "000000201..000000300")
        transfer(s, STAFF, "t-2", "HOLD-L1", "BUYER", serials=P + "000000401..000000420")
        r = retire(s, BUYER_USER, "r-1", "BUYER", "某电力公司", "2026 年度碳中和", date(2026, 6, 30), quantity=110)  # fmt: skip
    with session_scope(ledger) as s:
        cert = certificate(s, r.certificate).to_dict()
        with pytest.raises(LedgerError, match="no retirement certificate"):
            certificate(s, "RC-2026-99999999")
    with ledger.connect() as conn:  # the event, read on its own
        seq, action, hash_, payload = conn.execute(text(
            "SELECT id, action, hash, payload FROM audit_event WHERE payload LIKE :c"), {"c": f"%{r.certificate}%"}).one()  # fmt: skip
    # 110 oldest: all of 201–300 and 401–410, from two blocks
    assert cert["serials"] == [P + "000000201..000000300", P + "000000401..000000410"]
    assert (cert["quantity"], cert["account"], cert["beneficiary"], cert["retired_on"]) == (
        110, "BUYER", "某电力公司", "2026-06-30")  # fmt: skip
    assert cert["projects"] == [{"project": "L1", "name": "账本测试项目", "methodology": "AR-CM-005-V01",
                                 "vintage": 2026, "quantity": 110}]  # fmt: skip
    assert action == "ledger.retire" and r.certificate in payload
    assert (cert["audit_event"]["seq"], cert["audit_event"]["hash"]) == (seq, hash_)


def test_eco_labels_travel_with_the_credits_and_never_change_in_place(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)  # BUFFER 1–100, HOLD-L1 101–1000
        assert {b.labels for b in blocks(s)} == {()}  # empty for now
    # labelling by hand, the way a labelling operation will: close the block, write it again
    with ledger.begin() as conn:
        conn.execute(
            text(
                "UPDATE credit_block SET closed_op_id = created_op_id WHERE closed_op_id IS NULL AND first_seq = 101"
            )
        )
        conn.execute(text(
            "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, labels, created_op_id) "
            "SELECT project_code, vintage, first_seq, last_seq, account_id, state, :labels, created_op_id "
            "FROM credit_block WHERE first_seq = 101"), {"labels": '["FSC","生物多样性"]'})  # fmt: skip
    with session_scope(ledger) as s:  # a split in the middle: three pieces, each labelled
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", serials=P + "000000201..000000300")
        held = [(b.account, b.serials.replace(P, ""), list(b.labels)) for b in blocks(s)]
        assert check_invariants(s) == []
    assert held == [
        ("BUFFER", "000000001..000000100", []),
        ("BUYER", "000000201..000000300", ["FSC", "生物多样性"]),
        ("HOLD-L1", "000000101..000000200", ["FSC", "生物多样性"]),
        ("HOLD-L1", "000000301..000001000", ["FSC", "生物多样性"]),
    ]
    with pytest.raises(DBAPIError, match="never changes"), ledger.begin() as conn:
        conn.execute(text("UPDATE credit_block SET labels = '[]' WHERE closed_op_id IS NULL"))


def test_the_labels_and_organisations_migrations_go_down_and_up(ledger: Engine) -> None:
    """Down to 0006 (no labels, no organisations) and up again: accounts opened before 0008 get
    one organisation per holder — the registry's system accounts a registry one, others 'other'."""
    from alembic import command

    from registry.db import alembic_config, current_revision, migrate, schema_head

    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)  # opens ISSUANCE, BUFFER, HOLD-L1
    cfg = alembic_config()
    with ledger.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert current_revision(ledger) == "0006"
    with ledger.connect() as conn:
        columns = {
            t: list(conn.execute(text(f"SELECT * FROM {t} LIMIT 0")).keys())
            for t in ("credit_block", "ledger_account")
        }
    assert (
        "labels" not in columns["credit_block"]
        and "organisation_id" not in columns["ledger_account"]
    )
    migrate(ledger)
    assert current_revision(ledger) == schema_head()
    with ledger.connect() as conn:
        holders = dict(conn.execute(text(
            "SELECT a.code, o.kind FROM ledger_account a JOIN organisation o ON o.id = a.organisation_id")).all())  # fmt: skip
    assert holders == {"BANK": "other", "BUYER": "other", "BUFFER": "registry", "ISSUANCE": "registry",
                       "HOLD-L1": "other"}  # fmt: skip
    with session_scope(ledger) as s, pytest.raises(LedgerError, match="pledged to a bank"):
        pledge(s, STAFF, "p-after", "HOLD-L1", "BANK", "DK", Decimal("1"), quantity=1)


@pytest.mark.parametrize(
    ("name", "call", "words"),
    [
        ("insufficient", lambda s: transfer(s, STAFF, "k1", "HOLD-L1", "BUYER", quantity=5000), "insufficient credits"),
        ("unknown serial", lambda s: transfer(s, STAFF, "k2", "HOLD-L1", "BUYER", serials=P + "000009999"), "not active"),
        ("not held here", lambda s: transfer(s, STAFF, "k3", "HOLD-L1", "BUYER", serials=P + "000000050"), "not active"),
        ("retired never moves", lambda s: transfer(s, ADMIN, "k4", "RETIREMENT", "BUYER", quantity=1), "retirement account"),
        ("wrong account kind", lambda s: transfer(s, STAFF, "k5", "HOLD-L1", "RETIREMENT", quantity=1), "retirement account"),
        ("unknown account", lambda s: transfer(s, STAFF, "k6", "HOLD-L1", "NOBODY", quantity=1), "no account"),
        ("zero", lambda s: transfer(s, STAFF, "k7", "HOLD-L1", "BUYER", quantity=0), "positive"),
        ("both", lambda s: transfer(s, STAFF, "k10", "HOLD-L1", "BUYER", quantity=1, serials=P + "000000500"), "not both"),
        ("reused key", lambda s: transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", quantity=7), "different request"),
        ("no beneficiary", lambda s: retire(s, STAFF, "k8", "HOLD-L1", " ", "p", date(2026, 1, 1), quantity=1), "beneficiary"),
        ("nothing left to issue", lambda s: issue(s, ADMIN, "L1", "k9", 10), "no verified period"),
        ("same account", lambda s: transfer(s, BUYER_USER, "k11", "BUYER", "BUYER", quantity=1), "same account"),
        ("pledge to oneself", lambda s: pledge(s, BUYER_USER, "k12", "BUYER", "BUYER", "L-1", Decimal("1"), quantity=1), "own holder"),
        ("pledge to a buyer", lambda s: pledge(s, STAFF, "k13", "HOLD-L1", "BUYER", "L-1", Decimal("1"), quantity=1), "pledged to a bank"),
        ("account of another holder", lambda s: ensure_account(s, "BANK", "x", "holding", "别的银行"), "belongs to 永州某银行"),
    ],
)  # fmt: skip
def test_refusals_are_clear_and_change_nothing(
    ledger: Engine, name: str, call: object, words: str
) -> None:
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", quantity=3)
        retire(s, BUYER_USER, "r-0", "BUYER", "b", "p", date(2026, 1, 1), quantity=1)
    before = snapshot(ledger)
    with pytest.raises(LedgerError) as info, session_scope(ledger) as s:
        call(s)  # type: ignore[operator]
    assert words in info.value.message_en and info.value.message_zh
    assert info.value.category == REFUSAL_CATEGORY[name]
    assert snapshot(ledger) == before


# what each refusal is, for the shells' tables (exit codes, HTTP status codes)
REFUSAL_CATEGORY = {
    "insufficient": Category.CONFLICT, "unknown serial": Category.CONFLICT,
    "not held here": Category.CONFLICT, "retired never moves": Category.INVALID,
    "wrong account kind": Category.INVALID, "unknown account": Category.NOT_FOUND,
    "zero": Category.INVALID, "both": Category.INVALID, "reused key": Category.CONFLICT,
    "no beneficiary": Category.INVALID, "nothing left to issue": Category.CONFLICT,
    "same account": Category.INVALID, "pledge to oneself": Category.INVALID,
    "pledge to a buyer": Category.INVALID, "account of another holder": Category.CONFLICT,
}  # fmt: skip


def test_only_the_registry_admin_issues_and_a_refused_issuance_changes_nothing(
    ledger: Engine,
) -> None:
    from registry.errors import PermissionDenied

    before = snapshot(ledger)
    for role in (Role.BUREAU_STAFF, Role.VERIFIER, Role.BUYER, Role.FOREST_OWNER, Role.BANK):
        with pytest.raises(PermissionDenied) as info, session_scope(ledger) as s:
            issue(
                s,
                Actor.of("某人", role, "双牌县林业局"),
                "L1",
                f"issue-as-{role.value}",
                minimum_pct=10,
            )
        assert info.value.category == Category.FORBIDDEN and "admin" in info.value.message_en
    assert snapshot(ledger) == before
    with session_scope(ledger) as s:
        assert (
            s.execute(text("SELECT status FROM project WHERE code = 'L1'")).scalar() == "verified"
        )


def test_the_database_guards_blocks_itself(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)
        retire(s, STAFF, "r-1", "HOLD-L1", "b", "p", date(2026, 1, 1), quantity=10)
    statements = [
        "UPDATE credit_block SET account_id = account_id WHERE state = 'retired'",  # touching a retired block
        "UPDATE credit_block SET last_seq = last_seq + 1 WHERE state = 'active'",  # editing a block
        "DELETE FROM credit_block",
        # a block overlapping live serials
        "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, created_op_id) "
        "SELECT project_code, vintage, first_seq, first_seq, account_id, 'active', created_op_id FROM credit_block "
        "WHERE closed_op_id IS NULL LIMIT 1",
    ]
    for sql in statements:
        with pytest.raises(DBAPIError), ledger.begin() as conn:
            conn.execute(text(sql))
    with session_scope(ledger) as s:
        assert check_invariants(s) == []


@pytest.mark.parametrize(
    ("first", "last", "overlaps"),
    [
        (350, 350, True),  # inside one live block
        (250, 450, True),  # across three live blocks
        (1, 1000, True),  # over everything
        (995, 1000, True),  # sharing the last serial
        (401, 1000, False),  # the same serials once the live block holding them is closed
    ],
)
def test_the_database_refuses_overlapping_live_blocks(
    ledger: Engine, first: int, last: int, overlaps: bool
) -> None:
    """Whatever the number of blocks a new range meets, the guard sees the overlap (SQLite's
    trigger probes one neighbour, migration 0005; PostgreSQL's exclusion constraint)."""
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)  # BUFFER 1–100, HOLD-L1 101–1000
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", serials=P + "000000301..000000400")
    # a block written behind the service's back, in a transaction that is never committed
    insert = text(
        "INSERT INTO credit_block (project_code, vintage, first_seq, last_seq, account_id, state, created_op_id) "
        "SELECT 'L1', 2026, :f, :l, account_id, 'active', created_op_id FROM credit_block LIMIT 1"
    )  # fmt: skip
    with ledger.connect() as conn:
        transaction = conn.begin()
        if overlaps:
            with pytest.raises(DBAPIError, match="overlap"):
                conn.execute(insert, {"f": first, "l": last})
        else:  # close the live block first, as an operation does: then the range is free
            conn.execute(text("UPDATE credit_block SET closed_op_id = created_op_id "
                              "WHERE closed_op_id IS NULL AND first_seq = :f"), {"f": first})  # fmt: skip
            assert conn.execute(insert, {"f": first, "l": last}).rowcount == 1
        transaction.rollback()
    with session_scope(ledger) as s:
        assert check_invariants(s) == []


@pytest.mark.parametrize(
    ("assessed_pct", "minimum_pct", "expected_buffer"),
    [
        (15.0, 10.0, 150),  # the assessed risk is higher: ceil(1000 × 15 %) = 150
        (5.0, 10.0, 100),  # never below the registry's minimum: ceil(1000 × 10 %) = 100
        (12.34, 0.0, 124),  # ceil(1000 × 12.34 %) = ceil(123.4) = 124
    ],
)
def test_the_buffer_share_is_the_assessed_risk_but_never_below_the_minimum(
    ledger: Engine, assessed_pct: float, minimum_pct: float, expected_buffer: int
) -> None:
    from registry.projects import ProjectError, assess_risk
    from tests.registry.ledger_fixtures import STAFF, VERIFIER

    refused = [
        (STAFF, assessed_pct, "基于火险等级"),  # bureau staff may not assess the risk
        (VERIFIER, 100.0, "基于火险等级"),  # the whole issuance in the buffer: no
        (VERIFIER, -1.0, "基于火险等级"),
        (VERIFIER, assessed_pct, " "),  # no reason given
    ]
    for actor, pct, reason in refused:
        with pytest.raises((ProjectError, RegistryError)), session_scope(ledger) as s:
            assess_risk(s, actor, "L1", pct, reason)
    with session_scope(ledger) as s:
        assert s.execute(text("SELECT buffer_pct FROM project WHERE code = 'L1'")).scalar() is None
        assess_risk(
            s, VERIFIER, "L1", assessed_pct, "火险等级二级、坡度大 / fire risk class II, steep"
        )
    with session_scope(ledger) as s:
        result = issue(s, ADMIN, "L1", "issue-risk", minimum_pct=minimum_pct)
        history = s.execute(text("SELECT action, comment FROM project_event ORDER BY id")).all()
    assert (result.buffer, result.buffer_pct) == (
        expected_buffer,
        max(assessed_pct, minimum_pct),
    )
    assert live(ledger, "BUFFER") == [(f"000000001..{expected_buffer:09d}", "active")]
    assert ("risk_assessed", "火险等级二级、坡度大 / fire risk class II, steep") in [
        tuple(h) for h in history
    ]


def test_a_request_sent_twice_at_once_moves_credits_once(ledger: Engine) -> None:
    """The second request with the same key waits for the first one's transaction, then gets
    its result (PostgreSQL: the key's unique index; SQLite: BEGIN IMMEDIATE)."""
    import threading

    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "issue-1", minimum_pct=10)
    first_done_moving, results = threading.Event(), {}

    def first() -> None:
        with session_scope(ledger) as s:
            results["first"] = transfer(s, STAFF, "same-key", "HOLD-L1", "BUYER", quantity=7)
            first_done_moving.set()
            time.sleep(0.5)  # still uncommitted while the second request arrives

    def second() -> None:
        first_done_moving.wait()
        with session_scope(ledger) as s:
            results["second"] = transfer(s, STAFF, "same-key", "HOLD-L1", "BUYER", quantity=7)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results["second"] == results["first"]
    assert results["second"].replayed and not results["first"].replayed
    with session_scope(ledger) as s:
        assert balance(s, "BUYER")["active"] == 7  # moved once
        assert (
            s.execute(
                text("SELECT count(*) FROM ledger_operation WHERE idempotency_key = 'same-key'")
            ).scalar()
            == 1
        )
        assert check_invariants(s) == [] and verify_chain(s).ok


def test_credits_command_line(ledger: Engine, db_url: str, tmp_path: Path) -> None:
    import json
    import subprocess

    from tests.cli_runner import run_cli

    env = {"TANHUI_DATABASE_URL": db_url, "TANHUI_BUFFER_PCT": "5"}

    def run(*args: str, user: str = "director") -> subprocess.CompletedProcess[str]:
        return run_cli("--as", user, "credits", *args, env=env, cwd=tmp_path)

    issued = run("issue", "--project", "L1", "--key", "cli-issue")
    assert issued.returncode == 0, issued.stderr
    # buffer from the settings: ceil(1000 × 5 %) = 50 → serials 1–50; owner 51–1000
    assert json.loads(issued.stdout)["buffer"] == 50
    assert run("issue", "--project", "L1", "--key", "cli-issue").stdout == issued.stdout  # retry
    moved = run(
        "transfer",
        "--from",
        "HOLD-L1",
        "--to",
        "BUYER",
        "--serials",
        P + "000000051..000000060",
        user="li",
    )
    assert moved.returncode == 0 and "idempotency key" in moved.stderr  # a key was made and shown
    retired = run("retire", "--account", "BUYER", "--beneficiary", "某电力公司", "--purpose", "碳中和",
                  "--date", "2026-06-30", "--quantity", "4", "--key", "cli-r", user="buyer")  # fmt: skip
    assert json.loads(retired.stdout)["serials"] == [P + "000000051..000000054"]
    refused = run("retire", "--account", "BUYER", "--beneficiary", "x", "--purpose", "y",
                  "--serials", P + "000000051", "--key", "cli-r2", user="buyer")  # fmt: skip
    assert refused.returncode == 1 and "Refused" in refused.stderr
    assert json.loads(run("balance", "--account", "BUYER").stdout) == {
        "active": 6, "pledged": 0, "retired": 0, "cancelled": 0
    }  # fmt: skip
    moves = json.loads(run("history", "--serial", P + "000000052").stdout)["moves"]
    assert [m["state"] for m in moves] == ["active", "active", "retired"]
    assert run("check").returncode == 0
    # the validator's risk assessment, for the next issuances
    assessed = run_cli("--as", "auditor", "project", "assess-risk", "--project", "L1", "--buffer-pct", "20",
                       "--reason", "火险等级二级", env=env, cwd=tmp_path)  # fmt: skip
    assert assessed.returncode == 0, assessed.stderr
    shown = run_cli("project", "show", "--project", "L1", "--format", "json", env=env, cwd=tmp_path)
    assert json.loads(shown.stdout)["buffer_pct"] == 20
    assert "BUFFER" in run("blocks").stdout
    glance = run("show")
    assert glance.returncode == 0 and "BUYER" in glance.stdout and "HOLD-L1" in glance.stdout
    statement = json.loads(run("show", "--account", "BUYER", "--json").stdout)
    assert statement["balance"]["active"] == 6 and statement["retirements"][0]["quantity"] == 4
    opened = run("open-account", "--code", "BANK-2", "--name", "质押账户", "--holder", "某农商银行",
                 "--holder-kind", "bank", "--credit-code", "91350100m000100y43")  # fmt: skip
    assert opened.returncode == 0, opened.stderr
    account = json.loads(run("show", "--account", "BANK-2", "--json").stdout)["account"]
    assert (account["holder_kind"], account["holder_credit_code"]) == ("bank", "91350100M000100Y43")
    mistyped = run("open-account", "--code", "BANK-3", "--name", "x", "--holder", "另一银行",
                   "--holder-kind", "bank", "--credit-code", "91350100M000100Y4Z")  # fmt: skip
    assert mistyped.returncode == 1 and "check character should be 3" in mistyped.stderr
    cert = json.loads(run("certificate", "--id", json.loads(retired.stdout)["certificate"]).stdout)
    assert cert["serials"] == [P + "000000051..000000054"] and cert["beneficiary"] == "某电力公司"
