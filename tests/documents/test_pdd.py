"""The project design document (项目设计文件) and its Word rendering, on both engines.

The scenario: the ledger tests' verified moso bamboo project L1 (15 stands, frozen ex-ante,
start measurement of 30 permanent plots), two grievances (one sent under a household owner's
name, with a telephone number), a benefit-sharing rule whose payee text names that household
and which gives no sources (so it is unverified), and a draft forest-management project D1
(no frozen ex-ante, no start measurement). Every figure is worked here from the database with
SQL and written-out arithmetic, not from the builder.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import docx
import pandas as pd
import pytest
from docx.oxml.ns import qn
from PIL import Image
from scipy import stats
from sqlalchemy import Engine, text

from methodologies.expost import estimate
from registry.compensation.rules import RuleSpec, create_rule
from registry.db import session_scope
from registry.documents.docx_render import render_docx
from registry.documents.model import Document, Equation, Figure, Note, Paragraph, Table
from registry.documents.pdd import SECTION_HEADINGS, build_pdd
from registry.grievances import submit_grievance
from registry.projects.monitoring import read_csv
from tests.registry.ledger_fixtures import STAFF, verified_project
from tests.registry.project_fixtures import draft, monitor_and_verify, register, remeasured

HOUSEHOLDS_SQL = """
    SELECT DISTINCT o.name FROM owner o
    JOIN stand s ON s.owner_id = o.id AND s.is_current
    JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active
    JOIN project p ON p.id = ps.project_id
    WHERE p.code = :p AND o.kind = 'household'
"""


def _households(engine: Engine, code: str) -> list[str]:
    with engine.connect() as c:
        return [str(r[0]) for r in c.execute(text(HOUSEHOLDS_SQL), {"p": code})]


def _build(engine: Engine, folder: Path) -> None:
    verified_project(engine, folder)
    household = sorted(_households(engine, "L1"))[0]
    with session_scope(engine) as s:
        submit_grievance(s, "L1", household, "138 1234 5678", f"{household}：补偿怎么算？")
        submit_grievance(s, "L1", "匿名", None, "样地在哪里？")
        create_rule(s, STAFF, "L1", RuleSpec.build({
            "shares": {"owners": "0.6", "village_collective": "0.3", "developer": "0.1"},
            "basis": "area", "payees": {"village_collective": f"{household}代收"},
        }))  # fmt: skip
    draft(engine, "D1", "AR-CM-003-V01", "species_group=chinese_fir", name="杉木经营测试")


@pytest.fixture
def registry(scenario: Callable[..., Engine]) -> Engine:
    return scenario("pdd-l1", _build)


def _document(engine: Engine, code: str) -> tuple[Document, bytes]:
    with session_scope(engine) as s:
        doc = build_pdd(s, code)
    return doc, render_docx(doc)


def _texts(raw: bytes) -> list[str]:
    """Every paragraph's text of the Word body (tables and notes included), in order."""
    body = docx.Document(io.BytesIO(raw)).element.body
    return ["".join(t.text or "" for t in p.iter(qn("w:t"))) for p in body.iter(qn("w:p"))]


