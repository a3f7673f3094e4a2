"""The verifier's workbook (.xlsx, openpyxl): the project's data with LIVE formulas, so that
Excel or LibreOffice recomputes the registry's result from the plots and the parameters.

Sheets:

- 说明 — what the workbook holds, how to recompute it;
- 参数 — every factor the formulas use (only those of the species groups and the culm model
  the period's plots hold), in named cells, with its source and status (UNVERIFIED where it
  applies); and the unverified parameters the frozen ex-ante's baseline used;
- 小班 — the project's stands, public attributes only (no household names, no certificate
  numbers);
- 样地 — the tree (or culm) list of both measurements of the period, each tree's volume or
  biomass and its carbon as formulas (v = a·D^b·H^c; C = 44/12·CF·V·SVD·BEF·(1+R); moso culm
  M = a·D^b·(c·A/(d+A))^e + f, C = 44/12·CF·(1+R)·M/1000);
- 计算 — per plot (sums of the 样地 sheet ÷ plot area), per stratum (mean, s, SE), the
  stratified totals, the change and its 90 % half-width (t from TINV), the uncertainty
  deduction band, the baseline from the 事前 sheet, net removals, credits;
- 事前 — the ex-ante frozen at registration, year by year, its net removals as formulas and
  their SUM; a status note on its baseline column (the parameters it rests on);
- 核对 — each formula result beside the registry's stored value and the difference.

Nothing is pre-computed by the builder in a formula cell: openpyxl writes formulas without
cached values, so the application computes every one when the file is opened.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from methodologies.expost import BAMBOO, EMPTY_PLOT, VOLUME_EQUATION_OF
from methodologies.parameters import (
    Parameter,
    bamboo_parameters,
    species_parameters,
    volume_equations,
)
from methodologies.species import SpeciesGroup
from methodologies.uncertainty import AR_TOOL14_BANDS, CONFIDENCE
from registry.documents.period_data import PeriodData, frozen_baseline_parameters, load_period
from registry.errors import PeriodNotFound
from registry.models import ProjectStand, Stand
from registry.projects.core import find_project
from registry.public.stands import PUBLIC_STAND_COLUMNS
from registry.public.withhold import withhold_household_names

__all__ = ["WorkbookFile", "build_workbook", "make_workbook"]

BOLD = Font(bold=True)
NOTE = Font(italic=True, color="555555")
START, END = "期初", "期末"  # the measurement column's values
TREE_COLUMNS = ("measurement", "plot_id", "stratum", "plot_area_ha", "species_group", "dbh_cm",
                "height_m", "age_du", "pre_existing")  # fmt: skip
TREE_HEADERS = ("测定 measurement", "样地 plot_id", "层 stratum", "样地面积 plot_area_ha",
                "树种组 species_group", "胸径 dbh_cm", "树高 height_m", "竹度 age_du",
                "原有树木 pre_existing", "材积 m³ / 竹秆生物量 kg", "碳储量 t CO2e",
                "计入 t CO2e (counted)")  # fmt: skip


def _q(sheet: str) -> str:
    return f"'{sheet}'"


class _Book:
    """The workbook under construction: sheets, defined names."""

    def __init__(self) -> None:
        self.wb = Workbook()
        self.wb.calculation.fullCalcOnLoad = True  # ask the application to recompute on load

    def sheet(self, title: str, first: bool = False) -> Worksheet:
        if first:
            ws = self.wb.active
            assert ws is not None
            ws.title = title
            return ws
        return self.wb.create_sheet(title)

    def name(self, name: str, ws: Worksheet, ref: str) -> None:
        self.wb.defined_names[name] = DefinedName(name, attr_text=f"{_q(ws.title)}!{ref}")


def _notes(ws: Worksheet, lines: Sequence[str]) -> int:
    """Notes at the top of a sheet; returns the next free row."""
    for i, line in enumerate(lines, start=1):
        ws.cell(i, 1, line).font = NOTE
    return len(lines) + 2


def _header_row(ws: Worksheet, row: int, headers: Sequence[str]) -> None:
    for j, h in enumerate(headers, start=1):
        ws.cell(row, j, h).font = BOLD


def _status(p: Parameter | None, status: str | None = None) -> str:
    text = status if status is not None else (p.status if p else "")
    verified = text.strip().lower() in ("published", "official")
    return text if verified else f"UNVERIFIED 未核实: {text}"


# -- 参数 ---------------------------------------------------------------------------------------


def _groups_used(data: PeriodData | None) -> set[str]:
    """The species groups of the period's tree lists (both measurements; bamboo and empty
    plots included as they are named there)."""
    if data is None:
        return set()
    groups: set[str] = set()
    for trees in (data.start_trees, data.end_trees):
        if "species_group" in trees:
            groups |= {str(g) for g in trees["species_group"].dropna().unique()}
    return groups


def _parameters(book: _Book, data: PeriodData | None, baseline: dict[str, dict[str, Any]]) -> None:
    """The parameters the workbook's formulas use — the culm model only when the plots hold
    bamboo, the species table only for the plots' tree groups — then the unverified parameters
    the frozen ex-ante's baseline used (values as frozen at registration)."""
    ws = book.sheet("参数")
    used = _groups_used(data)
    row = _notes(ws, (
        "参数 Parameters: every factor the formulas use, in named cells (Formulas → Name Manager).",
        "状态 Status: UNVERIFIED marks a value whose source the registry has not verified.",
    ))  # fmt: skip
    _header_row(
        ws,
        row,
        (
            "名称 Name",
            "值 Value",
            "单位 Unit",
            "来源 Source",
            "状态 Status",
            "单元格名 Defined name",
        ),
    )
    row += 1

    def put(name: str, value: Any, unit: str, source: str, status: str, defined: str) -> None:
        nonlocal row
        ws.cell(row, 1, name)
        ws.cell(row, 2, value)
        ws.cell(row, 3, unit)
        ws.cell(row, 4, source)
        ws.cell(row, 5, status)
        ws.cell(row, 6, defined)
        book.name(defined, ws, f"$B${row}")
        row += 1

    put("CO2/C", "=44/12", "t CO2 / t C", "molecular weights 44/12", "official", "CO2_PER_C")
    if BAMBOO in used:
        bamboo = bamboo_parameters()
        for k in "abcdef":
            p = bamboo[f"culm_{k}"]
            put(p.name, p.value, p.unit, p.source, _status(p), f"CULM_{k.upper()}")
        for key, defined in (("carbon_fraction", "BAMBOO_CF"), ("root_shoot_ratio", "BAMBOO_R")):
            p = bamboo[key]
            put(f"moso {p.name}", p.value, p.unit, p.source, _status(p), defined)
    put("置信水平 confidence", CONFIDENCE, "-", "90 % two-sided (CDM A/R sample-plot tool)",
        "official", "CONFIDENCE")  # fmt: skip
    exclude = bool(data and data.exclude_pre_existing)
    put("不计原有树木 exclude pre-existing trees", 1 if exclude else 0, "1/0",
        "methodology catalogue (afforestation: AR-TOOL14)", "official", "EXCLUDE_PRE_EXISTING")  # fmt: skip
    rule = data.change.deduction.rule if data else None
    for i, (upper, fraction) in enumerate(AR_TOOL14_BANDS, start=1):
        source = rule.source if rule else "AR-TOOL14 Appendix 2"
        put(f"扣减档 band {i}: U ≤", upper, "-", source, _status(rule), f"BAND_U{i}")
        put(f"扣减档 band {i}: fraction", fraction, "-", source, _status(rule), f"BAND_F{i}")
    put("扣减档 above the last band: fraction", 1.0, "-",
        rule.source if rule else "AR-TOOL14 Appendix 2", _status(rule), "BAND_F_OVER")  # fmt: skip
    row += 1
    if baseline:
        ws.cell(row, 1, "基线参数 Parameters of the baseline of the ex-ante frozen at registration "
                        "(事前 sheet, column baseline_change): values as frozen").font = BOLD  # fmt: skip
        row += 1
        _header_row(ws, row, ("名称 Name", "值 Value", "单位 Unit", "来源 Source", "状态 Status"))
        for name, prm in baseline.items():
            row += 1
            for j, v in enumerate((name, _cell(prm.get("value")), prm.get("unit", ""),
                                   prm.get("source", ""), _status(None, str(prm.get("status", ""))
                                   )), start=1):  # fmt: skip
                ws.cell(row, j, v)
        row += 2
    tree_groups = [g for g in species_parameters().items() if g[0].value in used]
    if not tree_groups:
        ws.column_dimensions["A"].width = 34
        ws.column_dimensions["D"].width = 40
        return
    ws.cell(row, 1, "树种组参数 Tree species groups (SPECIES): 二元材积 v = a·D^b·H^c; "
                    "C = 44/12 × CF × V × SVD × BEF × (1 + R)").font = BOLD  # fmt: skip
    row += 1
    _header_row(ws, row, ("树种组 group", "材积式 volume equation", "a", "b", "c", "SVD", "BEF", "R",
                          "CF", "材积式来源 volume source", "材积式状态 volume status",
                          "SVD/BEF/R 来源 source", "状态 status", "CF 来源 source", "CF 状态 status"))  # fmt: skip
    first = row + 1
    equations = volume_equations()
    for group, sp in tree_groups:
        row += 1
        eq = equations[VOLUME_EQUATION_OF[SpeciesGroup(group)]]
        values: list[Any] = [group.value, eq.name, eq.a, eq.b, eq.c, sp.svd.value, sp.bef.value,
                             sp.root_shoot.value, sp.carbon_fraction.value, eq.source,
                             _status(None, eq.status), sp.svd.source, _status(sp.svd),
                             sp.carbon_fraction.source, _status(sp.carbon_fraction)]  # fmt: skip
        for j, v in enumerate(values, start=1):
            ws.cell(row, j, v)
    book.name("SPECIES", ws, f"$A${first}:$I${row}")
    ws.column_dimensions["A"].width = 34
    ws.column_dimensions["D"].width = 40


