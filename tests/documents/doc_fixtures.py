"""The registry the monitoring-report and workbook tests read: one managed moso bamboo
project (L1) whose first period (2026) is verified for 1,000.5 t CO2e and issued (buffer 10 %)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from registry.db import session_scope
from registry.issuance import issue
from tests.registry.ledger_fixtures import ADMIN, verified_project

__all__ = ["CODE", "issued_project"]

CODE = "L1"
VERIFIED = 1000.5


def _build(engine: Engine, folder: Path) -> None:
    verified_project(engine, folder, CODE, VERIFIED)
    with session_scope(engine) as s:
        issue(s, ADMIN, CODE, "documents-issue-1", minimum_pct=10)


def issued_project(scenario: Callable[..., Engine]) -> Engine:
    return scenario("documents-issued", _build)
