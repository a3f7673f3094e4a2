"""The registries the monitoring-report and workbook tests read: a managed moso bamboo project
(L1) whose first period (2026) is verified for 1,000.5 t CO2e and issued (buffer 10 %); and a
Chinese-fir forest-management project (FM1, two strata) whose first period (2026–2030) is
submitted, not verified: trees by the volume chain, and a baseline change from the ex-ante."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.issuance import issue
from registry.projects import record_start_measurement, submit_monitoring
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.ledger_fixtures import ADMIN, verified_project
from tests.registry.project_fixtures import STAFF, draft, register, remeasured

__all__ = ["CODE", "FM_CODE", "issued_project", "submitted_fir_project"]

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