# -- 小班 ---------------------------------------------------------------------------------------


def _stands(book: _Book, session: Session, project_id: int) -> None:
    ws = book.sheet("小班")
    row = _notes(ws, (
        "项目小班 The project's stands (current inventory, active members): public attributes only — "
        "no household names, no forest-right certificate numbers.",
    ))  # fmt: skip
    columns = [getattr(Stand, c) for c in PUBLIC_STAND_COLUMNS]
    rows = session.execute(
        select(*(col(c) for c in columns))
        .join(ProjectStand, col(ProjectStand.stand_key) == col(Stand.stand_key))
        .where(col(ProjectStand.project_id) == project_id)
        .where(col(ProjectStand.active).is_(True))
        .where(col(Stand.is_current).is_(True))
        .order_by(col(Stand.stand_key))
    ).all()
    _header_row(ws, row, PUBLIC_STAND_COLUMNS)
    first = row + 1
    for r in rows:
        row += 1
        for j, v in enumerate(r, start=1):
            ws.cell(row, j, v)
    area = PUBLIC_STAND_COLUMNS.index("area_ha") + 1
    letter = get_column_letter(area)
    ws.cell(row + 1, 1, "合计 total").font = BOLD
    ws.cell(row + 1, area, f"=SUM({letter}{first}:{letter}{max(row, first)})")
    book.name("STANDS_AREA", ws, f"${letter}${row + 1}")


