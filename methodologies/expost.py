"""Ex-post carbon stock from monitoring plots (样地): trees → plots → strata → total.

Tree volume by the two-way volume equation of its group (``tree_volume_two_way``), carbon by
``carbon_stock_trees``, per plot in t CO2e/ha; the stratified mean over strata (species group ×
age group, with their areas) with the 90 % confidence interval (``stratified_mean``); the
uncertainty U = half-width / estimate; above 10 % the lower bound of the interval is used
(``conservative_deduction``); and the plots needed for ±10 % at 90 % confidence per stratum
(``plots_needed``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from methodologies.bamboo import culm_carbon_tco2e
from methodologies.bamboo import trace as bamboo_trace
from methodologies.engine import tree_carbon_tco2e
from methodologies.errors import InputError
from methodologies.parameters import (
    Parameter,
    defaults,
    require,
    species_parameters,
    volume_equations,
)
from methodologies.provenance import EQUATIONS, Step, Trace
from methodologies.species import SpeciesGroup
from methodologies.uncertainty import (
    Deduction,
    deduct,
    deduction_fraction,
    independent_change_half_width,
    t_value,
)

__all__ = [
    "EMPTY_PLOT",
    "PLOT_COLUMNS",
    "PLOT_COLUMNS_ZH",
    "ChangeResult",
    "ExPostResult",
    "estimate",
    "estimate_change",
    "plots_needed",
    "tree_volume_m3",
]

# canonical column → Chinese header of the template
PLOT_COLUMNS_ZH = {
    "plot_id": "样地号",
    "stratum": "层（树种组-龄组）",
    "plot_area_ha": "样地面积（公顷）",
    "species_group": "树种组",
    "dbh_cm": "胸径（厘米）",
    "height_m": "树高（米）",
}
PLOT_COLUMNS = tuple(PLOT_COLUMNS_ZH)
# moso bamboo rows (species_group moso_bamboo): one row per culm with its age in 度; no height
BAMBOO_COLUMNS_ZH = {"age_du": "竹度（毛竹）"}
OPTIONAL_COLUMNS_ZH = {"pre_existing": "原有树木（1/0）"}
EMPTY_PLOT = "none"  # species group of the one row of a plot with no tree (无林木)
AGE_DU_RANGE = (1.0, 10.0)
BAMBOO = "moso_bamboo"
STRATUM_COLUMNS_ZH = {"stratum": "层（树种组-龄组）", "area_ha": "层面积（公顷）"}
DBH_RANGE = (1.0, 150.0)  # cm
HEIGHT_RANGE = (1.3, 70.0)  # m
# which volume equation a species group uses (shared/reference/volume_equations.csv)
VOLUME_EQUATION_OF = {
    SpeciesGroup.CHINESE_FIR: "chinese_fir",
    SpeciesGroup.MASSON_PINE: "masson_pine",
    SpeciesGroup.OTHER_PINE: "other_conifer",
    SpeciesGroup.OTHER_CONIFER: "other_conifer",
    SpeciesGroup.MIXED_CONIFER: "other_conifer",
    SpeciesGroup.BROADLEAF: "broadleaf",
    SpeciesGroup.MIXED_CONIFER_BROADLEAF: "broadleaf",
}
CONFIDENCE = 0.90
CO2_UNIT = "t CO2e"


def tree_volume_m3(group: str, dbh_cm: np.ndarray, height_m: np.ndarray) -> np.ndarray:
    """Stem volume over bark of single trees (m³): v = a × D^b × H^c for the group's table."""
    eq = volume_equations()[VOLUME_EQUATION_OF[SpeciesGroup(group)]]
    return np.asarray(eq.a * np.asarray(dbh_cm) ** eq.b * np.asarray(height_m) ** eq.c)


def plots_needed(cv: float, target: float = 0.10, max_plots: int = 10_000) -> int:
    """The fewest plots n ≥ 2 with t(0.95, n−1) × CV / √n ≤ target (relative 90 % half-width).

    The left side falls as n grows, so n is found by counting up from the normal approximation
    n₀ = ⌈(z(0.95) × CV / E)²⌉, which never exceeds it (t > z). (Iterating n = ⌈(t(n−1) × CV /
    E)²⌉ to a fixed point, as this did before, can settle one plot short: CV 0.413 gave 48,
    whose half-width is 10.002 %.) At most ``max_plots``.
    """
    if cv <= 0:
        return 2
    z = float(stats.norm.ppf(0.95))
    n = max(2, int(np.ceil((z * cv / target) ** 2)))
    while n < max_plots and t_value(n - 1) * cv / np.sqrt(n) > target:
        n += 1
    return min(n, max_plots)


