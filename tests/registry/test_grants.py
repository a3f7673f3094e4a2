"""An organisation's kind is granted by a registry admin, never declared by whoever opens an
account: a pledge goes only to a bank the registry recognises; grants are append-only rows and
audit events the replay understands; a verifier never judges its own organisation's project."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from registry.actors import Actor
from registry.db import read_scope, session_scope
from registry.errors import PermissionDenied, PledgeeNotBank
from registry.issuance import issue
from registry.ledger import open_account, pledge
from registry.ledger.replay import replay
from registry.organisations import grant_kind
from registry.vocabulary import Role
from tests.registry.ledger_fixtures import ADMIN, STAFF, verified_project
from tests.registry.project_fixtures import BUREAU, VERIFIER, draft


@pytest.fixture
def ledger(scenario: Callable[..., Engine]) -> Engine:
    return scenario("ledger-only", lambda e, f: verified_project(e, f))


def test_a_pledge_goes_only_to_a_bank_an_admin_granted(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        issue(s, ADMIN, "L1", "i", minimum_pct=10)
        with pytest.raises(PermissionDenied, match="granted by a registry admin"):
            open_account(
                s, STAFF, "FAKE", "假银行", "某自称银行", "bank"
            )  # staff cannot declare it
    with session_scope(ledger) as s:
        open_account(s, STAFF, "FAKE", "假银行", "某自称银行")  # opened: kind other
    with pytest.raises(PledgeeNotBank), session_scope(ledger) as s:
        pledge(s, STAFF, "p-1", "HOLD-L1", "FAKE", "DK", Decimal("1"), quantity=1)
    with pytest.raises(PermissionDenied), session_scope(ledger) as s:
        grant_kind(s, STAFF, "某自称银行", "bank")  # only an admin grants
    with session_scope(ledger) as s:
        before = s.execute(text("SELECT id, name, kind, credit_code, created_at FROM organisation "
                                "WHERE name = '某自称银行'")).one()  # fmt: skip
        assert grant_kind(s, ADMIN, "某自称银行", "bank").kind == "bank"
    with session_scope(ledger) as s:
        result = pledge(s, STAFF, "p-2", "HOLD-L1", "FAKE", "DK", Decimal("1"), quantity=1)
        assert result.quantity == 1
        after = s.execute(text("SELECT id, name, kind, credit_code, created_at FROM organisation "
                               "WHERE name = '某自称银行'")).one()  # fmt: skip
        assert tuple(after) == tuple(before)  # the organisation's row itself never changed
        actors = {str(r[0]) for r in s.execute(text("SELECT actor FROM audit_event"))}
        assert {"局长@双牌县林业局", "李工@双牌县林业局"} <= actors
    with read_scope(ledger) as s:
        report = replay(s)  # the grant is an event the replay rebuilds
        assert report.ok, report.differences
    with pytest.raises(DBAPIError), ledger.begin() as conn:  # grants are append-only
        conn.execute(text("UPDATE organisation_grant SET kind = 'buyer'"))
    with pytest.raises(DBAPIError), ledger.begin() as conn:
        conn.execute(text("DELETE FROM organisation_grant"))


def test_a_replay_names_a_grant_changed_behind_its_back(ledger: Engine) -> None:
    with session_scope(ledger) as s:
        open_account(s, ADMIN, "BK", "银行账户", "某银行", "bank")
        grant_kind(s, ADMIN, "某银行", "buyer")
    with ledger.begin() as conn:  # a grant row written around the service: no audit event
        conn.execute(text("INSERT INTO organisation_grant (organisation_id, kind, granted_by, granted_at) "
                          "SELECT id, 'bank', 'mallory', created_at FROM organisation WHERE name = '某银行'"))  # fmt: skip
    with read_scope(ledger) as s:
        report = replay(s)
    assert not report.ok and any("某银行" in d.describe() for d in report.differences)


def test_a_verifier_never_validates_its_own_organisations_project(
    scenario: Callable[..., Engine], tmp_path: Path
) -> None:
    from registry.carbon_model import fit_and_store_growth
    from registry.projects import transition
    from registry.stands import ImportOptions, import_inventory
    from tests.inventory_files import sample_frame, write_gpkg

    def build(engine: Engine, folder: Path) -> None:
        import_inventory(engine, write_gpkg(sample_frame(300, 21), folder / "s.gpkg"),
                         ImportOptions(inventory_year=2020))  # fmt: skip
        with session_scope(engine) as s:
            fit_and_store_growth(s, STAFF)

    engine = scenario("grants-inventory", build)
    draft(engine, "OWN", "AR-CM-005-V01", "species_group=moso_bamboo,land_class=竹林地")
    insider = Actor.of("内部核证员", Role.VERIFIER, BUREAU, "verifier")  # of the developer
    with session_scope(engine) as s:
        transition(s, STAFF, "OWN", "submit", tolerance_m2=1.0)
    with pytest.raises(PermissionDenied, match="own organisation"), session_scope(engine) as s:
        transition(s, insider, "OWN", "validate")
    with pytest.raises(PermissionDenied, match="own organisation"), session_scope(engine) as s:
        transition(s, insider, "OWN", "reject", "退回")
    with session_scope(engine) as s:
        assert transition(s, VERIFIER, "OWN", "validate").status == "validated"
