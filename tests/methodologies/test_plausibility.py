"""The plausibility gate's figures, computed by hand."""

from __future__ import annotations

import pytest

from methodologies.plausibility import ceiling_tco2e_per_ha_yr, check_period

FIR_FACTOR = 0.307 * 1.634 * 1.246 * 0.47 * 44 / 12  # t CO2e per m³ = 1.0771539


def test_out_of_line_with_the_ex_ante_by_the_configured_factor() -> None:
    # 100 ha over 5 years: net 1,000 t → 1,000 / 100 / 5 = 2.0 t/ha/yr; ex-ante 400 t → 0.8;
    # factor 2 accepts 0.4–1.6, so 2.0 is flagged against the upper limit 1.6
    flags = check_period(area_by_group={"chinese_fir": 100.0}, years=5.0, project_change_tco2e=5_000.0,
                         net_removals_tco2e=1_000.0, exante_net_tco2e=400.0, factor=2.0)  # fmt: skip
    assert [f.kind for f in flags] == ["out_of_line_with_ex_ante"]
    assert flags[0].figure == pytest.approx(2.0) and flags[0].limit == pytest.approx(1.6)
    assert "0.80" in flags[0].message_en and "净碳汇 2.00" in flags[0].message_zh
    # a factor of 3 accepts 0.267–2.4: no flag
    assert not check_period(area_by_group={"chinese_fir": 100.0}, years=5.0,
                            project_change_tco2e=5_000.0, net_removals_tco2e=1_000.0,
                            exante_net_tco2e=400.0, factor=3.0)  # fmt: skip
    # far below the ex-ante is out of line too: 0.1 < 0.8 / 2 = 0.4
    low = check_period(area_by_group={"chinese_fir": 100.0}, years=5.0, project_change_tco2e=5_000.0,
                       net_removals_tco2e=50.0, exante_net_tco2e=400.0, factor=2.0)  # fmt: skip
    assert low[0].figure == pytest.approx(0.1) and low[0].limit == pytest.approx(0.4)


def test_above_the_biological_ceiling() -> None:
    # Chinese fir: 25 m³/ha/yr × 1.0771539 t CO2e/m³ = 26.93 t CO2e/ha/yr (recalled: flagged)
    ceiling, parameter = ceiling_tco2e_per_ha_yr("chinese_fir")
    assert ceiling == pytest.approx(25 * FIR_FACTOR)
    assert not parameter.verified
    # 15,000 t over 100 ha and 5 years = 30 t/ha/yr > 26.93
    flags = check_period(area_by_group={"chinese_fir": 100.0}, years=5.0, project_change_tco2e=15_000.0,
                         net_removals_tco2e=1_000.0, exante_net_tco2e=1_000.0, factor=2.0)  # fmt: skip
    assert [f.kind for f in flags] == ["above_ceiling"]
    assert flags[0].figure == pytest.approx(30.0) and flags[0].limit == pytest.approx(
        25 * FIR_FACTOR
    )
    assert flags[0].unverified == ("max_mai[chinese_fir]",) and "unverified" in flags[0].message_en
    # mixed groups: the ceiling is area-weighted — 50 ha fir (26.93) + 50 ha bamboo (40) = 33.46
    mixed = check_period(area_by_group={"chinese_fir": 50.0, "moso_bamboo": 50.0}, years=5.0,
                         project_change_tco2e=15_000.0, net_removals_tco2e=1_000.0,
                         exante_net_tco2e=1_000.0, factor=2.0)  # fmt: skip
    assert not mixed  # 30 < (50 × 26.93 + 50 × 40) / 100 = 33.46