# -- 样地 ---------------------------------------------------------------------------------------


def _tree_frame(trees: pd.DataFrame, measurement: str) -> pd.DataFrame:
    out = trees.copy()
    for c in TREE_COLUMNS[1:]:
        if c not in out:
            out[c] = None
    out["measurement"] = measurement
    out = out.reset_index(drop=True)
    return out[list(TREE_COLUMNS)]


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _plots_sheet(book: _Book, data: PeriodData) -> tuple[str, int, int]:
    """The tree lists of both measurements with per-tree formulas; returns (sheet, first row,
    last row)."""
    ws = book.sheet("样地")
    row = _notes(ws, (
        f"样地每木（竿）数据 Trees and culms of both measurements: {START} = {data.start_label}; "
        f"{END} = 第 {data.period.period_no} 监测期 period {data.period.period_no}.",
        "J: 材积 v = a·D^b·H^c (m³, 参数!SPECIES) 或竹秆生物量 M = a·D^b·(c·A/(d+A))^e + f (kg); "
        "K: 碳储量 t CO2e; L: 计入的碳储量 (0 for pre-existing trees when EXCLUDE_PRE_EXISTING = 1).",
        "All three are live formulas; species group 'none' marks a plot with no tree (0).",
    ))  # fmt: skip
    _header_row(ws, row, TREE_HEADERS)
    frame = pd.concat(
        [_tree_frame(data.start_trees, START), _tree_frame(data.end_trees, END)], ignore_index=True
    )
    first = row + 1
    for values in frame.itertuples(index=False):
        row += 1
        for j, v in enumerate(values, start=1):
            ws.cell(row, j, _cell(v))
        group = str(values[4])
        r = row
        if group == EMPTY_PLOT:
            ws.cell(r, 10, 0)
            ws.cell(r, 11, 0)
        elif group == BAMBOO:
            ws.cell(r, 10, f"=CULM_A*F{r}^CULM_B*(CULM_C*H{r}/(CULM_D+H{r}))^CULM_E+CULM_F")
            ws.cell(r, 11, f"=CO2_PER_C*BAMBOO_CF*(1+BAMBOO_R)*J{r}/1000")
        else:
            look = f"VLOOKUP($E{r},SPECIES,{{}},0)"
            ws.cell(r, 10, f"={look.format(3)}*F{r}^{look.format(4)}*G{r}^{look.format(5)}")
            ws.cell(r, 11, f"=CO2_PER_C*{look.format(9)}*J{r}*{look.format(6)}*"
                           f"{look.format(7)}*(1+{look.format(8)})")  # fmt: skip
        ws.cell(r, 12, f"=IF(AND(EXCLUDE_PRE_EXISTING=1,N(I{r})>0),0,K{r})")
    return ws.title, first, row


