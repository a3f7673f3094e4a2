"""Synthetic permanent sample plots (固定样地) for the synthetic inventory — SYNTHETIC, for demos
and tests.

For each stratum (species group – age group) of a project's stands, a few 0.0667 ha (1 亩)
plots are laid at random points (a stand is hit with probability ∝ its area) and measured twice, at the start of the crediting
period and ``years`` later: the **same plots and the same trees**, grown by the county's own
fitted growth curve (the stand's volume ratio V(age + years) / V(age), with the project's
extra growth ``growth_gain`` on the increment), DBH and height scaled so that each tree's volume
follows that ratio, with a little tree-to-tree noise. Moso bamboo plots are recounted with the
culm density of the ex-ante's managed stand; afforestation plots are empty at the start (one
``none`` row each) and hold the planted trees at the end.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from methodologies.expost import EMPTY_PLOT, VOLUME_EQUATION_OF, tree_volume_m3
from methodologies.forest_management import SCALE_LIMITS
from methodologies.growth import POOLED, GrowthCurve, chapman_richards, curve_lookup
from methodologies.parameters import defaults, require, volume_equations
from methodologies.species import SpeciesGroup

__all__ = ["PLOT_AREA_HA", "fm_growth_gain", "remeasured_plots", "synthetic_evidence"]

PLOT_AREA_HA = 0.0667
TREE_GROUPS = {g.value for g in VOLUME_EQUATION_OF}
COLUMNS = ["plot_id", "stratum", "plot_area_ha", "species_group", "dbh_cm", "height_m", "age_du"]
PLANTED_STEMS_PER_HA = 2500.0


def _exponent_sum(group: str) -> float:
    eq = volume_equations()[VOLUME_EQUATION_OF[SpeciesGroup(group)]]
    return eq.b + eq.c


def remeasured_plots(
    stands: pd.DataFrame,
    curves: list[GrowthCurve],
    years: int,
    plots_per_stratum: int = 8,
    seed: int = 7,
    planted: str | None = None,
    growth_gain: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(start trees, end trees, strata) in the canonical columns of :mod:`methodologies.expost`.

    ``stands``: stand_id, species_group, site_class, age_group, age_years, area_ha,
    stems_per_ha, mean_dbh_cm, mean_height_m. ``growth_gain`` raises each tree's volume
    increment by that fraction (the project's improved management; a ``growth_gain`` column
    gives it per stand). With ``planted``
    (afforestation) every stand is bare at the start and planted with that group.
    """
    rng = np.random.default_rng(seed)
    frame = stands.copy()
    if planted is not None:
        frame["species_group"] = planted
        frame["age_group"] = "造林地"
    frame = frame[frame["species_group"].isin(TREE_GROUPS | {"moso_bamboo"})]
    frame = frame.assign(stratum=frame["species_group"] + "-" + frame["age_group"].fillna("竹林"))
    start: list[tuple[object, ...]] = []
    end: list[tuple[object, ...]] = []
    table = defaults()
    culm_gain = 1.0 + require(table, "bamboo_project_culm_increase").value * min(
        years / require(table, "bamboo_project_ramp_years").value, 1.0
    )
    for stratum, group in frame.groupby("stratum"):
        for k in range(plots_per_stratum):
            # a plot falls on a stand with probability ∝ its area (random points on the ground)
            weights = group["area_ha"].to_numpy(float)
            pick = rng.choice(len(group), p=weights / weights.sum()) if weights.sum() > 0 else 0
            stand = group.iloc[int(pick)]
            plot_id = f"{stratum}-P{k + 1:02d}"
            species = str(stand["species_group"])
            if species == "moso_bamboo":
                n0 = max(
                    2, round(float(stand["stems_per_ha"]) * PLOT_AREA_HA * rng.uniform(0.9, 1.1))
                )
                mean_dbh = float(stand["mean_dbh_cm"])
                for when, n in ((start, n0), (end, max(2, round(n0 * culm_gain)))):
                    dbh = np.clip(rng.normal(mean_dbh, mean_dbh * 0.12, n), 4, 16)
                    ages = rng.choice([1.0, 2.0, 3.0], n, p=[0.35, 0.35, 0.30])
                    when += [(plot_id, str(stratum), PLOT_AREA_HA, species, round(float(d), 1),
                              float("nan"), float(a)) for d, a in zip(dbh, ages, strict=True)]  # fmt: skip
                continue
            abc = curve_lookup(curves, [species], [stand.get("site_class", POOLED)])[0]
            exponent = _exponent_sum(species)
            if planted is not None:
                start.append((plot_id, str(stratum), PLOT_AREA_HA, EMPTY_PLOT, float("nan"),
                               float("nan"), float("nan")))  # fmt: skip
                v_ha = float(chapman_richards(years, *abc)) * rng.uniform(0.85, 1.15)
                n = max(2, round(PLANTED_STEMS_PER_HA * PLOT_AREA_HA * rng.uniform(0.9, 1.1)))
                eq = volume_equations()[VOLUME_EQUATION_OF[SpeciesGroup(species)]]
                height = 1.3 + 0.8 * years
                mean_v = v_ha * PLOT_AREA_HA / n
                mean_d = (mean_v / (eq.a * height**eq.c)) ** (1.0 / eq.b)
                dbh = np.clip(rng.normal(mean_d, mean_d * 0.10, n), 1.0, 120)
                h = np.clip(height * rng.normal(1, 0.05, n), 1.3, 60)
                end += [(plot_id, str(stratum), PLOT_AREA_HA, species, round(float(d), 2),
                         round(float(x), 2), float("nan")) for d, x in zip(dbh, h, strict=True)]  # fmt: skip
                continue
            age, volume = float(stand["age_years"]), float(stand["volume_m3_per_ha"])
            v0 = float(chapman_richards(age, *abc))
            v1 = float(chapman_richards(age + years, *abc))
            gain = float(stand["growth_gain"]) if "growth_gain" in stand else growth_gain
            # the curve scaled to the stand's volume, as the ex-ante scales it (0.5–2)
            scale = min(max(volume / v0, SCALE_LIMITS[0]), SCALE_LIMITS[1]) if v0 > 0 else 1.0
            increment = scale * (v1 - v0) * (1.0 + gain)
            ratio = 1.0 + increment / volume if volume > 0 else 1.0
            n = max(2, round(float(stand["stems_per_ha"]) * PLOT_AREA_HA * rng.uniform(0.85, 1.15)))
            mean_dbh, mean_h = float(stand["mean_dbh_cm"]), float(stand["mean_height_m"])
            dbh = np.clip(rng.normal(mean_dbh, mean_dbh * 0.15, n), 1.0, 100)
            h = np.clip(mean_h * rng.normal(1, 0.06, n), 1.3, 50)
            # calibrate: the plot's volume per ha is the stand's inventory volume (× its stem
            # count's deviation), so plots and the ex-ante start from the same stock
            expected_n = float(stand["stems_per_ha"]) * PLOT_AREA_HA
            target = float(stand["volume_m3_per_ha"]) * n / expected_n
            measured = float(tree_volume_m3(species, dbh, h).sum()) / PLOT_AREA_HA
            if measured > 0 and target > 0:
                fit = (target / measured) ** (1.0 / exponent)
                dbh, h = np.clip(dbh * fit, 1.0, 100), np.clip(h * fit, 1.3, 50)
            # the same trees, each grown so its volume (∝ D^b H^c) follows the curve's ratio
            k_scale = (ratio * rng.lognormal(0.0, 0.02, n)) ** (1.0 / exponent)
            start += [(plot_id, str(stratum), PLOT_AREA_HA, species, round(float(d), 2),
                       round(float(x), 2), float("nan")) for d, x in zip(dbh, h, strict=True)]  # fmt: skip
            end += [(plot_id, str(stratum), PLOT_AREA_HA, species, round(float(d * s), 2),
                     round(float(x * s), 2), float("nan"))
                    for d, x, s in zip(dbh, h, k_scale, strict=True)]  # fmt: skip
    strata = frame.groupby("stratum")["area_ha"].sum().rename("area_ha").reset_index()
    return pd.DataFrame(start, columns=COLUMNS), pd.DataFrame(end, columns=COLUMNS), strata


