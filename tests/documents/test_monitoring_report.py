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
from registry.documents.model import Document, Equation, Figure, Note, Table
from registry.documents.monitoring_report import build_monitoring_report
from registry.documents.period_data import plot_order
from registry.errors import PeriodNotFound
from tests.documents.doc_fixtures import (
    CODE,
    FM_CODE,
    PHONE,
    PRIVATE_CODE,
    household_name,
    issued_project,
    private_project,
    submitted_fir_project,
)
from tests.inventory_files import sample_frame


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


def _all_text(doc: Document) -> str:
    """Every word of the document a renderer may print: title, meta, key figures, headings,
    paragraphs, tables, equations, notes, captions."""
    parts = [doc.title, doc.subtitle, doc.project, doc.as_of, *doc.meta.values(), *doc.unverified]
    parts += [f"{k.label} {k.shown} {k.value}" for k in doc.key_figures]
    for sec in doc.walk():
        parts.append(sec.heading)
        for b in sec.blocks:
            if isinstance(b, Table):
                parts += [b.caption, *b.headers, *b.notes, *(c for row in b.rows for c in row)]
            elif isinstance(b, Equation):
                parts += [b.reference, b.formula, b.worked, *b.where]
            elif isinstance(b, Figure):
                parts.append(b.caption)
            else:
                parts.append(b.text)
    return "\n".join(parts)


def test_no_household_name_phone_or_login_in_the_report(scenario: Callable[..., Engine]) -> None:
    engine = private_project(scenario)
    someone = household_name(sample_frame(300, 21))
    with engine.connect() as conn:
        households = {
            n for (n,) in conn.execute(text("SELECT name FROM owner WHERE kind = 'household'"))
        }
        override, verifier = conn.execute(
            text("SELECT override_reason, verifier FROM monitoring_period")
        ).one()
        actor = conn.execute(
            text("SELECT actor FROM project_event WHERE action = 'verify'")
        ).scalar_one()
    # the registry holds the private words: a household's name and a phone in the override
    assert someone in households and someone in override and PHONE in override
    organisation = actor.rpartition("@")[2]
    assert verifier and organisation and verifier != organisation
    with session_scope(engine) as s:
        doc = build_monitoring_report(s, PRIVATE_CODE, 1)
    words = _all_text(doc)
    assert someone not in words and PHONE not in words
    assert not [n for n in households if n in words]
    # what stands in their place, in the title, the header and the override note
    assert doc.title.startswith("某农户") and doc.meta["developer"] == "某农户家庭林场"
    notes = [b.text for sec in doc.walk() for b in sec.blocks if isinstance(b, Note)]
    assert any("某农户（电话 （已隐去））确认样地无误" in n for n in notes)
    # §9 names the verifier's organisation, as the public project page does, not its login
    credits = next(b for sec in doc.walk() for b in sec.blocks
                   if isinstance(b, Table) and b.caption.startswith("表 8"))  # fmt: skip
    assert ("核证机构 Verifier", organisation) in credits.rows
    assert verifier not in [c for row in credits.rows for c in row]


def test_a_baseline_from_the_ex_ante_flags_its_unverified_parameters(
    scenario: Callable[..., Engine],
) -> None:
    engine = submitted_fir_project(scenario)
    with engine.connect() as conn:
        baseline, exante = conn.execute(
            text(
                "SELECT m.baseline_tco2e, p.exante_json FROM monitoring_period m "
                "JOIN project p ON p.id = m.project_id WHERE p.code = :c"
            ),
            {"c": FM_CODE},
        ).one()
    frozen = set(json.loads(exante)["unverified_parameters"])
    mine = {"fm_baseline_rotation_chinese_fir", "fm_baseline_cut_quota_m3_per_ha_yr",
            "fm_hwp_long_lived_fraction"}  # fmt: skip
    assert baseline > 0 and mine <= frozen  # the baseline's rotation, quota, wood products
    with session_scope(engine) as s:
        doc = build_monitoring_report(s, FM_CODE, 1)
    assert mine <= set(doc.unverified)
    removals = next(sec for sec in doc.walk() if sec.number == "4")
    beside = [b.text for b in removals.blocks if isinstance(b, Note) and b.kind == "unverified"]
    assert len(beside) == 1 and all(n in beside[0] for n in mine)
    assert f"{baseline:,.3f}" in beside[0]
    # the project scenario's own assumptions do not make the baseline: not named beside it
    assert "fm_project_tending_growth_gain" in frozen
    assert "fm_project_tending_growth_gain" not in beside[0]
    params = next(sec for sec in doc.walk() if sec.number == "10")
    notes = [b.text for b in params.blocks if isinstance(b, Note)]
    for name in mine:
        assert any(name in n and "ΔC_BSL" in n for n in notes), name


