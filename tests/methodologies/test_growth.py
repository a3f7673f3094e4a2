"""Chapman–Richards growth: the equation, the fit and its fallbacks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from methodologies.errors import InputError
from methodologies.growth import POOLED, chapman_richards, fit_growth_curves, fit_one


def test_equation_by_hand() -> None:
    # a = 300 m³/ha, b = 0.05 /yr, c = 2, t = 20 yr:
    #   1 − e^(−0.05 × 20) = 1 − e^(−1) = 1 − 0.36787944 = 0.63212056
    #   0.63212056² = 0.39957640;  × 300 = 119.872920 m³/ha
    assert chapman_richards(20, 300, 0.05, 2) == pytest.approx(119.872920, rel=1e-7)
    assert chapman_richards(0, 300, 0.05, 2) == 0.0


@given(
    a=st.floats(10, 2000), b=st.floats(0.001, 1), c=st.floats(0.3, 10),
    t=st.floats(0, 150), dt=st.floats(0.01, 50),
)  # fmt: skip
def test_curves_are_monotone_and_bounded(a: float, b: float, c: float, t: float, dt: float) -> None:
    v1, v2 = chapman_richards(t, a, b, c), chapman_richards(t + dt, a, b, c)
    assert 0.0 <= v1 <= v2 <= a * (1 + 1e-12)


def test_fit_recovers_a_known_curve() -> None:
    ages = np.arange(1, 61, dtype=float)
    true = 350 * (1 - np.exp(-0.06 * ages)) ** 2.5  # written out, not via the function
    a, b, c, rmse, r2 = fit_one(ages, true)
    assert (a, b, c) == pytest.approx((350, 0.06, 2.5), rel=1e-3)
    assert rmse < 1e-3 and r2 == pytest.approx(1.0)


def _stands(n_fir_site1: int, n_fir_site2: int, n_pine: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for group, site, n, a in (
        ("chinese_fir", "Ⅰ", n_fir_site1, 380.0),
        ("chinese_fir", "Ⅱ", n_fir_site2, 300.0),
        ("masson_pine", "Ⅲ", n_pine, 250.0),
    ):
        for age in rng.uniform(2, 50, n):
            v = a * (1 - math.exp(-0.06 * age)) ** 2.2 * rng.lognormal(0, 0.05)
            rows.append((group, site, age, v))
    return pd.DataFrame(
        rows, columns=["species_group", "site_class", "age_years", "volume_m3_per_ha"]
    )


def test_each_stratum_gets_a_curve_or_a_documented_fallback() -> None:
    curves = fit_growth_curves(_stands(60, 10, 12))
    by = {(c.species_group, c.site_class): c for c in curves}
    assert by[("chinese_fir", "Ⅰ")].n == 60 and "fallback" not in by[("chinese_fir", "Ⅰ")].basis
    assert by[("chinese_fir", "Ⅰ")].a == pytest.approx(380, rel=0.1)
    # 10 stands in site Ⅱ (< 30): the group's curve over all 70 fir stands
    fallback = by[("chinese_fir", "Ⅱ")]
    assert "fallback" in fallback.basis and fallback.n == 70
    assert (fallback.a, fallback.b) == (
        by[("chinese_fir", POOLED)].a,
        by[("chinese_fir", POOLED)].b,
    )
    # 12 pine stands (< 30): the curve of all 82 tree stands
    assert (
        "all tree stands" in by[("masson_pine", POOLED)].basis
        and by[("masson_pine", POOLED)].n == 82
    )
    for c in curves:
        assert c.rmse >= 0 and c.r2 <= 1


def test_too_few_stands_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="at least 30"):
        fit_growth_curves(_stands(5, 5, 5))
