"""Applicability (eligibility) rules per methodology, per stand: one row per stand and rule,
naming the rule, its source (methodology section) and the reason.

Facts come from the stand record (land class, origin, age group, canopy closure, area, height)
and from the project's **evidence**: dated observations (``survey`` / ``imagery`` of a stand's
land class) and ``declaration`` rows (project design facts such as "no burning", soil
disturbance %), each with a reference to the document. Project-wide rows (no stand) apply to
every stand; a stand's own row takes precedence. A condition nobody has declared fails with
"declare it".

Sources (texts read from public copies, 2026-11-29; see data/SOURCES.md):
- AR-CM-003-V01 §2 (a)–(g), forest management;
- AR-CM-005-V01 applicability (1)–(6), bamboo forest management (as summarised by 李金良 2021);
- CCER-14-001-V01 §2 a)–f), afforestation (in :mod:`methodologies.afforestation`).

Which rules apply to a project is the catalogue's business (:func:`methodologies.catalogue.check_eligibility`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from methodologies.species import TREE_GROUP_VALUES, SpeciesGroup

__all__ = [
    "EVIDENCE_COLUMNS",
    "RULE_COLUMNS",
    "Evidence",
    "bamboo_rules",
    "forest_management_rules",
    "rule_frame",
]

RULE_COLUMNS = ["stand_id", "rule", "passed", "reason_zh", "reason_en", "source"]
EVIDENCE_COLUMNS = ("stand_key", "kind", "item", "value", "observed_on", "reference")
YES = {"yes", "y", "true", "1", "是", "有", "符合"}
Row = tuple[object, str, bool, str, str, str]


class Evidence:
    """A project's evidence rows (``EVIDENCE_COLUMNS``), looked up per stand and item."""

    def __init__(self, frame: pd.DataFrame | None) -> None:
        if frame is None or frame.empty:
            frame = pd.DataFrame(columns=list(EVIDENCE_COLUMNS))
        frame = frame.copy()
        frame["stand_key"] = frame["stand_key"].where(frame["stand_key"].notna(), "")
        frame["observed_on"] = pd.to_datetime(frame["observed_on"]).dt.date
        self.frame = frame.sort_values("observed_on", kind="stable")
        self._declared: dict[tuple[str, str], tuple[str, str]] = {}
        for r in self.frame[self.frame["kind"] == "declaration"].itertuples(index=False):
            self._declared[(str(r.stand_key), str(r.item))] = (str(r.value), str(r.reference))

    def declared(self, stand: object, item: str) -> tuple[str, str] | None:
        """(value, reference) declared for the stand, else for the whole project, else None."""
        return self._declared.get((str(stand), item)) or self._declared.get(("", item))

    def observations(self, stand: object, item: str = "land_class") -> list[tuple[date, str, str]]:
        """(date, kind, value) of the stand's surveys and imagery on ``item``, oldest first."""
        f = self.frame
        rows = f[(f["stand_key"] == str(stand)) & f["kind"].isin(["survey", "imagery"])
                 & (f["item"] == item)]  # fmt: skip
        out: list[tuple[date, str, str]] = []
        for when, kind, value in zip(rows["observed_on"], rows["kind"], rows["value"], strict=True):
            out.append((when, str(kind), str(value)))
        return out


@dataclass(frozen=True)
class Declaration:
    """A condition proven by a declaration: ``item`` must be yes, or a number within bounds."""

    rule: str
    item: str
    source: str
    zh: str
    en: str
    at_most: float | None = None
    at_least: float | None = None

    def check(self, sid: object, evidence: Evidence) -> Row:
        found = evidence.declared(sid, self.item)
        if found is None:
            return (sid, self.rule, False, f"未声明：{self.zh}（请在证据文件中声明 {self.item}）",
                    f"not declared: {self.en} (declare {self.item} in the evidence file)",
                    self.source)  # fmt: skip
        value, ref = found
        if self.at_most is None and self.at_least is None:
            ok = value.strip().lower() in YES
            shown = value
        else:
            try:
                number = float(value)
            except ValueError:
                number = float("nan")
            ok = bool(np.isfinite(number)) and (
                (self.at_most is None or number <= self.at_most)
                and (self.at_least is None or number >= self.at_least)
            )
            shown = value
        verdict_zh = "符合" if ok else "不符合"
        verdict_en = "met" if ok else "NOT met"
        return (sid, self.rule, ok, f"{self.zh}：声明值 {shown}（{ref}）{verdict_zh}",
                f"{self.en}: declared {shown} ({ref}) — {verdict_en}", self.source)  # fmt: skip


def _column(stands: pd.DataFrame, name: str) -> NDArray[np.object_]:
    if name in stands:
        return stands[name].to_numpy(dtype=object)
    return np.full(len(stands), None, dtype=object)


def _number(stands: pd.DataFrame, name: str) -> NDArray[np.float64]:
    return np.asarray(
        pd.to_numeric(pd.Series(_column(stands, name)), errors="coerce").to_numpy(float),
        dtype=np.float64,
    )


