"""The methodology catalogue: one record per methodology, so that nothing else dispatches on a
methodology code.

Each record says what the methodology is (code, name, kind), which stands it computes, whether it
needs growth curves fitted to the inventory, how it checks applicability (each rule with its
source), how it projects the ex-ante (removals by stand and year) and the stock its stands hold
now, and whether trees standing before the project are left out of its plots (afforestation,
AR-TOOL14). Adding a methodology means adding a record here and its module beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import pandas as pd

from methodologies import afforestation, bamboo, forest_management
from methodologies.eligibility import Evidence, bamboo_rules, forest_management_rules, rule_frame
from methodologies.errors import InputError
from methodologies.exante import ExAnteResult
from methodologies.growth import GrowthCurve
from methodologies.species import TREE_GROUP_VALUES, SpeciesGroup
from methodologies.trees import stand_tree_carbon

__all__ = [
    "CATALOGUE",
    "Methodology",
    "MethodologyCode",
    "MethodologyKind",
    "check_eligibility",
    "codes",
    "methodology",
]


class MethodologyCode(StrEnum):
    """The methodologies the registry computes."""

    AFFORESTATION = afforestation.CODE  # CCER-14-001-V01 造林碳汇
    FOREST_MANAGEMENT = forest_management.CODE  # AR-CM-003-V01 森林经营碳汇
    BAMBOO = bamboo.CODE  # AR-CM-005-V01 竹林经营碳汇


class MethodologyKind(StrEnum):
    AFFORESTATION = "afforestation"
    FOREST_MANAGEMENT = "forest_management"
    BAMBOO = "bamboo"


Eligibility = Callable[[pd.DataFrame, int, str, Evidence, date], pd.DataFrame]
ExAnte = Callable[[pd.DataFrame, list[GrowthCurve], int, int, str], ExAnteResult]


@dataclass(frozen=True)
class Methodology:
    code: MethodologyCode
    name: str
    kind: MethodologyKind
    needs_curves: bool  # the ex-ante grows stands along curves fitted to the inventory
    excludes_pre_existing_trees: bool  # plots: trees standing before the project are not counted
    computed: Callable[[pd.DataFrame], pd.DataFrame]  # the stands it computes, from a selection
    eligibility: Eligibility
    ex_ante: ExAnte
    start_stock: Callable[[pd.DataFrame], float]  # t CO2e the computed stands hold now


def _bamboo_stands(stands: pd.DataFrame) -> pd.DataFrame:
    moso = stands[stands["species_group"] == SpeciesGroup.MOSO_BAMBOO.value]
    if moso.empty:
        raise InputError("选择中没有毛竹林小班。", "the selection holds no moso bamboo stand.")
    return moso.assign(culms_per_ha=moso["stems_per_ha"])


def _tree_stands(stands: pd.DataFrame) -> pd.DataFrame:
    trees = stands[stands["species_group"].isin(TREE_GROUP_VALUES)]
    trees = trees[trees["age_years"].notna() & trees["volume_m3_per_ha"].notna()]
    if trees.empty:
        raise InputError(
            "选择中没有可计量的乔木林小班。",
            "the selection holds no tree stand with age and volume.",
        )
    return trees


CATALOGUE: dict[MethodologyCode, Methodology] = {
    m.code: m
    for m in (
        Methodology(
            MethodologyCode.AFFORESTATION, afforestation.NAME, MethodologyKind.AFFORESTATION,
            needs_curves=True, excludes_pre_existing_trees=True,
            computed=lambda stands: stands,
            eligibility=lambda stands, year, planted, evidence, start: afforestation.check_eligibility(
                stands, year, planted, evidence, start),
            ex_ante=afforestation.project_ex_ante,
            start_stock=lambda stands: 0.0,  # planted on non-forest land: nothing to start from
        ),
        Methodology(
            MethodologyCode.FOREST_MANAGEMENT, forest_management.NAME, MethodologyKind.FOREST_MANAGEMENT,
            needs_curves=True, excludes_pre_existing_trees=False,
            computed=_tree_stands,
            eligibility=lambda stands, year, planted, evidence, start: rule_frame(
                forest_management_rules(stands, evidence)),
            ex_ante=lambda stands, curves, start, years, planted: forest_management.project_ex_ante(
                stands, curves, start, years),
            start_stock=lambda stands: float(stand_tree_carbon(
                stands["volume_m3_per_ha"], stands["area_ha"], stands["species_group"]).sum()),
        ),
        Methodology(
            MethodologyCode.BAMBOO, bamboo.NAME, MethodologyKind.BAMBOO,
            needs_curves=False, excludes_pre_existing_trees=False,
            computed=_bamboo_stands,
            eligibility=lambda stands, year, planted, evidence, start: rule_frame(
                bamboo_rules(stands, evidence)),
            ex_ante=lambda stands, curves, start, years, planted: bamboo.project_ex_ante(
                stands, start, years),
            start_stock=lambda stands: float(bamboo.stand_carbon_tco2e(
                stands["culms_per_ha"], stands["mean_dbh_cm"], stands["area_ha"]).sum()),
        ),
    )
}  # fmt: skip


def codes() -> tuple[str, ...]:
    return tuple(CATALOGUE)


def methodology(code: str) -> Methodology:
    """The catalogue's record for ``code``; an unknown code is refused, naming the known ones."""
    try:
        return CATALOGUE[MethodologyCode(code)]
    except ValueError:
        raise InputError(
            f"未知方法学 {code!r}，可用：{', '.join(CATALOGUE)}",
            f"unknown methodology {code!r}; use one of {', '.join(CATALOGUE)}",
        ) from None


def check_eligibility(
    code: str, stands: pd.DataFrame, start_year: int, planted_group: str = "chinese_fir",
    evidence: pd.DataFrame | None = None, start: date | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Applicability of each stand under the methodology ``code``: one row per stand and rule
    (``stand_id, rule, passed, reason_zh, reason_en, source``). ``evidence``: the project's
    evidence rows (``eligibility.EVIDENCE_COLUMNS``); ``start`` the project's start date
    (default 1 January of ``start_year``)."""
    return methodology(code).eligibility(
        stands, start_year, planted_group, Evidence(evidence), start or date(start_year, 1, 1)
    )
