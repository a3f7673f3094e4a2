"""A registry holding one verified project, ready for issuance (ledger tests)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from registry.actors import Actor
from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.ledger import ensure_account
from registry.stands import ImportOptions, import_inventory
from registry.vocabulary import Role
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import (
    ADMIN,
    STAFF,
    VERIFIER,
    draft,
    monitor_and_verify,
    register,
    remeasured,
)

__all__ = [
    "ADMIN",
    "BANK_USER",
    "BUYER_USER",
    "STAFF",
    "VERIFIER",
    "assert_the_log_agrees",
    "of",
    "open_buyer_and_bank",
    "verified_project",
]

# users of the test ledger's holders: the buyer's and the bank's (accounts BUYER and BANK)
BUYER_USER = Actor.of("某电力公司 张三", Role.BUYER, "某电力公司", "buyer")
BANK_USER = Actor.of("永州某银行 信贷员", Role.BANK, "永州某银行", "bank")


def of(holder: str) -> Actor:
    """A user of the organisation ``holder`` (the tests name holders after their accounts)."""
    return Actor.of(f"{holder} 用户", Role.BUYER, holder)


def open_buyer_and_bank(session: Session) -> None:
    """The test ledger's two holders: a buyer's account BUYER and a bank's account BANK."""
    for code, holder, kind in (("BUYER", "某电力公司", "buyer"), ("BANK", "永州某银行", "bank")):
        ensure_account(session, code, holder, "holding", holder, kind)


def verified_project(
    engine: Engine, tmp_path: Path, code: str = "L1", quantity: float = 1000.5
) -> str:
    """A managed moso bamboo project whose first period (2026) is verified for
    ``quantity`` t CO2e: the same plots measured at the start and the end."""
    import_inventory(
        engine,
        write_gpkg(sample_frame(300, 21), tmp_path / "s.gpkg"),
        ImportOptions(inventory_year=2020),
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)
    draft(engine, code, "AR-CM-005-V01", "species_group=moso_bamboo,land_class=竹林地",
          name="账本测试项目")  # fmt: skip
    stands = register(engine, code)
    plots = remeasured(engine, stands, "AR-CM-005-V01", 1, plots=30)
    monitor_and_verify(engine, code, plots, date(2026, 1, 1), date(2026, 12, 31), quantity)
    return code


def assert_the_log_agrees(engine: Engine) -> None:
    """The ledger's invariants hold, the tables equal the replay of the audit log, and the
    log's hash chain verifies."""
    from registry.audit import verify_chain
    from registry.ledger import check_invariants
    from registry.ledger.replay import replay

    with session_scope(engine) as s:
        assert check_invariants(s) == []
        report = replay(s)
        assert report.ok, [d.describe() for d in report.differences[:5]]
        assert verify_chain(s).ok
