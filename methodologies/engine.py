"""Shared equations of the forestry methodologies: pure, vectorised numpy.

Units: volume m³ (stand total unless stated), area ha, carbon t CO2e, time years.
Each function's docstring cites its equation (see :mod:`methodologies.provenance`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CO2_PER_C",
    "net_removals",
    "shrub_carbon_tco2e",
    "stock_difference",
    "to_credits",
    "tree_carbon_tco2e",
]

CO2_PER_C = 44.0 / 12.0  # molecular weight ratio CO2 : C

Array = NDArray[np.float64]


def _f(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=np.float64)


def tree_carbon_tco2e(
    volume_m3: ArrayLike, svd: ArrayLike, bef: ArrayLike, root_shoot: ArrayLike, cf: ArrayLike
) -> Array:
    """Tree carbon stock, above- plus below-ground biomass (equation ``carbon_stock_trees``).

    C_TREE = 44/12 × CF × V × SVD × BEF × (1 + R), with V the stem volume (m³, over bark),
    SVD the basic wood density (t d.m./m³), BEF the biomass expansion factor (stem → above-
    ground), R the root:shoot ratio and CF the carbon fraction (t C/t d.m.). Returns t CO2e.
    """
    return CO2_PER_C * _f(cf) * _f(volume_m3) * _f(svd) * _f(bef) * (1.0 + _f(root_shoot))


def stock_difference(c_t1: ArrayLike, c_t2: ArrayLike, t1: ArrayLike, t2: ArrayLike) -> Array:
    """Mean annual stock change ΔC = (C_t2 − C_t1) / (t2 − t1) (equation ``stock_difference``).

    Carbon in t CO2e, time in years; returns t CO2e/yr. t2 must exceed t1.
    """
    dt = _f(t2) - _f(t1)
    if np.any(dt <= 0):
        raise ValueError("stock_difference needs t2 > t1 for every element")
    return (_f(c_t2) - _f(c_t1)) / dt


def shrub_carbon_tco2e(
    area_ha: ArrayLike,
    crown_cover: ArrayLike,
    b_forest_t_per_ha: ArrayLike,
    bdr_sf: ArrayLike,
    cf_s: ArrayLike,
    root_shoot_s: ArrayLike,
) -> Array:
    """Shrub carbon stock, AR-TOOL14 v4.1 Eq. 26–27 (equation ``shrub_carbon``).

    b_SHRUB = BDR_SF × b_FOREST × CC_SHRUB (t d.m./ha; b_FOREST the above-ground biomass of
    forest in the region, BDR_SF the shrub-to-forest biomass ratio, CC_SHRUB crown cover 0–1);
    C_SHRUB = 44/12 × CF_S × (1 + R_S) × A_SHRUB × b_SHRUB (t CO2e; A in ha).
    """
    b_shrub = _f(bdr_sf) * _f(b_forest_t_per_ha) * _f(crown_cover)
    return CO2_PER_C * _f(cf_s) * (1.0 + _f(root_shoot_s)) * _f(area_ha) * b_shrub


def net_removals(
    project_stock_change: ArrayLike,
    baseline_stock_change: ArrayLike,
    leakage: ArrayLike = 0.0,
    project_emissions: ArrayLike = 0.0,
) -> Array:
    """Net anthropogenic removals (equation ``net_removals``), t CO2e per period.

    ΔC_ACTUAL = ΔC_P − GHG_E;  ΔC_AR = ΔC_ACTUAL − ΔC_BSL − LK.
    """
    actual = _f(project_stock_change) - _f(project_emissions)
    return actual - _f(baseline_stock_change) - _f(leakage)


def to_credits(tco2e: ArrayLike) -> NDArray[np.int64]:
    """Whole credits (1 credit = 1 t CO2e): rounded **down** (floor), never up; negatives → 0.

    This is the single place where science (float64) becomes credits (integers).
    """
    values = np.floor(np.maximum(_f(tco2e), 0.0) + 1e-9)
    return values.astype(np.int64)