def _xml(raw: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        return "\n".join(
            z.read(n).decode("utf-8") for n in z.namelist() if n.endswith((".xml", ".rels"))
        )


def test_docx_opens_with_title_page_headings_in_order_toc_and_page_numbers(
    registry: Engine,
) -> None:
    _, raw = _document(registry, "L1")
    word = docx.Document(io.BytesIO(raw))
    headings = [
        p.text for p in word.paragraphs if p.style is not None and p.style.name == "Heading 1"
    ]
    expected = [f"{i}  {h}" for i, h in enumerate(SECTION_HEADINGS, start=1)]
    assert headings[0] == "目录 Contents"
    assert headings[1:12] == expected
    assert headings[12].startswith("附件 A") and headings[13].startswith("附件 B")
    titles = [p.text for p in word.paragraphs[:12]]
    assert "项目设计文件 Project Design Document" in titles
    assert "账本测试项目（L1）" in titles
    cells = [c.text for t in word.tables[:1] for row in t.rows for c in row.cells]
    assert "L1" in cells and "AR-CM-005-V01" in " ".join(cells)
    assert any("由 tanhui 登记簿数据生成 / generated from the registry" in t for t in titles)
    xml = _xml(raw)
    assert 'TOC \\o "1-3"' in xml  # the contents field
    footer = "".join(_xml(raw).split("<w:ftr")[1:])
    assert " PAGE " in footer  # page numbers in the footer
    assert 'w:eastAsia="Noto Sans CJK SC"' in xml  # Chinese glyph forms in Word and LibreOffice
    # the official template was not found: the document says so
    assert any("未能对照官方模板" in t for t in _texts(raw))


def test_every_key_figure_is_shown_and_equals_the_registry(registry: Engine) -> None:
    doc, raw = _document(registry, "L1")
    body = "\n".join(_texts(raw))
    figures = {k.key: k for k in doc.key_figures}
    for k in doc.key_figures:
        assert k.shown in body, k
    with registry.connect() as c:
        area, n = c.execute(text(
            "SELECT SUM(s.area_ha), COUNT(*) FROM stand s JOIN project_stand ps ON "
            "ps.stand_key = s.stand_key AND ps.active JOIN project p ON p.id = ps.project_id "
            "WHERE s.is_current AND p.code = 'L1'")).one()  # fmt: skip
        start, years, frozen, plots, strata = c.execute(text(
            "SELECT start_date, crediting_years, exante_json, start_plots_csv, start_strata_csv "
            "FROM project WHERE code = 'L1'")).one()  # fmt: skip
    # area: the boundary is the union of the stands, which overlap by at most the 1 m² tolerance
    # each: 15 stands × 1 m² = 0.0015 ha at most between the union and the sum of their areas
    assert abs(figures["project_area_ha"].value - float(area)) <= 15 * 1.0 / 10_000
    assert figures["project_area_ha"].shown == f"{float(area):,.2f} ha"
    assert figures["n_stands"].value == n == 15
    by_year = json.loads(frozen)["by_year"]
    total = 0.0
    for row in by_year:
        total += row["net_removals"]
        assert figures[f"exante_{row['year']}"].value == pytest.approx(row["net_removals"])
        assert figures[f"exante_{row['year']}"].shown == f"{row['net_removals']:,.1f}"
    assert figures["exante_total_tco2e"].value == pytest.approx(total, rel=1e-9)
    assert figures["exante_total_tco2e"].shown == f"{total:,.1f} t CO2e"
    first = int(str(start)[:4])
    assert (figures["first_year"].value, figures["crediting_years"].value) == (first, years)
    assert figures["last_year"].value == first + years - 1 == by_year[-1]["year"]
    assert len(by_year) == years == 30
    # plots needed: per stratum the smallest n with t(0.95, n − 1) × CV / √n ≤ 0.10, the CV
    # of the start measurement's plots (the registry's stratified estimate of them)
    cvs = estimate(read_csv(plots), read_csv(strata)).strata["cv"].tolist()
    needed = 0
    for cv in cvs:
        m = 2
        while stats.t.ppf(0.95, m - 1) * cv / math.sqrt(m) > 0.10:
            m += 1
        needed += m
    assert figures["plots_needed"].value == needed
    assert figures["plots_needed"].shown == f"{needed:,}"
    assert figures["grievances"].value == 2 and "共 2 件" in body


def test_no_household_name_anywhere_in_the_document(registry: Engine) -> None:
    names = _households(registry, "L1")
    assert names  # the sample gives some of L1's stands household owners (10 names)
    with registry.connect() as c:
        rule = c.execute(
            text("SELECT rule_json FROM sharing_rule WHERE project_code = 'L1'")
        ).scalar()
        grievances = c.execute(
            text("SELECT name FROM grievance WHERE project_code = 'L1'")
        ).scalars()
        assert any(n in str(rule) for n in names)  # the data the document reads do hold a name
        assert any(g in names for g in grievances)
    _, raw = _document(registry, "L1")
    xml = _xml(raw)
    for name in names:
        assert name not in xml, name
    assert "138 1234 5678" not in xml and "补偿怎么算" not in xml  # grievances: counted only
    assert "（农户，不公开 / household, not shown）" in xml
    assert "某农户代收" in xml  # the payee text, the household's name withheld


def test_map_and_chart_are_pngs_of_their_size_embedded_in_the_docx(registry: Engine) -> None:
    doc, raw = _document(registry, "L1")
    figures = [b for s in doc.walk() for b in s.blocks if isinstance(b, Figure)]
    assert len(figures) == 2
    sizes = []
    for figure in figures:
        with Image.open(io.BytesIO(figure.png)) as image:
            image.load()  # decodes the whole picture
            sizes.append(image.size)
    # 150 dpi: the map 8 × 7 in = 1200 × 1050 px, the chart 9 × 4.5 in = 1350 × 675 px
    assert sizes == [(1200, 1050), (1350, 675)]
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        media = sorted(z.read(n) for n in z.namelist() if n.startswith("word/media/"))
    assert media == sorted(f.png for f in figures)


def test_unverified_parameters_of_the_ex_ante_are_in_an_unverified_note(registry: Engine) -> None:
    with registry.connect() as c:
        frozen = json.loads(
            c.execute(text("SELECT exante_json FROM project WHERE code = 'L1'")).scalar_one()
        )
    flagged = frozen["unverified_parameters"]
    assert "culm_a" in flagged and "bamboo_project_culm_increase" in flagged
    doc, raw = _document(registry, "L1")
    exante = next(s for s in doc.sections if s.number == "7")
    notes = [b.text for b in exante.blocks if isinstance(b, Note) and b.kind == "unverified"]
    assert len(notes) == 1
    for name in flagged:
        assert re.search(rf"{re.escape(name)}：", notes[0]), name
        assert any(u.startswith(f"{name}：") for u in doc.unverified)
    # in Word: the shaded note, and Annex B lists every unverified parameter
    texts = _texts(raw)
    boxed = [t for t in texts if t.startswith("未核实 UNVERIFIED：事前估计")]
    assert len(boxed) == 1 and all(name in boxed[0] for name in flagged)
    annex = texts[next(i for i, t in enumerate(texts) if t.startswith("附件 B")) :]
    for name in flagged:
        assert any(t.startswith(f"{name}：") for t in annex), name
    # the sharing rule gave no sources: the eco-compensation section flags it
    rule_section = next(s for s in doc.sections if s.number == "11")
    assert any(isinstance(b, Note) and b.kind == "unverified" for b in rule_section.blocks)


def test_a_draft_without_frozen_ex_ante_is_documented_as_such(registry: Engine) -> None:
    doc, raw = _document(registry, "D1")
    body = "\n".join(_texts(raw))
    for k in doc.key_figures:
        assert k.shown in body, k
    figures = {k.key: k for k in doc.key_figures}
    assert figures["exante_total_tco2e"].value == "—"
    assert not any(k.startswith("exante_2") for k in figures)
    assert "项目尚未登记" in body
    with registry.connect() as c:
        n = c.execute(text(
            "SELECT COUNT(*) FROM project_stand ps JOIN project p ON p.id = ps.project_id "
            "WHERE p.code = 'D1' AND ps.active")).scalar_one()  # fmt: skip
    assert figures["n_stands"].value == n > 0
    # no start measurement: the plan is from the inventory's stand-to-stand variation
    assert isinstance(figures["plots_needed"].value, int) and figures["plots_needed"].value >= 2
    assert "尚无开始测定" in body


def test_the_baseline_names_each_stratum_and_works_the_frozen_growth_curve() -> None:
    """§4 from a frozen ex-ante (the forest-management trace's shape): each stratum's key is a
    heading over its own notes, the shared note is listed once, and V(20) is worked with the
    FROZEN a, b, c (hand-computed here)."""
    from registry.documents.pdd import _baseline

    shared = "baseline: continuation of current management"
    traces = {
        key: {"steps": [
            {"equation": "chapman_richards", "reference": "growth", "formula": "V(t) = a(1 − e^(−bt))^c",
             "note": f"a={a:.1f} m³/ha, b={b:.4f}/yr, c={c:.3f}; n=12, RMSE=9.0 m³/ha, R²=0.900; fit"},
            {"equation": "stock_difference", "note": shared},
        ]}
        for key, a, b, c in (("chinese_fir|II", 310.0, 0.0625, 1.8), ("masson_pine|III", 250.0, 0.05, 2.0))
    }  # fmt: skip
    section = _baseline(None, {"traces": traces}, pd.DataFrame({"item": []}))  # type: ignore[arg-type]
    texts = [b.text for b in section.blocks if isinstance(b, Paragraph)]
    assert texts.count(f"• {shared}") == 1
    heads = [t for t in texts if t.startswith("层 Stratum")]
    assert len(heads) == 2 and "chinese_fir" in heads[0] and "site class II" in heads[0]
    assert "masson_pine" in heads[1] and "site class III" in heads[1]
    worked = next(b for b in section.blocks if isinstance(b, Equation))
    v20 = 310.0 * (1 - math.exp(-0.0625 * 20)) ** 1.8  # = 310 × (1 − e^−1.25)^1.8
    assert f"{v20:,.1f} m³/ha" in worked.worked and "310 ×" in worked.worked
    assert "chinese_fir|II" in worked.where[0]


def _afforestation(engine: Engine, folder: Path) -> None:
    """An afforestation project registered, its start measurement (bare land: zero stock) and a
    first period monitored and verified five years on."""
    from registry.carbon_model import fit_and_store_growth
    from registry.stands import ImportOptions, import_inventory
    from tests.inventory_files import sample_frame, write_gpkg

    gpkg = write_gpkg(sample_frame(300, 21), folder / "s.gpkg")
    import_inventory(engine, gpkg, ImportOptions(inventory_year=2020))
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)
    draft(engine, "AF", "CCER-14-001-V01", "land_class=规划造林地|其他宜林地", name="造林测试")
    stands = register(engine, "AF")
    plots = remeasured(engine, stands, "CCER-14-001-V01", 5)
    monitor_and_verify(engine, "AF", plots, date(2026, 1, 1), date(2031, 1, 1))