# -- 计算 ---------------------------------------------------------------------------------------


class _Calc:
    """The calculation sheet: writes labelled rows and remembers where each figure is."""

    def __init__(self, book: _Book, ws: Worksheet, row: int) -> None:
        self.book, self.ws, self.row = book, ws, row
        self.at: dict[str, str] = {}

    def title(self, text: str) -> None:
        self.row += 1
        self.ws.cell(self.row, 1, text).font = BOLD
        self.row += 1

    def figure(self, key: str, label: str, formula: Any, unit: str, how: str) -> str:
        ws, r = self.ws, self.row
        ws.cell(r, 1, label)
        ws.cell(r, 2, formula)
        ws.cell(r, 3, unit)
        ws.cell(r, 4, how)
        ref = f"$B${r}"
        self.at[key] = f"{_q(ws.title)}!{ref}"
        self.book.name(key.upper(), ws, ref)
        self.row += 1
        return f"B{r}"


def _per_plot(calc: _Calc, trees: tuple[str, int, int], plots: pd.DataFrame, measurement: str,
              ) -> dict[str, list[int]]:  # fmt: skip
    """Per-plot rows (t CO2e, area, t CO2e/ha) of one measurement; stratum → rows."""
    ws = calc.ws
    sheet, first, last = trees
    s = _q(sheet)

    def rng(c: str) -> str:
        return f"{s}!${c}${first}:${c}${last}"

    _header_row(ws, calc.row, ("层 stratum", "样地 plot", "样地面积 ha", "t CO2e", "t CO2e/ha"))
    rows: dict[str, list[int]] = {}
    for p in plots.sort_values(["stratum", "plot_id"]).itertuples():
        calc.row += 1
        r = calc.row
        pid, stratum = str(p.plot_id), str(p.stratum)
        ws.cell(r, 1, stratum)
        ws.cell(r, 2, pid)
        match = f'{rng("A")},"{measurement}",{rng("B")},B{r}'
        ws.cell(r, 3, f"=SUMIFS({rng('D')},{match})/COUNTIFS({match})")
        ws.cell(r, 4, f"=SUMIFS({rng('L')},{match})")
        ws.cell(r, 5, f"=D{r}/C{r}")
        rows.setdefault(stratum, []).append(r)
    calc.row += 1
    return rows


