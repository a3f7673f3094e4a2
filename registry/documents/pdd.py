"""The project design document (项目设计文件, PDD) written from the registry's data.

:func:`build_pdd` reads one project — its row and frozen ex-ante, its member stands and their
geometries, the applicability report, the evidence, the start measurement, the grievances'
count and the benefit-sharing rule — and returns a :class:`~registry.documents.model.Document`
(renderers lay it out: :func:`registry.documents.docx_render.render_docx`). Every number is the
registry's own (the frozen ex-ante as stored at registration; parameters with the sources and
status flags frozen with it); nothing is typed in by hand.

Structure: the official 2023 template of the design document (《温室气体自愿减排项目设计与实施
指南》, 国家气候战略中心, November 2023, and its annexes) could not be retrieved by our search
(only news of its publication was found), so the sections follow issue #18's list, which
mirrors the CDM/CCER design-document order: description, boundary, applicability, baseline and
additionality, carbon pools, crediting period, ex-ante, monitoring, impacts, stakeholders,
eco-compensation. The document says so in an ``info`` note.

Privacy (RULES 8): stands show their owner's *kind*; a right holder is named only when it is
not a household (:func:`registry.public.stands.public_owner`); free text staff wrote (project
name, developer, payees) passes through :func:`registry.public.withhold.withhold_household_names`;
grievances are counted, never quoted.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from methodologies import bamboo, catalogue
from methodologies.catalogue import MethodologyKind
from methodologies.expost import estimate, plots_needed
from methodologies.parameters import Parameter, bamboo_parameters, defaults, species_parameters
from methodologies.provenance import EQUATIONS
from methodologies.species import SpeciesGroup
from methodologies.trees import stand_tree_carbon
from methodologies.uncertainty import deduction_rule, t_value
from registry.compensation.rules import BASIS_NAMES, PARTY_NAMES, find_rule
from registry.db import DriverSQL
from registry.documents.figures import exante_chart_png, project_map_png
from registry.documents.model import (
    Block,
    Document,
    Equation,
    Figure,
    KeyFigure,
    Note,
    Paragraph,
    Section,
    Table,
    fmt,
)
from registry.errors import NotFound
from registry.models import MonitoringPeriod, Owner, Project, ProjectStand, Stand
from registry.projects.core import find_project, stands_of
from registry.projects.evidence import project_evidence
from registry.projects.membership import conflicts
from registry.projects.monitoring import read_csv
from registry.projects.views import frozen_exante
from registry.public.as_of import data_as_of
from registry.public.stands import public_owner
from registry.public.withhold import withhold_household_names
from registry.settings import Settings

__all__ = ["OFFICIAL_TEMPLATE_NOTE", "SECTION_HEADINGS", "build_pdd"]

SECTION_HEADINGS = (
    "项目描述 Project description",
    "项目边界与小班 Project boundary and stands",
    "方法学适用性 Applicability of the methodology",
    "基准线与额外性 Baseline and additionality",
    "碳库与排放源 Carbon pools and emission sources",
    "计入期 Crediting period",
    "事前碳汇量估计 Ex-ante estimate of net removals",
    "监测计划 Monitoring plan",
    "环境与社会影响 Environmental and social impacts",
    "利益相关方意见 Stakeholder consultation",
    "生态补偿安排 Eco-compensation arrangement",
)
"""The top-level headings, in order (numbered 1 … 11)."""

OFFICIAL_TEMPLATE_NOTE = (
    "本文件结构未能对照官方模板：《温室气体自愿减排项目设计与实施指南》（国家气候战略中心，2023 年 11 月）"
    "及其附件中的项目设计文件模板未能检索到原文，章节按 CDM/CCER 项目设计文件的"
    "通常顺序编排；提交前请按官方模板核对。 / The official design-document template (annexes of "
    "the 2023 Guide for the design and implementation of voluntary GHG emission reduction "
    "projects) could not be retrieved; the sections follow the usual CDM/CCER "
    "design-document order. Check against the official template before submission."
)

OWNER_KIND_ZH = {"household": "农户 household", "collective": "村集体 collective",
                 "state": "国有 state", "enterprise": "企业/合作社 enterprise"}  # fmt: skip
HOUSEHOLD_SHOWN = "（农户，不公开 / household, not shown）"
MAX_LISTED = 20  # failing stands listed per rule before "… and N more"
POOLS = {  # equation of the frozen trace → the carbon pools it accounts for
    "carbon_stock_trees": "林木地上与地下生物量 above- and below-ground tree biomass",
    "shrub_carbon": "灌木生物量 shrub biomass",
    "bamboo_stand_carbon": "竹子地上与地下生物量 above- and below-ground bamboo biomass",
}
NOT_COUNTED_POOLS = "枯落物、枯死木、土壤有机碳 litter, dead wood, soil organic carbon"


@dataclass(frozen=True)
class _StandRow:
    key: str
    township: str
    village: str
    species_group: str
    age_years: float | None
    area_ha: float
    owner_kind: str | None
    owner_shown: str
    geom: shapely.Geometry


def _member_stands(session: Session, project: Project) -> list[_StandRow]:
    rows = session.execute(
        select(col(Stand.stand_key), col(Stand.township), col(Stand.village),
               col(Stand.species_group), col(Stand.age_years), col(Stand.area_ha),
               col(Owner.name), col(Owner.kind), func.ST_AsBinary(Stand.geom))
        .join(ProjectStand, (col(ProjectStand.stand_key) == col(Stand.stand_key))
              & (col(ProjectStand.project_id) == project.id) & col(ProjectStand.active).is_(True))
        .outerjoin(Owner, col(Owner.id) == col(Stand.owner_id))
        .where(col(Stand.is_current).is_(True))
        .order_by(col(Stand.stand_key))
    ).all()  # fmt: skip
    out = []
    for key, town, village, group, age, area, name, kind, wkb in rows:
        shown = public_owner(name, kind) or (HOUSEHOLD_SHOWN if kind == "household" else "—")
        out.append(_StandRow(key, town or "", village or "", group or "—",
                             None if age is None else float(age), float(area), kind, shown,
                             shapely.from_wkb(bytes(wkb))))  # fmt: skip
    return out


def _boundary(session: Session, project: Project) -> shapely.Geometry | None:
    wkb = session.execute(
        select(func.ST_AsBinary(Project.boundary)).where(col(Project.id) == project.id)
    ).scalar()
    return None if wkb is None else shapely.from_wkb(bytes(wkb))


def _private_free(session: Session, *texts: str) -> list[str]:
    return withhold_household_names(session, list(texts))


def _unverified_line(name: str, status: str, source: str) -> str:
    return f"{name}：{status}（来源 source: {source}）"


# --- 1 description ----------------------------------------------------------------------------


def _description(p: Project, name: str, developer: str, stands: list[_StandRow],
                 last_year: int) -> Section:  # fmt: skip
    towns = sorted({s.township for s in stands if s.township})
    rows = (
        ("项目名称 Project name", name),
        ("项目编号 Project code", p.code),
        ("方法学 Methodology", catalogue.methodology(p.methodology).name),
        ("项目业主 Developer", developer),
        ("登记状态 Status", p.status),
        ("开始日期 Start date", p.start_date.isoformat()),
        (
            "计入期 Crediting period",
            f"{p.crediting_years} 年 years（{p.start_date.year}–{last_year}）",
        ),
        ("项目面积 Project area", fmt(p.area_ha, 2, "ha")),
        ("小班数 Stands", fmt(p.n_stands)),
        ("所在乡镇 Townships", "、".join(towns) or "—"),
    )
    return Section("1", SECTION_HEADINGS[0], (
        Paragraph(f"{name}（{p.code}）按方法学 {p.methodology} 开发，由 {developer} 实施，"
                  f"包括 {p.n_stands} 个小班、{fmt(p.area_ha, 2)} 公顷。本文件由 tanhui 登记簿的数据"
                  "生成：事前估计、基线与面积为登记簿所存之值（事前估计为登记时冻结的）；适用性检查、所需样地数与"
                  "代表性小班的碳储量算式在生成时按当前参数计算。 / Generated from the tanhui registry: the "
                  "ex-ante (frozen at registration), baseline and areas are stored values; the "
                  "applicability checks, plots needed and the representative stand equation are "
                  "computed at generation from the current parameters."),
        Table("项目概况 Project at a glance", ("项目 Item", "内容 Value"), rows),
        Note("info", OFFICIAL_TEMPLATE_NOTE),
    ))  # fmt: skip


# --- 2 boundary and stands --------------------------------------------------------------------


def _boundary_section(p: Project, stands: list[_StandRow], boundary: shapely.Geometry | None,
                      name: str) -> Section:  # fmt: skip
    by_group: dict[str, list[_StandRow]] = {}
    for s in stands:
        by_group.setdefault(s.species_group, []).append(s)
    summary = tuple(
        (g, fmt(len(rows)), fmt(sum(r.area_ha for r in rows), 2))
        for g, rows in sorted(by_group.items())
    )
    kinds = Counter(s.owner_kind or "—" for s in stands)
    stand_rows = tuple(
        (s.key, s.township, s.village, s.species_group,
         "—" if s.age_years is None else fmt(s.age_years), fmt(s.area_ha, 2),
         OWNER_KIND_ZH.get(s.owner_kind or "", "—"), s.owner_shown)
        for s in stands
    )  # fmt: skip
    blocks: list[Block] = [
        Paragraph(f"项目边界为 {p.n_stands} 个小班几何的并集，面积 {fmt(p.area_ha, 2)} 公顷（CGCS2000 椭球面"
                  "等积投影计算）。 / The project boundary is the union of its stands' geometries; "
                  "area computed on an equal-area projection of the CGCS2000 ellipsoid."),
        Figure("项目边界与小班分布图（按树种组着色） Project boundary and stands by species group",
               project_map_png([(s.geom, s.species_group) for s in stands], boundary,
                               f"{name}（{p.code}）")),
        Table("按树种组汇总 Stands by species group", ("树种组 Species group", "小班数 Stands",
              "面积 Area (ha)"), summary, numeric=(1, 2)),
        Table("小班一览 Stands of the project",
              ("小班 Stand", "乡镇 Township", "村 Village", "树种组 Species group", "林龄 Age (a)",
               "面积 Area (ha)", "权属 Owner kind", "权利人 Right holder"), stand_rows,
              numeric=(4, 5),
              notes=("农户姓名不在公开文件中出现（DEVELOPERS.md 隐私规则）；权利人仅列村集体、国有林场与企业。"
                     " / Household names never appear in public documents; only collectives, "
                     "state farms and enterprises are named.",
                     "权属统计 owner kinds: " + "，".join(
                         f"{OWNER_KIND_ZH.get(k, k)} {n}" for k, n in sorted(kinds.items())))),
    ]  # fmt: skip
    return Section("2", SECTION_HEADINGS[1], tuple(blocks))


# --- 3 applicability ---------------------------------------------------------------------------


def _applicability(session: Session, p: Project, tolerance_m2: float) -> Section:
    stands = stands_of(session, p)
    if stands.empty:
        return Section(
            "3", SECTION_HEADINGS[2], (Paragraph("项目没有小班。 / The project has no stands."),)
        )
    report = catalogue.check_eligibility(
        p.methodology, stands, p.start_date.year, p.planted_group or "chinese_fir",
        project_evidence(session, p), p.start_date,
    )  # fmt: skip
    clashes = conflicts(session, p, stands["stand_id"].tolist(), tolerance_m2)
    extra = [(c["stand"], "no_double_counting", False, "", "", "registry: one stand, one project")
             for c in clashes]  # fmt: skip
    rules = list(dict.fromkeys(report["rule"]))
    if "no_double_counting" not in rules:
        rules.append("no_double_counting")
    rows = []
    n_stands = len(stands)
    for rule in rules:
        part = report[report["rule"] == rule]
        failing = sorted(set(part.loc[~part["passed"].astype(bool), "stand_id"].astype(str))
                         | {str(e[0]) for e in extra if e[1] == rule})  # fmt: skip
        if rule == "no_double_counting":
            source, n_checked = "registry: one stand, one project", n_stands
        else:
            source, n_checked = str(part["source"].iloc[0]), part["stand_id"].nunique()
        listed = "、".join(failing[:MAX_LISTED]) + (
            f" 等共 {len(failing)} 个 ({len(failing)} in all)" if len(failing) > MAX_LISTED else ""
        )
        rows.append((rule, source, fmt(n_checked - len(failing)), fmt(len(failing)), listed or "—"))
    n_failing = sum(int(row[3].replace(",", "")) for row in rows)
    blocks: list[Block] = [
        Paragraph(f"按 {p.methodology} 的适用条件，用登记簿现有的小班数据与证据逐个小班检查（检查时间即本文件生成时）。"
                  " / Each stand checked against each applicability rule of the methodology, with "
                  "the registry's current stand data and evidence."),
        Table("适用条件检查汇总 Applicability by rule", ("规则 Rule", "依据 Source",
              "通过 Pass", "不通过 Fail", "不通过的小班 Failing stands"), tuple(rows),
              numeric=(2, 3)),
    ]  # fmt: skip
    if n_failing:
        blocks.append(
            Note(
                "warning",
                "有小班不满足适用条件（见上表）。 / Some stands fail a rule (see the table).",
            )
        )
    return Section("3", SECTION_HEADINGS[2], tuple(blocks))


# --- 4 baseline, 5 pools -----------------------------------------------------------------------


def _trace_steps(exante: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for t in exante.get("traces", {}).values() for s in t.get("steps", [])]


_CURVE_NOTE = re.compile(r"a=(?P<a>[0-9.]+) m³/ha, b=(?P<b>[0-9.]+)/yr, c=(?P<c>[0-9.]+)")
WORKED_AGE_YEARS = 20  # the age at which the growth curve is worked out with numbers


def _stratum_title(key: str) -> str:
    """A trace's key as a heading: ``chinese_fir|II`` → species group and site class."""
    if "|" in key:
        group, site = key.split("|", 1)
        return f"层 Stratum：树种组 species group {group} · 立地等级 site class {site}"
    return f"层 Stratum：{key}"


