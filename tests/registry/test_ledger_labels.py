"""Eco-labels on credits (生态标签) as a ledger operation, on both engines: attached to live
credits wherever they are held, kept through transfer, a three-way split, pledge, release and
retirement, shown in a serial's history and on the certificate, detached again — and the audit
log alone rebuilds every block's labels (replay)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.errors import Category, NothingToLabel, PermissionDenied, RegistryError
from registry.issuance import issue
from registry.ledger import (
    blocks,
    certificate,
    history,
    pledge,
    relabel,
    release,
    retire,
    transfer,
)
from registry.ledger.replay import replay
from tests.registry.ledger_fixtures import (
    ADMIN,
    BANK_USER,
    BUYER_USER,
    STAFF,
    assert_the_log_agrees,
    open_buyer_and_bank,
    verified_project,
)
from tests.registry.user_fixtures import add_test_users

P = "CN-431123-L1-2026-"


def _issued_and_spread(engine: Engine, folder: Path) -> None:
    """1,000 credits issued (buffer 1–100, HOLD-L1 101–1000); 300 to BUYER (101–400), of which
    50 retired (101–150); 100 of HOLD-L1 pledged to BANK (401–500)."""
    verified_project(engine, folder)
    with session_scope(engine) as s:
        open_buyer_and_bank(s)
    add_test_users(engine)
    with session_scope(engine) as s:
        issue(s, ADMIN, "L1", "i-1", minimum_pct=10)
        transfer(s, STAFF, "t-1", "HOLD-L1", "BUYER", quantity=300)
        retire(
            s, BUYER_USER, "r-1", "BUYER", "某电力公司", "碳中和", date(2026, 6, 30), quantity=50
        )
        pledge(s, STAFF, "p-1", "HOLD-L1", "BANK", "LOAN-1", "8000.00", quantity=100)


@pytest.fixture
def spread(scenario: Callable[..., Engine]) -> Engine:
    return scenario("labels", _issued_and_spread)


def live(engine: Engine) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(account, serials without the prefix, state, labels) of every live block."""
    with session_scope(engine) as s:
        return sorted(
            (b.account, b.serials.replace(P, ""), b.state, tuple(b.labels)) for b in blocks(s)
        )


def test_a_label_reaches_live_credits_everywhere_and_never_the_retired(spread: Engine) -> None:
    with session_scope(spread) as s:
        r = relabel(s, ADMIN, "lb-1", "L1", "WATER", vintage=2026)
    # live active/pledged: buffer 1–100 (100), BUYER 151–400 (250), HOLD-L1 401–500 pledged
    # (100) and 501–1000 (500) = 950; the 50 retired (101–150) stay as they were retired
    assert (r.quantity, r.untouched_final, r.attached) == (950, 50, True)
    assert live(spread) == [
        ("BUFFER", "000000001..000000100", "active", ("WATER",)),
        ("BUYER", "000000151..000000400", "active", ("WATER",)),
        ("HOLD-L1", "000000401..000000500", "pledged", ("WATER",)),
        ("HOLD-L1", "000000501..000001000", "active", ("WATER",)),
        ("RETIREMENT", "000000101..000000150", "retired", ()),
    ]
    with session_scope(spread) as s:  # the same request again: its first result, nothing moved
        again = relabel(s, ADMIN, "lb-1", "L1", "WATER", vintage=2026)
        assert again.replayed and again.quantity == 950
    with pytest.raises(NothingToLabel, match="lacks the label WATER"), session_scope(spread) as s:
        relabel(s, ADMIN, "lb-1b", "L1", "WATER", vintage=2026)
    assert_the_log_agrees(spread)