@dataclass
class ExPostResult:
    plots: pd.DataFrame  # plot_id, stratum, n_trees, tco2e_per_ha
    strata: pd.DataFrame  # stratum, area_ha, n_plots, mean, sd, se, cv, half_width, plots_needed
    estimate_tco2e: float
    se_tco2e: float
    df: float
    half_width_tco2e: float
    uncertainty: float  # half-width / estimate
    deduction_applied: bool
    conservative_tco2e: float  # estimate − AR-TOOL14 App. 2 fraction × half-width (display only)
    trace: Trace
    pre_existing_tco2e: float = 0.0  # stratified estimate of pre-existing trees, not counted


def _validate(trees: pd.DataFrame, strata: pd.DataFrame) -> None:
    missing = [c for c in PLOT_COLUMNS if c not in trees]
    if missing:
        names = ", ".join(f"{c}（{PLOT_COLUMNS_ZH[c]}）" for c in missing)
        raise InputError(f"样地数据缺少列：{names}", f"plot data lack the columns: {names}")
    known = {g.value for g in VOLUME_EQUATION_OF} | {BAMBOO, EMPTY_PLOT}
    plot_ids = trees["plot_id"].astype(str).to_numpy(dtype=object)
    groups = trees["species_group"].to_numpy(dtype=object)
    is_bamboo = groups == BAMBOO
    is_tree = ~is_bamboo & (groups != EMPTY_PLOT)
    if is_bamboo.any() and "age_du" not in trees:
        raise InputError(
            "毛竹样地须有「竹度（毛竹）」列（每株立竹的竹度）。",
            "moso bamboo plots need the column age_du (竹度, the age of each culm).",
        )
    checks: list[tuple[NDArray[np.bool_], str, str, NDArray[np.object_]]] = []
    bad_group = np.array([g not in known for g in groups], dtype=bool)
    checks.append((bad_group, "未知树种组", "unknown species group", groups))
    for column, (low, high), zh, en, rows in (
        ("dbh_cm", DBH_RANGE, "胸径", "DBH (cm)", is_tree),
        ("dbh_cm", (1.0, 20.0), "毛竹胸径", "bamboo DBH (cm)", is_bamboo),
        ("height_m", HEIGHT_RANGE, "树高", "height (m)", is_tree),
        ("age_du", AGE_DU_RANGE, "竹度", "bamboo age (du)", is_bamboo),
        ("plot_area_ha", (1e-6, 1.0), "样地面积", "plot area (ha)", np.ones(len(trees), bool)),
    ):
        if not rows.any():
            continue
        raw = trees[column].to_numpy(dtype=object)
        values = pd.to_numeric(trees[column], errors="coerce").to_numpy(dtype=np.float64)
        with np.errstate(invalid="ignore"):
            bad = rows & (~np.isfinite(values) | (values < low) | (values > high))
        checks.append(
            (bad, f"{zh}超出范围 {low:g}–{high:g}：", f"{en} is outside {low:g}–{high:g}:", raw)
        )
    for bad, zh, en, raw in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"第 {i + 1} 行（样地 {plot_ids[i]!r}）：{zh} {raw[i]!r}（共 {int(bad.sum())} 行）",
                f"row {i + 1} (plot {plot_ids[i]!r}): {en} {raw[i]!r} ({int(bad.sum())} rows)",
            )
    areas = strata.set_index("stratum")["area_ha"]
    for s in trees["stratum"].unique():
        if s not in areas.index:
            raise InputError(
                f"层 {s!r} 没有面积（请在层面积表中填写）",
                f"stratum {s!r} has no area (fill it in the strata sheet)",
            )
        if not areas[s] >= 0:
            raise InputError(
                f"层 {s!r} 的面积 {areas[s]!r} 无效", f"stratum {s!r}: area {areas[s]!r} is invalid"
            )
    strata_of_plot = trees.groupby(trees["plot_id"].astype(str))["stratum"].nunique()
    split = strata_of_plot[strata_of_plot > 1]
    if len(split):
        p = split.index[0]
        raise InputError(
            f"样地 {p!r} 出现在多个层中；每个样地只能属于一个层（共 {len(split)} 个样地）。",
            f"plot {p!r} appears in more than one stratum; a plot belongs to one stratum "
            f"({len(split)} plots).",
        )
    per_stratum = trees.groupby("stratum")["plot_id"].nunique()
    single = per_stratum[per_stratum < 2]
    if len(single):
        s = single.index[0]
        raise InputError(
            f"层 {s!r} 只有 1 个样地，无法估计方差；每层至少需要 2 个样地（共 {len(single)} 个层不足）。",
            f"stratum {s!r} has only 1 plot: its variance cannot be estimated; every stratum "
            f"needs at least 2 plots ({len(single)} strata are short).",
        )


