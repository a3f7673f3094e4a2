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

from methodologies.bamboo import culm_biomass_kg
from methodologies.bamboo import trace as bamboo_trace
from methodologies.engine import tree_carbon_tco2e
from methodologies.errors import InputError
from methodologies.parameters import (
    Parameter,
    bamboo_parameters,
    defaults,
    require,
    species_parameters,
    volume_equations,
)
from methodologies.provenance import EQUATIONS, Step, Trace
from methodologies.species import SpeciesGroup

__all__ = [
    "PLOT_COLUMNS",
    "PLOT_COLUMNS_ZH",
    "ExPostResult",
    "estimate",
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


def tree_volume_m3(group: str, dbh_cm: np.ndarray, height_m: np.ndarray) -> np.ndarray:
    """Stem volume over bark of single trees (m³): v = a × D^b × H^c for the group's table."""
    eq = volume_equations()[VOLUME_EQUATION_OF[SpeciesGroup(group)]]
    return np.asarray(eq.a * np.asarray(dbh_cm) ** eq.b * np.asarray(height_m) ** eq.c)


def t_value(df: float) -> float:
    """Two-sided 90 % Student t quantile t(0.95, df)."""
    return float(stats.t.ppf(0.5 + CONFIDENCE / 2, df))


def plots_needed(cv: float, target: float = 0.10, max_plots: int = 10_000) -> int:
    """Plots needed so that t(0.95, n−1) × CV / √n ≤ target (relative half-width).

    Iterates n = ceil((t × CV / E)²) from n = 2 until it is stable.
    """
    if cv <= 0:
        return 2
    n = 2
    for _ in range(100):
        new = max(2, int(np.ceil((t_value(n - 1) * cv / target) ** 2)))
        if new == n or new > max_plots:
            return min(new, max_plots)
        n = new
    return n


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
    conservative_tco2e: float
    trace: Trace


def _validate(trees: pd.DataFrame, strata: pd.DataFrame) -> None:
    missing = [c for c in PLOT_COLUMNS if c not in trees]
    if missing:
        names = ", ".join(f"{c}（{PLOT_COLUMNS_ZH[c]}）" for c in missing)
        raise InputError(f"样地数据缺少列：{names}", f"plot data lack the columns: {names}")
    known = {g.value for g in VOLUME_EQUATION_OF} | {BAMBOO}
    plot_ids = trees["plot_id"].astype(str).to_numpy(dtype=object)
    groups = trees["species_group"].to_numpy(dtype=object)
    is_bamboo = groups == BAMBOO
    if is_bamboo.any() and "age_du" not in trees:
        raise InputError(
            "毛竹样地须有「竹度（毛竹）」列（每株立竹的竹度）。",
            "moso bamboo plots need the column age_du (竹度, the age of each culm).",
        )
    checks: list[tuple[NDArray[np.bool_], str, str, NDArray[np.object_]]] = []
    bad_group = np.array([g not in known for g in groups], dtype=bool)
    checks.append((bad_group, "未知树种组", "unknown species group", groups))
    for column, (low, high), zh, en, rows in (
        ("dbh_cm", DBH_RANGE, "胸径", "DBH (cm)", ~is_bamboo),
        ("dbh_cm", (1.0, 20.0), "毛竹胸径", "bamboo DBH (cm)", is_bamboo),
        ("height_m", HEIGHT_RANGE, "树高", "height (m)", ~is_bamboo),
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
    per_stratum = trees.groupby("stratum")["plot_id"].nunique()
    single = per_stratum[per_stratum < 2]
    if len(single):
        s = single.index[0]
        raise InputError(
            f"层 {s!r} 只有 1 个样地，无法估计方差；每层至少需要 2 个样地（共 {len(single)} 个层不足）。",
            f"stratum {s!r} has only 1 plot: its variance cannot be estimated; every stratum "
            f"needs at least 2 plots ({len(single)} strata are short).",
        )


def estimate(trees: pd.DataFrame, strata: pd.DataFrame) -> ExPostResult:
    """Stratified ex-post carbon stock (t CO2e) of trees from plot tree lists.

    ``trees``: one row per tree with PLOT_COLUMNS; ``strata``: ``stratum``, ``area_ha``.
    """
    _validate(trees, strata)
    table = species_parameters()
    carbon = np.zeros(len(trees))
    used: list[Parameter] = []
    bamboo_rows = False
    for group, idx in trees.groupby("species_group").groups.items():
        rows = trees.loc[idx]
        if group == BAMBOO:  # culms: per-culm biomass model, then the bamboo carbon chain
            bp = bamboo_parameters()
            m = culm_biomass_kg(rows["dbh_cm"].to_numpy(float), rows["age_du"].to_numpy(float))
            cf, r = bp["carbon_fraction"].value, bp["root_shoot_ratio"].value
            carbon[trees.index.get_indexer(idx)] = 44.0 / 12.0 * cf * (1.0 + r) * m / 1000.0
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
    per_tree = trees.assign(tco2e=carbon)
    plots = (
        per_tree.groupby(["stratum", "plot_id"])
        .agg(
            n_trees=("tco2e", "size"),
            tco2e=("tco2e", "sum"),
            plot_area_ha=("plot_area_ha", "first"),
        )
        .reset_index()
    )
    plots["tco2e_per_ha"] = plots["tco2e"] / plots["plot_area_ha"]
    area_of = strata.set_index("stratum")["area_ha"]
    stratum_rows = []
    for s, g in plots.groupby("stratum"):
        y = g["tco2e_per_ha"].to_numpy(float)
        n = len(y)
        mean = float(y.mean())
        sd = float(y.std(ddof=1))
        se = sd / np.sqrt(n)
        cv = sd / mean if mean > 0 else float("inf")
        stratum_rows.append({
            "stratum": s, "area_ha": float(area_of[s]), "n_plots": n, "mean_tco2e_per_ha": mean,
            "sd_tco2e_per_ha": sd, "se_tco2e_per_ha": se, "cv": cv,
            "half_width_tco2e_per_ha": t_value(n - 1) * se,
            "plots_needed": plots_needed(cv) if np.isfinite(cv) else -1,
        })  # fmt: skip
    per_stratum = pd.DataFrame(stratum_rows)
    a = per_stratum["area_ha"].to_numpy(float)
    total = float(np.sum(a * per_stratum["mean_tco2e_per_ha"]))
    var_terms = (a**2) * per_stratum["se_tco2e_per_ha"].to_numpy(float) ** 2
    se_total = float(np.sqrt(var_terms.sum()))
    n_h = per_stratum["n_plots"].to_numpy(float)
    denominator = float(np.sum(var_terms**2 / (n_h - 1)))
    df = (
        float(var_terms.sum() ** 2 / denominator)
        if denominator > 0
        else float(n_h.sum() - len(n_h))
    )
    half = t_value(df) * se_total
    uncertainty = half / total if total > 0 else float("inf")
    target = require(defaults(), "uncertainty_target")
    rule = require(defaults(), "uncertainty_deduction_rule")
    deduct = uncertainty > target.value
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
    trace = Trace(
        "样地实测 Ex-post from monitoring plots",
        (
            *bamboo_steps,
            *tree_steps,
            Step(EQUATIONS["stratified_mean"], (), f"90 % CI, Welch–Satterthwaite df = {df:.1f}"),
            Step(EQUATIONS["conservative_deduction"], (target, rule),
                 f"U = {uncertainty:.1%}; " + ("deduction applied" if deduct else "no deduction")),
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
        deduction_applied=bool(deduct),
        conservative_tco2e=total - half if deduct else total,
        trace=trace,
    )