def test_afforestation_plots_needed_use_the_latest_kept_periods_cv(
    scenario: Callable[..., Engine],
) -> None:
    """At the start the stock is zero (CV undefined): §8 takes each stratum's CV from the latest
    kept period's plots — the stratified estimate of the stored period, read here from its
    CSVs — and says so, instead of "—" without a word."""
    engine = scenario("pdd-afforestation", _afforestation)
    with engine.connect() as c:
        period_no, plots_csv, strata_csv = c.execute(text(
            "SELECT m.period_no, m.plots_csv, m.strata_csv FROM monitoring_period m "
            "JOIN project p ON p.id = m.project_id WHERE p.code = 'AF'")).one()  # fmt: skip
    later = estimate(read_csv(plots_csv), read_csv(strata_csv), True).strata
    doc, raw = _document(engine, "AF")
    body = "\n".join(_texts(raw))
    assert f"取自第 {period_no} 监测期" in body and f"plots of period {period_no}" in body
    plan = next(b for s in doc.walk() if s.number == "8" for b in s.blocks if isinstance(b, Table))
    shown = {row[0]: row[3] for row in plan.rows}
    for stratum, cv in zip(later["stratum"], later["cv"], strict=True):
        assert shown[str(stratum)] == f"{float(cv):.4f}"


