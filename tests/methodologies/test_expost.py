"""Ex-post from plots: tree volume, plot carbon, stratified mean, 90 % CI, deduction, plots needed.

Student t quantiles used below are the two-sided 90 % values of any t table:
t(0.95, 1) = 6.314, t(0.95, 2) = 2.920, t(0.95, 3) = 2.353, t(0.95, 24) = 1.711,
t(0.95, 26) = 1.706.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from methodologies.errors import InputError
from methodologies.expost import estimate, plots_needed, tree_volume_m3

FIR = (0.000058777042, 1.9699831, 0.89646157)  # volume_equations.csv, chinese_fir
FIR_FACTOR = 0.307 * 1.634 * 1.246 * 0.47 * 44 / 12  # t CO2e per m³ (CF default 0.47)


def v_fir(d: float, h: float) -> float:
    a, b, c = FIR
    return a * d**b * h**c


def test_tree_volume_by_hand() -> None:
    # D = 20 cm, H = 15 m:  20^1.9699831 = e^(1.9699831 × 2.9957323) = e^5.9015420 = 365.601
    #   15^0.89646157 = e^(0.89646157 × 2.7080502) = e^2.4276629 = 11.33237
    #   v = 5.8777042e−5 × 365.601 × 11.33237 = 0.243520 m³
    assert v_fir(20, 15) == pytest.approx(0.243520, rel=1e-5)
    assert tree_volume_m3("chinese_fir", 20.0, 15.0) == pytest.approx(v_fir(20, 15), rel=1e-12)


def _plots(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(p, s, 0.0667, "chinese_fir", d, h) for p, s, d, h in rows],
        columns=["plot_id", "stratum", "plot_area_ha", "species_group", "dbh_cm", "height_m"],
    )


def test_stratified_estimate_by_hand() -> None:
    trees = _plots([
        ("A1", "A", 20, 15), ("A1", "A", 16, 13),
        ("A2", "A", 18, 14),
        ("B1", "B", 12, 10), ("B2", "B", 14, 11), ("B3", "B", 13, 10),
    ])  # fmt: skip
    strata = pd.DataFrame({"stratum": ["A", "B"], "area_ha": [100.0, 50.0]})
    result = estimate(trees, strata)
    # plot carbon, t CO2e/ha = Σ v × factor / 0.0667
    y_a = [
        (v_fir(20, 15) + v_fir(16, 13)) * FIR_FACTOR / 0.0667,
        v_fir(18, 14) * FIR_FACTOR / 0.0667,
    ]
    y_b = [v_fir(d, h) * FIR_FACTOR / 0.0667 for d, h in ((12, 10), (14, 11), (13, 10))]
    mean_a, mean_b = sum(y_a) / 2, sum(y_b) / 3
    var_a = sum((y - mean_a) ** 2 for y in y_a) / 1  # n − 1 = 1
    var_b = sum((y - mean_b) ** 2 for y in y_b) / 2  # n − 1 = 2
    total = 100 * mean_a + 50 * mean_b
    term_a, term_b = 100**2 * var_a / 2, 50**2 * var_b / 3
    se = math.sqrt(term_a + term_b)
    # AR-TOOL14: df = n − M = 5 plots − 2 strata = 3 (not Welch–Satterthwaite) → t = 2.353
    assert result.estimate_tco2e == pytest.approx(total)
    assert result.se_tco2e == pytest.approx(se)
    assert result.df == 3
    assert result.half_width_tco2e == pytest.approx(2.353 * se, rel=1e-3)
    assert result.uncertainty == pytest.approx(2.353 * se / total, rel=1e-3)
    assert result.uncertainty > 0.30  # a handful of plots: the whole half-width is deducted
    assert result.deduction_applied
    assert result.conservative_tco2e == pytest.approx(total - 2.353 * se, rel=1e-3)
    a = result.strata.set_index("stratum")
    assert a.loc["A", "half_width_tco2e_per_ha"] == pytest.approx(
        6.314 * math.sqrt(var_a / 2), rel=1e-3
    )
    assert result.strata["n_plots"].tolist() == [2, 3]


def test_no_deduction_below_ten_percent() -> None:
    rows = []
    for i in range(30):
        rows.append((f"P{i}", "A", 18 + (i % 3) * 0.5, 14))
    result = estimate(_plots(rows), pd.DataFrame({"stratum": ["A"], "area_ha": [10.0]}))
    assert result.uncertainty < 0.10 and not result.deduction_applied
    assert result.conservative_tco2e == result.estimate_tco2e


def test_plots_needed_by_hand() -> None:
    # CV 0.3, E 0.1: n = (t × 0.3 / 0.1)² iterated:
    #   n=2 → t(1)=6.314 → 358.8 → 359 → t(358)=1.649 → 24.5 → 25 → t(24)=1.711 → 26.3 → 27
    #   → t(26)=1.706 → 26.2 → 27 (stable)
    assert plots_needed(0.3) == 27


def test_plots_needed_is_the_fewest_that_meet_the_target() -> None:
    """CV 0.413, E 10 %: with 48 plots t(0.95, 47) = 1.67793 → 1.67793 × 0.413 / √48 = 0.100022
    (over 10 %); with 49, t(0.95, 48) = 1.67722 → 1.67722 × 0.413 / 7 = 0.098955 (met): 49.
    (A fixed-point iteration settled on 48.)"""
    from scipy.stats import t

    assert t.ppf(0.95, 47) * 0.413 / 48**0.5 > 0.10 >= t.ppf(0.95, 48) * 0.413 / 49**0.5
    assert plots_needed(0.413) == 49
    for cv in [x / 100 for x in range(5, 151)]:  # the fewest, for every CV 0.05 … 1.50
        n = plots_needed(cv)
        assert t.ppf(0.95, n - 1) * cv / n**0.5 <= 0.10
        assert n == 2 or t.ppf(0.95, n - 2) * cv / (n - 1) ** 0.5 > 0.10


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("dbh_cm", 500.0), "DBH"),
        (("height_m", -2.0), "height"),
        (("species_group", "baobab"), "unknown species group"),
        (("plot_area_ha", 0.0), "plot area"),
    ],
)
def test_bad_tree_rows_name_the_row_and_plot(change: tuple[str, object], words: str) -> None:
    trees = _plots([("A1", "A", 20, 15), ("A2", "A", 18, 14), ("A3", "A", 17, 13)])
    trees[change[0]] = trees[change[0]].astype(object)
    trees.loc[2, change[0]] = change[1]
    with pytest.raises(InputError) as info:
        estimate(trees, pd.DataFrame({"stratum": ["A"], "area_ha": [10.0]}))
    assert (
        "row 3" in info.value.message_en
        and "'A3'" in info.value.message_en
        and words in info.value.message_en
    )
    assert "第 3 行" in info.value.message_zh


def test_a_plot_in_two_strata_is_refused_naming_it() -> None:
    trees = _plots(
        [("A1", "A", 20, 15), ("A2", "A", 18, 14), ("A2", "B", 12, 10), ("B1", "B", 13, 11)]
    )
    with pytest.raises(InputError) as info:
        estimate(trees, pd.DataFrame({"stratum": ["A", "B"], "area_ha": [1.0, 1.0]}))
    assert "'A2'" in info.value.message_en and "样地 'A2'" in info.value.message_zh


def test_a_stratum_with_one_plot_is_refused_naming_it() -> None:
    trees = _plots([("A1", "A", 20, 15), ("A2", "A", 18, 14), ("B1", "B", 12, 10)])
    with pytest.raises(InputError) as info:
        estimate(trees, pd.DataFrame({"stratum": ["A", "B"], "area_ha": [1.0, 1.0]}))
    assert "'B'" in info.value.message_en and "only 1 plot" in info.value.message_en


def test_bamboo_plots_by_hand() -> None:
    # two 0.01 ha plots of moso culms; per culm C = 44/12 × 0.466 × 1.37 × M(D, A) / 1000 t CO2e
    culms = pd.DataFrame(
        [("B1", "bamboo", 0.01, "moso_bamboo", 10.0, None, 1.0),
         ("B1", "bamboo", 0.01, "moso_bamboo", 9.0, None, 2.0),
         ("B2", "bamboo", 0.01, "moso_bamboo", 11.0, None, 3.0)],
        columns=["plot_id", "stratum", "plot_area_ha", "species_group", "dbh_cm", "height_m", "age_du"],
    )  # fmt: skip

    def m(d: float, a: float) -> float:
        return 747.787 * d**2.771 * (0.148 * a / (0.028 + a)) ** 5.555 + 3.772

    per_culm = 44 / 12 * 0.466 * 1.37 / 1000
    y1 = (m(10, 1) + m(9, 2)) * per_culm / 0.01
    y2 = m(11, 3) * per_culm / 0.01
    result = estimate(culms, pd.DataFrame({"stratum": ["bamboo"], "area_ha": [20.0]}))
    assert result.estimate_tco2e == pytest.approx(20.0 * (y1 + y2) / 2)
    assert result.trace.steps[0].equation.id == "bamboo_culm_biomass"
    with pytest.raises(InputError, match="age_du"):
        estimate(
            culms.drop(columns="age_du"), pd.DataFrame({"stratum": ["bamboo"], "area_ha": [20.0]})
        )
