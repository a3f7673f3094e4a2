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
FIR_FACTOR = 0.307 * 1.634 * 1.246 * 0.47 * 44 / 12  # t CO2e per m³ (= 1.07715390039)


def cr(t: float) -> float:
    return 300.0 * (1 - math.exp(-0.05 * t)) ** 2


def stand(
    age: float, area: float = 1.0, sid: str = "s1", group: str = "chinese_fir",
    canopy: float = 0.7, category: str = "商品林",
) -> dict[str, object]:  # fmt: skip
    return {"stand_id": sid, "species_group": group, "site_class": "Ⅱ", "area_ha": area,
            "age_years": age, "volume_m3_per_ha": cr(age), "canopy_closure": canopy,
            "forest_category": category}  # fmt: skip


# methodology_defaults.csv: plan rotation of Chinese fir 26 years, quota 6 m³/ha/yr of
# commercial forest, wood products 0, project rotation +10 years, tending +10 % of the increment,
# enrichment +15 % for canopy < 0.5
def test_one_stand_by_hand() -> None:
    # s1 age 10 (1 ha) and a young filler s2 age 1 (30 ha): the quota is 6 × 31 = 186 m³/yr
    frame = pd.DataFrame([stand(10.0), stand(1.0, area=30.0, sid="s2")])
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 20)
    # end of year 1, project: V = cr(10) + 1.1 × (cr(11) − cr(10)) (tending), no cut
    assert result.project_stock[0, 0] == pytest.approx(
        (cr(10) + 1.1 * (cr(11) - cr(10))) * FIR_FACTOR
    )
    assert cr(11) == pytest.approx(53.691, abs=1e-3)
    # baseline: the plan's clear-cut at age 26 (year 16): cr(26) = 158.8 m³ ≤ 186 m³ quota
    assert result.baseline_stock[0, 14] == pytest.approx(cr(25) * FIR_FACTOR)
    assert result.baseline_stock[0, 15] == 0.0
    assert result.baseline_stock[0, 19] == pytest.approx(cr(4) * FIR_FACTOR)  # regrowth, age 4
    # the project's rotation is 36: no cut within 20 years
    assert result.project_stock[0, 19] == pytest.approx(
        (cr(10) + 1.1 * (cr(30) - cr(10))) * FIR_FACTOR
    )
    # effects, each on top of the previous (t CO2e over 20 years):
    rotation = (cr(30) - cr(4)) * FIR_FACTOR  # s1 kept instead of cut and regrown; s2 never due
    tending = 0.1 * ((cr(30) - cr(10)) + 30 * (cr(21) - cr(1))) * FIR_FACTOR
    assert result.effects["longer_rotation"] == pytest.approx(rotation)
    assert result.effects["tending_thinning"] == pytest.approx(tending)
    assert result.effects["enrichment_planting"] == 0.0  # canopy 0.7 ≥ 0.5
    assert result.total == pytest.approx(rotation + tending)
    assert "longer_rotation" in result.traces["chinese_fir|Ⅱ"].explain()


def test_the_quota_makes_a_due_stand_wait() -> None:
    # alone on 1 ha the quota is 6 m³/yr: a 158.8 m³/ha stand due at 26 can never be cut
    result = forest_management.project_ex_ante(pd.DataFrame([stand(25.0)]), [CURVE], 2026, 5)
    assert result.baseline_stock[0, -1] == pytest.approx(cr(30) * FIR_FACTOR)


def test_each_county_cuts_within_its_own_quota() -> None:
    # a due stand s1 (age 25, 1 ha) in county A with a 30-ha filler in county B: together the
    # quota would be 6 × 31 = 186 m³ ≥ cr(26) = 158.8 m³ and s1 would be cut in year 1; the
    # 采伐限额 is a county's, so A's quota is 6 × 1 = 6 m³ and s1 waits (as alone on 1 ha)
    both = [stand(25.0), stand(1.0, area=30.0, sid="s2")]
    together = forest_management.project_ex_ante(pd.DataFrame(both), [CURVE], 2026, 5)
    assert together.baseline_stock[0, 0] == 0.0  # one county: cut at 26 in year 1
    apart = pd.DataFrame(
        [{**both[0], "county_code": "431123"}, {**both[1], "county_code": "431199"}]
    )
    result = forest_management.project_ex_ante(apart, [CURVE], 2026, 5)
    assert result.baseline_stock[0, -1] == pytest.approx(cr(30) * FIR_FACTOR)
    # the filler s2 (age 1, 30 ha, county B) is never due within 5 years: it grows to age 6
    assert result.baseline_stock[1, -1] == pytest.approx(30 * cr(6) * FIR_FACTOR)


