"""Uncertainty on the change and the AR-TOOL14 Appendix 2 deduction, computed by hand.

Student t quantiles (two-sided 90 %, any t table): t(0.95, 1) = 6.314, t(0.95, 2) = 2.920,
t(0.95, 3) = 2.353.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from methodologies.engine import net_removals, to_credits
from methodologies.expost import estimate_change
from methodologies.uncertainty import deduct, deduction_fraction, independent_change_half_width

FIR = (0.000058777042, 1.9699831, 0.89646157)  # volume_equations.csv, chinese_fir
FIR_FACTOR = 0.307 * 1.634 * 1.246 * 0.47 * 44 / 12  # SVD × BEF × (1 + R) × CF × 44/12


def v_fir(d: float, h: float) -> float:
    a, b, c = FIR
    return a * d**b * h**c


def test_ar_tool14_appendix2_worked_example() -> None:
    # 60 ± 9: U = 9 / 60 = 15 % → band 10–15 % → 25 % of the half-width: 60 − 0.25 × 9 = 57.75
    result = deduct(60.0, 9.0, "AR-CM-003-V01")
    assert result.uncertainty == pytest.approx(0.15)
    assert result.fraction == 0.25
    assert result.kept == pytest.approx(57.75)
    assert result.rule.text == "ar_tool14_appendix2" and "AR-TOOL14" in result.rule.source


@pytest.mark.parametrize(
    ("half_width", "fraction", "kept"),
    [
        (5.0, 0.0, 100.0),  # U 5 % ≤ 10 %: nothing deducted
        (10.0, 0.0, 100.0),  # U 10 % exactly: still the first band
        (12.0, 0.25, 97.0),  # U 12 %: 100 − 0.25 × 12 = 97
        (18.0, 0.50, 91.0),  # U 18 %: 100 − 0.5 × 18 = 91
        (25.0, 0.75, 81.25),  # U 25 %: 100 − 0.75 × 25 = 81.25
        (40.0, 1.0, 60.0),  # U 40 % > 30 %: the whole half-width, 100 − 40 = 60
    ],
)
def test_one_case_in_each_band(half_width: float, fraction: float, kept: float) -> None:
    result = deduct(100.0, half_width, "CCER-14-001-V01")
    assert result.fraction == fraction and result.kept == pytest.approx(kept)
    assert deduction_fraction(half_width / 100.0) == fraction


def test_stock_change_of_two_independent_estimates_is_fully_discounted() -> None:
    # C1 = 100,000 ± 9 % → hw1 = 9,000; C2 = 105,000 ± 9 % → hw2 = 9,450
    # hw_Δ = sqrt(9,000² + 9,450²) = sqrt(81,000,000 + 89,302,500) = sqrt(170,302,500) = 13,050.0
    # U_Δ = 13,050 / 5,000 = 261 % > 30 % → 100 % of the half-width: 5,000 − 13,050 = −8,050
    hw = independent_change_half_width(0.09 * 100_000, 0.09 * 105_000)
    assert hw == pytest.approx(13_050.0)
    result = deduct(105_000 - 100_000, hw, "AR-CM-003-V01")
    assert result.uncertainty == pytest.approx(2.61)
    assert result.fraction == 1.0 and result.kept == pytest.approx(-8_050.0)
    assert to_credits(result.kept) == 0  # the change is fully discounted: no credit


def _trees(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p, s, 0.0667, "chinese_fir", d, h) for p, s, d, h in rows],
        columns=["plot_id", "stratum", "plot_area_ha", "species_group", "dbh_cm", "height_m"],
    )


STRATA = pd.DataFrame({"stratum": ["A", "B"], "area_ha": [100.0, 50.0]})
START = [("A1", "A", 20, 15), ("A2", "A", 18, 14), ("A3", "A", 16, 13),
         ("B1", "B", 12, 10), ("B2", "B", 14, 11)]  # fmt: skip


def test_remeasured_plots_with_no_growth_credit_nothing() -> None:
    # the same trees measured the same at both times: every difference is 0, hw = 0, U = ∞
    same = estimate_change(_trees(START), STRATA, _trees(START), STRATA, "AR-CM-003-V01")
    assert same.method == "paired" and same.change_tco2e == 0.0
    assert same.deduction.fraction == 1.0 and same.conservative_change_tco2e == 0.0
    # measurement noise only: A1 +0.2 cm, A2 −0.2 cm … a net change near 0 with U > 30 %
    noisy = [("A1", "A", 20.2, 15), ("A2", "A", 17.8, 14), ("A3", "A", 16, 13),
             ("B1", "B", 12.1, 10), ("B2", "B", 13.9, 11)]  # fmt: skip
    result = estimate_change(_trees(START), STRATA, _trees(noisy), STRATA, "AR-CM-003-V01")
    d_a = [(v_fir(20.2, 15) - v_fir(20, 15)) * FIR_FACTOR / 0.0667,
           (v_fir(17.8, 14) - v_fir(18, 14)) * FIR_FACTOR / 0.0667, 0.0]  # fmt: skip
    d_b = [(v_fir(12.1, 10) - v_fir(12, 10)) * FIR_FACTOR / 0.0667,
           (v_fir(13.9, 11) - v_fir(14, 11)) * FIR_FACTOR / 0.0667]  # fmt: skip
    change = 100 * sum(d_a) / 3 + 50 * sum(d_b) / 2
    assert result.change_tco2e == pytest.approx(change)
    assert result.deduction.fraction == 1.0  # |change| is tiny against its half-width
    # net removals with a baseline change of 0 and no leakage: ≤ 0, so no credit
    net = float(net_removals(result.conservative_change_tco2e, 0.0))
    assert net <= 0 and to_credits(net) == 0


def test_paired_plots_use_df_n_minus_m() -> None:
    grown = [("A1", "A", 22, 16), ("A2", "A", 19, 15), ("A3", "A", 18, 14),
             ("B1", "B", 13, 11), ("B2", "B", 16, 12)]  # fmt: skip
    result = estimate_change(_trees(START), STRATA, _trees(grown), STRATA, "AR-CM-003-V01")
    y = {p: v_fir(d, h) * FIR_FACTOR / 0.0667 for p, _, d, h in START}
    z = {p: v_fir(d, h) * FIR_FACTOR / 0.0667 for p, _, d, h in grown}
    d_a = [z[p] - y[p] for p in ("A1", "A2", "A3")]
    d_b = [z[p] - y[p] for p in ("B1", "B2")]
    mean_a, mean_b = sum(d_a) / 3, sum(d_b) / 2
    var_a = sum((d - mean_a) ** 2 for d in d_a) / 2  # n_A − 1 = 2
    var_b = sum((d - mean_b) ** 2 for d in d_b) / 1  # n_B − 1 = 1
    change = 100 * mean_a + 50 * mean_b
    se = math.sqrt(100**2 * var_a / 3 + 50**2 * var_b / 2)
    # df = n − M = 5 plots − 2 strata = 3 → t(0.95, 3) = 2.353 (Welch–Satterthwaite would differ)
    assert result.df == 3
    assert result.change_tco2e == pytest.approx(change)
    assert result.se_tco2e == pytest.approx(se)
    assert result.half_width_tco2e == pytest.approx(2.353 * se, rel=1e-3)
    # the paired change equals the difference of the two stratified estimates
    assert change == pytest.approx(result.end.estimate_tco2e - result.start.estimate_tco2e)
    u = 2.353 * se / change
    assert result.uncertainty == pytest.approx(u, rel=1e-3)
    kept = change - deduction_fraction(u) * 2.353 * se
    assert result.conservative_change_tco2e == pytest.approx(kept, rel=1e-3)


def test_different_plots_are_independent_estimates() -> None:
    other = [("A7", "A", 22, 16), ("A8", "A", 19, 15), ("B7", "B", 13, 11), ("B8", "B", 16, 12)]
    result = estimate_change(_trees(START), STRATA, _trees(other), STRATA, "AR-CM-003-V01")
    assert result.method == "independent" and result.pairs.empty
    hw = math.sqrt(result.start.half_width_tco2e**2 + result.end.half_width_tco2e**2)
    assert result.half_width_tco2e == pytest.approx(hw)
    assert result.start.df == 3 and result.end.df == 2  # 5 − 2 and 4 − 2


def test_pre_existing_trees_are_not_credited_in_afforestation() -> None:
    # an afforestation plot pair: at the start one old tree and an empty plot; at the end the old
    # tree has grown and planted trees stand. Only the planted trees count.
    cols = ["plot_id", "stratum", "plot_area_ha", "species_group", "dbh_cm", "height_m",
            "pre_existing"]  # fmt: skip
    strata = pd.DataFrame({"stratum": ["S"], "area_ha": [10.0]})
    start = pd.DataFrame([("P1", "S", 0.0667, "chinese_fir", 20.0, 15.0, 1),
                          ("P2", "S", 0.0667, "none", None, None, 0)], columns=cols)  # fmt: skip
    end = pd.DataFrame([("P1", "S", 0.0667, "chinese_fir", 22.0, 16.0, 1),
                        ("P1", "S", 0.0667, "chinese_fir", 5.0, 4.0, 0),
                        ("P2", "S", 0.0667, "chinese_fir", 6.0, 4.5, 0)], columns=cols)  # fmt: skip
    result = estimate_change(
        start, strata, end, strata, "CCER-14-001-V01", exclude_pre_existing=True
    )
    planted = [v_fir(5, 4) * FIR_FACTOR / 0.0667, v_fir(6, 4.5) * FIR_FACTOR / 0.0667]
    assert result.method == "paired"
    assert result.start.estimate_tco2e == 0.0  # the old tree is not counted at the start …
    assert result.change_tco2e == pytest.approx(10 * sum(planted) / 2)  # … nor its growth
    assert result.end.pre_existing_tco2e == pytest.approx(
        10 * (v_fir(22, 16) * FIR_FACTOR / 0.0667) / 2
    )