def test_word_metadata_is_the_registrys_and_the_generation_time() -> None:
    from datetime import UTC, datetime, timedelta

    from tests.documents.sample import sample_document

    before = datetime.now(UTC).replace(microsecond=0)
    raw = render_docx(sample_document("SP-TEST-01"))
    after = datetime.now(UTC)
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        core = z.read("docProps/core.xml").decode("utf-8")
    assert "python-docx" not in core.lower() and "2013" not in core
    props = docx.Document(io.BytesIO(raw)).core_properties
    assert props.author == props.last_modified_by == "tanhui 登记簿"
    assert props.subject == "SP-TEST-01" and props.title.startswith("项目设计文件")
    for stamp in (props.created, props.modified):
        assert before - timedelta(seconds=1) <= stamp.replace(tzinfo=UTC) <= after


def test_the_charts_two_y_axes_put_zero_at_the_same_height() -> None:
    """Bars from −50 to 200 t CO2e/yr and a running total from −50 to 250 t CO2e: without
    alignment matplotlib puts each axis' zero at its own height."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from registry.documents.figures import align_zero, exante_chart_png, zero_fraction

    for net in ([-50.0, 100.0, 200.0], [10.0, 20.0, 30.0], [-40.0, -10.0, 5.0], [-5.0, -5.0, -5.0]):
        fig, ax = plt.subplots()
        ax.bar([1, 2, 3], net)
        right = ax.twinx()
        running = [sum(net[: i + 1]) for i in range(len(net))]
        right.plot([1, 2, 3], running)
        align_zero(ax, right)
        for axis, values in ((ax, net), (right, running)):
            low, high = axis.get_ylim()
            assert low <= min(0.0, *values) and high >= max(0.0, *values)
        assert abs(zero_fraction(ax) - zero_fraction(right)) < 1e-9, net
        plt.close(fig)
    assert exante_chart_png([2026, 2027, 2028], [-50.0, 100.0, 200.0], "t").startswith(b"\x89PNG")


def test_the_text_says_what_is_stored_and_what_is_computed_now(registry: Engine) -> None:
    """§1 does not claim every figure is stored; plots needed are "the fewest n that meet the
    target", not "iterated"; no issue-tracker citation in the public text."""
    _, raw = _document(registry, "L1")
    body = "\n".join(_texts(raw))
    assert "every figure is the registry's stored value" not in body
    assert "computed at generation from the current parameters" in body
    assert "在生成时按当前参数计算" in body
    assert "迭代" not in body and "iterated" not in body
    assert "the fewest n that meet the target" in body
    assert "issue #18" not in body