def tenure(sid: object, cert: object, source: str) -> Row:
    ok = isinstance(cert, str) and bool(cert.strip())
    return (sid, "tenure_documented", ok, "有权属证明" if ok else "缺少不动产权证/林权证/承包合同编号",
            "tenure documented" if ok else "no tenure document (certificate or contract) on record",
            source)  # fmt: skip


def _threshold(
    sid: object, rule: str, value: float, bound: float, zh: str, en: str, unit: str, source: str
) -> Row:
    ok = bool(np.isfinite(value) and value >= bound)
    shown = f"{value:g}" if np.isfinite(value) else "未知 unknown"
    return (sid, rule, ok, f"{zh} {shown}{unit}" + ("" if ok else f"，须 ≥ {bound:g}{unit}"),
            f"{en} {shown}{unit}" + ("" if ok else f" — must be ≥ {bound:g}{unit}"), source)  # fmt: skip


FM_DECLARATIONS = (
    Declaration("complies_with_law", "complies_with_forest_law", "AR-CM-003-V01 §2 (c)",
                "符合国家和地方森林经营法律法规及技术规程",
                "complies with national and local forest-management law and technical rules"),
    Declaration("mineral_soil", "mineral_soil", "AR-CM-003-V01 §2 (d)", "项目地土壤为矿质土壤",
                "the soil is mineral soil"),
    Declaration("no_clearing_or_burning", "no_clearing_or_burning", "AR-CM-003-V01 §2 (e)",
                "不全面清林、不炼山等有控制火烧", "no full clearing and no controlled burning"),
    Declaration("dead_wood_litter_kept", "dead_wood_litter_kept", "AR-CM-003-V01 §2 (f)",
                "除改善林分卫生外不移除枯死木和地表枯落物",
                "dead wood and litter are not removed (except for stand hygiene)"),
    Declaration("soil_disturbance_contour", "soil_disturbance_contour", "AR-CM-003-V01 §2 (g)(i)",
                "整地符合水土保持（如沿等高线）", "site work follows soil conservation (e.g. contours)"),
    Declaration("soil_disturbance_area", "soil_disturbance_pct", "AR-CM-003-V01 §2 (g)(ii)",
                "土壤扰动面积不超过地表面积的 10%", "soil disturbance on at most 10 % of the area",
                at_most=10.0),
    Declaration("soil_disturbance_interval", "soil_disturbance_interval_years",
                "AR-CM-003-V01 §2 (g)(iii)", "土壤扰动每 20 年不超过一次",
                "soil disturbed at most once in 20 years", at_least=20.0),
)  # fmt: skip

BM_DECLARATIONS = (
    Declaration("not_organic_soil", "mineral_soil", "AR-CM-005-V01 applicability (2)",
                "项目区不属于有机土壤", "the soil is not organic soil"),
    Declaration("complies_with_law", "complies_with_forest_law", "AR-CM-005-V01 applicability (3)",
                "不违反森林经营法律法规和强制性技术标准",
                "complies with forest-management law and mandatory technical standards"),
    Declaration("litter_and_trees_kept", "litter_and_scattered_trees_kept",
                "AR-CM-005-V01 applicability (4)", "采伐只收竹秆竹枝、不移除枯落物、不清除散生林木",
                "harvest takes culms and branches only; litter and scattered trees are kept"),
    Declaration("soil_practice", "contour_tillage_no_deep_ploughing",
                "AR-CM-005-V01 applicability (5)(i)", "松土锄草沿等高线带状进行，不深翻垦复",
                "loosening along contours in strips, no deep ploughing"),
    Declaration("fertiliser_covered", "fertiliser_in_trenches_covered",
                "AR-CM-005-V01 applicability (5)(ii)", "带状沟施或点状篼施，施肥后覆土",
                "fertiliser in trenches or pits, covered with soil"),
    Declaration("management_measures", "appendix1_measures_applied",
                "AR-CM-005-V01 applicability (6)", "采用附录 1 所列一项或多项竹林经营措施",
                "one or more bamboo management measures of Appendix 1 are applied"),
)  # fmt: skip