def _growth_curve(exante: dict[str, Any]) -> Equation | None:
    """The first frozen trace's Chapman–Richards curve, worked at :data:`WORKED_AGE_YEARS`
    years with the parameters frozen at registration (not today's fitted defaults):
    V(t) = a(1 − e^(−bt))^c, m³/ha."""
    for key, trace in exante.get("traces", {}).items():
        for step in trace.get("steps", []):
            found = _CURVE_NOTE.search(str(step.get("note", "")))
            if step.get("equation") != "chapman_richards" or found is None:
                continue
            a, b, c = (float(found[x]) for x in "abc")
            t = WORKED_AGE_YEARS
            v = a * (1.0 - math.exp(-b * t)) ** c
            return Equation(
                str(step.get("reference", "")), str(step.get("formula", "")),
                f"V({t}) = {a:g} × (1 − e^(−{b:g} × {t}))^{c:g} = {v:,.1f} m³/ha",
                (f"层 stratum: {key}（登记时冻结的事前估计 the frozen ex-ante）",
                 f"a: 最大蓄积 asymptote = {a:g} m³/ha", f"b: 生长速率 rate = {b:g} /yr",
                 f"c: 形状参数 shape = {c:g}", f"t: 林龄 age = {t} 年 years"),
            )  # fmt: skip
    return None