def test_labels_travel_through_split_pledge_release_and_retirement(spread: Engine) -> None:
    with session_scope(spread) as s:
        relabel(s, ADMIN, "lb-1", "L1", "WATER", vintage=2026)
        relabel(s, ADMIN, "lb-2", "L1", "BIODIV", serials=P + "000000601..000000700")
        # a three-way split: the middle of HOLD-L1's 501–1000 to BUYER
        transfer(s, STAFF, "t-2", "HOLD-L1", "BUYER", serials=P + "000000651..000000660")
        release(s, BANK_USER, "rel-1", 1)  # the pledged 401–500 active again, labels kept
        retire(s, BUYER_USER, "r-2", "BUYER", "某电力公司", "年度抵消", date(2026, 7, 1),
               serials=P + "000000651..000000655")  # fmt: skip
    assert live(spread) == [
        ("BUFFER", "000000001..000000100", "active", ("WATER",)),
        ("BUYER", "000000151..000000400", "active", ("WATER",)),
        ("BUYER", "000000656..000000660", "active", ("BIODIV", "WATER")),
        ("HOLD-L1", "000000401..000000500", "active", ("WATER",)),
        ("HOLD-L1", "000000501..000000600", "active", ("WATER",)),
        ("HOLD-L1", "000000601..000000650", "active", ("BIODIV", "WATER")),
        ("HOLD-L1", "000000661..000000700", "active", ("BIODIV", "WATER")),
        ("HOLD-L1", "000000701..000001000", "active", ("WATER",)),
        ("RETIREMENT", "000000101..000000150", "retired", ()),
        ("RETIREMENT", "000000651..000000655", "retired", ("BIODIV", "WATER")),
    ]
    with session_scope(spread) as s:
        cert = s.execute(
            text("SELECT certificate_id FROM retirement WHERE quantity = 5")
        ).scalar_one()
        assert certificate(s, cert).labels == ("BIODIV", "WATER")
        first = s.execute(
            text("SELECT certificate_id FROM retirement WHERE quantity = 50")
        ).scalar_one()
        assert certificate(s, first).labels == ()
        steps = history(s, P + "000000653")
    # issued unlabelled (101–1000 to HOLD-L1), the pieces the fixture's transfer and pledge
    # rewrote (401–1000, then 501–1000), → WATER → WATER+BIODIV → transferred → retired
    assert [(h.created_by, h.labels) for h in steps] == [
        ("issue", ()),
        ("transfer", ()),
        ("pledge", ()),
        ("label", ("WATER",)),
        ("label", ("BIODIV", "WATER")),
        ("transfer", ("BIODIV", "WATER")),
        ("retire", ("BIODIV", "WATER")),
    ]
    assert_the_log_agrees(spread)


def test_detaching_leaves_retired_credits_as_they_were_retired(spread: Engine) -> None:
    with session_scope(spread) as s:
        relabel(s, ADMIN, "lb-1", "L1", "WATER")
        retire(s, STAFF, "r-2", "HOLD-L1", "开发方", "自愿抵消", date(2026, 7, 1), quantity=10)
        r = relabel(s, ADMIN, "lb-3", "L1", "WATER", attach=False)
    # live active/pledged carrying WATER: 950 − the 10 just retired (501–510) = 940;
    # the final ones in scope: 50 retired unlabelled + 10 retired labelled = 60
    assert (r.quantity, r.untouched_final, r.attached) == (940, 60, False)
    labelled = [(a, s_) for a, s_, _, lb in live(spread) if lb]
    assert labelled == [("RETIREMENT", "000000501..000000510")]
    assert_the_log_agrees(spread)


def test_only_registry_admins_label_and_bad_codes_are_refused(spread: Engine) -> None:
    with session_scope(spread) as s:
        before = s.execute(text("SELECT count(*) FROM ledger_operation")).scalar()
    with pytest.raises(PermissionDenied, match="attach or detach"), session_scope(spread) as s:
        relabel(s, STAFF, "lb-x", "L1", "WATER")
    for code in ("", "水源", "a", "WATER LABEL", "x" * 41):
        with pytest.raises(RegistryError) as e, session_scope(spread) as s:
            relabel(s, ADMIN, f"lb-{len(code)}", "L1", code)
        assert e.value.category == Category.INVALID and "eco-label code" in str(e.value)
    with pytest.raises(RegistryError, match="not of project L1"), session_scope(spread) as s:
        relabel(s, ADMIN, "lb-y", "L1", "WATER", serials="CN-431123-L2-2026-000000001..000000002")
    with pytest.raises(NothingToLabel), session_scope(spread) as s:
        relabel(s, ADMIN, "lb-z", "NOPE", "WATER")
    with session_scope(spread) as s:
        assert s.execute(text("SELECT count(*) FROM ledger_operation")).scalar() == before
    assert_the_log_agrees(spread)


def test_a_label_written_behind_the_ledgers_back_is_found_by_the_replay(spread: Engine) -> None:
    with session_scope(spread) as s:
        relabel(s, ADMIN, "lb-1", "L1", "WATER", serials=P + "000000901..000001000")
    with spread.begin() as conn:  # the tables' owner disables the guard and adds a label
        if spread.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE credit_block DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER credit_block_guard_update"))
        conn.execute(text("UPDATE credit_block SET labels = '[\"FSC\",\"WATER\"]' "
                          "WHERE closed_op_id IS NULL AND labels = '[\"WATER\"]'"))  # fmt: skip
    with session_scope(spread) as s:
        report = replay(s)
    assert {(d.table, d.ids) for d in report.differences} == {
        ("credit_block", P + "000000901..000001000")
    }
    assert any("FSC" in d.message_en for d in report.differences)