def _tree_carbon(trees: pd.DataFrame) -> tuple[NDArray[np.float64], list[Parameter], bool]:
    """t CO2e per row (0 for empty-plot rows), the parameters used, whether bamboo was met."""
    table = species_parameters()
    carbon = np.zeros(len(trees))
    used: list[Parameter] = []
    bamboo_rows = False
    for group, idx in trees.groupby("species_group").groups.items():
        rows = trees.loc[idx]
        if group == EMPTY_PLOT:
            continue
        if group == BAMBOO:  # culms: the bamboo carbon chain, per culm
            carbon[trees.index.get_indexer(idx)] = culm_carbon_tco2e(
                rows["dbh_cm"].to_numpy(float), rows["age_du"].to_numpy(float)
            )
            bamboo_rows = True
            continue
        v = tree_volume_m3(
            str(group), rows["dbh_cm"].to_numpy(float), rows["height_m"].to_numpy(float)
        )
        p = table[SpeciesGroup(str(group))]
        carbon[trees.index.get_indexer(idx)] = tree_carbon_tco2e(
            v, p.svd.value, p.bef.value, p.root_shoot.value, p.carbon_fraction.value
        )
        used += [
            volume_equations()[VOLUME_EQUATION_OF[SpeciesGroup(str(group))]].parameter(),
            *p.all(),
        ]
    return carbon, used, bamboo_rows


def _pre_existing(trees: pd.DataFrame) -> NDArray[np.bool_]:
    if "pre_existing" not in trees:
        return np.zeros(len(trees), dtype=bool)
    flag = pd.to_numeric(trees["pre_existing"], errors="coerce").fillna(0).to_numpy(float)
    return np.asarray(flag > 0, dtype=bool)


def plot_values(
    trees: pd.DataFrame, strata: pd.DataFrame, exclude_pre_existing: bool = False
) -> tuple[pd.DataFrame, list[Parameter], bool]:
    """Per plot: ``stratum, plot_id, n_trees, tco2e, plot_area_ha, tco2e_per_ha`` and
    ``pre_existing_per_ha`` (t CO2e/ha of pre-existing trees, counted or not)."""
    _validate(trees, strata)
    trees = trees.reset_index(drop=True)
    carbon, used, bamboo_rows = _tree_carbon(trees)
    old = _pre_existing(trees)
    counted = np.where(old, 0.0, carbon) if exclude_pre_existing else carbon
    per_tree = trees.assign(
        tco2e=counted,
        old_tco2e=np.where(old, carbon, 0.0),
        is_tree=(trees["species_group"] != EMPTY_PLOT).astype(int),
    )
    plots = (
        per_tree.groupby(["stratum", "plot_id"])
        .agg(
            n_trees=("is_tree", "sum"),
            tco2e=("tco2e", "sum"),
            old_tco2e=("old_tco2e", "sum"),
            plot_area_ha=("plot_area_ha", "first"),
        )
        .reset_index()
    )
    plots["tco2e_per_ha"] = plots["tco2e"] / plots["plot_area_ha"]
    plots["pre_existing_per_ha"] = plots["old_tco2e"] / plots["plot_area_ha"]
    return plots.drop(columns="old_tco2e"), used, bamboo_rows


