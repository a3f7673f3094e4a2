"""Applicability rules of forest management and bamboo management, per stand, with sources."""

from __future__ import annotations

import pandas as pd

from methodologies.catalogue import check_eligibility


def _failed(report: pd.DataFrame) -> dict[str, set[str]]:
    return report[~report["passed"]].groupby("stand_id")["rule"].apply(set).to_dict()


def _declare(items: dict[str, str]) -> pd.DataFrame:
    """Project-wide declarations (no stand key), as a project's evidence file gives them."""
    return pd.DataFrame(
        [("", "declaration", k, v, "2025-12-01", f"项目设计文件 §{i}") for i, (k, v) in enumerate(items.items())],
        columns=["stand_key", "kind", "item", "value", "observed_on", "reference"],
    )  # fmt: skip


FM_DECLARED = {
    "complies_with_forest_law": "yes", "mineral_soil": "yes", "no_clearing_or_burning": "yes",
    "dead_wood_litter_kept": "yes", "soil_disturbance_contour": "yes",
    "soil_disturbance_pct": "8", "soil_disturbance_interval_years": "20",
}  # fmt: skip
FM_STAND = {"land_class": "乔木林地", "species_group": "chinese_fir", "origin": "人工",
            "age_group": "中龄林", "age_years": 14.0, "volume_m3_per_ha": 80.0,
            "canopy_closure": 0.6, "area_ha": 2.0, "mean_height_m": 11.0,
            "forest_right_cert": "湘（2019）1号"}  # fmt: skip


def test_forest_management_refuses_a_natural_mature_stand_and_accepts_a_planted_middle_aged_one() -> (
    None
):
    stands = pd.DataFrame([
        {"stand_id": "planted-middle", **FM_STAND},
        {"stand_id": "natural-mature", **FM_STAND, "origin": "天然", "age_group": "成熟林", "age_years": 60.0},
    ])  # fmt: skip
    report = check_eligibility("AR-CM-003-V01", stands, 2026, evidence=_declare(FM_DECLARED))
    failed = _failed(report)
    assert "planted-middle" not in failed
    assert failed["natural-mature"] == {"planted", "young_or_middle_aged"}
    rows = report.set_index(["stand_id", "rule"])
    # each refusal names the rule and its source in the methodology
    assert rows.loc[("natural-mature", "planted"), "source"] == "AR-CM-003-V01 §2 (b)"
    assert "planted stands only" in rows.loc[("natural-mature", "planted"), "reason_en"]
    assert rows.loc[("natural-mature", "young_or_middle_aged"), "source"] == "AR-CM-003-V01 §2 (b)"
    assert "成熟林" in rows.loc[("natural-mature", "young_or_middle_aged"), "reason_zh"]


def test_forest_management_stand_and_declared_conditions() -> None:
    stands = pd.DataFrame([
        {"stand_id": "ok", **FM_STAND},
        {"stand_id": "bamboo", **FM_STAND, "land_class": "竹林地", "species_group": "moso_bamboo"},
        {"stand_id": "open", **FM_STAND, "canopy_closure": 0.15},
        {"stand_id": "low", **FM_STAND, "mean_height_m": 1.5},
        {"stand_id": "small", **FM_STAND, "area_ha": 0.05},
        {"stand_id": "no-age", **FM_STAND, "age_years": None},
        {"stand_id": "no-cert", **FM_STAND, "forest_right_cert": ""},
    ])  # fmt: skip
    declared = {**FM_DECLARED, "soil_disturbance_pct": "15"}  # more than 10 %
    declared.pop("no_clearing_or_burning")  # nobody declared it
    failed = _failed(check_eligibility("AR-CM-003-V01", stands, 2026, evidence=_declare(declared)))
    project_wide = {"soil_disturbance_area", "no_clearing_or_burning"}
    assert failed["ok"] == project_wide
    assert failed["bamboo"] == {"forest_land", "tree_species"} | project_wide
    assert failed["open"] == {"canopy_closure"} | project_wide  # 0.15 < 0.20
    assert failed["low"] == {"min_height"} | project_wide  # 1.5 m < 2 m
    assert failed["small"] == {"min_area"} | project_wide  # 0.05 ha < 0.0667 ha
    assert failed["no-age"] == {"age_and_volume"} | project_wide
    assert failed["no-cert"] == {"tenure_documented"} | project_wide
    rows = check_eligibility("AR-CM-003-V01", stands.iloc[:1], 2026, evidence=_declare(declared))
    reason = rows.set_index("rule").loc["no_clearing_or_burning", "reason_en"]
    assert "not declared" in reason and "no_clearing_or_burning" in reason


BM_DECLARED = {
    "mineral_soil": "yes", "complies_with_forest_law": "yes",
    "litter_and_scattered_trees_kept": "是", "contour_tillage_no_deep_ploughing": "yes",
    "fertiliser_in_trenches_covered": "yes", "appendix1_measures_applied": "yes",
}  # fmt: skip


def test_bamboo_management_rules() -> None:
    base = {"land_class": "竹林地", "species_group": "moso_bamboo", "stems_per_ha": 2800.0,
            "canopy_closure": 0.7, "area_ha": 3.0, "mean_height_m": 9.0, "mean_dbh_cm": 9.0,
            "forest_right_cert": "湘（2019）2号"}  # fmt: skip
    stands = pd.DataFrame([
        {"stand_id": "ok", **base},
        {"stand_id": "fir", **base, "land_class": "乔木林地", "species_group": "chinese_fir"},
        {"stand_id": "other-bamboo", **base, "species_group": "other_bamboo"},
        {"stand_id": "no-culms", **base, "stems_per_ha": None},
        {"stand_id": "thin-culms", **base, "mean_dbh_cm": 1.5},
    ])  # fmt: skip
    report = check_eligibility("AR-CM-005-V01", stands, 2026, evidence=_declare(BM_DECLARED))
    failed = _failed(report)
    assert "ok" not in failed
    assert failed["fir"] == {"bamboo_land", "moso_bamboo"}
    assert failed["other-bamboo"] == {"moso_bamboo"}
    assert failed["no-culms"] == {"culm_density"}
    assert failed["thin-culms"] == {"min_dbh"}  # 1.5 cm < 2 cm
    reasons = report.set_index(["stand_id", "rule"])
    assert "only moso bamboo" in reasons.loc[("other-bamboo", "moso_bamboo"), "reason_en"]
    assert reasons.loc[("thin-culms", "min_dbh"), "source"] == "AR-CM-005-V01 applicability (1)"