def test_within_a_county_the_oldest_due_stand_takes_the_quota_first() -> None:
    # county A: s1 age 27 and s3 age 26 (1 ha each, both due) and a filler s2 (age 1, 30 ha):
    # quota 6 × 32 = 192 m³/yr; in year 1 s1 (age 28: cr(28) = 170.3 m³) is cut first, then
    # s3 (age 27: cr(27) = 164.6 m³) would make 334.9 m³ > 192 — it waits to year 2
    frame = pd.DataFrame([stand(27.0), stand(1.0, area=30.0, sid="s2"), stand(26.0, sid="s3")])
    frame["county_code"] = "431123"
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 3)
    assert cr(28) == pytest.approx(170.3, abs=0.1) and cr(27) == pytest.approx(164.6, abs=0.1)
    assert result.baseline_stock[0, 0] == 0.0
    assert result.baseline_stock[2, 0] == pytest.approx(cr(27) * FIR_FACTOR)
    assert result.baseline_stock[2, 1] == 0.0


def test_enrichment_planting_in_an_open_stand() -> None:
    frame = pd.DataFrame([stand(10.0, canopy=0.3)])
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 5)
    # increment × (1 + 0.10 + 0.15); the baseline grows along the curve (not due before 26)
    assert result.project_stock[0, -1] == pytest.approx(
        (cr(10) + 1.25 * (cr(15) - cr(10))) * FIR_FACTOR
    )
    assert result.effects["enrichment_planting"] == pytest.approx(
        0.15 * (cr(15) - cr(10)) * FIR_FACTOR
    )


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
    # the project's stock falls only by a clear-cut (at the extended rotation): to 0
    falls = np.diff(result.project_stock, axis=1) < -1e-9
    assert (result.project_stock[:, 1:][falls] == 0).all()
    # the effects add up to the net removals
    assert sum(result.effects.values()) == pytest.approx(result.total)
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


def test_public_welfare_forest_earns_from_improved_practices() -> None:
    # 公益林 is never clear-cut, in the baseline or the project: no rotation effect, but tending
    # raises its increment, so it earns 0.1 × (cr(60) − cr(40)) × factor over 20 years
    frame = pd.DataFrame([stand(40.0, sid="gy", category="公益林")])
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 20)
    assert result.baseline_stock[0, -1] == pytest.approx(cr(60) * FIR_FACTOR)
    assert result.total == pytest.approx(0.1 * (cr(60) - cr(40)) * FIR_FACTOR)
    assert result.effects["longer_rotation"] == 0.0


def test_a_scenario_overrides_rotation_and_thinning_by_hand() -> None:
    # scenario: the plan's rotation of Chinese fir 20 years (default 26), no extension (default
    # +10), tending +20 % of the increment (default +10 %); s2 (30 ha, age 1) keeps the quota at
    # 6 × 31 = 186 m³/yr and is never due within 12 years
    frame = pd.DataFrame([stand(10.0), stand(1.0, area=30.0, sid="s2")])
    scenario = {
        "fm_baseline_rotation_chinese_fir": 20,
        "fm_project_rotation_extension_years": 0,
        "fm_project_tending_growth_gain": 0.2,
    }
    result = forest_management.project_ex_ante(frame, [CURVE], 2026, 12, overrides=scenario)
    # cr(20) = 300 × (1 − e^−1)² = 300 × 0.632121² = 119.873 m³/ha ≤ 186: cut at age 20 (year 10)
    assert cr(20) == pytest.approx(300 * 0.6321206**2, rel=1e-6)
    assert result.baseline_stock[0, 8] == pytest.approx(cr(19) * FIR_FACTOR)  # age 19
    assert result.baseline_stock[0, 9] == 0.0
    # project: rotation 20 + 0, increment × 1.2: V(19) = cr(10) + 1.2 × (cr(19) − cr(10)),
    # at age 20 cr(10) + 1.2 × (cr(20) − cr(10)) = 46.445 + 1.2 × 73.428 = 134.56 m³ ≤ 186: cut
    assert result.project_stock[0, 8] == pytest.approx(
        (cr(10) + 1.2 * (cr(19) - cr(10))) * FIR_FACTOR
    )
    assert result.project_stock[0, 9] == 0.0
    # regrowth from 0 for two years: 1.2 × cr(2)
    assert result.project_stock[0, 11] == pytest.approx(1.2 * cr(2) * FIR_FACTOR)
    # every output names the scenario values and the defaults they replace
    text = result.traces["chinese_fir|Ⅱ"].explain()
    assert "replaces the default 26 years" in text
    assert "replaces the default 0.1 fraction of the increment" in text
    assert "fm_project_tending_growth_gain" in result.unverified()
    # the defaults are untouched for the next run: rotation 26 again, no cut at age 20
    again = forest_management.project_ex_ante(frame, [CURVE], 2026, 12)
    assert again.baseline_stock[0, 9] == pytest.approx(cr(20) * FIR_FACTOR)


@pytest.mark.parametrize(
    ("name", "value"), [("fm_no_such_parameter", 1.0), ("fm_project_tending_growth_gain", math.inf)]
)
def test_a_bad_scenario_value_is_refused_naming_it(name: str, value: float) -> None:
    from methodologies.errors import ParameterError

    with pytest.raises(ParameterError, match=name):
        forest_management.project_ex_ante(
            pd.DataFrame([stand(10.0)]), [CURVE], 2026, 5, overrides={name: value}
        )
