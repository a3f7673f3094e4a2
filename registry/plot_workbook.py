"""The monitoring-plot workbook (样地数据): one sheet of tree (or culm) measurements and one of
stratum areas, with Chinese headers (``methodologies.expost``'s column names), as .xlsx or .csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["canonical_columns", "read_plot_workbook", "read_table"]


def read_table(path: Path, sheet: int = 0) -> pd.DataFrame:
    """One sheet of an .xlsx (by position) or a UTF-8 (with or without BOM) .csv."""
    if path.suffix.lower() in (".xlsx", ".xls"):
        return pd.read_excel(path, sheet_name=sheet)
    return pd.read_csv(path, encoding="utf-8-sig")


def canonical_columns(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """Rename Chinese headers (``mapping``: canonical → Chinese) to canonical names."""
    reverse = {zh: canon for canon, zh in mapping.items()}
    return frame.rename(columns=lambda c: reverse.get(str(c).strip(), str(c).strip()))


def read_plot_workbook(
    plots: Path, strata: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trees, stratum areas) with canonical columns: an .xlsx holds both sheets; a .csv of
    trees takes its strata from ``strata`` or from ``<name>_strata.csv`` beside it."""
    from methodologies.expost import (
        BAMBOO_COLUMNS_ZH,
        OPTIONAL_COLUMNS_ZH,
        PLOT_COLUMNS_ZH,
        STRATUM_COLUMNS_ZH,
    )

    trees = canonical_columns(
        read_table(plots, 0), {**PLOT_COLUMNS_ZH, **BAMBOO_COLUMNS_ZH, **OPTIONAL_COLUMNS_ZH}
    )
    if strata is not None:
        areas = read_table(strata)
    elif plots.suffix.lower() in (".xlsx", ".xls"):
        areas = read_table(plots, 1)
    else:
        areas = read_table(plots.with_name(plots.stem + "_strata.csv"))
    return trees, canonical_columns(areas, STRATUM_COLUMNS_ZH)