def _stratified(calc: _Calc, rows: dict[str, list[int]], areas: dict[str, float], column: str,
                prefix: str, what: str) -> None:  # fmt: skip
    """Per stratum n, mean, s, SE of ``column`` (contiguous rows), A × mean, A² × SE²; then
    the total, SE, df, t, half-width, U (equation ``stratified_mean``)."""
    ws = calc.ws
    _header_row(ws, calc.row, ("层 stratum", "面积 A_h (ha)", "n_h", "均值 mean (t CO2e/ha)",
                               "s_h", "SE_h = s/√n", "A_h × mean", "A_h² × SE_h²"))  # fmt: skip
    first = calc.row + 1
    for stratum, rs in rows.items():
        calc.row += 1
        r = calc.row
        span = f"{column}{rs[0]}:{column}{rs[-1]}"
        ws.cell(r, 1, stratum)
        ws.cell(r, 2, areas[stratum])
        ws.cell(r, 3, f"=COUNT({span})")
        ws.cell(r, 4, f"=AVERAGE({span})")
        ws.cell(r, 5, f"=STDEV({span})")
        ws.cell(r, 6, f"=E{r}/SQRT(C{r})")
        ws.cell(r, 7, f"=B{r}*D{r}")
        ws.cell(r, 8, f"=B{r}^2*F{r}^2")
    last = calc.row
    calc.row += 2
    total = calc.figure(f"{prefix}_total", f"{what} Ĉ = Σ A_h × mean_h", f"=SUM(G{first}:G{last})",
                        "t CO2e", "stratified_mean")  # fmt: skip
    se = calc.figure(f"{prefix}_se", "SE = √Σ A_h² SE_h²", f"=SQRT(SUM(H{first}:H{last}))",
                     "t CO2e", "stratified_mean")  # fmt: skip
    df = calc.figure(f"{prefix}_df", "df = n − M", f"=SUM(C{first}:C{last})-COUNT(B{first}:B{last})",
                     "-", "plots minus strata")  # fmt: skip
    t = calc.figure(f"{prefix}_t", "t(0.95, df)", f"=TINV(1-CONFIDENCE,{df})", "-",
                    "two-sided 90 %")  # fmt: skip
    hw = calc.figure(f"{prefix}_hw", "半宽 half-width = t × SE", f"={t}*{se}", "t CO2e", "90 %")
    calc.figure(f"{prefix}_u", "U = hw / Ĉ", f"={hw}/ABS({total})", "-", "")


def _band(u: str) -> str:
    return (f"IF({u}<=BAND_U1,BAND_F1,IF({u}<=BAND_U2,BAND_F2,IF({u}<=BAND_U3,BAND_F3,"
            f"IF({u}<=BAND_U4,BAND_F4,BAND_F_OVER))))")  # fmt: skip


