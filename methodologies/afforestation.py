"""Afforestation carbon sink (造林碳汇), CCER-14-001-V01 (Ministry of Ecology and Environment,
2023).

Eligibility (section 2 of the methodology, see shared/reference/methodology_notes.md): tree,
bamboo and shrub afforestation, not economic forest; land planned for afforestation that did
not meet the forest definition for at least 3 years before the start; documented tenure; each
contiguous parcel ≥ 400 m² (667 m² for projects started in or before 2019); not wetland.

Ex-ante: the planted species group grows along its (pooled) growth curve from age 0; baseline
stock change 0 (existing trees and shrubs must be kept, so the baseline stock stays as it was);
leakage 0 and project emissions 0 (displacement and burning are excluded by eligibility).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies.errors import InputError
from methodologies.exante import ExAnteResult, check_stand_inputs, check_years
from methodologies.growth import POOLED, GrowthCurve, chapman_richards, curve_lookup
from methodologies.provenance import EQUATIONS, Step, Trace
from methodologies.trees import carbon_factor, carbon_step

__all__ = ["AFFORESTABLE_LAND_CLASSES", "CODE", "check_eligibility", "project_ex_ante"]

CODE = "CCER-14-001-V01"
NAME = "造林碳汇 Afforestation (CCER-14-001-V01)"
AFFORESTABLE_LAND_CLASSES = ("规划造林地", "宜林地", "其他宜林地", "造林失败地")


def check_eligibility(
    stands: pd.DataFrame, start_year: int, planted_group: str = "chinese_fir"
) -> pd.DataFrame:
    """One row per stand and rule: ``stand_id, rule, passed, reason_zh, reason_en``.

    ``stands`` columns: ``stand_id``, ``land_class``, ``area_ha``, ``forest_right_cert``,
    ``inventory_year`` (the survey that showed the land as non-forest; may be missing),
    optionally ``planted_group``.
    """
    rows: list[tuple[object, str, bool, str, str]] = []
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
        rows.append(
            (
                sid,
                "land_class",
                ok,
                f"地类为 {land}" + ("" if ok else "，不是规划造林地/宜林地"),
                f"land class {land}" + ("" if ok else " is not land planned for afforestation"),
            )
        )
        ok = bool(np.isfinite(survey[i]) and start_year - survey[i] >= 3)
        rows.append(
            (
                sid,
                "non_forest_3_years",
                ok,
                "调查显示开始前至少 3 年为非林地"
                if ok
                else "缺少开始前至少 3 年为非林地的证据（调查年度）",
                "survey shows non-forest at least 3 years before the start"
                if ok
                else "no evidence of non-forest at least 3 years before the start (survey year)",
            )
        )
        group = planted[i] if isinstance(planted[i], str) else planted_group
        ok = group not in (None, "economic")
        rows.append(
            (
                sid,
                "not_economic_forest",
                ok,
                "造林树种组为 " + str(group) if ok else "经济林造林不适用本方法学",
                f"planted group {group}" if ok else "economic forest is excluded",
            )
        )
        ok = bool(area_m2[i] >= min_m2)
        rows.append(
            (
                sid,
                "parcel_area",
                ok,
                f"地块面积 {area_m2[i]:,.0f} 平方米"
                + ("" if ok else f"，小于 {min_m2:.0f} 平方米"),
                f"parcel area {area_m2[i]:,.0f} m²" + ("" if ok else f" is below {min_m2:.0f} m²"),
            )
        )
        ok = land != "湿地"
        rows.append(
            (
                sid,
                "not_wetland",
                ok,
                "非湿地" if ok else "湿地不适用",
                "not wetland" if ok else "wetland is excluded",
            )
        )
        ok = isinstance(certs[i], str) and bool(certs[i].strip())
        rows.append(
            (
                sid,
                "tenure_documented",
                ok,
                "有权属证明" if ok else "缺少不动产权证/林权证/承包合同编号",
                "tenure documented"
                if ok
                else "no tenure document (certificate or contract) on record",
            )
        )
    return pd.DataFrame(rows, columns=["stand_id", "rule", "passed", "reason_zh", "reason_en"])


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
