"""Eligibility rules per methodology, per stand: one row per stand and rule with the reason.

Afforestation rules live in :mod:`methodologies.afforestation`; forest management
(AR-CM-003-V01) and bamboo management (AR-CM-005-V01) rules are here. Rule texts follow the
methodologies as summarised in shared/reference/methodology_notes.md; where the official text
was not available the rule says what it checks and stays open to correction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies import afforestation

__all__ = ["RULE_COLUMNS", "check_eligibility"]

RULE_COLUMNS = ["stand_id", "rule", "passed", "reason_zh", "reason_en"]
TREE_GROUPS = (
    "chinese_fir", "masson_pine", "other_pine", "other_conifer", "mixed_conifer", "broadleaf",
    "mixed_conifer_broadleaf",
)  # fmt: skip


def _column(stands: pd.DataFrame, name: str) -> NDArray[np.object_]:
    if name in stands:
        return stands[name].to_numpy(dtype=object)
    return np.full(len(stands), None, dtype=object)


def _tenure(sid: object, cert: object) -> tuple[object, str, bool, str, str]:
    ok = isinstance(cert, str) and bool(cert.strip())
    return (sid, "tenure_documented", ok, "有权属证明" if ok else "缺少不动产权证/林权证/承包合同编号",
            "tenure documented" if ok else "no tenure document (certificate or contract) on record")  # fmt: skip


def _forest_management(stands: pd.DataFrame) -> list[tuple[object, str, bool, str, str]]:
    rows: list[tuple[object, str, bool, str, str]] = []
    ids, lands, groups = (
        _column(stands, "stand_id"),
        _column(stands, "land_class"),
        _column(stands, "species_group"),
    )
    ages = pd.to_numeric(pd.Series(_column(stands, "age_years")), errors="coerce").to_numpy(float)
    vols = pd.to_numeric(pd.Series(_column(stands, "volume_m3_per_ha")), errors="coerce").to_numpy(
        float
    )
    certs, origins = _column(stands, "forest_right_cert"), _column(stands, "origin")
    for i, sid in enumerate(ids):
        ok = lands[i] in ("乔木林地", "乔木林")
        rows.append((sid, "forest_land", ok, f"地类为 {lands[i]}" + ("" if ok else "，不是乔木林地"),
                     f"land class {lands[i]}" + ("" if ok else " is not tree forest land")))  # fmt: skip
        ok = groups[i] in TREE_GROUPS
        rows.append((sid, "tree_species", ok, f"树种组 {groups[i]}" + ("" if ok else "，不是乔木树种（竹林、经济林另有方法学或不适用）"),
                     f"species group {groups[i]}" + ("" if ok else " is not a tree group (bamboo and economic forest excluded)")))  # fmt: skip
        ok = origins[i] in (
            "人工",
            "人工林",
            "天然",
            "天然林",
            "飞播",
            "飞播林",
            "人工促进天然更新",
        )
        rows.append((sid, "origin_known", ok, f"起源 {origins[i]}" + ("" if ok else "，起源不明"),
                     f"origin {origins[i]}" + ("" if ok else " is unknown")))  # fmt: skip
        ok = bool(np.isfinite(ages[i]) and ages[i] > 0 and np.isfinite(vols[i]))
        rows.append((sid, "age_and_volume", ok, "有年龄和蓄积" if ok else "缺少年龄或蓄积，无法计量",
                     "age and volume known" if ok else "age or volume missing: cannot be measured"))  # fmt: skip
        rows.append(_tenure(sid, certs[i]))
    return rows


def _bamboo(stands: pd.DataFrame) -> list[tuple[object, str, bool, str, str]]:
    rows: list[tuple[object, str, bool, str, str]] = []
    ids, lands, groups = (
        _column(stands, "stand_id"),
        _column(stands, "land_class"),
        _column(stands, "species_group"),
    )
    culms = pd.to_numeric(pd.Series(_column(stands, "stems_per_ha")), errors="coerce").to_numpy(
        float
    )
    certs = _column(stands, "forest_right_cert")
    for i, sid in enumerate(ids):
        ok = lands[i] in ("竹林地", "竹林")
        rows.append((sid, "bamboo_land", ok, f"地类为 {lands[i]}" + ("" if ok else "，不是竹林地"),
                     f"land class {lands[i]}" + ("" if ok else " is not bamboo forest land")))  # fmt: skip
        ok = groups[i] == "moso_bamboo"
        rows.append((sid, "moso_bamboo", ok, f"树种组 {groups[i]}" + ("" if ok else "，本方法学只计毛竹"),
                     f"species group {groups[i]}" + ("" if ok else ": only moso bamboo is modelled")))  # fmt: skip
        ok = bool(np.isfinite(culms[i]) and culms[i] > 0)
        rows.append((sid, "culm_density", ok, "有立竹密度" if ok else "缺少每公顷立竹数",
                     "culm density known" if ok else "culms per ha missing"))  # fmt: skip
        rows.append(_tenure(sid, certs[i]))
    return rows


def check_eligibility(
    methodology: str, stands: pd.DataFrame, start_year: int, planted_group: str = "chinese_fir"
) -> pd.DataFrame:
    """Eligibility of each stand under ``methodology`` (code); see the module docstring."""
    if methodology == afforestation.CODE:
        return afforestation.check_eligibility(stands, start_year, planted_group)
    if methodology == "AR-CM-003-V01":
        return pd.DataFrame(_forest_management(stands), columns=RULE_COLUMNS)
    if methodology == "AR-CM-005-V01":
        return pd.DataFrame(_bamboo(stands), columns=RULE_COLUMNS)
    raise ValueError(f"unknown methodology {methodology!r}")