def _calculation(book: _Book, data: PeriodData, trees: tuple[str, int, int]) -> _Calc:
    ws = book.sheet("计算")
    row = _notes(ws, (
        "计算 Calculations, all live formulas: per plot from the 样地 sheet, per stratum, the "
        "stratified totals at both measurements, the change and its 90 % half-width, the "
        "uncertainty deduction (AR-TOOL14 App. 2 bands on 参数), the baseline from 事前, "
        "net removals and credits.",
        "层面积 stratum areas are the period's strata CSV (inputs); the verified quantity is "
        "the verifier's decision (input).",
    ))  # fmt: skip
    calc = _Calc(book, ws, row)
    ch = data.change
    a_start = {str(k): float(v) for k, v in zip(data.start_strata["stratum"], data.start_strata["area_ha"], strict=True)}  # fmt: skip
    a_end = {str(k): float(v) for k, v in zip(data.end_strata["stratum"], data.end_strata["area_ha"], strict=True)}  # fmt: skip
    calc.title(f"A. {START} 各样地 per plot at the start")
    rows_start = _per_plot(calc, trees, ch.start.plots, START)
    calc.title(f"B. {END} 各样地 per plot at the end")
    rows_end = _per_plot(calc, trees, ch.end.plots, END)
    calc.title(f"C. {START} 分层估计 stratified estimate at the start")
    _stratified(calc, rows_start, a_start, "E", "start", "期初碳储量 start stock")
    calc.title(f"D. {END} 分层估计 stratified estimate at the end")
    _stratified(calc, rows_end, a_end, "E", "end", "期末碳储量 end stock")
    calc.title("E. 碳储量变化 Stock change")
    if ch.method == "paired":
        _header_row(ws, calc.row, ("层 stratum", "样地 plot", "期初 t CO2e/ha", "期末 t CO2e/ha",
                                   "d = 期末 − 期初"))  # fmt: skip
        diff_rows: dict[str, list[int]] = {}
        for stratum, rs_end in rows_end.items():
            for re_, rs_ in zip(rs_end, rows_start[stratum], strict=True):
                calc.row += 1
                r = calc.row
                ws.cell(r, 1, stratum)
                ws.cell(r, 2, f"=B{re_}")
                ws.cell(r, 3, f"=E{rs_}")
                ws.cell(r, 4, f"=E{re_}")
                ws.cell(r, 5, f"=D{r}-C{r}")
                diff_rows.setdefault(stratum, []).append(r)
        calc.row += 1
        _stratified(calc, diff_rows, a_end, "E", "paired", "配对变化 paired change")
        change = calc.figure("change", "ΔĈ 碳储量变化 change", "=PAIRED_TOTAL", "t CO2e",
                             "change_uncertainty_paired")  # fmt: skip
        hw = calc.figure("change_hw", "ΔĈ 半宽 half-width", "=PAIRED_HW", "t CO2e", "t × SE")
    else:
        change = calc.figure("change", "ΔĈ = Ĉ₂ − Ĉ₁", "=END_TOTAL-START_TOTAL", "t CO2e",
                             "change_uncertainty_independent")  # fmt: skip
        hw = calc.figure("change_hw", "半宽 hw = √(hw₁² + hw₂²)", "=SQRT(START_HW^2+END_HW^2)",
                         "t CO2e", "independent estimates")  # fmt: skip
    u = calc.figure("change_u", "U_Δ = hw / |ΔĈ|", f"={hw}/ABS({change})", "-", "")
    f = calc.figure("deduction_fraction", "扣减比例 f(U_Δ)", f"={_band(u)}", "-",
                    "AR-TOOL14 App. 2 bands (参数)")  # fmt: skip
    kept = calc.figure("change_kept", "扣减后 kept = ΔĈ − f × hw", f"={change}-{f}*{hw}",
                       "t CO2e", "conservative_deduction")  # fmt: skip
    years = [int(y) for y in data.provenance.get("baseline_years", [])]
    y1 = calc.figure("baseline_from", "基线年份 from", min(years) if years else 0, "year",
                     "years of the frozen ex-ante the period covers")  # fmt: skip
    y2 = calc.figure("baseline_to", "基线年份 to", max(years) if years else -1, "year", "")
    base = calc.figure("baseline", "基线变化 ΔC_BSL",
                       f'=SUMIFS(EXANTE_BASELINE_CHANGE,EXANTE_YEAR,">="&{y1},EXANTE_YEAR,"<="&{y2})',
                       "t CO2e", "事前 sheet")  # fmt: skip
    lk = calc.figure("leakage", "泄漏 LK", data.period.leakage_tco2e, "t CO2e", "0 (methodology)")
    net = calc.figure("removals", "净碳汇 ΔC_AR = kept − ΔC_BSL − LK", f"={kept}-{base}-{lk}",
                      "t CO2e", "net_removals")  # fmt: skip
    verified = data.period.verified_tco2e
    v = calc.figure("verified", "核证量 verified (input)", verified if verified is not None else 0,
                    "t CO2e", "the verifier's decision, ≤ net removals")  # fmt: skip
    calc.figure("verified_within", "核证量 ≤ 净碳汇?", f"=IF({v}<={net},1,0)", "1/0", "")
    calc.figure("credits", "碳信用 credits = floor(verified)", f"=INT({v})", "t CO2e",
                "ledger rounding rule")  # fmt: skip
    ws.column_dimensions["A"].width = 36
    ws.column_dimensions["D"].width = 18
    return calc


