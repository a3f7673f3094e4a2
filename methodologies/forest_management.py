"""Forest management carbon sink (森林经营碳汇), following AR-CM-003-V01 until a newer CCER
version is published.

Baseline: conventional management — each stand grows along its growth curve and is clear-cut
when it reaches the rotation age of its species group (``methodology_defaults.csv``), then
regrows from age 0; stands already past rotation are cut within the first 10 years (spread
deterministically by stand id, as an annual harvest quota spreads them). Public-welfare forest
(公益林) may not be clear-cut by law, so its baseline equals the project path and it earns
nothing from an extended rotation. Project: improved
management — extended rotation, no clear-cut within the crediting period. Removals = project
stock change − baseline stock change − leakage (equation ``net_removals``).

Stock-difference accounting in both scenarios: over the period the cumulative net removals
equal C_project(T) − C_baseline(T) (both start from the same stock), while single years can be
negative when the baseline's young regrowth outgrows the project's older stands. Flagged in
every trace: harvested wood products are not tracked (the baseline clear-cut counts as an
emission in the year of the cut — not conservative if the wood would store carbon; AR-CM-003's
own treatment is to be verified), thinning is not modelled, leakage and project emissions are
zero (no activity is displaced, no burning).
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from methodologies.errors import InputError
from methodologies.exante import ExAnteResult, check_stand_inputs, check_years
from methodologies.growth import GrowthCurve, chapman_richards, curve_lookup
from methodologies.parameters import Parameter, defaults
from methodologies.provenance import EQUATIONS, Step, Trace
from methodologies.trees import carbon_factor, carbon_step

__all__ = ["CODE", "TREE_GROUP_VALUES", "project_ex_ante"]

CODE = "AR-CM-003-V01"
NAME = "森林经营碳汇 Forest management (AR-CM-003-V01)"
SCALE_LIMITS = (0.5, 2.0)
OVERDUE_SPREAD_YEARS = 10
PUBLIC_WELFARE = "公益林"
TREE_GROUP_VALUES = (
    "chinese_fir", "masson_pine", "other_pine", "other_conifer", "mixed_conifer", "broadleaf",
    "mixed_conifer_broadleaf",
)  # fmt: skip


def rotation_parameter(group: str) -> Parameter:
    table = defaults()
    key = f"fm_baseline_rotation_{group}"
    if key not in table:
        raise InputError(
            f"树种组 {group!r} 没有常规经营轮伐期参数（methodology_defaults.csv）。",
            f"species group {group!r} has no baseline rotation age (methodology_defaults.csv).",
        )
    return table[key]


def project_ex_ante(
    stands: pd.DataFrame, curves: list[GrowthCurve], start_year: int, years: int
) -> ExAnteResult:
    """Ex-ante projection for forest management, vectorised over all stands.

    ``stands`` columns: ``stand_id``, ``species_group``, ``site_class``, ``area_ha`` (ha),
    ``age_years`` (years at the start), ``volume_m3_per_ha`` (m³/ha at the start), and
    optionally ``forest_category`` (公益林 stands are never clear-cut in the baseline).
    Each stand's curve is scaled to pass through its own current volume (scale limited to
    0.5–2, so one odd record cannot run away). Returns stocks and changes in t CO2e.
    """
    check_years(years)
    ids = stands["stand_id"].to_numpy(dtype=object)
    area = stands["area_ha"].to_numpy(dtype=np.float64)
    age0 = stands["age_years"].to_numpy(dtype=np.float64)
    v0 = stands["volume_m3_per_ha"].to_numpy(dtype=np.float64)
    check_stand_inputs(ids, area_ha=area, age_years=age0, volume_m3_per_ha=v0)
    groups = stands["species_group"].to_numpy(dtype=object)
    factor = carbon_factor(groups, ids)  # t CO2e per m³
    abc = curve_lookup(curves, groups, stands["site_class"].to_numpy(dtype=object))
    no_curve = np.isnan(abc[:, 0])
    if no_curve.any():
        i = int(np.flatnonzero(no_curve)[0])
        raise InputError(
            f"小班 {ids[i]!r}（{groups[i]}）没有生长曲线，请先运行 tanhui model fit-growth。",
            f"stand {ids[i]!r} ({groups[i]}) has no growth curve; run `tanhui model fit-growth`.",
        )
    a, b, c = abc[:, 0:1], abc[:, 1:2], abc[:, 2:3]
    at_start = chapman_richards(age0[:, None], a, b, c)[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(at_start > 1e-6, v0 / at_start, 1.0)
    scale = np.clip(np.nan_to_num(scale, nan=1.0), *SCALE_LIMITS)[:, None]
    rotation_of = {g: rotation_parameter(g).value for g in set(groups)}
    rotation = pd.Series(groups, dtype=object).map(rotation_of).to_numpy(np.float64)[:, None]
    # public-welfare forest (公益林) may not be clear-cut: its baseline is the project path
    protected = (
        stands["forest_category"].to_numpy(dtype=object) == PUBLIC_WELFARE
        if "forest_category" in stands
        else np.zeros(len(ids), dtype=bool)
    )

    steps = np.arange(0, years + 1, dtype=np.float64)[None, :]  # 0 = start, 1..years = ends
    # project: keeps growing from its current age
    project_volume = scale * chapman_richards(age0[:, None] + steps, a, b, c)
    # baseline: clear-cut when the age reaches the rotation age, then regrowth from 0
    age_at = age0[:, None] + steps
    # years from the start to the first cut; stands already past rotation are cut over the
    # first OVERDUE_SPREAD_YEARS years (deterministic by stand id), as a harvest quota would
    spread = np.array([1 + zlib.crc32(str(s).encode()) % OVERDUE_SPREAD_YEARS for s in ids])
    first_cut = np.where(
        rotation[:, 0] - age0 >= 1.0, rotation[:, 0] - age0, spread.astype(np.float64)
    )[:, None]
    since_cut = np.where(steps >= first_cut, np.mod(steps - first_cut, rotation), age_at)
    baseline_volume = scale * chapman_richards(since_cut, a, b, c)
    baseline_volume[:, 0] = project_volume[:, 0]
    baseline_volume[protected] = project_volume[protected]

    to_stock = factor[:, None] * area[:, None]
    project_stock = project_volume * to_stock
    baseline_stock = baseline_volume * to_stock  # a clear-cut is a negative change

    sites = stands["site_class"].fillna("*").astype(str).reset_index(drop=True)
    strata = (pd.Series(groups, dtype=object).astype(str) + "|" + sites).to_numpy(dtype=object)
    traces = {}
    for label in np.unique(strata):
        group, site = label.split("|", 1)
        traces[label] = _trace(group, site, curves)
    return ExAnteResult.from_stocks(
        CODE, ids, start_year, baseline_stock, project_stock, strata, traces
    )


def _trace(group: str, site: str, curves: list[GrowthCurve]) -> Trace:
    curve = next(
        (c for c in curves if c.species_group == group and c.site_class == site),
        next((c for c in curves if c.species_group == group and c.site_class == "*"), None),
    )
    curve_note = (
        f"a={curve.a:.1f} m³/ha, b={curve.b:.4f}/yr, c={curve.c:.3f}; n={curve.n}, "
        f"RMSE={curve.rmse:.1f} m³/ha, R²={curve.r2:.3f}; {curve.basis}"
        if curve
        else "no curve"
    )
    rotation = rotation_parameter(group)
    return Trace(
        NAME,
        (
            Step(EQUATIONS["chapman_richards"], (), curve_note + "; scaled to the stand's volume"),
            carbon_step(group),
            Step(
                EQUATIONS["stock_difference"],
                (rotation,),
                "baseline: clear-cut at the rotation age (overdue stands within the first "
                f"{OVERDUE_SPREAD_YEARS} years), then regrowth, except 公益林 (no clear-cut); "
                "project: no clear-cut",
            ),
            Step(
                EQUATIONS["net_removals"],
                (),
                "LK = 0, GHG_E = 0; baseline clear-cut = emission in the year of the cut, "
                "harvested wood products not tracked (NOT conservative; to verify against "
                "AR-CM-003-V01); thinning not modelled",
            ),
        ),
    )
