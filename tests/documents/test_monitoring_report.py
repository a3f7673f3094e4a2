"""The monitoring report (监测报告) of a verified, issued period, on both engines: its key
figures against the stored rows read with SQL and worked by hand here, its headings, a plot's
value recomputed by hand from the stored culm list, the unverified parameters as notes."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from registry.db import session_scope
from registry.documents.model import Document, Equation, Note, Table
from registry.documents.monitoring_report import build_monitoring_report
from registry.errors import PeriodNotFound
from tests.documents.doc_fixtures import CODE, FM_CODE, issued_project, submitted_fir_project


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _period_row(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT m.removals_tco2e, m.change_tco2e, m.change_uncertainty, m.verified_tco2e, "
                "m.baseline_tco2e, m.leakage_tco2e, m.provenance_json, m.plots_csv, "
                "i.quantity, i.buffer_quantity FROM monitoring_period m JOIN project p "
                "ON p.id = m.project_id JOIN issuance i ON i.monitoring_period_id = m.id "
                "WHERE p.code = :c AND m.period_no = 1"
            ),
            {"c": CODE},
        ).one()
    return dict(row._mapping)


def _figures(doc: Document) -> dict[str, object]:
    return {k.key: k.value for k in doc.key_figures}


def test_the_key_figures_are_the_registrys_worked_by_hand(registry: Engine) -> None:
    row = _period_row(registry)
    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, 1)
    fig = _figures(doc)
    prov = json.loads(str(row["provenance_json"]))
    change, half = float(str(row["change_tco2e"])), float(prov["change_half_width_tco2e"])
    # U = hw / |ΔĈ|; AR-TOOL14 App. 2 bands: ≤ 10 % → 0, ≤ 15 % → 0.25, ≤ 20 % → 0.5,
    # ≤ 30 % → 0.75, above → 1
    u = half / abs(change)
    f = (
        0.0
        if u <= 0.10
        else 0.25
        if u <= 0.15
        else 0.5
        if u <= 0.20
        else 0.75
        if u <= 0.30
        else 1.0
    )
    assert 0 < f < 1  # this scenario's period is discounted, not wiped out
    deduction = f * half
    kept = change - deduction
    # net removals = kept − baseline − leakage
    removals = kept - float(str(row["baseline_tco2e"])) - float(str(row["leakage_tco2e"]))
    assert math.isclose(removals, float(str(row["removals_tco2e"])), rel_tol=1e-9)
    assert math.isclose(float(str(fig["removals_tco2e"])), removals, rel_tol=1e-9)
    assert math.isclose(float(str(fig["uncertainty"])), u, rel_tol=1e-9)
    assert math.isclose(float(str(row["change_uncertainty"])), u, rel_tol=1e-9)
    assert math.isclose(float(str(fig["deduction_tco2e"])), deduction, rel_tol=1e-9)
    assert fig["verified_tco2e"] == 1000.5 == row["verified_tco2e"]
    # credits = floor(1000.5) = 1000; buffer = ceil(1000 × 10 / 100) = 100
    assert fig["issued_credits"] == 1000 == row["quantity"]
    assert fig["buffer_credits"] == 100 == row["buffer_quantity"]
    shown = {k.key: k.shown for k in doc.key_figures}
    assert shown["issued_credits"] == "1,000" and shown["verified_tco2e"] == "1,000.500 t CO2e"
    assert doc.kind == "monitoring_report" and doc.project == CODE and doc.period == 1


def test_the_headings_and_the_sections_a_verifier_reads(registry: Engine) -> None:
    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, 1)
    headings = [sec.heading for sec in doc.walk()]
    for zh in ("项目与监测期", "样地与分层", "两次测定", "事后碳汇量", "不确定性与扣减",
               "合理性标记与越过", "自登记以来的变化", "碳信用", "参数与来源"):  # fmt: skip
        assert any(h.startswith(zh) for h in headings), zh
    assert "监测报告" in doc.title
    # the moso culm model's a–f are recalled, not verified: listed and said as notes
    assert {f"culm_{k}" for k in "abcdef"} <= set(doc.unverified)
    notes = [b for sec in doc.walk() for b in sec.blocks if isinstance(b, Note)]
    assert any(n.kind == "unverified" and "culm_a" in n.text for n in notes)
    # no flag was raised for this period: no warning, and the report says so
    assert not [n for n in notes if n.kind == "warning"]


def test_a_plots_stock_is_the_culm_list_worked_by_hand(registry: Engine) -> None:
    row = _period_row(registry)
    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, 1)
    culms = list(csv.DictReader(io.StringIO(str(row["plots_csv"]))))
    plot = culms[0]["plot_id"]
    mine = [c for c in culms if c["plot_id"] == plot]
    area = float(mine[0]["plot_area_ha"])
    # per culm M = a D^b (c A / (d + A))^e + f (kg), a–f = 747.787, 2.771, 0.148, 0.028,
    # 5.555, 3.772; carbon = 44/12 × CF 0.466 × (1 + R 0.37) × M / 1000 (t CO2e)
    total = 0.0
    for c in mine:
        d, a = float(c["dbh_cm"]), float(c["age_du"])
        m = 747.787 * d**2.771 * (0.148 * a / (0.028 + a)) ** 5.555 + 3.772
        total += 44 / 12 * 0.466 * 1.37 * m / 1000
    table = next(
        b for sec in doc.walk() for b in sec.blocks
        if isinstance(b, Table) and b.caption.startswith("表 3")
    )  # fmt: skip
    line = next(r for r in table.rows if r[0] == plot)
    assert line[3] == f"{total / area:,.3f}"  # the end measurement, t CO2e/ha


def test_an_unknown_period_is_refused_in_both_languages(registry: Engine) -> None:
    with session_scope(registry) as s, pytest.raises(PeriodNotFound) as err:
        build_monitoring_report(s, CODE, 7)
    assert "没有第 7 监测期" in err.value.message_zh and "period 7" in err.value.message_en


def test_a_submitted_period_with_a_baseline_says_not_issued(
    scenario: Callable[..., Engine],
) -> None:
    engine = submitted_fir_project(scenario)
    with engine.connect() as conn:
        removals, baseline, provenance = conn.execute(
            text(
                "SELECT m.removals_tco2e, m.baseline_tco2e, m.provenance_json FROM "
                "monitoring_period m JOIN project p ON p.id = m.project_id WHERE p.code = :c"
            ),
            {"c": FM_CODE},
        ).one()
    with session_scope(engine) as s:
        doc = build_monitoring_report(s, FM_CODE, 1)
    fig = _figures(doc)
    # removals = kept change − baseline − 0
    kept = float(json.loads(provenance)["conservative_change_tco2e"])
    assert math.isclose(kept - baseline, removals, rel_tol=1e-9)
    assert math.isclose(float(str(fig["removals_tco2e"])), kept - baseline, rel_tol=1e-9)
    assert fig["verified_tco2e"] == "—" and fig["issued_credits"] == "—"
    equations = [b for sec in doc.walk() for b in sec.blocks if isinstance(b, Equation)]
    assert any(f"− {baseline:,.3f} −" in e.worked for e in equations)
    strata = next(
        b for sec in doc.walk() for b in sec.blocks
        if isinstance(b, Table) and b.caption.startswith("表 2")
    )  # fmt: skip
    assert len(strata.rows) == 2
