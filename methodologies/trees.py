"""Tree carbon per stand: species-group parameters looked up for arrays of stands."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from methodologies.engine import tree_carbon_tco2e
from methodologies.errors import InputError
from methodologies.parameters import Parameter, species_parameters
from methodologies.provenance import EQUATIONS, Step
from methodologies.species import SpeciesGroup

__all__ = ["carbon_factor", "carbon_step", "stand_tree_carbon"]


def carbon_factor(
    species_group: ArrayLike, stand_ids: ArrayLike | None = None
) -> NDArray[np.float64]:
    """t CO2e per m³ of stem volume per stand: 44/12 × CF × SVD × BEF × (1 + R).

    Raises InputError naming the first stand whose group has no tree parameters.
    """
    groups = np.asarray(species_group, dtype=object)
    table = species_parameters()
    factor_of = {
        g.value: float(tree_carbon_tco2e(1.0, p.svd.value, p.bef.value, p.root_shoot.value,
                                         p.carbon_fraction.value))
        for g, p in table.items()
    }  # fmt: skip
    out = np.asarray(pd.Series(groups, dtype=object).map(factor_of), dtype=np.float64)
    bad = np.isnan(out)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        ids = np.asarray(stand_ids, dtype=object) if stand_ids is not None else groups
        known = ", ".join(g.value for g in table)
        raise InputError(
            f"小班 {ids[i]!r} 的树种组 {groups[i]!r} 未知或没有林木碳参数（可用：{known}）。",
            f"stand {ids[i]!r}: species group {groups[i]!r} is unknown or has no tree carbon "
            f"parameters (known: {known}).",
        )
    return out


def carbon_step(group: SpeciesGroup | str) -> Step:
    p = species_parameters()[SpeciesGroup(group)]
    params: tuple[Parameter, ...] = p.all()
    return Step(EQUATIONS["carbon_stock_trees"], params)


def stand_tree_carbon(
    volume_m3_per_ha: ArrayLike,
    area_ha: ArrayLike,
    species_group: ArrayLike,
    stand_ids: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Whole-stand tree carbon (t CO2e) = carbon factor × volume per ha × area."""
    return (
        carbon_factor(species_group, stand_ids)
        * np.asarray(volume_m3_per_ha, dtype=np.float64)
        * np.asarray(area_ha, dtype=np.float64)
    )
