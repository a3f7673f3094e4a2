"""Forest management ex-ante on hand-made stands with a known curve."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from methodologies import forest_management
from methodologies.errors import InputError
from methodologies.growth import POOLED, GrowthCurve

CURVE = GrowthCurve("chinese_fir", POOLED, 300.0, 0.05, 2.0, 100, 10.0, 0.9, "test curve")
FIR_FACTOR = 0.307 * 1.634 * 1.246 * 0.52 * 44 / 12  # t CO2e per m³ (= 1.19174474085)


def cr(t: float) -> float:
    return 300.0 * (1 - math.exp(-0.05 * t)) ** 2


def stand(
    age: float, area: float = 1.0, sid: str = "s1", group: str = "chinese_fir"
) -> dict[str, object]:
    return {"stand_id": sid, "species_group": group, "site_class": "Ⅱ", "area_ha": area,
            "age_years": age, "volume_m3_per_ha": cr(age)}  # fmt: skip


def test_one_stand_by_hand() -> None:
    # Age 10 at the start, on its curve (scale 1); rotation of Chinese fir 26 → cut after 16 years.
    result = forest_management.project_ex_ante(pd.DataFrame([stand(10.0)]), [CURVE], 2026, 20)
    # end of year 1: age 11: V = 300 (1 − e^(−0.55))² = 300 × 0.42305^2 = 53.691 m³/ha
    assert result.project_stock[0, 0] == pytest.approx(cr(11) * FIR_FACTOR)
    assert cr(11) == pytest.approx(53.691, abs=1e-3)
    # baseline: same until the cut at year 16 (stock 0), then regrowth: year 20 → age 4
    assert result.baseline_stock[0, 14] == pytest.approx(cr(25) * FIR_FACTOR)
    assert result.baseline_stock[0, 15] == 0.0
    assert result.baseline_stock[0, 19] == pytest.approx(cr(4) * FIR_FACTOR)
    # over the period: Σ net = C_P(end) − C_B(end) = (V(30) − V(4)) × factor
    assert result.total == pytest.approx((cr(30) - cr(4)) * FIR_FACTOR)
    assert result.net_removals[0, :15] == pytest.approx([0.0] * 15)  # same path until the cut
    assert result.years.tolist() == list(range(2026, 2046))


def test_properties_over_many_stands() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame([stand(float(a), float(ar), f"s{i}") for i, (a, ar) in
                          enumerate(zip(rng.uniform(1, 60, 200), rng.uniform(0, 20, 200), strict=True))])  # fmt: skip
    frame.loc[0, "area_ha"] = 0.0
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 40)
    assert (result.project_stock >= 0).all() and (result.baseline_stock >= 0).all()
    assert (result.project_stock[0] == 0).all() and (result.net_removals[0] == 0).all()  # zero area
    totals = result.by_year()
    assert totals["net_removals"].sum() == pytest.approx(result.net_removals.sum())
    by_stratum = sum(result.net_removals[result.stratum == s].sum() for s in set(result.stratum))
    assert by_stratum == pytest.approx(result.total)
    # the project never cuts: its stock never falls
    assert (np.diff(result.project_stock, axis=1) >= -1e-9).all()
    assert result.unverified()  # the recalled SVD/BEF/R/CF are flagged


@pytest.mark.parametrize(
    ("column", "value"), [("area_ha", -1.0), ("age_years", -3.0), ("volume_m3_per_ha", -5.0)]
)
def test_negative_inputs_are_refused_naming_the_stand(column: str, value: float) -> None:
    frame = pd.DataFrame([stand(10.0), stand(12.0, sid="bad-stand")])
    frame.loc[1, column] = value
    with pytest.raises(InputError, match="bad-stand"):
        forest_management.project_ex_ante(frame, [CURVE], 2026, 20)


def test_unknown_species_group_is_refused_naming_the_stand() -> None:
    frame = pd.DataFrame([stand(10.0, sid="odd", group="baobab")])
    with pytest.raises(InputError, match=r"odd.*baobab"):
        forest_management.project_ex_ante(frame, [CURVE], 2026, 20)


def test_public_welfare_forest_earns_nothing_from_an_extended_rotation() -> None:
    # 公益林 may not be clear-cut: baseline = project, so net removals are 0 every year
    frame = pd.DataFrame([{**stand(40.0, sid="gy"), "forest_category": "公益林"},
                          {**stand(40.0, sid="sp"), "forest_category": "商品林"}])  # fmt: skip
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 20)
    assert (result.net_removals[0] == 0).all()
    # the commercial stand (past its rotation of 26 years) is cut in the baseline: it earns
    assert result.net_removals[1].sum() == pytest.approx(
        result.project_stock[1, -1] - result.baseline_stock[1, -1]
    )
    assert result.net_removals[1].sum() > 0
