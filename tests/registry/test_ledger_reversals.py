"""A reversal covered from the pooled buffer account (ledger/reversals.py), on both engines: the
project's own buffer credits first, then the pool's, the rest owed and repaid by the project's
next issuance — with the ledger's invariants, the audit chain and the replay agreeing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.errors import IdempotencyKeyReused, PermissionDenied
from registry.issuance import issue
from registry.ledger import blocks
from registry.ledger.replay import replay
from registry.ledger.reversals import cover_reversal, outstanding_debt
from registry.projects import project_stands, remove_stands
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.ledger_fixtures import ADMIN, BUYER_USER, STAFF, VERIFIER, assert_the_log_agrees
from tests.registry.project_fixtures import draft, monitor_and_verify, register, remeasured

EVIDENCE = "ab" * 32
P1, P2 = "CN-431123-L1-2026-", "CN-431123-L2-2026-"
BAMBOO = "species_group=moso_bamboo,land_class=竹林地"


def _two_projects(engine: Engine, folder: Path) -> None:
    """Two moso bamboo projects on the two halves of the inventory's bamboo stands. L1: 1,000
    credits issued, buffer 10 % = serials 1–100. L2: 500.4 t verified for 2026, not issued."""
    import_inventory(engine, write_gpkg(sample_frame(300, 21), folder / "s.gpkg"),
                     ImportOptions(inventory_year=2020))  # fmt: skip
    with session_scope(engine) as s:
        fit_and_store_growth(s, STAFF)
    draft(engine, "L2", "AR-CM-005-V01", BAMBOO)
    with session_scope(engine) as s:
        keys = sorted(project_stands(s, "L2")["stand_id"])
        remove_stands(s, STAFF, "L2", "key=" + "|".join(keys[: len(keys) // 2]))
    draft(engine, "L1", "AR-CM-005-V01", "key=" + "|".join(keys[: len(keys) // 2]))
    for code, quantity in (("L1", 1000.5), ("L2", 500.4)):
        stands = register(engine, code)
        plots = remeasured(engine, stands, "AR-CM-005-V01", 1, plots=30)
        monitor_and_verify(engine, code, plots, date(2026, 1, 1), date(2026, 12, 31), quantity)
    with session_scope(engine) as s:
        issue(s, ADMIN, "L1", "i-1", minimum_pct=10)


@pytest.fixture
def ledger(scenario: Callable[..., Engine]) -> Engine:
    return scenario("reversals", _two_projects)


def live(engine: Engine) -> list[tuple[str, str, str]]:
    with session_scope(engine) as s:
        return sorted((b.account, b.serials, b.state) for b in blocks(s))


def test_a_reversal_within_the_projects_own_buffer_cancels_its_oldest(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        r = cover_reversal(s, VERIFIER, "rv-1", "L1", 30, "山火 fire", EVIDENCE)
    # own buffer 100 (serials 1–100): 30 cancelled from its oldest, nothing owed
    assert (r.requested, r.own, r.pool, r.shortfall, r.debt, r.quantity) == (30, 30, 0, 0, 0, 30)
    assert r.serials == (f"{P1}000000001..000000030",)
    assert live(ledger) == [
        ("BUFFER", f"{P1}000000031..000000100", "active"),
        ("CANCELLATION", f"{P1}000000001..000000030", "cancelled"),
        ("HOLD-L1", f"{P1}000000101..000001000", "active"),
    ]
    with session_scope(ledger) as s:
        assert outstanding_debt(s, "L1") == (0, 0)
    assert_the_log_agrees(ledger)


def test_beyond_its_own_buffer_the_pool_covers_and_the_project_owes_then_repays(
    ledger: Engine,
) -> None:
    with session_scope(ledger) as s:  # L2 has no buffer of its own yet: L1's pool pays
        r = cover_reversal(s, VERIFIER, "rv-2", "L2", 30, "采伐 felling", EVIDENCE)
    assert (r.own, r.pool, r.shortfall, r.debt) == (0, 30, 0, 30)
    assert r.serials == (f"{P1}000000001..000000030",)
    with session_scope(ledger) as s:
        assert outstanding_debt(s, "L2") == (30, 0)
        got = issue(s, ADMIN, "L2", "i-2", minimum_pct=10)
    # L2: floor(500.4) = 500 credits; buffer ceil(500 × 10 %) = 50, plus the 30 it owes = 80
    assert (got.quantity, got.buffer, got.repaid, got.shortfall_cancelled) == (500, 50, 30, 0)
    with session_scope(ledger) as s:
        assert outstanding_debt(s, "L2") == (0, 0)
        assert s.execute(text("SELECT kind, quantity, shortfall FROM buffer_debt ORDER BY id")).all() == [
            ("reversal", 30, 0), ("repayment", -30, 0)
        ]  # fmt: skip
    assert ("BUFFER", f"{P2}000000001..000000080", "active") in live(ledger)
    assert_the_log_agrees(ledger)


def test_a_reversal_larger_than_the_whole_pool_is_owed_in_full(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        r = cover_reversal(s, ADMIN, "rv-3", "L1", 130, "虫害 pests", EVIDENCE)
    # the pool holds L1's 100 and nothing else: 100 cancelled, 30 short; owed 130 − 100 own = 30
    assert (r.requested, r.own, r.pool, r.shortfall, r.debt, r.quantity) == (
        130,
        100,
        0,
        30,
        30,
        100,
    )
    with session_scope(ledger) as s:
        assert outstanding_debt(s, "L1") == (30, 30)
        got = issue(s, ADMIN, "L2", "i-2", minimum_pct=10)
    assert got.repaid == 0  # L2 owes nothing: L1's debt is L1's
    assert_the_log_agrees(ledger)


def test_a_shortfall_is_cancelled_from_the_credits_that_repay_it(ledger: Engine) -> None:
    with session_scope(ledger) as s:  # L2 has no buffer yet; the pool holds L1's 100
        r = cover_reversal(s, VERIFIER, "rv-7", "L2", 130, "山火 fire", EVIDENCE)
    assert (r.own, r.pool, r.shortfall, r.debt, r.quantity) == (0, 100, 30, 130, 100)
    with session_scope(ledger) as s:
        got = issue(s, ADMIN, "L2", "i-2", minimum_pct=10)
    # 500 credits: share ceil(500 × 10 %) = 50, repaid min(130, 500 − 50) = 130 → 180 to the
    # pool (serials 1–180), of which min(30 short, 130) = 30 cancelled at once (1–30)
    assert (got.buffer, got.repaid, got.shortfall_cancelled) == (50, 130, 30)
    assert live(ledger) == [
        ("BUFFER", f"{P2}000000031..000000180", "active"),
        ("CANCELLATION", f"{P1}000000001..000000100", "cancelled"),
        ("CANCELLATION", f"{P2}000000001..000000030", "cancelled"),
        ("HOLD-L1", f"{P1}000000101..000001000", "active"),
        ("HOLD-L2", f"{P2}000000181..000000500", "active"),
    ]
    with session_scope(ledger) as s:
        assert outstanding_debt(s, "L2") == (0, 0)
        again = issue(s, ADMIN, "L2", "i-2", minimum_pct=10)  # a retry: nothing more
    assert again.replayed and again.shortfall_cancelled == 30
    assert ("BUFFER", f"{P2}000000031..000000180", "active") in live(ledger)
    assert_the_log_agrees(ledger)


def test_a_retry_moves_nothing_and_a_changed_request_is_refused(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        first = cover_reversal(s, VERIFIER, "rv-4", "L1", 10, "山火 fire", EVIDENCE)
    with session_scope(ledger) as s:
        again = cover_reversal(s, VERIFIER, "rv-4", "L1", 10, "山火 fire", EVIDENCE)
    assert again.replayed and again.serials == first.serials
    assert ("BUFFER", f"{P1}000000011..000000100", "active") in live(ledger)
    with pytest.raises(IdempotencyKeyReused), session_scope(ledger) as s:
        cover_reversal(s, VERIFIER, "rv-4", "L1", 11, "山火 fire", EVIDENCE)
    assert_the_log_agrees(ledger)


@pytest.mark.parametrize("who", [STAFF, BUYER_USER])
def test_only_a_verifier_or_an_admin_may_cover_a_reversal(ledger: Engine, who: object) -> None:
    before = live(ledger)
    with pytest.raises(PermissionDenied), session_scope(ledger) as s:
        cover_reversal(s, who, "rv-5", "L1", 10, "山火 fire", EVIDENCE)  # type: ignore[arg-type]
    assert live(ledger) == before


def test_the_debt_is_append_only_and_a_row_slipped_in_is_found_by_the_replay(
    ledger: Engine,
) -> None:
    with session_scope(ledger) as s:
        cover_reversal(s, VERIFIER, "rv-6", "L2", 5, "山火 fire", EVIDENCE)
    with pytest.raises(DBAPIError), session_scope(ledger) as s:
        s.execute(text("UPDATE buffer_debt SET quantity = 1"))
    with pytest.raises(DBAPIError), session_scope(ledger) as s:
        s.execute(text("DELETE FROM buffer_debt"))
    with pytest.raises(DBAPIError), session_scope(ledger) as s:  # one row per operation
        s.execute(text("INSERT INTO buffer_debt (op_id, project_code, kind, quantity, shortfall) "
                       "SELECT op_id, project_code, kind, quantity, shortfall FROM buffer_debt"))  # fmt: skip
    with session_scope(ledger) as s:  # an insert behind the ledger's back: no event for it
        op = s.execute(text("SELECT min(id) FROM ledger_operation")).scalar()
        s.execute(text("INSERT INTO buffer_debt (op_id, project_code, kind, quantity, shortfall) "
                       "VALUES (:o, 'L1', 'reversal', 7, 0)"), {"o": op})  # fmt: skip
    with session_scope(ledger) as s:
        report = replay(s)
    assert [d.table for d in report.differences] == ["buffer_debt"]
