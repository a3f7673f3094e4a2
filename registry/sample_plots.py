"""Synthetic monitoring plots (样地) for the synthetic inventory — SYNTHETIC, for demos and tests.

For each stratum (species group – age group) of a project's stands, a few 0.0667 ha (1 亩)
plots are laid in randomly chosen stands; each plot's trees get the stand's stems, DBH and
height, grown by ``years`` of increment, with tree-to-tree variation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from methodologies.expost import VOLUME_EQUATION_OF

__all__ = ["synthetic_plots"]

PLOT_AREA_HA = 0.0667
TREE_GROUPS = {g.value for g in VOLUME_EQUATION_OF}


def synthetic_plots(
    stands: pd.DataFrame,
    years: int,
    plots_per_stratum: int = 8,
    seed: int = 7,
    planted: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trees, strata) tables in the canonical columns of :mod:`methodologies.expost`.

    ``stands``: stand_id, species_group, age_group, area_ha, stems_per_ha, mean_dbh_cm,
    mean_height_m. With ``planted`` (afforestation) every stand is a young plantation of that
    group, ``years`` old.
    """
    rng = np.random.default_rng(seed)
    frame = stands.copy()
    if planted is not None:
        frame["species_group"] = planted
        frame["age_group"] = f"造林{years}年"
        frame["stems_per_ha"] = 2500.0
        frame["mean_dbh_cm"] = 1.3 * years
        frame["mean_height_m"] = 1.5 + 0.8 * years
    frame = frame[frame["species_group"].isin(TREE_GROUPS | {"moso_bamboo"})]
    frame = frame.assign(stratum=frame["species_group"] + "-" + frame["age_group"].fillna("竹林"))
    trees: list[tuple[str, str, float, str, float, float, float]] = []
    grow = 1.0 if planted is not None else 1.0 + 0.03 * years
    for stratum, group in frame.groupby("stratum"):
        for k in range(plots_per_stratum):
            stand = group.iloc[int(rng.integers(len(group)))]
            plot_id = f"{stratum}-P{k + 1:02d}"
            if stand["species_group"] == "moso_bamboo":
                # managed moso: culm density up 4 % a year (at most 20 %), ages 1–3 度
                culms = float(stand["stems_per_ha"]) * min(1.0 + 0.04 * years, 1.2)
                n = max(2, round(culms * PLOT_AREA_HA * rng.uniform(0.9, 1.1)))
                dbh = np.clip(
                    rng.normal(float(stand["mean_dbh_cm"]), float(stand["mean_dbh_cm"]) * 0.12, n),
                    4,
                    16,
                )
                ages = rng.choice([1.0, 2.0, 3.0], n, p=[0.35, 0.35, 0.30])
                trees += [(plot_id, str(stratum), PLOT_AREA_HA, "moso_bamboo", round(float(d), 1),
                           float("nan"), float(a)) for d, a in zip(dbh, ages, strict=True)]  # fmt: skip
                continue
            n = max(2, round(float(stand["stems_per_ha"]) * PLOT_AREA_HA * rng.uniform(0.85, 1.15)))
            dbh = np.clip(
                rng.normal(
                    float(stand["mean_dbh_cm"]) * grow, float(stand["mean_dbh_cm"]) * 0.15, n
                ),
                1.0,
                120,
            )
            height = np.clip(
                float(stand["mean_height_m"]) * grow**0.8 * rng.normal(1, 0.06, n), 1.3, 60
            )
            trees += [(plot_id, str(stratum), PLOT_AREA_HA, str(stand["species_group"]), round(float(d), 1),
                       round(float(h), 1), float("nan")) for d, h in zip(dbh, height, strict=True)]  # fmt: skip
    tree_frame = pd.DataFrame(
        trees,
        columns=[
            "plot_id",
            "stratum",
            "plot_area_ha",
            "species_group",
            "dbh_cm",
            "height_m",
            "age_du",
        ],
    )
    strata = frame.groupby("stratum")["area_ha"].sum().rename("area_ha").reset_index()
    return tree_frame, strata