def test_no_baseline_no_baseline_note(registry: Engine) -> None:
    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, 1)
    removals = next(sec for sec in doc.walk() if sec.number == "4")
    assert not [b for b in removals.blocks if isinstance(b, Note)]


def _recompute(worked: str) -> tuple[float, str]:
    """An equation's worked line read back as a reader would: ``ΔX = a × b + c × d = T t CO2e``
    or ``ΔX = a − b − c = T t CO2e``; returns (the sum of the shown terms, the shown T)."""
    _, expression, total = worked.split(" = ")
    expression = expression.replace(",", "")
    if " × " in expression:
        value = 0.0
        for term in expression.split(" + "):
            a, b = term.split(" × ")
            value += float(a) * float(b)
    else:
        first, *rest = expression.split(" − ")
        value = float(first) - sum(float(x) for x in rest)
    return value, total.removesuffix(" t CO2e")


@pytest.mark.parametrize("which", ["bamboo", "fir"])
def test_the_worked_equations_reproduce_their_totals(
    scenario: Callable[..., Engine], which: str
) -> None:
    engine, code = (
        (issued_project(scenario), CODE)
        if which == "bamboo"
        else (submitted_fir_project(scenario), FM_CODE)
    )
    with session_scope(engine) as s:
        doc = build_monitoring_report(s, code, 1)
    removals = next(sec for sec in doc.walk() if sec.number == "4")
    worked = [b.worked for b in removals.blocks if isinstance(b, Equation)]
    assert len(worked) == 2 and " × " in worked[0]  # the paired change, then the net removals
    for line in worked:
        value, shown = _recompute(line)
        assert f"{value:,.3f}" == shown, line


def test_the_report_reads_its_period_and_its_data_time(registry: Engine) -> None:
    with registry.connect() as conn:
        newest = conn.execute(
            text("SELECT occurred_at FROM audit_event ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    with session_scope(registry) as s:
        doc = build_monitoring_report(s, CODE, None)  # no period: the latest kept one, 1
    assert doc.period == 1
    assert doc.as_of == str(newest)
    words = _all_text(doc)
    # no disturbance was found or confirmed in this registry, and §7 says so plainly
    assert "2026-01-01 – 2026-12-31 期间没有确认的逆转" in words
    assert "No reversal was confirmed with an event date in 2026-01-01 – 2026-12-31" in words
    assert "没有待复核的扰动标记" in words and "No disturbance flag was dismissed" in words
    assert "#18" not in words
    # the leakage is the period's stored value, with where it comes from
    net = next(b for sec in doc.walk() for b in sec.blocks
               if isinstance(b, Equation) and b.formula.startswith("ΔC_AR"))  # fmt: skip
    assert any(
        w.startswith("LK: 泄漏 leakage = 0.000 t CO2e，登记簿存储的本期值") for w in net.where
    )


def test_plots_are_in_natural_order() -> None:
    names = ["P10", "P100", "P11", "P2", "S-P1", "P1"]
    assert sorted(names, key=plot_order) == ["P1", "P2", "P10", "P11", "P100", "S-P1"]
