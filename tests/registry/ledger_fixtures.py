"""A registry holding one verified project, ready for issuance (ledger tests)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from registry.db import session_scope
from registry.model import fit_and_store_growth
from registry.models import Role
from registry.projects import (
    Actor,
    add_stands,
    create_project,
    project_stands,
    submit_monitoring,
    transition,
    verify_period,
)
from registry.sample_plots import synthetic_plots
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg

STAFF, VERIFIER, ADMIN = (
    Actor("李工", Role.BUREAU_STAFF),
    Actor("审定机构", Role.VERIFIER),
    Actor("局长", Role.ADMIN),
)


def verified_project(
    engine: Engine, tmp_path: Path, code: str = "L1", quantity: float = 1000.5
) -> str:
    import_inventory(
        engine,
        write_gpkg(sample_frame(300, 21), tmp_path / "s.gpkg"),
        ImportOptions(inventory_year=2020),
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, "test")
        create_project(session, STAFF, code=code, name="账本测试项目", methodology="AR-CM-003-V01",
                       developer="双牌县林业局", start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip
        add_stands(
            session, STAFF, code, "land_class=乔木林地,species_group=chinese_fir|masson_pine"
        )
        transition(session, STAFF, code, "submit")
        transition(session, VERIFIER, code, "validate")
        transition(session, ADMIN, code, "register")
        stands = project_stands(session, code)
    trees, strata = synthetic_plots(stands, 5)
    with session_scope(engine) as session:
        period = submit_monitoring(
            session, STAFF, code, date(2026, 1, 1), date(2026, 12, 31), trees, strata
        )
        assert period.removals_tco2e >= quantity, period.removals_tco2e
        verify_period(session, VERIFIER, code, quantity, "ok")
    return code