def _baseline(p: Project, exante: dict[str, Any], evidence: pd.DataFrame) -> Section:
    traces = exante.get("traces", {})
    notes_of = {
        k: [s["note"] for s in t.get("steps", []) if s.get("note")] for k, t in traces.items()
    }
    shared = [n for n in dict.fromkeys(n for ns in notes_of.values() for n in ns)
              if len(notes_of) > 1 and all(n in ns for ns in notes_of.values())]  # fmt: skip
    by_year = exante.get("by_year", [])
    blocks: list[Block] = [
        Paragraph("基准线情景：登记时冻结的事前估计中方法学所述的基准线假设如下（先列各层共同的，再逐层列出）。 / "
                  "Baseline scenario as the frozen ex-ante's methodology steps state it (common to "
                  "every stratum first, then stratum by stratum):"),
    ]  # fmt: skip
    blocks += [Paragraph(f"• {n}") for n in shared]
    for key, notes in notes_of.items():
        own = [n for n in dict.fromkeys(notes) if n not in shared]
        if own:
            blocks.append(Paragraph(_stratum_title(key)))
            blocks += [Paragraph(f"• {n}") for n in own]
    if not notes_of or not any(notes_of.values()):
        blocks.append(Paragraph("—"))
    curve = _growth_curve(exante)
    if curve is not None:
        blocks += [Paragraph(f"生长曲线示例（林龄 {WORKED_AGE_YEARS} 年）/ A growth curve worked out:"),
                   curve]  # fmt: skip
    if by_year:
        first, last = by_year[0], by_year[-1]
        blocks.append(Paragraph(
            f"基线碳储量 baseline stock: {first['year']} 年末 {fmt(first['baseline_stock'], 1, 't CO2e')}，"
            f"{last['year']} 年末 {fmt(last['baseline_stock'], 1, 't CO2e')}；计入期基线变化合计 "
            f"{fmt(sum(r['baseline_change'] for r in by_year), 1, 't CO2e')}。"))  # fmt: skip
    items = Counter(evidence["item"]) if len(evidence) else Counter()
    blocks.append(Paragraph(
        f"登记簿持有的证据：{len(evidence)} 条（" + "，".join(f"{k} {v}" for k, v in sorted(items.items()))
        + "）。 / Evidence held by the registry (applicability observations and declarations)."
        if len(evidence) else "登记簿没有该项目的证据记录。 / The registry holds no evidence for this project."))  # fmt: skip
    blocks.append(Note("info",
        "额外性：登记簿不保存额外性论证（投资分析、障碍分析、普遍性分析），本节须由项目业主按方法学补充。 / "
        "Additionality: the registry holds no additionality demonstration (investment, barrier "
        "or common-practice analysis); the developer must supply this section."))  # fmt: skip
    return Section("4", SECTION_HEADINGS[3], tuple(blocks))


