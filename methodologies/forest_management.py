"""Forest management carbon sink (森林经营碳汇), following AR-CM-003-V01 (2014) until a newer CCER
version is published.

Applicability (AR-CM-003-V01 section 2, read from a public copy; see ``eligibility``): planted
young and middle-aged tree stands on forest land (canopy ≥ 0.20, ≥ 0.0667 ha, height ≥ 2 m),
mineral soil, no full clearing or burning, dead wood and litter kept, soil disturbance limited.

Baseline = continuation of current management: each commercial stand grows along the county's
fitted growth curve (scaled to its own volume) and is clear-cut at the rotation age of the
county's 森林经营方案 (``fm_baseline_rotation_<group>``), no faster than the county's annual
allowable cut 采伐限额 allows (``fm_baseline_cut_quota_m3_per_ha_yr`` × the county's commercial
area: one quota per county, ``county_code``; stands due beyond it wait, oldest first), then regrows. 公益林 is not clear-cut (only tending is allowed there), so its
baseline simply grows. A share of the baseline harvest may stay as long-lived wood products
(``fm_hwp_long_lived_fraction``, counted in the baseline stock; 0 until the methodology's rule
is read).

Project = the improved practices, each an effect with its own parameter, so the trace says how
much comes from each (computed one after the other, each on top of the previous):

1. longer rotation — harvest ``fm_project_rotation_extension_years`` after the plan's age
   (commercial stands only);
2. tending and thinning — the net volume increment rises by ``fm_project_tending_growth_gain``;
3. enrichment planting in open stands (canopy closure < ``fm_enrichment_canopy_below``) — the
   increment rises by a further ``fm_project_enrichment_growth_gain``.

So 公益林 earns from tending and enrichment, not from a rotation it never had. Leakage and
project emissions are 0 (no activity displaced, no burning — applicability conditions).
Removals = project stock change − baseline stock change (equation ``net_removals``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies.errors import InputError
from methodologies.exante import ExAnteResult, check_stand_inputs, check_years
from methodologies.growth import GrowthCurve, chapman_richards, curve_lookup
from methodologies.parameters import Parameter, defaults, require, with_overrides
from methodologies.provenance import EQUATIONS, Step, Trace
from methodologies.trees import carbon_factor, carbon_step

__all__ = ["CODE", "EFFECTS", "project_ex_ante"]

CODE = "AR-CM-003-V01"
NAME = "森林经营碳汇 Forest management (AR-CM-003-V01)"
SCALE_LIMITS = (0.5, 2.0)
PUBLIC_WELFARE = "公益林"
EFFECTS = ("longer_rotation", "tending_thinning", "enrichment_planting")
Array2 = NDArray[np.float64]


def rotation_parameter(group: str, table: Mapping[str, Parameter] | None = None) -> Parameter:
    """The plan's rotation age of ``group`` (years) from ``table`` (default: the package's)."""
    table = defaults() if table is None else table
    key = f"fm_baseline_rotation_{group}"
    if key not in table:
        raise InputError(
            f"树种组 {group!r} 没有常规经营轮伐期参数（methodology_defaults.csv）。",
            f"species group {group!r} has no baseline rotation age (methodology_defaults.csv).",
        )
    return table[key]


def _simulate(
    age0: NDArray[np.float64], v0: NDArray[np.float64], abc: NDArray[np.float64],
    scale: NDArray[np.float64], area: NDArray[np.float64], rotation: NDArray[np.float64],
    gain: NDArray[np.float64], quota_m3: NDArray[np.float64], county: NDArray[np.int64],
    years: int,
) -> tuple[Array2, Array2]:  # fmt: skip
    """Volume per ha at the start and the end of each year, and the harvested volume (m³/ha).

    Growth: v(t) = v_s + (1 + gain) × scale × (V(age) − V(age_s)) from the last start (the
    stand's state at the start, or 0 after a clear-cut). A stand whose age reaches
    ``rotation`` (inf: never) is clear-cut if its county's quota for the year
    (``quota_m3[county]``, m³: the 采伐限额 is set per county) allows, oldest first within the
    county; otherwise it waits.
    """
    n = len(age0)
    a, b, c = abc[:, 0], abc[:, 1], abc[:, 2]
    volume = np.zeros((n, years + 1))
    harvest = np.zeros((n, years + 1))
    volume[:, 0] = v0
    age, v_s = age0.copy(), v0.copy()
    at_last_start = chapman_richards(age0, a, b, c)  # V(age_s): changes only at a clear-cut
    rate = (1.0 + gain) * scale
    for y in range(1, years + 1):
        age = age + 1.0
        grown = v_s + rate * (chapman_richards(age, a, b, c) - at_last_start)
        due = np.flatnonzero(age >= rotation)
        if len(due):
            order = due[np.lexsort((-age[due], county[due]))]  # by county, oldest first (stable)
            volumes = grown[order] * area[order]
            cumulative = np.cumsum(volumes)
            group = county[order]
            starts = np.r_[True, group[1:] != group[:-1]]
            # what the county's earlier (older) stands took before each: cut within its quota
            before = np.maximum.accumulate(np.where(starts, cumulative - volumes, -np.inf))
            cut = order[cumulative - before <= quota_m3[group] + 1e-9]
            harvest[cut, y] = grown[cut]
            grown[cut] = 0.0
            age[cut], v_s[cut], at_last_start[cut] = 0.0, 0.0, 0.0  # V(0) = 0
        volume[:, y] = grown
    return volume, harvest


def project_ex_ante(
    stands: pd.DataFrame, curves: list[GrowthCurve], start_year: int, years: int,
    overrides: Mapping[str, float] | None = None,
) -> ExAnteResult:  # fmt: skip
    """Ex-ante projection for forest management, vectorised over all stands.

    ``stands`` columns: ``stand_id``, ``species_group``, ``site_class``, ``area_ha`` (ha),
    ``age_years`` (years at the start), ``volume_m3_per_ha`` (m³/ha at the start), and
    optionally ``forest_category`` (公益林: no clear-cut) and ``canopy_closure`` (0–1; below
    ``fm_enrichment_canopy_below`` the project plants to enrich). Each stand's curve is scaled
    to pass through its own current volume (scale 0.5–2). Returns stocks and changes in
    t CO2e; ``effects`` says how much of the net removals each practice brings.

    ``overrides``: a scenario — values of ``methodology_defaults.csv`` parameters to use instead
    of the defaults (e.g. ``{"fm_baseline_rotation_chinese_fir": 30,
    "fm_project_tending_growth_gain": 0.2}``); each is flagged in the trace as a scenario value
    (unverified), naming the default it replaces (:func:`~methodologies.parameters.with_overrides`).
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
            f"小班 {ids[i]!r}（{groups[i]}）没有生长曲线：请先用登记的小班拟合生长曲线。",
            f"stand {ids[i]!r} ({groups[i]}) has no growth curve: fit the curves to the registered stands first.",
        )
    at_start = chapman_richards(age0, abc[:, 0], abc[:, 1], abc[:, 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(at_start > 1e-6, v0 / at_start, 1.0)
    scale = np.clip(np.nan_to_num(scale, nan=1.0), *SCALE_LIMITS)
    table = with_overrides(defaults(), overrides)
    rotation_of = {g: rotation_parameter(g, table).value for g in set(groups)}
    plan_rotation = pd.Series(groups, dtype=object).map(rotation_of).to_numpy(np.float64)
    protected = (
        stands["forest_category"].to_numpy(dtype=object) == PUBLIC_WELFARE
        if "forest_category" in stands
        else np.zeros(len(ids), dtype=bool)
    )
    canopy = (
        pd.to_numeric(stands["canopy_closure"], errors="coerce").to_numpy(np.float64)
        if "canopy_closure" in stands
        else np.full(len(ids), np.nan)
    )
    quota_p = require(table, "fm_baseline_cut_quota_m3_per_ha_yr")
    hwp_p = require(table, "fm_hwp_long_lived_fraction")
    extension_p = require(table, "fm_project_rotation_extension_years")
    tending_p = require(table, "fm_project_tending_growth_gain")
    enrich_p = require(table, "fm_project_enrichment_growth_gain")
    open_p = require(table, "fm_enrichment_canopy_below")
    # one quota per county (采伐限额 is a county's): the rate × the county's commercial area
    county_codes = (
        stands["county_code"].fillna("").astype(str).to_numpy(dtype=object)
        if "county_code" in stands
        else np.full(len(ids), "", dtype=object)
    )
    county, names = pd.factorize(pd.Series(county_codes, dtype=object))
    county = np.asarray(county, dtype=np.int64)
    commercial = np.bincount(county, weights=np.where(protected, 0.0, area), minlength=len(names))
    quota: NDArray[np.float64] = quota_p.value * commercial.astype(np.float64)
    base_rotation = np.where(protected, np.inf, plan_rotation)
    long_rotation = np.where(protected, np.inf, plan_rotation + extension_p.value)
    zero = np.zeros(len(ids))
    enrich = np.where(canopy < open_p.value, enrich_p.value, 0.0)  # NaN canopy: no enrichment

    def run(rotation: NDArray[np.float64], gain: NDArray[np.float64]) -> Array2:
        volume, harvest = _simulate(
            age0, v0, abc, scale, area, rotation, gain, quota, county, years
        )
        wood = hwp_p.value * np.cumsum(harvest, axis=1)  # long-lived products kept (m³/ha)
        return np.asarray((volume + wood) * (factor * area)[:, None], dtype=np.float64)

    baseline_stock = run(base_rotation, zero)
    steps = (
        run(long_rotation, zero),
        run(long_rotation, zero + tending_p.value),
        run(long_rotation, tending_p.value + enrich),
    )
    project_stock = steps[-1]
    previous = baseline_stock
    effects: dict[str, float] = {}
    per_effect: list[Array2] = []
    for name, stock in zip(EFFECTS, steps, strict=True):
        contribution = stock[:, -1] - stock[:, 0] - (previous[:, -1] - previous[:, 0])
        per_effect.append(contribution)
        effects[name] = float(contribution.sum())
        previous = stock

    sites = stands["site_class"].fillna("*").astype(str).reset_index(drop=True)
    strata = (pd.Series(groups, dtype=object).astype(str) + "|" + sites).to_numpy(dtype=object)
    params = (quota_p, hwp_p, extension_p, tending_p, enrich_p, open_p)
    traces = {}
    for label in np.unique(strata):
        group, site = label.split("|", 1)
        mask = strata == label
        shares = {name: float(e[mask].sum()) for name, e in zip(EFFECTS, per_effect, strict=True)}
        traces[label] = _trace(group, site, curves, shares, params, table)
    result = ExAnteResult.from_stocks(
        CODE, ids, start_year, baseline_stock, project_stock, strata, traces
    )
    result.effects = effects
    return result


def _trace(
    group: str, site: str, curves: list[GrowthCurve], effects: dict[str, float],
    params: tuple[Parameter, ...], table: Mapping[str, Parameter],
) -> Trace:  # fmt: skip
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
    rotation = rotation_parameter(group, table)
    quota, hwp, extension, tending, enrich, open_ = params
    shares = "; ".join(f"{name} {value:,.1f} t CO2e" for name, value in effects.items())
    return Trace(
        NAME,
        (
            Step(EQUATIONS["chapman_richards"], (), curve_note + "; scaled to the stand's volume"),
            carbon_step(group),
            Step(
                EQUATIONS["stock_difference"],
                (rotation, quota, hwp),
                "baseline: continuation of current management — clear-cut at the 森林经营方案 "
                "rotation age within the county's 采伐限额 (oldest first), then regrowth; 公益林 "
                "not clear-cut; long-lived wood products of the baseline harvest kept at the "
                "stated fraction",
            ),
            Step(
                EQUATIONS["stock_difference"],
                (extension, tending, enrich, open_),
                "project: improved practices, each on top of the previous — contributions over "
                f"the period: {shares}",
            ),
            Step(EQUATIONS["net_removals"], (), "LK = 0, GHG_E = 0 (applicability conditions)"),
        ),
    )
