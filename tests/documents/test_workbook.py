"""The verifier's workbook, on both engines: it opens with openpyxl, its calculated cells are
formulas, and LibreOffice headless — recomputing every formula on load — gets the registry's
stored numbers (read here with SQL) within 1e-6 relative; its check sheet's differences are 0;
no household name is in it."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, text

from methodologies.species import SpeciesGroup
from registry.db import session_scope
from registry.documents.workbook import build_workbook, make_workbook
from registry.errors import PeriodNotFound
from tests.documents.doc_fixtures import CODE, FM_CODE, issued_project, submitted_fir_project
from tests.documents.libreoffice import recalculate

SHEETS = ("说明", "参数", "小班", "样地", "计算", "事前", "核对")


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def _named(wb: Any, name: str) -> Any:
    sheet, ref = next(iter(wb.defined_names[name].destinations))
    return wb[sheet][ref.replace("$", "")].value


def _stored(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT m.stock_tco2e, m.change_tco2e, m.change_uncertainty, m.removals_tco2e, "
                "m.verified_tco2e, m.provenance_json, m.plots_csv, p.exante_total_tco2e, "
                "i.quantity FROM monitoring_period m JOIN project p ON p.id = m.project_id "
                "JOIN issuance i ON i.monitoring_period_id = m.id "
                "WHERE p.code = :c AND m.period_no = 1"
            ),
            {"c": CODE},
        ).one()
        households = conn.execute(text("SELECT name FROM owner WHERE kind = 'household'"))
        names = [n for (n,) in households]
    out = dict(row._mapping)
    out["households"] = names
    return out


def test_libreoffice_recomputes_the_registrys_numbers(registry: Engine, tmp_path: Path) -> None:
    stored = _stored(registry)
    with session_scope(registry) as s:
        data = build_workbook(s, CODE, 1)
    path = tmp_path / f"{CODE}.xlsx"
    path.write_bytes(data)

    formulas = openpyxl.load_workbook(path)
    assert tuple(formulas.sheetnames) == SHEETS
    plots, calc = formulas["样地"], formulas["计算"]
    # every culm's biomass, carbon and counted carbon, and the chain to credits, are formulas
    culm_rows = [r for r in range(1, plots.max_row + 1) if plots.cell(r, 5).value == "moso_bamboo"]
    assert len(culm_rows) > 1000
    assert all(plots.cell(r, c).data_type == "f" for r in culm_rows for c in (10, 11, 12))
    for name in ("START_TOTAL", "END_TOTAL", "CHANGE", "CHANGE_HW", "CHANGE_U",
                 "DEDUCTION_FRACTION", "CHANGE_KEPT", "BASELINE", "REMOVALS", "CREDITS",
                 "EXANTE_TOTAL"):  # fmt: skip
        sheet, ref = next(iter(formulas.defined_names[name].destinations))
        assert formulas[sheet][ref.replace("$", "")].data_type == "f", name
    assert calc.title == "计算"
    # openpyxl writes no cached value: whatever a formula cell shows later, LibreOffice computed
    cached = openpyxl.load_workbook(path, data_only=True)
    assert cached["核对"]["B4"].value is None and _named(cached, "REMOVALS") is None

    recalculated = recalculate(path, tmp_path)
    wb = openpyxl.load_workbook(recalculated, data_only=True)
    prov = json.loads(stored["provenance_json"])
    expected = {
        "END_TOTAL": stored["stock_tco2e"],
        "START_TOTAL": prov["start_stock_tco2e"],
        "CHANGE": stored["change_tco2e"],
        "CHANGE_HW": prov["change_half_width_tco2e"],
        "CHANGE_U": stored["change_uncertainty"],
        "CHANGE_KEPT": prov["conservative_change_tco2e"],
        "REMOVALS": stored["removals_tco2e"],
        "EXANTE_TOTAL": stored["exante_total_tco2e"],
    }
    for name, value in expected.items():
        got = _named(wb, name)
        assert isinstance(got, (int, float)), (name, got)
        assert math.isclose(got, float(value), rel_tol=1e-6), (name, got, value)
    # the AR-TOOL14 band for U_Δ (hand: 0.75 for 20 % < U ≤ 30 %), credits = floor(1000.5)
    u = float(stored["change_uncertainty"])
    band = (
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
    assert _named(wb, "DEDUCTION_FRACTION") == band
    assert _named(wb, "CREDITS") == 1000 == stored["quantity"]

    # the check sheet: every difference ≈ 0
    check = wb["核对"]
    lines = [r for r in check.iter_rows(values_only=True) if isinstance(r[2], (int, float))]
    assert len(lines) >= 10
    for label, formula_value, registry_value, difference, relative in lines:
        assert isinstance(formula_value, (int, float)), label
        assert abs(relative) < 1e-6 and math.isclose(difference, formula_value - registry_value,
                                                     abs_tol=1e-6), label  # fmt: skip

    # one culm by hand: M = 747.787 D^2.771 (0.148 A / (0.028 + A))^5.555 + 3.772 (kg),
    # C = 44/12 × 0.466 × 1.37 × M / 1000 (t CO2e)
    sheet = wb["样地"]
    r = culm_rows[0]
    d, a = float(sheet.cell(r, 6).value), float(sheet.cell(r, 8).value)
    m = 747.787 * d**2.771 * (0.148 * a / (0.028 + a)) ** 5.555 + 3.772
    assert math.isclose(sheet.cell(r, 10).value, m, rel_tol=1e-9)
    assert math.isclose(sheet.cell(r, 11).value, 44 / 12 * 0.466 * 1.37 * m / 1000, rel_tol=1e-9)


def test_the_workbook_holds_no_household_name_and_flags_unverified_parameters(
    registry: Engine,
) -> None:
    stored = _stored(registry)
    with session_scope(registry) as s:
        wb = openpyxl.load_workbook(io.BytesIO(build_workbook(s, CODE, None)))
    cells = [str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v]
    text_ = "\n".join(cells)
    assert stored["households"] and not [n for n in stored["households"] if n in text_]
    stands = wb["小班"]
    header = [c.value for c in next(r for r in stands.iter_rows() if r[0].value == "stand_key")]
    assert "owner" not in header and "forest_right_cert" not in header
    # the culm model's a–f are recalled, not verified: the parameters sheet says so
    params = {r[0]: r[4] for r in wb["参数"].iter_rows(values_only=True) if r[0]}
    assert str(params["culm_a"]).startswith("UNVERIFIED")
    assert not str(params["moso carbon_fraction"]).startswith("UNVERIFIED")  # published
    # None takes the latest kept period: the same culm list as period 1
    plots = wb["样地"]
    end_rows = sum(1 for r in plots.iter_rows(values_only=True) if r[0] == "期末")
    assert end_rows == len(list(csv.DictReader(io.StringIO(stored["plots_csv"]))))


def test_an_unknown_period_is_refused(registry: Engine) -> None:
    with session_scope(registry) as s, pytest.raises(PeriodNotFound) as err:
        build_workbook(s, CODE, 2)
    assert "没有第 2 监测期" in err.value.message_zh


def test_trees_two_strata_and_a_baseline_recompute_too(
    scenario: Callable[..., Engine], tmp_path: Path
) -> None:
    engine = submitted_fir_project(scenario)
    with engine.connect() as conn:
        stock, change, removals, baseline = conn.execute(
            text(
                "SELECT m.stock_tco2e, m.change_tco2e, m.removals_tco2e, m.baseline_tco2e "
                "FROM monitoring_period m JOIN project p ON p.id = m.project_id "
                "WHERE p.code = :c AND m.period_no = 1"
            ),
            {"c": FM_CODE},
        ).one()
    assert baseline > 0  # the ex-ante's baseline grows: the workbook takes it from 事前
    with session_scope(engine) as s:
        path = tmp_path / "FM1.xlsx"
        path.write_bytes(build_workbook(s, FM_CODE, 1))
    wb = openpyxl.load_workbook(recalculate(path, tmp_path), data_only=True)
    for name, value in (("END_TOTAL", stock), ("CHANGE", change), ("BASELINE", baseline),
                        ("REMOVALS", removals)):  # fmt: skip
        assert math.isclose(_named(wb, name), value, rel_tol=1e-6), name
    strata = {r[2] for r in wb["样地"].iter_rows(values_only=True) if r[0] == "期末"}
    assert len(strata) == 2
    # one Chinese fir by hand: v = 0.000058777042 D^1.9699831 H^0.89646157 (m³, LY 208-77);
    # C = 44/12 × CF 0.47 × v × SVD 0.307 × BEF 1.634 × (1 + R 0.246) (t CO2e)
    sheet = wb["样地"]
    r = next(i for i in range(1, sheet.max_row + 1) if sheet.cell(i, 5).value == "chinese_fir")
    d, h = float(sheet.cell(r, 6).value), float(sheet.cell(r, 7).value)
    v = 0.000058777042 * d**1.9699831 * h**0.89646157
    assert math.isclose(sheet.cell(r, 10).value, v, rel_tol=1e-9)
    carbon = 44 / 12 * 0.47 * v * 0.307 * 1.634 * (1 + 0.246)
    assert math.isclose(sheet.cell(r, 11).value, carbon, rel_tol=1e-9)
    lines = [r for r in wb["核对"].iter_rows(values_only=True) if isinstance(r[2], (int, float))]
    assert lines and all(abs(line[4]) < 1e-6 for line in lines)


def test_the_parameters_are_the_projects_own_and_the_baselines(
    scenario: Callable[..., Engine],
) -> None:
    engine = submitted_fir_project(scenario)
    with engine.connect() as conn:
        exante = json.loads(
            conn.execute(text("SELECT exante_json FROM project WHERE code = :c"), {"c": FM_CODE})
            .scalar_one()
        )  # fmt: skip
    with session_scope(engine) as s:
        made = make_workbook(s, FM_CODE, None)
    assert made.period == 1  # asked without a period: it holds the latest kept one
    wb = openpyxl.load_workbook(io.BytesIO(made.content))
    groups = {r[4] for r in wb["样地"].iter_rows(values_only=True) if r[0] in ("期初", "期末")}
    assert groups == {"chinese_fir"}
    params = [r for r in wb["参数"].iter_rows(values_only=True) if r[0]]
    names = {str(r[0]) for r in params}
    # a fir project: no bamboo culm model, one species row (its own group)
    assert not {f"culm_{k}" for k in "abcdef"} & names
    others = {g.value for g in SpeciesGroup} - {"chinese_fir"}
    assert "chinese_fir" in names and not others & names
    # the frozen baseline's own parameters, as frozen, UNVERIFIED
    mine = ("fm_baseline_rotation_chinese_fir", "fm_baseline_cut_quota_m3_per_ha_yr",
            "fm_hwp_long_lived_fraction")  # fmt: skip
    assert set(mine) <= set(exante["unverified_parameters"])
    frozen = {
        p["name"]: p["value"]
        for t in exante["traces"].values() for st in t["steps"] for p in st["parameters"]
    }  # fmt: skip
    status = {str(r[0]): r for r in params}
    for name in mine:
        assert status[name][1] == frozen[name] and str(status[name][4]).startswith("UNVERIFIED")
    # the project scenario's assumptions make no baseline: not listed as the baseline's
    assert "fm_project_tending_growth_gain" not in names
    # the 事前 sheet says its baseline column rests on them
    notes = [str(r[0]) for r in wb["事前"].iter_rows(max_row=3, values_only=True) if r[0]]
    assert any("UNVERIFIED" in n and all(m in n for m in mine) for n in notes)


def test_a_bamboo_workbook_lists_no_tree_species(registry: Engine) -> None:
    with session_scope(registry) as s:
        made = make_workbook(s, CODE, 1)
    wb = openpyxl.load_workbook(io.BytesIO(made.content))
    names = {str(r[0]) for r in wb["参数"].iter_rows(values_only=True) if r[0]}
    assert "culm_a" in names and "chinese_fir" not in names and "SPECIES" not in wb.defined_names
    assert made.period == 1
