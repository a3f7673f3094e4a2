"""Afforestation carbon sink (造林碳汇), CCER-14-001-V01 (Ministry of Ecology and Environment,
2023).

Eligibility (CCER-14-001-V01 §2, read from a public copy): tree, bamboo and shrub
afforestation, not economic forest; a) land planned for afforestation that did not meet the
forest definition for at least 3 years before the start — proven by dated observations (two
surveys, or a survey and imagery); b) documented tenure; c) each contiguous parcel ≥ 400 m²
(667 m² for projects started in or before 2019); d) not wetland; e) scattered trees and bamboo
kept, shrub removal ≤ 20 % of the area; f) no repeated soil disturbance, no burning, no displaced
farming or grazing (e–f declared in the project's evidence).

Ex-ante: the planted species group grows along its (pooled) growth curve from age 0; baseline
stock change 0 (existing trees and shrubs must be kept, so the baseline stock stays as it was);
leakage 0 and project emissions 0 (displacement and burning are excluded by eligibility).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies.eligibility import RULE_COLUMNS, Declaration, Evidence, tenure
from methodologies.errors import InputError
from methodologies.exante import ExAnteResult, check_stand_inputs, check_years
from methodologies.growth import POOLED, GrowthCurve, chapman_richards, curve_lookup
from methodologies.parameters import defaults, require
from methodologies.provenance import EQUATIONS, Step, Trace
from methodologies.trees import carbon_factor, carbon_step

__all__ = ["AFFORESTABLE_LAND_CLASSES", "CODE", "check_eligibility", "project_ex_ante"]

CODE = "CCER-14-001-V01"
NAME = "造林碳汇 Afforestation (CCER-14-001-V01)"
AFFORESTABLE_LAND_CLASSES = ("规划造林地", "宜林地", "其他宜林地", "造林失败地")


FOREST_LAND_CLASSES = ("乔木林地", "乔木林", "竹林地", "竹林", "特殊灌木林地", "疏林地")
SOURCE = "CCER-14-001-V01 §2"
DECLARATIONS = (
    Declaration("scattered_trees_kept", "scattered_trees_kept", f"{SOURCE} e)",
                "不移除原有散生乔木和竹子", "existing scattered trees and bamboo are not removed"),
    Declaration("shrub_removal", "shrub_removal_pct", f"{SOURCE} e)",
                "原有灌木和胸径小于 2cm 的竹子移除比例不超过 20%",
                "shrubs and bamboo under 2 cm DBH removed on at most 20 % of the area",
                at_most=20.0),
    Declaration("no_repeated_soil_disturbance", "no_repeated_soil_disturbance", f"{SOURCE} f)",
                "除开始时整地造林外，计入期内不重复扰动土壤",
                "no repeated soil disturbance after site preparation and planting"),
    Declaration("no_burning", "no_burning", f"{SOURCE} f)", "不人为火烧（病疫木处理除外）",
                "no burning (except diseased wood)"),
    Declaration("no_displaced_activities", "no_displaced_farming_grazing", f"{SOURCE} f)",
                "不转移农业活动（种植、放牧）", "no farming or grazing displaced"),
)  # fmt: skip


def non_forest_for_three_years(
    observations: list[tuple[date, str, str]], start: date, recent_years: float
) -> tuple[bool, str, str]:
    """CCER-14-001-V01 §2 a) "at least three years non-forest before the start", proven by
    dated observations ``(date, kind, land class)`` (surveys and imagery).

    Passes when: at least two observations; at least one is a survey; the earliest showing
    non-forest is dated ≥ 3 years before the start; one is dated within ``recent_years`` of the
    start; none from 3 years before the start onwards shows forest land.
    """
    before = [o for o in observations if o[0] <= start]
    three = date(start.year - 3, start.month, min(start.day, 28))
    recent = date.fromordinal(start.toordinal() - round(recent_years * 365.25))
    old = [o for o in before if o[0] <= three and o[2] not in FOREST_LAND_CLASSES]
    forest = [o for o in before if o[0] > three and o[2] in FOREST_LAND_CLASSES]
    new = [o for o in before if o[0] >= recent]
    listed = "; ".join(f"{d} {k} {v}" for d, k, v in before) or "none"
    problems: list[tuple[str, str]] = []
    if len(before) < 2:
        problems.append(("开始前的观测少于两次", "fewer than two observations before the start"))
    if not any(k == "survey" for _, k, _ in before):
        problems.append(("没有调查记录（须至少一次调查）", "no survey (at least one is needed)"))
    if not old:
        problems.append(
            (f"没有 {three} 或更早的非林地观测", f"no non-forest observation on or before {three}")
        )
    if not new:
        problems.append((f"没有 {recent} 之后的观测", f"no observation since {recent}"))
    if forest:
        d, k, v = forest[0]
        problems.append((f"{d} 的{k}显示为 {v}", f"the {k} of {d} shows {v}"))
    if problems:
        return (False, "三年非林地未得到证明：" + "；".join(p[0] for p in problems) + f"（观测：{listed}）",
                "three years non-forest not proven: " + "; ".join(p[1] for p in problems)
                + f" (observations: {listed})")  # fmt: skip
    return (True, f"观测证明开始前至少 3 年为非林地（{listed}）",
            f"observations prove non-forest for at least 3 years before the start ({listed})")  # fmt: skip


def check_eligibility(
    stands: pd.DataFrame, start_year: int, planted_group: str = "chinese_fir",
    evidence: Evidence | None = None, start: date | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per stand and rule: ``stand_id, rule, passed, reason_zh, reason_en, source``.

    ``stands`` columns: ``stand_id``, ``land_class``, ``area_ha``, ``forest_right_cert``,
    ``inventory_year`` (the inventory counts as a survey dated 31 December of that year),
    optionally ``planted_group``. ``evidence``: the project's observations (more surveys,
    imagery) and declarations (§2 e–f).
    """
    rows: list[tuple[object, str, bool, str, str, str]] = []
    evidence = evidence or Evidence(None)
    start = start or date(start_year, 1, 1)
    recent_years = require(defaults(), "nonforest_recent_observation_max_years").value
    min_m2 = 667.0 if start_year <= 2019 else 400.0
    n = len(stands)

    def column(name: str) -> NDArray[np.object_]:
        if name in stands:
            return stands[name].to_numpy(dtype=object)
        return np.full(n, None, dtype=object)

    ids, lands, certs = column("stand_id"), column("land_class"), column("forest_right_cert")
    planted = column("planted_group")
    survey = pd.to_numeric(pd.Series(column("inventory_year")), errors="coerce").to_numpy(float)
    area_m2 = pd.to_numeric(stands["area_ha"], errors="coerce").to_numpy(float) * 10_000
    for i in range(n):
        sid, land = ids[i], lands[i]
        ok = land in AFFORESTABLE_LAND_CLASSES
        rows.append((sid, "land_class", ok, f"地类为 {land}" + ("" if ok else "，不是规划造林地/宜林地"),
                     f"land class {land}" + ("" if ok else " is not land planned for afforestation"),
                     f"{SOURCE} a)"))  # fmt: skip
        seen = evidence.observations(sid)
        if np.isfinite(survey[i]):
            seen = sorted([(date(int(survey[i]), 12, 31), "survey", str(land)), *seen])
        ok, zh, en = non_forest_for_three_years(seen, start, recent_years)
        rows.append((sid, "non_forest_3_years", ok, zh, en, f"{SOURCE} a)"))
        group = planted[i] if isinstance(planted[i], str) else planted_group
        ok = group not in (None, "economic")
        rows.append((sid, "not_economic_forest", ok,
                     "造林树种组为 " + str(group) if ok else "经济林造林不适用本方法学",
                     f"planted group {group}" if ok else "economic forest is excluded",
                     f"{SOURCE} (scope)"))  # fmt: skip
        ok = bool(area_m2[i] >= min_m2)
        rows.append((sid, "parcel_area", ok,
                     f"地块面积 {area_m2[i]:,.0f} 平方米" + ("" if ok else f"，小于 {min_m2:.0f} 平方米"),
                     f"parcel area {area_m2[i]:,.0f} m²" + ("" if ok else f" is below {min_m2:.0f} m²"),
                     f"{SOURCE} c)"))  # fmt: skip
        ok = land != "湿地"
        rows.append((sid, "not_wetland", ok, "非湿地" if ok else "湿地不适用",
                     "not wetland" if ok else "wetland is excluded", f"{SOURCE} d)"))  # fmt: skip
        rows.append(tenure(sid, certs[i], f"{SOURCE} b)"))
        rows += [d.check(sid, evidence) for d in DECLARATIONS]
    return pd.DataFrame(rows, columns=RULE_COLUMNS)