def _stratified(
    plots: pd.DataFrame, strata: pd.DataFrame, column: str
) -> tuple[pd.DataFrame, float, float, float]:
    """Stratified mean of ``column`` (per ha) × area: (per-stratum table, total, SE, df = n − M).

    Ĉ = Σ_h A_h ȳ_h;  SE = sqrt(Σ_h A_h² s_h² / n_h);  df = Σ n_h − M (equation
    ``stratified_mean``).
    """
    area_of = strata.set_index("stratum")["area_ha"]
    rows = []
    for s, g in plots.groupby("stratum"):
        y = g[column].to_numpy(float)
        n = len(y)
        mean = float(y.mean())
        sd = float(y.std(ddof=1))
        se = sd / np.sqrt(n)
        cv = sd / abs(mean) if mean != 0 else None
        rows.append({
            "stratum": s, "area_ha": float(area_of[s]), "n_plots": n, "mean_tco2e_per_ha": mean,
            "sd_tco2e_per_ha": sd, "se_tco2e_per_ha": se, "cv": cv,
            "half_width_tco2e_per_ha": t_value(n - 1) * se,
            "plots_needed": plots_needed(cv) if cv is not None else -1,
        })  # fmt: skip
    table = pd.DataFrame(rows)
    a = table["area_ha"].to_numpy(float)
    total = float(np.sum(a * table["mean_tco2e_per_ha"]))
    se_total = float(np.sqrt(np.sum((a**2) * table["se_tco2e_per_ha"].to_numpy(float) ** 2)))
    df = float(table["n_plots"].sum() - len(table))
    return table, total, se_total, df


def _carbon_steps(used: list[Parameter], bamboo_rows: bool) -> tuple[Step, ...]:
    bamboo_steps = bamboo_trace(with_age_structure=False).steps if bamboo_rows else ()
    tree_steps = (
        (
            Step(
                EQUATIONS["tree_volume_two_way"],
                tuple(dict.fromkeys(u for u in used if "volume" in u.name)),
            ),
            Step(
                EQUATIONS["carbon_stock_trees"],
                tuple(dict.fromkeys(u for u in used if "volume" not in u.name)),
            ),
        )
        if used
        else ()
    )
    return (*bamboo_steps, *tree_steps)


def estimate(
    trees: pd.DataFrame, strata: pd.DataFrame, exclude_pre_existing: bool = False
) -> ExPostResult:
    """Stratified ex-post carbon stock (t CO2e) of trees from plot tree lists.

    ``trees``: one row per tree with PLOT_COLUMNS; ``strata``: ``stratum``, ``area_ha``.
    df = n − M (plots minus strata); U = t(0.95, n − M) × SE / Ĉ; the AR-TOOL14 Appendix 2
    fraction of the half-width is deducted in ``conservative_tco2e`` (shown, never credited:
    credits come from :func:`estimate_change`).
    """
    plots, used, bamboo_rows = plot_values(trees, strata, exclude_pre_existing)
    per_stratum, total, se_total, df = _stratified(plots, strata, "tco2e_per_ha")
    half = t_value(df) * se_total
    uncertainty = half / total if total > 0 else float("inf")
    target = require(defaults(), "uncertainty_target")
    fraction = deduction_fraction(uncertainty) if total > 0 else 0.0
    _, old_total, _, _ = _stratified(plots, strata, "pre_existing_per_ha")
    trace = Trace(
        "样地实测 Ex-post from monitoring plots",
        (
            *_carbon_steps(used, bamboo_rows),
            Step(EQUATIONS["stratified_mean"], (), f"90 % CI, df = n − M = {df:.0f}"),
            Step(EQUATIONS["conservative_deduction"], (target,),
                 f"U = {uncertainty:.1%}; {fraction:.0%} of the half-width deducted "
                 "(AR-TOOL14 App. 2; on a stock for display — credits use the change)"),
            Step(EQUATIONS["plots_needed"], (target,)),
        ),
    )  # fmt: skip
    return ExPostResult(
        plots=plots,
        strata=per_stratum,
        estimate_tco2e=total,
        se_tco2e=se_total,
        df=df,
        half_width_tco2e=half,
        uncertainty=uncertainty,
        deduction_applied=fraction > 0,
        conservative_tco2e=total - fraction * half,
        trace=trace,
        pre_existing_tco2e=old_total if exclude_pre_existing else 0.0,
    )


@dataclass
class ChangeResult:
    """Stock change between two measurements made the same way (t CO2e over the interval)."""

    method: str  # "paired" (same plots remeasured) | "independent"
    start: ExPostResult
    end: ExPostResult
    change_tco2e: float  # undiscounted Ĉ₂ − Ĉ₁
    se_tco2e: float | None  # paired only
    df: float
    half_width_tco2e: float
    deduction: Deduction  # on the change: U_Δ, the fraction, the kept change
    pairs: pd.DataFrame  # paired: per plot start, end, difference (t CO2e/ha); else empty
    trace: Trace

    @property
    def uncertainty(self) -> float:
        return self.deduction.uncertainty

    @property
    def conservative_change_tco2e(self) -> float:
        return self.deduction.kept