# -- 事前 ---------------------------------------------------------------------------------------


EXANTE_COLUMNS = ("year", "baseline_stock", "project_stock", "baseline_change", "project_change",
                  "leakage", "project_emissions", "net_removals", "cumulative_net_removals")  # fmt: skip


def _exante(book: _Book, by_year: list[dict[str, Any]], baseline: Sequence[str]) -> str | None:
    ws = book.sheet("事前")
    status = (
        "D baseline_change 状态 status: UNVERIFIED 未核实 — computed at registration with "
        f"parameters whose sources are not verified: {', '.join(baseline)} (参数 sheet)."
        if baseline
        else "D baseline_change 状态 status: no unverified parameter in the baseline."
    )
    row = _notes(ws, (
        "事前估计 Ex-ante frozen at registration (t CO2e per year). H: 净碳汇 net removals = "
        "project change − project emissions − baseline change − leakage (formula); total: SUM.",
        status,
    ))  # fmt: skip
    _header_row(ws, row, EXANTE_COLUMNS)
    first = row + 1
    for item in by_year:
        row += 1
        for j, c in enumerate(EXANTE_COLUMNS, start=1):
            if c == "net_removals":
                ws.cell(row, j, f"=E{row}-G{row}-D{row}-F{row}")
            else:
                ws.cell(row, j, _cell(item.get(c)))
    last = max(row, first)
    book.name("EXANTE_YEAR", ws, f"$A${first}:$A${last}")
    book.name("EXANTE_BASELINE_CHANGE", ws, f"$D${first}:$D${last}")
    ws.cell(last + 1, 1, "合计 total").font = BOLD
    ws.cell(last + 1, 8, f"=SUM(H{first}:H{last})")
    book.name("EXANTE_TOTAL", ws, f"$H${last + 1}")
    return f"{_q(ws.title)}!$H${last + 1}" if by_year else None


# -- 核对 ---------------------------------------------------------------------------------------


def _check(book: _Book, items: list[tuple[str, str, float | None]]) -> None:
    ws = book.sheet("核对")
    row = _notes(ws, (
        "核对 Check: each workbook result (formula) beside the registry's stored value; the "
        "difference should be 0 (rounding only, |relative| < 1e-6).",
    ))  # fmt: skip
    _header_row(ws, row, ("项目 Item", "工作簿计算 Workbook (formula)", "登记簿 Registry (stored)",
                          "差 Difference", "相对差 Relative"))  # fmt: skip
    for label, ref, stored in items:
        if stored is None or not math.isfinite(stored):
            continue
        row += 1
        ws.cell(row, 1, label)
        ws.cell(row, 2, f"={ref}")
        ws.cell(row, 3, stored)
        ws.cell(row, 4, f"=B{row}-C{row}")
        ws.cell(row, 5, f"=IF(C{row}=0,D{row},D{row}/ABS(C{row}))")
    ws.column_dimensions["A"].width = 40


