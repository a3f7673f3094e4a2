"""Carbon stock now, per stand: trees by the volume chain, bamboo by the culm model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies import bamboo
from methodologies.errors import InputError
from methodologies.provenance import Trace
from methodologies.species import TREE_GROUPS, SpeciesGroup
from methodologies.trees import carbon_step, stand_tree_carbon

__all__ = ["carbon_stock"]

TREE_COLUMNS = ("stand_id", "species_group", "area_ha", "volume_m3_per_ha")
BAMBOO_COLUMNS = ("culms_per_ha", "mean_dbh_cm", "age_du")


def _number(frame: pd.DataFrame, column: str, rows: NDArray[np.int64]) -> NDArray[np.float64]:
    values = pd.to_numeric(frame.loc[rows, column], errors="coerce").to_numpy(dtype=np.float64)
    ids = frame.loc[rows, "stand_id"].to_numpy(dtype=object)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = frame.loc[rows, column].to_numpy(dtype=object)[i]
        raise InputError(
            f"小班 {ids[i]!r} 的 {column} 值 {raw!r} 无效（须为非负数）。",
            f"stand {ids[i]!r}: {column} {raw!r} is invalid (must be a non-negative number).",
        )
    return np.asarray(values, dtype=np.float64)


def carbon_stock(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Whole-stand carbon stock (above- plus below-ground biomass, t CO2e) with its trace.

    Input columns: ``stand_id, species_group, area_ha, volume_m3_per_ha``; bamboo rows
    (``moso_bamboo``) give ``culms_per_ha, mean_dbh_cm, age_du`` instead of volume.
    """
    missing = [c for c in ("stand_id", "species_group", "area_ha") if c not in frame]
    if missing:
        raise InputError(f"输入缺少列：{missing}", f"the input lacks the columns {missing}")
    frame = frame.reset_index(drop=True)
    groups = frame["species_group"].astype(str).str.strip().to_numpy(dtype=object)
    known = {g.value for g in TREE_GROUPS} | {SpeciesGroup.MOSO_BAMBOO.value}
    unknown = [i for i, g in enumerate(groups) if g not in known]
    if unknown:
        i = unknown[0]
        raise InputError(
            f"小班 {frame.at[i, 'stand_id']!r} 的树种组 {groups[i]!r} 未知（可用：{', '.join(sorted(known))}）。",
            f"stand {frame.at[i, 'stand_id']!r}: unknown species group {groups[i]!r} (use one "
            f"of {', '.join(sorted(known))}).",
        )
    area = _number(frame, "area_ha", np.arange(len(frame)))
    tco2e = np.zeros(len(frame))
    traces: list[Trace] = [Trace("")] * len(frame)
    is_bamboo = groups == SpeciesGroup.MOSO_BAMBOO.value
    trees = np.flatnonzero(~is_bamboo)
    if len(trees):
        if "volume_m3_per_ha" not in frame:
            raise InputError("输入缺少列 volume_m3_per_ha", "the input lacks volume_m3_per_ha")
        volume = _number(frame, "volume_m3_per_ha", trees)
        tco2e[trees] = stand_tree_carbon(
            volume, area[trees], groups[trees], frame.loc[trees, "stand_id"]
        )
        by_group = {
            g: Trace("林木碳储量 Tree carbon stock", (carbon_step(g),)) for g in set(groups[trees])
        }
        for tree_row in trees:
            traces[tree_row] = by_group[groups[tree_row]]
    rows = np.flatnonzero(is_bamboo)
    if len(rows):
        for column in BAMBOO_COLUMNS:
            if column not in frame:
                raise InputError(f"竹林行缺少列 {column}", f"bamboo rows need the column {column}")
        culms = _number(frame, "culms_per_ha", rows)
        dbh = _number(frame, "mean_dbh_cm", rows)
        age = _number(frame, "age_du", rows)
        tco2e[rows] = bamboo.stand_carbon_tco2e(culms, dbh, area[rows], age)
        t = bamboo.trace(with_age_structure=False)
        for bamboo_row in rows:
            traces[bamboo_row] = t
    return [
        {
            "stand_id": frame.at[i, "stand_id"],
            "species_group": groups[i],
            "area_ha": float(area[i]),
            "tco2e": float(tco2e[i]),
            "trace": traces[i].to_dict(),
        }
        for i in range(len(frame))
    ]
