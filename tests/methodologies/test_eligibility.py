"""Eligibility rules of forest management and bamboo management, per stand."""

from __future__ import annotations

import pandas as pd

from methodologies.eligibility import check_eligibility


def _failed(report: pd.DataFrame) -> dict[str, set[str]]:
    return report[~report["passed"]].groupby("stand_id")["rule"].apply(set).to_dict()


def test_forest_management_rules() -> None:
    base = {"land_class": "乔木林地", "species_group": "chinese_fir", "origin": "人工", "age_years": 12.0,
            "volume_m3_per_ha": 80.0, "forest_right_cert": "湘（2019）1号"}  # fmt: skip
    stands = pd.DataFrame([
        {"stand_id": "ok", **base},
        {"stand_id": "bamboo", **base, "land_class": "竹林地", "species_group": "moso_bamboo"},
        {"stand_id": "no-age", **base, "age_years": None},
        {"stand_id": "no-origin", **base, "origin": None},
        {"stand_id": "no-cert", **base, "forest_right_cert": ""},
    ])  # fmt: skip
    failed = _failed(check_eligibility("AR-CM-003-V01", stands, 2026))
    assert "ok" not in failed
    assert failed["bamboo"] == {"forest_land", "tree_species"}
    assert failed["no-age"] == {"age_and_volume"}
    assert failed["no-origin"] == {"origin_known"}
    assert failed["no-cert"] == {"tenure_documented"}


def test_bamboo_management_rules() -> None:
    base = {"land_class": "竹林地", "species_group": "moso_bamboo", "stems_per_ha": 2800.0,
            "forest_right_cert": "湘（2019）2号"}  # fmt: skip
    stands = pd.DataFrame([
        {"stand_id": "ok", **base},
        {"stand_id": "fir", **base, "land_class": "乔木林地", "species_group": "chinese_fir"},
        {"stand_id": "other-bamboo", **base, "species_group": "other_bamboo"},
        {"stand_id": "no-culms", **base, "stems_per_ha": None},
    ])  # fmt: skip
    failed = _failed(check_eligibility("AR-CM-005-V01", stands, 2026))
    assert "ok" not in failed
    assert failed["fir"] == {"bamboo_land", "moso_bamboo"}
    assert failed["other-bamboo"] == {"moso_bamboo"}
    assert failed["no-culms"] == {"culm_density"}
    reasons = check_eligibility("AR-CM-005-V01", stands, 2026).set_index(["stand_id", "rule"])
    assert "only moso bamboo" in reasons.loc[("other-bamboo", "moso_bamboo"), "reason_en"]