def project_ex_ante(
    stands: pd.DataFrame,
    curves: list[GrowthCurve],
    start_year: int,
    years: int,
    planted_group: str = "chinese_fir",
) -> ExAnteResult:
    """Ex-ante for afforestation: planted at the start (age 0), growth along the group curve.

    ``stands`` columns: ``stand_id``, ``area_ha`` and optionally ``planted_group``.
    """
    check_years(years)
    ids = stands["stand_id"].to_numpy(dtype=object)
    area = stands["area_ha"].to_numpy(dtype=np.float64)
    check_stand_inputs(ids, area_ha=area)
    if "planted_group" in stands:
        groups = stands["planted_group"].fillna(planted_group).to_numpy(dtype=object)
    else:
        groups = np.full(len(ids), planted_group, dtype=object)
    factor = carbon_factor(groups, ids)
    abc = curve_lookup(curves, groups, np.full(len(ids), POOLED, dtype=object))
    if np.isnan(abc[:, 0]).any():
        i = int(np.flatnonzero(np.isnan(abc[:, 0]))[0])
        raise InputError(
            f"造林树种组 {groups[i]!r}（小班 {ids[i]!r}）没有生长曲线。",
            f"planted group {groups[i]!r} (stand {ids[i]!r}) has no growth curve.",
        )
    steps = np.arange(0, years + 1, dtype=np.float64)[None, :]
    volume = chapman_richards(steps, abc[:, 0:1], abc[:, 1:2], abc[:, 2:3])
    project_stock = volume * (factor * area)[:, None]
    traces = {}
    for g in np.unique(groups):
        curve = next(c for c in curves if c.species_group == g and c.site_class == POOLED)
        traces[str(g)] = Trace(
            NAME,
            (
                Step(EQUATIONS["chapman_richards"], (),
                     f"planted at age 0; a={curve.a:.1f}, b={curve.b:.4f}, c={curve.c:.3f}; "
                     f"n={curve.n}, RMSE={curve.rmse:.1f} m³/ha, R²={curve.r2:.3f}; {curve.basis}"),
                carbon_step(str(g)),
                Step(EQUATIONS["stock_difference"], (), "baseline stock change 0"),
                Step(EQUATIONS["net_removals"], (), "LK = 0, GHG_E = 0"),
            ),
        )  # fmt: skip
    baseline_stock = np.zeros_like(project_stock)  # existing vegetation kept: no change
    return ExAnteResult.from_stocks(
        CODE, ids, start_year, baseline_stock, project_stock, groups.copy(), traces
    )
