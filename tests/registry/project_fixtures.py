"""Walk a project through its lifecycle the way the registry expects (tests' shared steps)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from registry.carbon_model import latest_growth_curves
from registry.db import session_scope
from registry.models import Role
from registry.projects import (
    Actor,
    add_evidence,
    add_stands,
    check_project,
    create_project,
    project_stands,
    record_start_measurement,
    remove_stands,
    submit_monitoring,
    transition,
    verify_period,
)
from registry.synthetic_plots import fm_growth_gain, remeasured_plots, synthetic_evidence

BUREAU = "双牌县林业局"  # the bureau, developer of the test projects
STAFF = Actor.of("李工", Role.BUREAU_STAFF, BUREAU, "bureau")
TOLERANCE_M2 = 1.0  # the registry's default overlap tolerance (Settings.overlap_tolerance_m2)
VERIFIER = Actor.of("审定机构 王工", Role.VERIFIER, "某审定核证机构", "verifier")
ADMIN = Actor.of("局长", Role.ADMIN, BUREAU, "bureau")


def draft(
    engine: Engine, code: str, methodology: str, selection: str, start: date = date(2026, 1, 1),
    name: str | None = None, developer: str = BUREAU,
) -> None:  # fmt: skip
    """A draft with the selected stands that the methodology accepts, and its evidence."""
    with session_scope(engine) as session:
        create_project(session, STAFF, code=code, name=name or f"项目 {code}", methodology=methodology,
                       developer=developer, start_date=start, crediting_years=30)  # fmt: skip
        keys = add_stands(session, STAFF, code, selection, TOLERANCE_M2)
        add_evidence(session, STAFF, code, synthetic_evidence(methodology, keys, start))
        report = check_project(session, code, TOLERANCE_M2)
        failing = sorted(set(report.loc[~report["passed"], "stand_id"]))
        if failing:
            remove_stands(session, STAFF, code, "key=" + "|".join(failing))


def register(engine: Engine, code: str) -> pd.DataFrame:
    """Submit, validate and register a draft; returns its stands."""
    with session_scope(engine) as session:
        transition(session, STAFF, code, "submit", tolerance_m2=TOLERANCE_M2)
        transition(session, VERIFIER, code, "validate")
        transition(session, ADMIN, code, "register")
        return project_stands(session, code)


def remeasured(
    engine: Engine, stands: pd.DataFrame, methodology: str, years: int, plots: int = 8
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(start trees, end trees, strata) of the same plots, grown as the ex-ante expects."""
    with session_scope(engine) as session:
        curves = latest_growth_curves(session)
    if methodology == "AR-CM-003-V01":
        stands = stands.assign(growth_gain=fm_growth_gain(stands))
    planted = "chinese_fir" if methodology == "CCER-14-001-V01" else None
    return remeasured_plots(stands, curves, years, plots_per_stratum=plots, planted=planted)


def monitor_and_verify(
    engine: Engine, code: str, plots: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    start: date, end: date, quantity: float | None = None,
) -> float:  # fmt: skip
    """Record the start measurement, submit the period, verify it (overriding a flag, if any,
    with a reason); returns the verified quantity."""
    first, last, strata = plots
    with session_scope(engine) as session:
        record_start_measurement(session, STAFF, code, start, first, strata)
        period = submit_monitoring(session, STAFF, code, start, end, last, strata)
        amount = float(int(period.removals_tco2e)) if quantity is None else quantity
        flagged = json.loads(period.flags_json)
        verify_period(session, VERIFIER, code, amount, "ok",
                      override_reason="复核样地 plots rechecked" if flagged else "")  # fmt: skip
    return amount


def write_plot_workbook(trees: pd.DataFrame, strata: pd.DataFrame, path: Path) -> Path:
    """A plot workbook as a bureau sends it: sheet 1 the trees (每木检尺), sheet 2 the strata's
    areas (层面积), canonical column names."""
    if "age_du" in trees and trees["age_du"].isna().all():  # no bamboo: no 竹度 column
        trees = trees.drop(columns="age_du")
    with pd.ExcelWriter(path) as writer:
        trees.to_excel(writer, sheet_name="每木检尺", index=False)
        strata.to_excel(writer, sheet_name="层面积", index=False)
    return path
