"""Monitoring from consistent measurements, the plausibility gate and the demo's band, on both
engines."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import Engine, select, text
from sqlmodel import col

from registry.audit import verify_chain
from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.models import AuditEvent, MonitoringPeriod
from registry.projects import (
    FlaggedPeriod,
    InvalidTransition,
    PermissionDenied,
    record_start_measurement,
    submit_monitoring,
    verify_period,
)
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.registry.project_fixtures import STAFF, VERIFIER, draft, register, remeasured

BAMBOO = "species_group=moso_bamboo,land_class=竹林地"
START, END = date(2026, 1, 1), date(2030, 12, 31)


@pytest.fixture
def registry(engine: Engine, tmp_path: Path) -> Engine:
    import_inventory(
        engine,
        write_gpkg(sample_frame(600, 21), tmp_path / "s.gpkg"),
        ImportOptions(inventory_year=2020),
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)
    return engine


def _counts(engine: Engine) -> tuple[object, ...]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("monitoring_period", "audit_event", "project_event")
        )


def test_remeasured_plots_with_no_growth_credit_nothing(registry: Engine) -> None:
    draft(registry, "NG", "AR-CM-005-V01", BAMBOO)
    stands = register(registry, "NG")
    first, _, strata = remeasured(registry, stands, "AR-CM-005-V01", 5, plots=20)
    with session_scope(registry) as session:
        with pytest.raises(PermissionDenied):  # a verifier does not measure the plots
            record_start_measurement(session, VERIFIER, "NG", START, first, strata)
        record_start_measurement(session, STAFF, "NG", START, first, strata)
        # the same trees measured again: the change is 0, its U infinite: nothing to credit
        period = submit_monitoring(session, STAFF, "NG", START, END, first, strata)
        assert period.change_tco2e == 0.0
        provenance = json.loads(period.provenance_json)
        assert provenance["method"] == "paired" and provenance["deduction_fraction"] == 1.0
        # the bamboo baseline is a steady state (ΔC_BSL = 0): removals 0 − 0 ≤ 0
        assert period.baseline_tco2e == 0.0 and period.removals_tco2e <= 0
        with pytest.raises(InvalidTransition):  # monitoring has begun: the start stays
            record_start_measurement(session, STAFF, "NG", START, first, strata)


def test_a_period_out_of_line_is_flagged_and_verified_only_with_an_audited_override(
    registry: Engine,
) -> None:
    draft(registry, "GATE", "AR-CM-005-V01", BAMBOO)
    stands = register(registry, "GATE")
    first, last, strata = remeasured(registry, stands, "AR-CM-005-V01", 5, plots=20)
    # the end measurement claims three times the culms: far beyond the frozen ex-ante
    tripled = last.loc[last.index.repeat(3)].reset_index(drop=True)
    with session_scope(registry) as session:
        record_start_measurement(session, STAFF, "GATE", START, first, strata)
        period = submit_monitoring(session, STAFF, "GATE", START, END, tripled, strata)
        flags = json.loads(period.flags_json)
        quantity = float(int(period.removals_tco2e))
    kinds = {f["kind"] for f in flags}
    assert "out_of_line_with_ex_ante" in kinds
    flag = next(f for f in flags if f["kind"] == "out_of_line_with_ex_ante")
    area = float(strata["area_ha"].sum())
    years = ((END - START).days + 1) / 365.25  # 1,826 days / 365.25 = 4.9993 years
    assert flag["figure"] == pytest.approx(quantity / area / years, rel=1e-3)  # its own figures
    assert flag["figure"] > flag["limit"] and "factor 2" in flag["message_en"]
    before = _counts(registry)
    with pytest.raises(FlaggedPeriod) as info, session_scope(registry) as session:
        verify_period(session, VERIFIER, "GATE", quantity, "ok")
    assert "override" in info.value.message_en and "理由" in info.value.message_zh
    assert _counts(registry) == before  # refused: nothing changed
    with session_scope(registry) as session:
        verify_period(session, VERIFIER, "GATE", quantity, "ok",
                      override_reason="补充样地复测证实 extra plots confirm the density")  # fmt: skip
        event = session.execute(
            select(AuditEvent).where(col(AuditEvent.action) == "project.verify")
            .order_by(col(AuditEvent.id).desc()).limit(1)
        ).scalar_one()  # fmt: skip
        payload = json.loads(event.payload) if isinstance(event.payload, str) else event.payload
        assert payload["override_reason"].startswith("补充样地复测")
        assert {f["kind"] for f in payload["flags"]} == kinds
        stored = session.execute(select(MonitoringPeriod)).scalars().one()
        assert stored.status == "verified" and stored.override_reason
        assert verify_chain(session).ok


def test_the_demo_verified_quantities_lie_within_the_ex_ante_band(
    engine: Engine, tmp_path: Path
) -> None:
    from registry.cli.demo import demo_people, project_steps

    import_inventory(
        engine,
        write_gpkg(sample_frame(3000, 7), tmp_path / "s.gpkg"),
        ImportOptions(inventory_year=2025),
    )
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)
    quiet = Console(file=io.StringIO(), width=200)
    outcomes = project_steps(engine, quiet, 1.0, demo_people(engine, tmp_path, quiet))
    assert {code for code, *_ in outcomes} == {"SP-FM-2026-01", "SP-AF-2028-01", "SP-BM-2026-01"}
    for code, verified, low, high in outcomes:
        assert 0 < low <= verified <= high, (code, verified, low, high)


def test_the_next_period_starts_from_the_undiscounted_estimate(registry: Engine) -> None:
    draft(registry, "TWO", "AR-CM-005-V01", BAMBOO)
    stands = register(registry, "TWO")
    first, last, strata = remeasured(registry, stands, "AR-CM-005-V01", 5, plots=6)
    with session_scope(registry) as session:
        record_start_measurement(session, STAFF, "TWO", START, first, strata)
        one = submit_monitoring(session, STAFF, "TWO", START, END, last, strata)
        p1 = json.loads(one.provenance_json)
        assert p1["deduction_fraction"] > 0  # few plots: part of the half-width is deducted
        verify_period(session, VERIFIER, "TWO", 0.0, "ok", override_reason="few plots")
        # the second period remeasures the same plots (unchanged here)
        two = submit_monitoring(
            session, STAFF, "TWO", date(2031, 1, 1), date(2035, 12, 31), last, strata
        )
        p2 = json.loads(two.provenance_json)
    # it starts from period 1's estimate as measured, not from its discounted value: the
    # deduction is never given back
    assert p2["start"].startswith("period 1")
    assert p2["start_stock_tco2e"] == pytest.approx(one.stock_tco2e)
    assert p2["start_stock_tco2e"] == pytest.approx(p1["end_stock_tco2e"])
    assert two.change_tco2e == 0.0 and two.removals_tco2e <= 0