def _pools(exante: dict[str, Any]) -> Section:
    used = list(dict.fromkeys(s["equation"] for s in _trace_steps(exante)))
    pools = [POOLS[e] for e in used if e in POOLS]
    emission_notes = [
        s["note"] for s in _trace_steps(exante) if s["equation"] == "net_removals" and s.get("note")
    ]
    rows = tuple(
        (pool, "计入 included", "事前估计所用方程 equations of the frozen ex-ante")
        for pool in pools
    )
    rows += ((NOT_COUNTED_POOLS, "未计入 not included",
              "登记簿计算不含这些碳库（保守）；以方法学原文为准 the registry's calculation leaves them "
              "out (conservative); check against the methodology"),)  # fmt: skip
    return Section("5", SECTION_HEADINGS[4], (
        Table("碳库 Carbon pools", ("碳库 Pool", "是否计入 Included", "依据 Basis"), rows),
        Paragraph("排放源与泄漏 Emission sources and leakage: " + ("；".join(dict.fromkeys(emission_notes))
                  or "—") + "（事前估计中项目排放 GHG_E 与泄漏 LK 按 0 计 / GHG_E and LK are zero in the "
                  "frozen ex-ante）。"),
    ) if exante else (Paragraph("项目尚未登记，事前估计未冻结。 / Not registered: no frozen ex-ante."),))  # fmt: skip


# --- 6 crediting period ------------------------------------------------------------------------


def _crediting(p: Project, last_year: int) -> Section:
    end = date(p.start_date.year + p.crediting_years, p.start_date.month, p.start_date.day)
    buffer = ("未评估（按登记簿最低比例） not assessed (registry minimum applies)" if p.buffer_pct is None
              else fmt(p.buffer_pct, 1, "%"))  # fmt: skip
    return Section("6", SECTION_HEADINGS[5], (
        Table("计入期 Crediting period", ("项目 Item", "内容 Value"), (
            ("开始日期 Start", p.start_date.isoformat()),
            ("长度 Length", f"{p.crediting_years} 年 years"),
            ("首年 First year", str(p.start_date.year)),
            ("末年 Last year", str(last_year)),
            ("结束日期 End (exclusive)", end.isoformat() if (p.start_date.month, p.start_date.day) != (2, 29) else "—"),
            ("非持久性风险缓冲比例 Buffer share", buffer),
        )),
    ))  # fmt: skip


# --- 7 ex-ante ---------------------------------------------------------------------------------