def _same_plots(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    key_a = a.set_index("plot_id")["stratum"].sort_index()
    key_b = b.set_index("plot_id")["stratum"].sort_index()
    return key_a.index.equals(key_b.index) and bool((key_a == key_b).all())


def estimate_change(
    start_trees: pd.DataFrame, start_strata: pd.DataFrame, end_trees: pd.DataFrame,
    end_strata: pd.DataFrame, methodology: str, exclude_pre_existing: bool = False,
) -> ChangeResult:  # fmt: skip
    """Change of the stratified carbon stock between two measurements (t CO2e).

    Paired (equation ``change_uncertainty_paired``) when the same plot ids are measured in the
    same strata at both times and the strata areas are the same: per plot d = y₂ − y₁ (t CO2e/
    ha), ΔĈ = Σ_h A_h d̄_h, SE = sqrt(Σ_h A_h² s_d,h² / n_h), df = n − M, half-width
    t(0.95, n − M) × SE. Otherwise the two estimates are independent (equation
    ``change_uncertainty_independent``): half-width sqrt(hw₁² + hw₂²). The methodology's
    deduction rule is applied to the change; the undiscounted estimates are kept so the next
    period starts from the undiscounted stock.
    """
    start = estimate(start_trees, start_strata, exclude_pre_existing)
    end = estimate(end_trees, end_strata, exclude_pre_existing)
    areas_1 = start_strata.set_index("stratum")["area_ha"].astype(float).sort_index()
    areas_2 = end_strata.set_index("stratum")["area_ha"].astype(float).sort_index()
    same_areas = areas_1.index.equals(areas_2.index) and bool(np.allclose(areas_1, areas_2))
    if _same_plots(start.plots, end.plots) and same_areas:
        pairs = start.plots[["stratum", "plot_id", "tco2e_per_ha"]].merge(
            end.plots[["plot_id", "tco2e_per_ha"]], on="plot_id", suffixes=("_start", "_end")
        )
        pairs["difference_tco2e_per_ha"] = pairs["tco2e_per_ha_end"] - pairs["tco2e_per_ha_start"]
        _, change, se, df = _stratified(pairs, end_strata, "difference_tco2e_per_ha")
        half = t_value(df) * se
        method, se_out = "paired", se
        note = (f"paired: {len(pairs)} permanent plots remeasured, df = n − M = {df:.0f}, "
                f"ΔĈ = {change:,.1f} ± {half:,.1f} t CO2e (90 %)")  # fmt: skip
        equation = EQUATIONS["change_uncertainty_paired"]
    else:
        pairs = pd.DataFrame()
        change = end.estimate_tco2e - start.estimate_tco2e
        half = independent_change_half_width(start.half_width_tco2e, end.half_width_tco2e)
        df = min(start.df, end.df)
        method, se_out = "independent", None
        note = (f"independent samples (plot ids or strata differ): hw₁ = {start.half_width_tco2e:,.1f}, "
                f"hw₂ = {end.half_width_tco2e:,.1f}, ΔĈ = {change:,.1f} ± {half:,.1f} t CO2e")  # fmt: skip
        equation = EQUATIONS["change_uncertainty_independent"]
    deduction = deduct(change, half, methodology)
    old_note = (
        f"; pre-existing trees excluded (start {start.pre_existing_tco2e:,.1f}, end "
        f"{end.pre_existing_tco2e:,.1f} t CO2e): their growth is the baseline's"
        if exclude_pre_existing
        else ""
    )
    trace = Trace(
        "样地复测碳储量变化 Stock change from remeasured plots",
        (
            *end.trace.steps[:-3],
            Step(EQUATIONS["stratified_mean"], (), "the same estimator at both measurements"),
            Step(equation, (), note + old_note),
            Step(EQUATIONS["conservative_deduction"], (deduction.rule,),
                 f"U_Δ = {deduction.uncertainty:.1%} → {deduction.fraction:.0%} of the half-width "
                 f"deducted: {change:,.1f} → {deduction.kept:,.1f} t CO2e"),
        ),
    )  # fmt: skip
    return ChangeResult(method, start, end, change, se_out, df, half, deduction, pairs, trace)
