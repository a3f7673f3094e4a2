"""Moso bamboo: per-culm biomass, stand carbon and the ex-ante ramp, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from methodologies import bamboo
from methodologies.errors import InputError


def test_culm_biomass_by_hand() -> None:
    # M = 747.787 × D^2.771 × (0.148 A / (0.028 + A))^5.555 + 3.772, D = 10 cm, A = 1 du:
    #   0.148 × 1 / 1.028 = 0.14396887;  ln = −1.93816;  × 5.555 = −10.76647;  e^… = 2.10951e−5
    #   10^2.771 = 590.2011;  747.787 × 590.2011 × 2.10951e−5 = 9.3102;  + 3.772 = 13.0822 kg
    ratio = 0.148 * 1 / (0.028 + 1)
    expected = 747.787 * 10**2.771 * math.exp(5.555 * math.log(ratio)) + 3.772
    assert expected == pytest.approx(13.0822, abs=1e-4)
    assert bamboo.culm_biomass_kg(10.0, 1.0) == pytest.approx(expected, rel=1e-12)


def test_stand_carbon_by_hand() -> None:
    # 3 000 culms/ha of D = 10 cm, A = 1 du on 2 ha; CF 0.466 (published), R 0.37 (published):
    #   biomass = 3000 × 13.0822 kg / 1000 = 39.2467 t/ha above ground; × 1.37 = 53.7679 t/ha
    #   carbon  = 53.7679 × 0.466 = 25.0558 t C/ha;  × 44/12 = 91.871 t CO2e/ha;  × 2 ha = 183.74
    m = 747.787 * 10**2.771 * (0.148 / 1.028) ** 5.555 + 3.772
    expected = 44 / 12 * 0.466 * 1.37 * 3000 * m / 1000 * 2
    assert expected == pytest.approx(183.74, abs=0.01)
    assert bamboo.stand_carbon_tco2e(3000, 10.0, 2.0, age_du=1.0) == pytest.approx(expected)


def test_ex_ante_ramp_and_steady_baseline() -> None:
    stands = pd.DataFrame({"stand_id": ["b1"], "area_ha": [1.0], "culms_per_ha": [3000.0],
                           "mean_dbh_cm": [10.0]})  # fmt: skip
    result = bamboo.project_ex_ante(stands, 2026, 10)
    start = float(bamboo.stand_carbon_tco2e(3000, 10.0, 1.0))  # default age structure
    # +20 % culms over 5 years: +4 % of the start stock per year for 5 years, then nothing
    assert result.baseline_change.sum() == 0.0
    assert result.net_removals[0, :5] == pytest.approx([0.04 * start] * 5)
    assert result.net_removals[0, 5:] == pytest.approx([0.0] * 5)
    assert result.total == pytest.approx(0.2 * start)
    assert "UNVERIFIED" not in " ".join(
        p.describe() for p in result.traces["moso_bamboo"].parameters() if p.verified
    )
    assert any("culm_a" in p.name for p in result.traces["moso_bamboo"].unverified())


def test_dbh_outside_the_model_is_refused_naming_the_stand() -> None:
    stands = pd.DataFrame({"stand_id": ["b9"], "area_ha": [1.0], "culms_per_ha": [3000.0],
                           "mean_dbh_cm": [45.0]})  # fmt: skip
    with pytest.raises(InputError, match="b9"):
        bamboo.project_ex_ante(stands, 2026, 10)