def _parameters(exante: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for step in _trace_steps(exante):
        for prm in step.get("parameters", []):
            out.setdefault(prm["name"], prm)
    return out


def _value_text(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "—"
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def _frozen_values(frozen: dict[str, dict[str, Any]], names: dict[str, str],
                   current: dict[str, float]) -> tuple[dict[str, float], str]:  # fmt: skip
    """The parameters a worked equation uses: the values frozen with the ex-ante at
    registration when every one of ``names`` is there, otherwise today's (and it says which)."""
    if all(n in frozen for n in names.values()):
        values = {k: float(frozen[n]["value"]) for k, n in names.items()}
        return values, "登记时冻结的参数值 values frozen at registration"
    return current, "当前参数值（尚无冻结的事前估计） current values (no frozen ex-ante yet)"


def _representative(
    p: Project, stands: pd.DataFrame, frozen: dict[str, dict[str, Any]]
) -> Equation | None:
    """The stand-carbon equation with the numbers of the project's largest stand (its
    parameters those frozen with the ex-ante where they exist)."""
    record = catalogue.methodology(p.methodology)
    if stands.empty or record.kind is MethodologyKind.AFFORESTATION:
        return None
    computed = record.computed(stands)
    row = computed.sort_values(["area_ha", "stand_id"], ascending=[False, True]).iloc[0]
    area = float(row["area_ha"])
    if record.kind is MethodologyKind.BAMBOO:
        table = bamboo_parameters()
        used, origin = _frozen_values(
            frozen, {"cf": "carbon_fraction", "r": "root_shoot_ratio"},
            {"cf": table["carbon_fraction"].value, "r": table["root_shoot_ratio"].value},
        )  # fmt: skip
        cf, r = used["cf"], used["r"]
        n, d = float(row["culms_per_ha"]), float(row["mean_dbh_cm"])
        shares = bamboo.default_age_shares()
        masses = {du: float(bamboo.culm_biomass_kg(d, du)) for du in shares}
        mean_mass = sum(shares[du].value * masses[du] for du in shares)
        total = 44.0 / 12.0 * cf * (1.0 + r) * n * mean_mass / 1000.0 * area
        eq = EQUATIONS["bamboo_stand_carbon"]
        terms = " + ".join(f"{shares[du].value:g} × {masses[du]:.3f}" for du in shares)
        return Equation(
            eq.reference, eq.formula,
            f"C = 44/12 × {cf:g} × (1 + {r:g}) × {n:,.0f} × ({terms}) / 1000 × {area:.4f} "
            f"= {total:,.3f} t CO2e",
            (f"小班 stand: {row['stand_id']}（面积最大 the largest）",
             f"N: 立竹度 culms per ha = {n:,.0f}（小班调查 inventory）",
             f"D: 平均胸径 mean DBH (cm) = {d:g}（小班调查 inventory）",
             *(f"M(D, A={du} 度): 单株生物量 culm biomass (kg) = {masses[du]:.3f}（{EQUATIONS['bamboo_culm_biomass'].formula}）"
               for du in shares),
             f"Σ share × M = {mean_mass:.3f} kg",
             f"CF = {cf:g}, R = {r:g}（{origin}；见参数表 see the parameter table）"),
        )  # fmt: skip
    group = str(row["species_group"])
    prm = species_parameters()[SpeciesGroup(group)]
    used, origin = _frozen_values(
        frozen, {k: x.name for k, x in zip(("svd", "bef", "r", "cf"), prm.all(), strict=True)},
        {k: x.value for k, x in zip(("svd", "bef", "r", "cf"), prm.all(), strict=True)},
    )  # fmt: skip
    volume = float(row["volume_m3_per_ha"]) * area
    total = 44.0 / 12.0 * used["cf"] * volume * used["svd"] * used["bef"] * (1.0 + used["r"])
    eq = EQUATIONS["carbon_stock_trees"]
    return Equation(
        eq.reference, eq.formula,
        f"C = 44/12 × {used['cf']:g} × {volume:,.3f} × {used['svd']:g} × "
        f"{used['bef']:g} × (1 + {used['r']:g}) = {total:,.3f} t CO2e",
        (f"小班 stand: {row['stand_id']}（面积最大 the largest）, {group}",
         f"V = {float(row['volume_m3_per_ha']):g} m³/ha × {area:.4f} ha = {volume:,.3f} m³（小班调查 inventory）",
         f"CF, SVD, BEF, R: {group}（{origin}；见参数表 see the parameter table）"),
    )  # fmt: skip


def _exante(p: Project, exante: dict[str, Any], stands: pd.DataFrame,
            name: str) -> tuple[Section, list[str]]:  # fmt: skip
    by_year = exante.get("by_year", [])
    if not by_year:
        return Section("7", SECTION_HEADINGS[6], (
            Paragraph("项目尚未登记：事前估计在登记时冻结，此前不写入设计文件。 / Not registered yet: the "
                      "ex-ante is frozen at registration."),)), []  # fmt: skip
    rows = tuple(
        (str(r["year"]), fmt(r["project_change"], 1), fmt(r["baseline_change"], 1),
         fmt(r["leakage"], 1), fmt(r["project_emissions"], 1), fmt(r["net_removals"], 1),
         fmt(r["cumulative_net_removals"], 1))
        for r in by_year
    )  # fmt: skip
    total = p.exante_total_tco2e
    rows += (("合计 Total", fmt(sum(r["project_change"] for r in by_year), 1),
              fmt(sum(r["baseline_change"] for r in by_year), 1), fmt(sum(r["leakage"] for r in by_year), 1),
              fmt(sum(r["project_emissions"] for r in by_year), 1), fmt(total, 1), ""),)  # fmt: skip
    i = 1 if len(by_year) > 1 else 0
    cur, prev = by_year[i], by_year[i - 1] if i else None
    equations: list[Block] = []
    if prev is not None:
        sd = EQUATIONS["stock_difference"]
        equations.append(Equation(
            sd.reference, sd.formula,
            f"ΔC_P({cur['year']}) = ({fmt(cur['project_stock'], 1)} − {fmt(prev['project_stock'], 1)}) / 1 "
            f"= {fmt(cur['project_change'], 1)} t CO2e/yr",
            (f"C_P: 项目碳储量（年末） project stock at the end of {prev['year']} and {cur['year']} (t CO2e)，登记时冻结 frozen at registration",),
        ))  # fmt: skip
    nr = EQUATIONS["net_removals"]
    actual = cur["project_change"] - cur["project_emissions"]
    equations.append(Equation(
        nr.reference, nr.formula,
        f"{cur['year']}: ΔC_ACTUAL = {fmt(cur['project_change'], 1)} − {fmt(cur['project_emissions'], 1)} "
        f"= {fmt(actual, 1)}；ΔC_AR = {fmt(actual, 1)} − {fmt(cur['baseline_change'], 1)} − "
        f"{fmt(cur['leakage'], 1)} = {fmt(cur['net_removals'], 1)} t CO2e",
        ("ΔC_P: 项目碳储量变化 project stock change (t CO2e/yr)",
         "ΔC_BSL: 基线碳储量变化 baseline stock change (t CO2e/yr)",
         "LK: 泄漏 leakage; GHG_E: 项目排放 project emissions (t CO2e/yr)"),
    ))  # fmt: skip
    stand_eq = _representative(p, stands, _parameters(exante))
    if stand_eq is not None:
        equations.append(stand_eq)
    params = _parameters(exante)
    flagged = list(exante.get("unverified_parameters", []))
    prm_rows = tuple(
        (n, _value_text(v["value"]), str(v["unit"]), str(v["source"]), str(v["status"]),
         "已核实 verified" if v["verified"] else "UNVERIFIED 未核实")
        for n, v in params.items()
    )  # fmt: skip
    unverified = [_unverified_line(n, str(params[n]["status"]), str(params[n]["source"]))
                  for n in flagged if n in params]  # fmt: skip
    blocks: list[Block] = [
        Paragraph(f"事前估计按 {p.methodology} 计算，于登记时冻结（计入期 {by_year[0]['year']}–"
                  f"{by_year[-1]['year']}）。合计净碳汇量 {fmt(total, 1, 't CO2e')}。 / The ex-ante "
                  "as frozen at registration."),
        Table("逐年事前净碳汇量 Ex-ante net removals by year (t CO2e)",
              ("年份 Year", "ΔC_P 项目", "ΔC_BSL 基线", "LK 泄漏", "GHG_E 排放", "ΔC_AR 净碳汇",
               "累计 Cumulative"), rows, numeric=(1, 2, 3, 4, 5, 6),
              notes=("来源：登记时冻结的事前估计（project.exante_json）。 / Source: the ex-ante frozen at registration.",)),
        Figure("逐年事前净碳汇量与累计 Ex-ante net removals by year and cumulative",
               exante_chart_png([int(r["year"]) for r in by_year],
                                [float(r["net_removals"]) for r in by_year], f"{name}（{p.code}）")),
        Paragraph("方程及其代入数值（代表年份与代表小班） / Equations with their numbers (a representative "
                  "year and stand):"),
        *equations,
        Table("事前估计所用参数 Parameters of the ex-ante", ("参数 Parameter", "数值 Value", "单位 Unit",
              "来源 Source", "状态 Status", "核实 Verified"), prm_rows, numeric=(1,)),
    ]  # fmt: skip
    if flagged:
        blocks.append(Note("unverified", "事前估计使用了来源未核实的参数 / the ex-ante uses parameters whose "
                           "source is not verified (UNVERIFIED): " + "；".join(unverified)))  # fmt: skip
    return Section("7", SECTION_HEADINGS[6], tuple(blocks)), unverified


# --- 8 monitoring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlotsPlan:
    total: int | None
    blocks: tuple[Block, ...]
    unverified: tuple[str, ...]


def _plots_equation(stratum: str, cv: float, target: float, n: int) -> Equation:
    eq = EQUATIONS["plots_needed"]
    t = t_value(n - 1)
    return Equation(
        eq.reference, eq.formula,
        f"{stratum}: n = ({t:.3f} × {cv:.4f} / {target:g})² = {(t * cv / target) ** 2:.2f} → n = {n}"
        f"；检验 check: t × CV / √n = {t * cv / math.sqrt(n) * 100:.2f} % ≤ {target * 100:g} %",
        (f"t(0.95, {n - 1}) = {t:.3f}（学生 t 分布 Student's t, 90 % 双侧 two-sided）",
         f"CV: 变异系数 coefficient of variation = {cv:.4f}",
         f"E: 精度目标 precision target = {target:g}（uncertainty_target）",
         "n: 满足 t(0.95, n − 1) × CV / √n ≤ E 的最小整数 the smallest n meeting the target"),
    )  # fmt: skip


def _plots_plan(
    p: Project, stands: pd.DataFrame, latest: MonitoringPeriod | None = None
) -> _PlotsPlan:
    target_p = defaults()["uncertainty_target"]
    target = target_p.value
    record = catalogue.methodology(p.methodology)
    flagged: list[Parameter] = [target_p] if not target_p.verified else []
    if p.start_plots_csv and p.start_strata_csv:
        result = estimate(read_csv(p.start_plots_csv), read_csv(p.start_strata_csv),
                          record.excludes_pre_existing_trees)  # fmt: skip
        strata = result.strata
        cvs = [None if s_cv is None or pd.isna(s_cv) else float(s_cv) for s_cv in strata["cv"]]
        from_period: list[str] = []
        if latest is not None and any(cv is None for cv in cvs):
            # zero stock at the start (before planting): the latest kept period's CV instead
            later = estimate(read_csv(latest.plots_csv), read_csv(latest.strata_csv),
                             record.excludes_pre_existing_trees).strata  # fmt: skip
            cv_of = {str(st): cv for st, cv in zip(later["stratum"], later["cv"], strict=True)
                     if cv is not None and not pd.isna(cv) and math.isfinite(float(cv))}  # fmt: skip
            for i, st in enumerate(strata["stratum"]):
                if cvs[i] is None and str(st) in cv_of:
                    cvs[i] = float(cv_of[str(st)])
                    from_period.append(str(st))
        needed = [None if cv is None else plots_needed(cv, target) for cv in cvs]
        known = [n for n in needed if n is not None]
        total = sum(known) if known else None
        rows = tuple(
            (str(s["stratum"]), fmt(float(s["area_ha"]), 2), fmt(int(s["n_plots"])),
             "—" if cv is None else f"{cv:.4f}", fmt(n))
            for (_, s), cv, n in zip(strata.iterrows(), cvs, needed, strict=True)
        )  # fmt: skip
        source = (f"CV 取自项目开始时的样地测定（{p.start_measured_on}，{len(result.plots)} 个样地）。 / CV from "
                  "the start measurement's plots.")  # fmt: skip
        if from_period:
            source += (f" 开始测定时碳储量为零的层（{'、'.join(from_period)}）的 CV 取自第 "
                       f"{latest.period_no if latest else ''} 监测期（最近一个未被退回的监测期）的样地。 / "
                       f"Strata with no stock at the start ({', '.join(from_period)}): CV from the "
                       f"plots of period {latest.period_no if latest else ''}, the latest kept one.")  # fmt: skip
        if any(cv is None for cv in cvs):
            source += (" 标“—”的层在开始测定时碳储量为零（如造林前尚无林木），变异系数无定义，"
                       "且尚无未被退回的监测期可用，其所需样地数须在首次监测测定后按实测变异系数确定。 / "
                       "A stratum shown “—” had no stock at the start measurement (e.g. before "
                       "planting) and no kept monitoring period measured it yet: its CV is undefined "
                       "and its plots needed follow from the first monitoring measurement.")  # fmt: skip
        ranked = sorted(((n, str(st), cv) for st, cv, n in zip(strata["stratum"], cvs, needed, strict=True)
                         if n is not None and cv is not None), reverse=True)  # fmt: skip
        eq: tuple[Equation, ...] = (
            (_plots_equation(ranked[0][1], ranked[0][2], target, ranked[0][0]),) if ranked else ()
        )
        headers = (
            "层 Stratum",
            "面积 Area (ha)",
            "已测样地 Plots measured",
            "CV",
            "所需样地 Plots needed",
        )
    else:
        computed = record.computed(stands) if not stands.empty else stands
        if record.kind is MethodologyKind.AFFORESTATION or computed.empty:
            return _PlotsPlan(None, (
                Paragraph("造林项目开始时尚无林木，样地数须在首次测定后按实测变异系数确定。 / Before planting "
                          "there is no stock to vary: the plots needed follow from the first measurement."),
                ), tuple(_unverified_line(x.name, x.status, x.source) for x in flagged))  # fmt: skip
        if record.kind is MethodologyKind.BAMBOO:
            density = bamboo.stand_carbon_tco2e(
                computed["culms_per_ha"], computed["mean_dbh_cm"], 1.0
            )
        else:
            density = stand_tree_carbon(
                computed["volume_m3_per_ha"], 1.0, computed["species_group"]
            )
        frame = computed.assign(density=np.asarray(density, dtype=np.float64))
        rows_l: list[tuple[str, str, str, str, str]] = []
        planned, worst = 0, 0
        eqs: list[Equation] = []
        for group, part in frame.groupby("species_group"):
            mean = float(part["density"].mean())
            sd = float(part["density"].std(ddof=1)) if len(part) > 1 else float("nan")
            cv = sd / mean if mean > 0 and math.isfinite(sd) else float("nan")
            n = plots_needed(cv, target) if math.isfinite(cv) else 2
            planned += n
            rows_l.append((str(group), fmt(float(part["area_ha"].sum()), 2), fmt(len(part)),
                           "—" if not math.isfinite(cv) else f"{cv:.4f}", fmt(n)))  # fmt: skip
            if math.isfinite(cv) and (not eqs or n > worst):
                eqs, worst = [_plots_equation(str(group), cv, target, n)], n
        rows, total, eq = tuple(rows_l), planned, tuple(eqs)
        source = ("尚无开始测定：CV 暂以小班调查中各小班每公顷碳储量的变异代替（小班间变异小于样地间变异，"
                  "样地数可能偏少），开始测定后按实测重算。 / No start measurement yet: the CV is the "
                  "stand-to-stand variation of carbon per ha in the inventory, a planning stand-in "
                  "(plot-to-plot variation is larger); recomputed from the start measurement.")  # fmt: skip
        headers = (
            "树种组 Species group",
            "面积 Area (ha)",
            "小班数 Stands",
            "CV",
            "所需样地 Plots needed",
        )
    blocks: list[Block] = [
        Paragraph(f"样地数按 90 % 置信度下 ±{target * 100:g} % 的精度目标确定：n 取满足 t(0.95, n − 1)·CV/√n ≤ E 的最小整数（the fewest n that meet the target）。{source}"),
        Table("所需样地数 Plots needed for ±10 % at 90 % confidence", headers, rows, numeric=(1, 2, 3, 4),
              notes=(f"合计 total: {fmt(total)} 个样地 plots",)),
        *eq,
    ]  # fmt: skip
    return _PlotsPlan(
        total, tuple(blocks), tuple(_unverified_line(x.name, x.status, x.source) for x in flagged)
    )


def _latest_kept_period(session: Session, p: Project) -> MonitoringPeriod | None:
    """The project's latest monitoring period that was not rejected (submitted or verified)."""
    return session.scalars(
        select(MonitoringPeriod)
        .where(col(MonitoringPeriod.project_id) == p.id, col(MonitoringPeriod.status) != "rejected")
        .order_by(col(MonitoringPeriod.period_no).desc())
        .limit(1)
    ).first()


def _monitoring(
    session: Session, p: Project, stands: pd.DataFrame
) -> tuple[Section, _PlotsPlan, list[str]]:
    plan = _plots_plan(p, stands, _latest_kept_period(session, p))
    rule = deduction_rule(p.methodology)
    unverified = list(plan.unverified)
    blocks = list(plan.blocks)
    if not rule.verified:
        unverified.append(_unverified_line(rule.name, rule.status, rule.source))
    ce = EQUATIONS["conservative_deduction"]
    blocks += [
        Paragraph(f"不确定性扣减 Uncertainty deduction: {ce.reference}: {ce.formula}（规则 rule {rule.text}）。"),
        Paragraph("监测内容：永久样地每木检尺（胸径、树高，毛竹记竹度），层面积，干扰与小班变化；每个监测期提交监测报告。"
                  " / Monitored: permanent plots (DBH, height; culm age for moso bamboo), strata areas, "
                  "disturbances and stand changes; a monitoring report per period."),
    ]  # fmt: skip
    if unverified:
        blocks.append(Note("unverified", "监测计划使用了来源未核实的参数 / the monitoring plan uses "
                           "parameters whose source is not verified (UNVERIFIED): " + "；".join(unverified)))  # fmt: skip
    return Section("8", SECTION_HEADINGS[7], tuple(blocks)), plan, unverified


# --- 9 impacts, 10 stakeholders, 11 compensation ------------------------------------------------


def _impacts(session: Session, p: Project) -> Section:
    rows = DriverSQL(session).rows(
        "SELECT COALESCE(s.forest_category, '—'), COUNT(*), SUM(s.area_ha) FROM stand s "
        "JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active "
        "WHERE s.is_current AND ps.project_id = :p GROUP BY COALESCE(s.forest_category, '—') "
        "ORDER BY 1",
        {"p": p.id},
    )
    table = tuple((str(c), fmt(int(n)), fmt(float(a), 2)) for c, n, a in rows)
    return Section("9", SECTION_HEADINGS[8], (
        Paragraph("登记簿所知：项目小班的森林类别与面积如下。 / What the registry knows: the stands' forest "
                  "categories and areas."),
        Table("按森林类别 Stands by forest category", ("森林类别 Forest category", "小班数 Stands",
              "面积 Area (ha)"), table, numeric=(1, 2)),
        Note("info", "环境影响评价、生物多样性与社会影响（就业、收入、社区）的内容登记簿未保存：此处为占位，须由项目业主"
             "补充。 / Environmental impact assessment, biodiversity and social impacts (jobs, income, "
             "community) are not held by the registry: this is a placeholder for the developer."),
    ))  # fmt: skip


def _stakeholders(session: Session, p: Project) -> tuple[Section, int]:
    rows = DriverSQL(session).rows(
        "SELECT status, COUNT(*) FROM grievance WHERE project_code = :p GROUP BY status ORDER BY status",
        {"p": p.code},
    )
    counts = {str(s): int(n) for s, n in rows}
    total = sum(counts.values())
    return Section("10", SECTION_HEADINGS[9], (
        Paragraph(f"登记簿通过项目公开页面接收申诉与意见：共 {total} 件（" + ("，".join(
            f"{k} {v}" for k, v in counts.items()) or "无 none") + "）。内容与提交人不公开。 / Grievances "
            f"received through the project's public page: {total} (by status above); their senders "
            "and texts are not published."),
        Note("info", "利益相关方协商会议（时间、参加者、意见与回应）登记簿未保存：此处为占位，须由项目业主补充。 / "
             "Stakeholder consultation meetings are not held by the registry: placeholder for the developer."),
    )), total  # fmt: skip


def _compensation(session: Session, p: Project, developer: str) -> tuple[Section, list[str]]:
    try:
        rule = find_rule(session, p.code)
    except NotFound:
        return Section("11", SECTION_HEADINGS[10], (
            Paragraph("项目尚未制定收益分配规则（生态补偿安排）。 / No benefit-sharing (eco-compensation) rule "
                      "is set for the project."),)), []  # fmt: skip
    spec = rule.spec
    payees = _private_free(session, *(spec.payee(party, developer) for party in spec.shares))
    rows = tuple(
        (PARTY_NAMES[party], f"{float(share) * 100:.2f} %（{share}）", payee)
        for (party, share), payee in zip(spec.shares.items(), payees, strict=True)
    )
    blocks: list[Block] = [
        Paragraph(f"现行收益分配规则：第 {rule.version} 版（{rule.created_at.date().isoformat()}）。权利人部分按"
                  f"{BASIS_NAMES[spec.basis]}分配。 / Current sharing rule: version {rule.version}."),
        Table("各方份额 Parties' shares", ("分配方 Party", "份额 Share", "收款方 Payee"), rows, numeric=(1,),
              notes=(("每户封顶 cap per owner: " + (f"{spec.cap_per_owner} 元 yuan" if spec.cap_per_owner is not None
                      else "无 none")),
                     f"来源 sources: {'；'.join(spec.sources) or '无 none'}",
                     *((f"股数表：{len(spec.owner_shares)} 户（不公开） income-share table: "
                        f"{len(spec.owner_shares)} owners (not published)",) if spec.owner_shares else ()),
                     *((f"预设 preset: {spec.preset}",) if spec.preset else ()))),
    ]  # fmt: skip
    unverified: list[str] = []
    if spec.unverified:
        line = _unverified_line(f"收益分配规则第 {rule.version} 版 sharing rule v{rule.version}",
                                "未核实 unverified", "；".join(spec.sources) or "无来源 no sources")  # fmt: skip
        unverified.append(line)
        blocks.append(Note("unverified", f"收益分配规则的数字未核实 / the sharing rule's figures are not verified: {line}"
                           + (f"。{spec.note}" if spec.note else "")))  # fmt: skip
    return Section("11", SECTION_HEADINGS[10], tuple(blocks)), unverified


# --- the document ------------------------------------------------------------------------------


def build_pdd(
    session: Session, project_code: str, *, tolerance_m2: float | None = None
) -> Document:
    """The project design document of ``project_code`` from the registry's data (read only).

    ``tolerance_m2``: the overlap tolerance of the double-counting check (m²; default the
    registry's setting ``overlap_tolerance_m2``). Refuses an unknown project
    (:class:`~registry.errors.ProjectNotFound`). Key figures: ``project_area_ha``, ``n_stands``,
    ``exante_total_tco2e``, ``crediting_years``, ``first_year``, ``last_year``,
    ``plots_needed``, ``grievances`` and ``exante_<year>`` for each year of the frozen ex-ante.
    """
    tolerance = Settings().overlap_tolerance_m2 if tolerance_m2 is None else tolerance_m2
    p = find_project(session, project_code)
    name, developer = _private_free(session, p.name, p.developer)
    stands = _member_stands(session, p)
    frame = stands_of(session, p)
    exante = frozen_exante(session, project_code)
    last_year = p.start_date.year + p.crediting_years - 1
    evidence = project_evidence(session, p)
    ex_section, ex_unverified = _exante(p, exante, frame, name)
    mon_section, plan, mon_unverified = _monitoring(session, p, frame)
    stake_section, n_grievances = _stakeholders(session, p)
    comp_section, comp_unverified = _compensation(session, p, developer)
    sections = (
        _description(p, name, developer, stands, last_year),
        _boundary_section(p, stands, _boundary(session, p), name),
        _applicability(session, p, tolerance),
        _baseline(p, exante, evidence),
        _pools(exante),
        _crediting(p, last_year),
        ex_section,
        mon_section,
        _impacts(session, p),
        stake_section,
        comp_section,
    )
    by_year = exante.get("by_year", [])
    keys = [
        KeyFigure("project_area_ha", "项目面积 project area (ha)", p.area_ha, fmt(p.area_ha, 2, "ha")),
        KeyFigure("n_stands", "小班数 stands", p.n_stands, fmt(p.n_stands)),
        KeyFigure("exante_total_tco2e", "事前净碳汇量合计 ex-ante total (t CO2e)",
                  "—" if p.exante_total_tco2e is None else p.exante_total_tco2e,
                  fmt(p.exante_total_tco2e, 1, "t CO2e")),
        KeyFigure("crediting_years", "计入期（年） crediting years", p.crediting_years,
                  f"{p.crediting_years} 年 years"),
        KeyFigure("first_year", "首年 first year", p.start_date.year, str(p.start_date.year)),
        KeyFigure("last_year", "末年 last year", last_year, str(last_year)),
        KeyFigure("plots_needed", "所需样地数 plots needed (±10 % at 90 %)",
                  "—" if plan.total is None else plan.total, fmt(plan.total)),
        KeyFigure("grievances", "申诉与意见件数 grievances", n_grievances, f"共 {n_grievances} 件"),
        *(KeyFigure(f"exante_{r['year']}", f"{r['year']} 年事前净碳汇量 ex-ante net removals (t CO2e)",
                    float(r["net_removals"]), fmt(r["net_removals"], 1)) for r in by_year),
    ]  # fmt: skip
    unverified = tuple(dict.fromkeys([*ex_unverified, *mon_unverified, *comp_unverified]))
    return Document(
        kind="pdd",
        title="项目设计文件 Project Design Document",
        subtitle=f"{name}（{p.code}）",
        project=p.code,
        sections=sections,
        as_of=data_as_of(session) or "—",
        key_figures=tuple(keys),
        unverified=unverified,
        meta={"methodology": catalogue.methodology(p.methodology).name, "developer": developer,
              "status": p.status, "project_name": name,
              "version": f"登记簿版本 registry edition, {p.status}"},
    )  # fmt: skip