def forest_management_rules(stands: pd.DataFrame, evidence: Evidence) -> list[Row]:
    """AR-CM-003-V01 §2 (a)–(g), stand by stand."""
    rows: list[Row] = []
    ids, lands, groups = (_column(stands, c) for c in ("stand_id", "land_class", "species_group"))
    origins, age_groups = _column(stands, "origin"), _column(stands, "age_group")
    certs = _column(stands, "forest_right_cert")
    ages, vols = _number(stands, "age_years"), _number(stands, "volume_m3_per_ha")
    canopy, area = _number(stands, "canopy_closure"), _number(stands, "area_ha")
    height = _number(stands, "mean_height_m")
    a = "AR-CM-003-V01 §2 (a)"
    b = "AR-CM-003-V01 §2 (b)"
    for i, sid in enumerate(ids):
        ok = lands[i] in ("乔木林地", "乔木林")
        rows.append((sid, "forest_land", ok, f"地类为 {lands[i]}" + ("" if ok else "，不是乔木林地"),
                     f"land class {lands[i]}" + ("" if ok else " is not tree forest land"), a))  # fmt: skip
        ok = groups[i] in TREE_GROUP_VALUES
        rows.append((sid, "tree_species", ok, f"树种组 {groups[i]}" + ("" if ok else "，不是乔木树种（竹林、经济林不适用）"),
                     f"species group {groups[i]}" + ("" if ok else " is not a tree group (bamboo and economic forest excluded)"), a))  # fmt: skip
        rows.append(
            _threshold(sid, "canopy_closure", canopy[i], 0.20, "郁闭度", "canopy closure", "", a)
        )
        rows.append(_threshold(sid, "min_area", area[i], 0.0667, "面积", "area", " ha", a))
        rows.append(
            _threshold(sid, "min_height", height[i], 2.0, "平均树高", "mean height", " m", a)
        )
        ok = origins[i] in ("人工", "人工林")
        rows.append((sid, "planted", ok, f"起源 {origins[i]}" + ("" if ok else "，本方法学只适用于人工林"),
                     f"origin {origins[i]}" + ("" if ok else ": the methodology applies to planted stands only"), b))  # fmt: skip
        ok = age_groups[i] in ("幼龄林", "中龄林")
        rows.append((sid, "young_or_middle_aged", ok, f"龄组 {age_groups[i]}" + ("" if ok else "，只适用于幼龄林、中龄林"),
                     f"age group {age_groups[i]}" + ("" if ok else ": only young and middle-aged stands qualify"), b))  # fmt: skip
        ok = bool(np.isfinite(ages[i]) and ages[i] > 0 and np.isfinite(vols[i]))
        rows.append((sid, "age_and_volume", ok, "有年龄和蓄积" if ok else "缺少年龄或蓄积，无法计量",
                     "age and volume known" if ok else "age or volume missing: cannot be measured",
                     "AR-CM-003-V01 §5 (ex-ante needs age and volume)"))  # fmt: skip
        rows.append(tenure(sid, certs[i], "AR-CM-003-V01 (project boundary and tenure)"))
        rows += [d.check(sid, evidence) for d in FM_DECLARATIONS]
    return rows


def bamboo_rules(stands: pd.DataFrame, evidence: Evidence) -> list[Row]:
    """AR-CM-005-V01 applicability (1)–(6), stand by stand."""
    rows: list[Row] = []
    ids, lands, groups = (_column(stands, c) for c in ("stand_id", "land_class", "species_group"))
    culms = _number(stands, "stems_per_ha")
    canopy, area = _number(stands, "canopy_closure"), _number(stands, "area_ha")
    height, dbh = _number(stands, "mean_height_m"), _number(stands, "mean_dbh_cm")
    certs = _column(stands, "forest_right_cert")
    one = "AR-CM-005-V01 applicability (1)"
    for i, sid in enumerate(ids):
        ok = lands[i] in ("竹林地", "竹林")
        rows.append((sid, "bamboo_land", ok, f"地类为 {lands[i]}" + ("" if ok else "，不是竹林地"),
                     f"land class {lands[i]}" + ("" if ok else " is not bamboo forest land"), one))  # fmt: skip
        ok = groups[i] == SpeciesGroup.MOSO_BAMBOO.value
        rows.append((sid, "moso_bamboo", ok, f"树种组 {groups[i]}" + ("" if ok else "，本方法学只计毛竹"),
                     f"species group {groups[i]}" + ("" if ok else ": only moso bamboo is modelled"),
                     "tanhui scope (the per-culm model is for moso bamboo)"))  # fmt: skip
        rows.append(
            _threshold(sid, "canopy_closure", canopy[i], 0.20, "郁闭度", "canopy closure", "", one)
        )
        rows.append(_threshold(sid, "min_area", area[i], 0.0667, "面积", "area", " ha", one))
        rows.append(
            _threshold(sid, "min_height", height[i], 2.0, "竹秆高度", "culm height", " m", one)
        )
        rows.append(_threshold(sid, "min_dbh", dbh[i], 2.0, "竹秆胸径", "culm DBH", " cm", one))
        ok = lands[i] != "湿地"
        rows.append((sid, "not_wetland", ok, "非湿地" if ok else "湿地不适用",
                     "not wetland" if ok else "wetland is excluded", "AR-CM-005-V01 applicability (2)"))  # fmt: skip
        ok = bool(np.isfinite(culms[i]) and culms[i] > 0)
        rows.append((sid, "culm_density", ok, "有立竹密度" if ok else "缺少每公顷立竹数",
                     "culm density known" if ok else "culms per ha missing",
                     "AR-CM-005-V01 (stand carbon needs the culm density)"))  # fmt: skip
        rows.append(tenure(sid, certs[i], "AR-CM-005-V01 (project boundary and tenure)"))
        rows += [d.check(sid, evidence) for d in BM_DECLARATIONS]
    return rows


def rule_frame(rows: list[Row]) -> pd.DataFrame:
    """Rule rows as the report every methodology's check returns (``RULE_COLUMNS``)."""
    return pd.DataFrame(rows, columns=RULE_COLUMNS)