def test_the_representative_stand_equation_uses_the_frozen_parameters(registry: Engine) -> None:
    """D1 (chinese fir, forest management): given frozen CF, SVD, BEF, R that differ from
    today's, the worked equation uses the frozen ones — C = 44/12 × CF × V × SVD × BEF × (1 + R)
    recomputed here by hand — and says so; without them it says it uses current values."""
    from registry.documents.pdd import _representative
    from registry.projects.core import find_project, stands_of

    with session_scope(registry) as s:
        p = find_project(s, "D1")
        frame = stands_of(s, p)
        frozen = {f"{n}[chinese_fir]": {"value": v} for n, v in (
            ("wood_density_t_per_m3", 0.5), ("bef", 1.5), ("root_shoot_ratio", 0.25),
            ("carbon_fraction", 0.4))}  # fmt: skip
        worked = _representative(p, frame, frozen)
        today = _representative(p, frame, {})
    assert worked is not None and today is not None
    largest = frame.sort_values(["area_ha", "stand_id"], ascending=[False, True]).iloc[0]
    volume = float(largest["volume_m3_per_ha"]) * float(largest["area_ha"])
    c = 44 / 12 * 0.4 * volume * 0.5 * 1.5 * (1 + 0.25)
    assert worked.worked.endswith(f"= {c:,.3f} t CO2e")
    assert f"44/12 × 0.4 × {volume:,.3f} × 0.5 × 1.5 × (1 + 0.25)" in worked.worked
    assert "values frozen at registration" in worked.where[-1]
    assert "current values" in today.where[-1] and today.worked != worked.worked
