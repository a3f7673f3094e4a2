"""Shared equations, checked against arithmetic written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from methodologies.engine import (
    net_removals,
    shrub_carbon_tco2e,
    stock_difference,
    to_credits,
    tree_carbon_tco2e,
)


def test_tree_carbon_chain_by_hand() -> None:
    # Chinese fir, 100 m³ of stem volume, SVD 0.307, BEF 1.634, R 0.246, CF 0.52:
    #   100 × 0.307          = 30.7       t d.m. of stems
    #   30.7 × 1.634         = 50.1638    t d.m. above ground
    #   50.1638 × 1.246      = 62.5040948 t d.m. above + below ground
    #   62.5040948 × 0.52    = 32.502129296 t C
    #   32.502129296 × 44/12 = 119.174474085… t CO2e
    assert tree_carbon_tco2e(100.0, 0.307, 1.634, 0.246, 0.52) == pytest.approx(
        119.174474085, rel=1e-10
    )


def test_tree_carbon_is_vectorised_and_zero_volume_gives_zero() -> None:
    out = tree_carbon_tco2e(np.array([0.0, 100.0, 200.0]), 0.307, 1.634, 0.246, 0.52)
    assert out[0] == 0.0
    assert out[2] == pytest.approx(2 * out[1])


def test_stock_difference_by_hand() -> None:
    # (250 − 100) t CO2e over 2020 → 2030 = 150 / 10 = 15 t CO2e/yr
    assert stock_difference(100.0, 250.0, 2020, 2030) == pytest.approx(15.0)
    with pytest.raises(ValueError):
        stock_difference(1.0, 2.0, 2030, 2030)


def test_shrub_carbon_ar_tool14_eq26_27_by_hand() -> None:
    # b_SHRUB = BDR_SF × b_FOREST × CC = 0.1 × 100 t/ha × 0.3 = 3 t d.m./ha
    # C_SHRUB = 44/12 × CF_S × (1 + R_S) × A × b_SHRUB
    #         = 3.666… × 0.47 × 1.4 × 10 ha × 3 = 72.38 t CO2e
    assert shrub_carbon_tco2e(10.0, 0.3, 100.0, 0.1, 0.47, 0.4) == pytest.approx(72.38)


def test_net_removals_by_hand() -> None:
    # ΔC_ACTUAL = ΔC_P − GHG_E = 120 − 5 = 115;  ΔC_AR = 115 − ΔC_BSL 20 − LK 3 = 92
    assert net_removals(120.0, 20.0, 3.0, 5.0) == pytest.approx(92.0)


def test_credits_are_rounded_down_once() -> None:
    assert to_credits([12.999, 13.0, 0.4, -4.0]).tolist() == [12, 13, 0, 0]
