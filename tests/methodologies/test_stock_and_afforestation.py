"""Carbon stock per stand, afforestation eligibility and ex-ante, parameter status."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from methodologies import afforestation
from methodologies.eligibility import Evidence
from methodologies.errors import InputError
from methodologies.growth import POOLED, GrowthCurve
from methodologies.parameters import bamboo_parameters, species_parameters
from methodologies.species import SpeciesGroup
from methodologies.stock import carbon_stock


def test_carbon_stock_rows_by_hand() -> None:
    frame = pd.DataFrame({
        "stand_id": ["fir", "pine", "bam"], "species_group": ["chinese_fir", "masson_pine", "moso_bamboo"],
        "area_ha": [2.0, 1.0, 1.0], "volume_m3_per_ha": [100.0, 50.0, None],
        "culms_per_ha": [None, None, 3000.0], "mean_dbh_cm": [None, None, 10.0], "age_du": [None, None, 1.0],
    })  # fmt: skip
    out = {r["stand_id"]: r for r in carbon_stock(frame)}
    # fir (CF: the conservative default 0.47, the recalled 0.52 being unverified):
    #   200 m³ × 0.307 × 1.634 × 1.246 = 125.0081896 t d.m.; × 0.47 = 58.75384911 t C;
    #   × 44/12 = 215.4307801 t CO2e
    assert out["fir"]["tco2e"] == pytest.approx(215.4307801, rel=1e-8)
    # pine: 50 m³ × 0.380 × 1.472 × 1.187 × 0.460 × 44/12:
    #   19 × 1.472 = 27.968; × 1.187 = 33.198016; × 0.46 = 15.27108736; × 44/12 = 55.99398699
    assert out["pine"]["tco2e"] == pytest.approx(55.99398699, rel=1e-8)
    m = 747.787 * 10**2.771 * (0.148 / 1.028) ** 5.555 + 3.772
    assert out["bam"]["tco2e"] == pytest.approx(44 / 12 * 0.466 * 1.37 * 3000 * m / 1000)
    assert out["fir"]["trace"]["unverified_parameters"]  # recalled SVD/BEF/R/CF
    assert out["fir"]["trace"]["steps"][0]["equation"] == "carbon_stock_trees"


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [("species_group", "dragon_tree", "unknown species group"), ("area_ha", -2, "area_ha"),
     ("volume_m3_per_ha", -1, "volume_m3_per_ha")],
)  # fmt: skip
def test_carbon_stock_bad_rows_name_the_stand(column: str, value: object, words: str) -> None:
    frame = pd.DataFrame({"stand_id": ["ok", "bad"], "species_group": ["chinese_fir"] * 2,
                          "area_ha": [1.0, 1.0], "volume_m3_per_ha": [10.0, 10.0]})  # fmt: skip
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    with pytest.raises(InputError) as info:
        carbon_stock(frame)
    assert "'bad'" in info.value.message_en and words in info.value.message_en


def test_parameter_status_is_kept_honest() -> None:
    fir = species_parameters()[SpeciesGroup.CHINESE_FIR]
    assert not fir.svd.verified and "verify" in fir.svd.status
    # an unverified carbon fraction above the AR-TOOL14 default is replaced by 0.47 (conservative)
    assert fir.carbon_fraction.value == 0.47 and fir.carbon_fraction.verified
    assert "AR-TOOL14" in fir.carbon_fraction.source and "0.520" in fir.carbon_fraction.source
    assert bamboo_parameters()["root_shoot_ratio"].verified
    assert not bamboo_parameters()["culm_a"].verified


AF_DECLARED = [("", "declaration", item, value, "2024-12-01", "造林作业设计")
               for item, value in (("scattered_trees_kept", "yes"), ("shrub_removal_pct", "15"),
                                   ("no_repeated_soil_disturbance", "yes"), ("no_burning", "yes"),
                                   ("no_displaced_farming_grazing", "yes"))]  # fmt: skip
EVIDENCE_COLUMNS = ["stand_key", "kind", "item", "value", "observed_on", "reference"]


def _evidence(rows: list[tuple[str, str, str, str, str, str]]) -> Evidence:
    return Evidence(pd.DataFrame([*AF_DECLARED, *rows], columns=EVIDENCE_COLUMNS))


def test_afforestation_eligibility_rules() -> None:
    stands = pd.DataFrame([
        {"stand_id": "ok", "land_class": "规划造林地", "area_ha": 1.0, "forest_right_cert": "湘1", "inventory_year": 2020},
        {"stand_id": "forest", "land_class": "乔木林地", "area_ha": 1.0, "forest_right_cert": "湘2", "inventory_year": 2020},
        {"stand_id": "recent", "land_class": "宜林地", "area_ha": 1.0, "forest_right_cert": "湘3", "inventory_year": 2024},
        {"stand_id": "one-survey", "land_class": "宜林地", "area_ha": 1.0, "forest_right_cert": "湘7", "inventory_year": 2020},
        {"stand_id": "tiny", "land_class": "宜林地", "area_ha": 0.03, "forest_right_cert": "湘4", "inventory_year": 2020},
        {"stand_id": "wet", "land_class": "湿地", "area_ha": 1.0, "forest_right_cert": "湘5", "inventory_year": 2020},
        {"stand_id": "nocert", "land_class": "宜林地", "area_ha": 1.0, "forest_right_cert": None, "inventory_year": 2020},
        {"stand_id": "oil", "land_class": "宜林地", "area_ha": 1.0, "forest_right_cert": "湘6", "inventory_year": 2020, "planted_group": "economic"},
    ])  # fmt: skip
    # the 2020 inventory counts as a survey (2020-12-31, ≥ 3 years before a 2025-01-01 start);
    # imagery of 2024-06-30 (within a year of the start) shows the land still non-forest
    imagery = [(s, "imagery", "land_class", "宜林地", "2024-06-30", "GF-2 2024-06-30 景号 X")
               for s in ("ok", "recent", "tiny", "wet", "nocert", "oil")]  # fmt: skip
    imagery.append(("forest", "imagery", "land_class", "乔木林地", "2024-06-30", "GF-2"))
    report = afforestation.check_eligibility(stands, 2025, evidence=_evidence(imagery))
    failed = report[~report["passed"]].groupby("stand_id")["rule"].apply(set).to_dict()
    assert "ok" not in failed
    assert failed["forest"] == {"land_class", "non_forest_3_years"}
    assert failed["recent"] == {"non_forest_3_years"}  # the survey is only a year old
    assert failed["one-survey"] == {"non_forest_3_years"}  # one survey proves nothing of 3 years
    assert failed["tiny"] == {"parcel_area"}  # 300 m² < 400 m²
    assert failed["wet"] == {"land_class", "not_wetland"}
    assert failed["nocert"] == {"tenure_documented"}
    assert failed["oil"] == {"not_economic_forest"}
    rows = report.set_index(["stand_id", "rule"])
    assert (
        "fewer than two observations" in rows.loc[("one-survey", "non_forest_3_years"), "reason_en"]
    )
    assert rows.loc[("one-survey", "non_forest_3_years"), "source"] == "CCER-14-001-V01 §2 a)"
    # 500 m² passes from 2020 on (≥ 400 m²) but not for a 2019 start (≥ 667 m²)
    small = stands.iloc[[0]].assign(area_ha=0.05, inventory_year=2010)
    seen = [("ok", "imagery", "land_class", "宜林地", "2019-06-30", "GF-2")]
    assert afforestation.check_eligibility(small, 2020, evidence=_evidence(seen))["passed"].all()
    assert (
        not afforestation.check_eligibility(small, 2019, evidence=_evidence(seen))
        .set_index("rule")
        .at["parcel_area", "passed"]
    )


def test_afforestation_declarations_e_and_f() -> None:
    stands = pd.DataFrame([{"stand_id": "a", "land_class": "宜林地", "area_ha": 1.0,
                            "forest_right_cert": "湘1", "inventory_year": 2020}])  # fmt: skip
    seen = ("a", "survey", "land_class", "宜林地", "2024-10-01", "国土变更调查 2024")
    too_much = [r for r in AF_DECLARED if r[2] != "shrub_removal_pct"]
    too_much.append(("", "declaration", "shrub_removal_pct", "25", "2024-12-01", "作业设计"))
    report = afforestation.check_eligibility(
        stands, 2025, evidence=Evidence(pd.DataFrame([*too_much, seen], columns=EVIDENCE_COLUMNS))
    ).set_index("rule")
    assert not report.at["shrub_removal", "passed"]  # 25 % > 20 %
    assert report.at["shrub_removal", "source"] == "CCER-14-001-V01 §2 e)"
    assert report.drop(index="shrub_removal")["passed"].all()


def test_afforestation_ex_ante_by_hand() -> None:
    curve = GrowthCurve("chinese_fir", POOLED, 300.0, 0.05, 2.0, 100, 10.0, 0.9, "test")
    result = afforestation.project_ex_ante(
        pd.DataFrame({"stand_id": ["a"], "area_ha": [3.0]}), [curve], 2026, 20
    )
    factor = 0.307 * 1.634 * 1.246 * 0.47 * 44 / 12
    v20 = 300 * (1 - math.exp(-0.05 * 20)) ** 2  # = 119.87292 m³/ha at age 20
    assert result.project_stock[0, -1] == pytest.approx(v20 * 3 * factor)
    assert result.total == pytest.approx(v20 * 3 * factor)  # baseline 0, LK 0
    assert (result.baseline_change == 0).all()