def _readme(book: _Book, project: Any, data: PeriodData | None, name: str) -> None:
    ws = book.sheet("说明", first=True)
    lines = [
        f"{name}（{project.code}）核证工作簿 Verifier's workbook",
        f"方法学 Methodology: {project.methodology}",
        f"生成时间 Generated: {datetime.now(UTC).isoformat(timespec='seconds')}",
        "所有计算单元格均为公式，打开时由 Excel/LibreOffice 重算；核对 sheet 比较公式结果与登记簿存储值。",
        "Every calculated cell is a formula, recomputed by Excel/LibreOffice on opening; the 核对 "
        "sheet compares the results with the registry's stored values.",
    ]
    if data is not None:
        m = data.period
        lines.append(f"监测期 Period {m.period_no}: {m.start_date} – {m.end_date}（{m.status}），"
                     f"样地数据 SHA-256 {m.plots_digest}")  # fmt: skip
    else:
        lines.append("本项目尚无监测期：只含小班、参数与事前估计。No monitoring period yet.")
    for i, line in enumerate(lines, start=1):
        ws.cell(i, 1, line)
    ws.cell(1, 1).font = BOLD


@dataclass(frozen=True)
class WorkbookFile:
    """A built workbook: the .xlsx bytes and the monitoring period it holds (the one asked
    for, or the latest kept one when asked without; None when the project has no period) —
    what a store of the file records as its period."""

    content: bytes
    period: int | None


def build_workbook(session: Session, project_code: str, period_no: int | None) -> bytes:
    """The verifier's workbook of a project (.xlsx bytes); see :func:`make_workbook`, which
    also says which period the workbook holds."""
    return make_workbook(session, project_code, period_no).content


def make_workbook(session: Session, project_code: str, period_no: int | None) -> WorkbookFile:
    """The verifier's workbook of a project: ``period_no`` names a monitoring period; ``None``
    takes the latest period that was not rejected, or — when the project has none — a workbook
    of the stands, the parameters and the ex-ante only. The resolved period is returned with
    the bytes."""
    project = find_project(session, project_code)
    try:
        data: PeriodData | None = load_period(session, project_code, period_no)
    except PeriodNotFound:
        if period_no is not None:
            raise
        data = None
    book = _Book()
    (name,) = withhold_household_names(session, [project.name])
    _readme(book, project, data, name)
    exante = json.loads(project.exante_json or "{}")
    grows = any(float(r.get("baseline_change") or 0.0) for r in exante.get("by_year", []))
    baseline = frozen_baseline_parameters(exante) if grows else {}
    _parameters(book, data, baseline)
    assert project.id is not None
    _stands(book, session, project.id)
    checks: list[tuple[str, str, float | None]] = []
    if data is not None:
        trees = _plots_sheet(book, data)
        calc = _calculation(book, data, trees)
        m, prov = data.period, data.provenance
        a = calc.at
        checks = [
            ("期初碳储量 start stock", a["start_total"], prov.get("start_stock_tco2e")),
            ("期末碳储量 end stock", a["end_total"], m.stock_tco2e),
            ("期末不确定性 end U", a["end_u"], m.uncertainty if m.uncertainty >= 0 else None),
            ("碳储量变化 change", a["change"], m.change_tco2e),
            ("变化半宽 change half-width", a["change_hw"], prov.get("change_half_width_tco2e")),
            ("变化不确定性 U_Δ", a["change_u"], m.change_uncertainty),
            ("扣减比例 deduction fraction", a["deduction_fraction"], prov.get("deduction_fraction")),
            ("扣减后变化 kept change", a["change_kept"], prov.get("conservative_change_tco2e")),
            ("基线 baseline", a["baseline"], m.baseline_tco2e),
            ("净碳汇 net removals", a["removals"], m.removals_tco2e),
        ]  # fmt: skip
        if data.issued is not None:
            checks.append(("签发碳信用 issued credits", a["credits"], float(data.issued.quantity)))
    total = _exante(book, exante.get("by_year", []), list(baseline))
    if total is not None:
        checks.append(("事前合计 ex-ante total", total, project.exante_total_tco2e))
    _check(book, checks)
    out = io.BytesIO()
    book.wb.save(out)
    return WorkbookFile(out.getvalue(), None if data is None else data.period.period_no)