DECLARED = {
    "AR-CM-003-V01": {
        "complies_with_forest_law": "yes", "mineral_soil": "yes", "no_clearing_or_burning": "yes",
        "dead_wood_litter_kept": "yes", "soil_disturbance_contour": "yes",
        "soil_disturbance_pct": "5", "soil_disturbance_interval_years": "20",
    },
    "AR-CM-005-V01": {
        "mineral_soil": "yes", "complies_with_forest_law": "yes",
        "litter_and_scattered_trees_kept": "yes", "contour_tillage_no_deep_ploughing": "yes",
        "fertiliser_in_trenches_covered": "yes", "appendix1_measures_applied": "yes",
    },
    "CCER-14-001-V01": {
        "scattered_trees_kept": "yes", "shrub_removal_pct": "10",
        "no_repeated_soil_disturbance": "yes", "no_burning": "yes",
        "no_displaced_farming_grazing": "yes",
    },
}  # fmt: skip


def synthetic_evidence(methodology: str, stand_keys: list[str], start: date) -> pd.DataFrame:
    """SYNTHETIC evidence for a demo project: the project design's declarations and, for
    afforestation, per stand a land survey 3 years and 3 months before the start and imagery
    6 months before it, both showing the land non-forest (宜林地)."""
    rows: list[tuple[str, str, str, str, str, str]] = [
        ("", "declaration", item, value, start.isoformat(), "项目设计文件（合成）SYNTHETIC PDD")
        for item, value in DECLARED[methodology].items()
    ]
    if methodology == "CCER-14-001-V01":
        survey = date(start.year - 4, 10, 1).isoformat()
        image = date(start.year - 1, 7, 1).isoformat()
        for key in stand_keys:
            rows.append(
                (key, "survey", "land_class", "宜林地", survey, "国土变更调查（合成）SYNTHETIC")
            )
            rows.append(
                (key, "imagery", "land_class", "宜林地", image, "GF-2 影像（合成）SYNTHETIC")
            )
    return pd.DataFrame(
        rows, columns=["stand_key", "kind", "item", "value", "observed_on", "reference"]
    )


def fm_growth_gain(stands: pd.DataFrame) -> pd.Series:
    """The forest-management project's extra increment per stand (fraction), as the ex-ante
    assumes it: tending, plus enrichment planting where the canopy is open."""
    table = defaults()
    canopy = pd.to_numeric(stands["canopy_closure"], errors="coerce")
    open_ = (canopy < require(table, "fm_enrichment_canopy_below").value).astype(float)
    tending = require(table, "fm_project_tending_growth_gain").value
    return tending + open_ * require(table, "fm_project_enrichment_growth_gain").value
