"""Synthetic permanent sample plots (固定样地) for the synthetic inventory — SYNTHETIC, for demos
and tests.

For each stratum (species group – age group) of a project's stands, a few 0.0667 ha (1 亩)
plots are laid in randomly chosen stands and measured twice, at the start of the crediting
period and ``years`` later: the **same plots and the same trees**, grown by the county's own
fitted growth curve (the stand's volume ratio V(age + years) / V(age), with the project's
extra growth ``growth_gain`` on the increment), DBH and height scaled so that each tree's volume
follows that ratio, with a little tree-to-tree noise. Moso bamboo plots are recounted with the
culm density of the ex-ante's managed stand; afforestation plots are empty at the start (one
``none`` row each) and hold the planted trees at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from methodologies.expost import EMPTY_PLOT, VOLUME_EQUATION_OF
from methodologies.growth import POOLED, GrowthCurve, chapman_richards, curve_lookup
from methodologies.parameters import defaults, require, volume_equations
from methodologies.species import SpeciesGroup

__all__ = ["PLOT_AREA_HA", "remeasured_plots"]

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
    increment by that fraction (the project's improved management). With ``planted``
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
            stand = group.iloc[int(rng.integers(len(group)))]
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
            age = float(stand["age_years"])
            v0 = float(chapman_richards(age, *abc))
            v1 = float(chapman_richards(age + years, *abc))
            ratio = 1.0 + (v1 / v0 - 1.0) * (1.0 + growth_gain) if v0 > 0 else 1.0
            n = max(2, round(float(stand["stems_per_ha"]) * PLOT_AREA_HA * rng.uniform(0.85, 1.15)))
            mean_dbh, mean_h = float(stand["mean_dbh_cm"]), float(stand["mean_height_m"])
            dbh = np.clip(rng.normal(mean_dbh, mean_dbh * 0.15, n), 1.0, 100)
            h = np.clip(mean_h * rng.normal(1, 0.06, n), 1.3, 50)
            # the same trees, each grown so its volume (∝ D^b H^c) follows the curve's ratio
            k_scale = (ratio * rng.lognormal(0.0, 0.02, n)) ** (1.0 / exponent)
            start += [(plot_id, str(stratum), PLOT_AREA_HA, species, round(float(d), 2),
                       round(float(x), 2), float("nan")) for d, x in zip(dbh, h, strict=True)]  # fmt: skip
            end += [(plot_id, str(stratum), PLOT_AREA_HA, species, round(float(d * s), 2),
                     round(float(x * s), 2), float("nan"))
                    for d, x, s in zip(dbh, h, k_scale, strict=True)]  # fmt: skip
    strata = frame.groupby("stratum")["area_ha"].sum().rename("area_ha").reset_index()
    return pd.DataFrame(start, columns=COLUMNS), pd.DataFrame(end, columns=COLUMNS), strata
