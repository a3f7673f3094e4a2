"""The registries the monitoring-report and workbook tests read: a managed moso bamboo project
(L1) whose first period (2026) is verified for 1,000.5 t CO2e and issued (buffer 10 %); and a
Chinese-fir forest-management project (FM1, two strata) whose first period (2026–2030) is
submitted, not verified: trees by the volume chain, and a baseline change from the ex-ante;
and a moso bamboo project (PV1) whose name, developer and verifier's override reason name a
household (and a telephone number), as a careless clerk or verifier might write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.issuance import issue
from registry.models import OwnerKind
from registry.projects import record_start_measurement, submit_monitoring, verify_period
from registry.stands import ImportOptions, classify_owner, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.ledger_fixtures import ADMIN, verified_project
from tests.registry.project_fixtures import STAFF, VERIFIER, draft, register, remeasured

__all__ = [
    "CODE",
    "FM_CODE",
    "PHONE",
    "PRIVATE_CODE",
    "issued_project",
    "private_project",
    "submitted_fir_project",
]

CODE = "L1"
VERIFIED = 1000.5


def _build(engine: Engine, folder: Path) -> None:
    verified_project(engine, folder, CODE, VERIFIED)
    with session_scope(engine) as s:
        issue(s, ADMIN, CODE, "documents-issue-1", minimum_pct=10)


def issued_project(scenario: Callable[..., Engine]) -> Engine:
    return scenario("documents-issued", _build)


FM_CODE = "FM1"
FM_SELECTION = "land_class=乔木林地,species_group=chinese_fir,origin=人工,age_group=幼龄林|中龄林"


def _build_fir(engine: Engine, folder: Path) -> None:
    import_inventory(engine, write_gpkg(sample_frame(600, 21), folder / "s.gpkg"),
                     ImportOptions(inventory_year=2020))  # fmt: skip
    with session_scope(engine) as s:
        fit_and_store_growth(s, STAFF)
    draft(engine, FM_CODE, "AR-CM-003-V01", FM_SELECTION)
    stands = register(engine, FM_CODE)
    first, last, strata = remeasured(engine, stands, "AR-CM-003-V01", 5, plots=8)
    with session_scope(engine) as s:
        record_start_measurement(s, STAFF, FM_CODE, date(2026, 1, 1), first, strata)
        submit_monitoring(s, STAFF, FM_CODE, date(2026, 1, 1), date(2030, 12, 31), last, strata)


def submitted_fir_project(scenario: Callable[..., Engine]) -> Engine:
    return scenario("documents-fir", _build_fir)


PRIVATE_CODE = "PV1"
PHONE = "13907461234"


def household_name(frame: pd.DataFrame) -> str:
    """The first right holder of the inventory the registry classifies as a household."""
    return next(str(n) for n in frame["LQ_QLR"] if classify_owner(str(n)) == OwnerKind.HOUSEHOLD)


def _build_private(engine: Engine, folder: Path) -> None:
    frame = sample_frame(300, 21)
    someone = household_name(frame)
    import_inventory(
        engine, write_gpkg(frame, folder / "p.gpkg"), ImportOptions(inventory_year=2020)
    )
    with session_scope(engine) as s:
        fit_and_store_growth(s, STAFF)
    draft(engine, PRIVATE_CODE, "AR-CM-005-V01", "species_group=moso_bamboo,land_class=竹林地",
          name=f"{someone}毛竹经营项目", developer=f"{someone}家庭林场")  # fmt: skip
    stands = register(engine, PRIVATE_CODE)
    first, last, strata = remeasured(engine, stands, "AR-CM-005-V01", 1, plots=30)
    with session_scope(engine) as s:
        record_start_measurement(s, STAFF, PRIVATE_CODE, date(2026, 1, 1), first, strata)
        submit_monitoring(s, STAFF, PRIVATE_CODE, date(2026, 1, 1), date(2026, 12, 31), last,
                          strata)  # fmt: skip
        verify_period(s, VERIFIER, PRIVATE_CODE, 1000.0, f"与农户{someone}核对",
                      override_reason=f"农户{someone}（电话 {PHONE}）确认样地无误")  # fmt: skip


def private_project(scenario: Callable[..., Engine]) -> Engine:
    return scenario("documents-private", _build_private)
