"""Code tables: the codes 林地一张图 / 二类调查 / 三调 files store instead of names.

``data/code_tables.csv`` holds, per canonical field, ``code → name_zh`` (the name our
vocabularies use and the registry stores), the official meaning, the coding system, the source
and a status flag ("recalled - verify" where the code was not checked against the standard). A
county's own codes come from a CSV with columns ``field,code,meaning`` (``--codes``); they
override the national tables for that import. ``field`` is a canonical name (``land_class``)
or a column name the profile knows (``DI_LEI``).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import pandas as pd

from gis_data.errors import UsageError
from gis_data.profile import FieldProfile

__all__ = ["CodeBook", "CodeEntry", "Decoded", "load_codebook", "national_codebook"]

VERIFIED_MARK = "verify"  # a status containing this word is not checked against the standard


@dataclass(frozen=True, slots=True)
class CodeEntry:
    field: str
    code: str
    name_zh: str  # stored value
    meaning_zh: str  # the official wording of the code
    system: str  # yizhangtu | erlei | sandiao | county
    source: str
    status: str

    @property
    def unverified(self) -> bool:
        return VERIFIED_MARK in self.status


@dataclass
class Decoded:
    """One column decoded: names where codes were, plus what the decoding found."""

    values: pd.Series
    unknown: dict[str, int] = field(default_factory=dict)  # code-like values not in the table
    used: dict[str, int] = field(default_factory=dict)  # codes decoded, with counts
    looks_coded: bool = False


def _normal(code: str) -> str:
    """Codes compare without leading zeros: SEN_LIN_LB 011 may arrive as the integer 11."""
    stripped = code.strip().lstrip("0")
    return stripped or "0"


@dataclass(frozen=True)
class CodeBook:
    tables: Mapping[str, Mapping[str, CodeEntry]]  # field -> normalised code -> entry

    def fields(self) -> list[str]:
        return sorted(self.tables)

    def names(self, table: str) -> set[str]:
        return {e.name_zh for e in self.tables.get(table, {}).values()}

    def entry(self, table: str, code: str) -> CodeEntry | None:
        return self.tables.get(table, {}).get(_normal(code))

    def code_for(self, table: str, name: str, system: str) -> str | None:
        """The first code of ``system`` for a stored name (used to write coded sample files)."""
        for entry in self.tables.get(table, {}).values():
            if entry.name_zh == name and entry.system == system:
                return entry.code
        return None

    def decode(self, table: str, values: pd.Series) -> Decoded:
        """Replace codes by names in a normalised text column (None for missing).

        A value that is a known name stays as it is. A column "looks coded" when most of its
        values are digit strings; then every digit string that is not a known code is
        returned in ``unknown`` with its count, so that a report names them once.
        """
        entries = self.tables.get(table, {})
        present = values.dropna()
        if present.empty:
            return Decoded(values)
        distinct = present.value_counts()
        digits = [v for v in distinct.index if isinstance(v, str) and v.isdigit()]
        looks_coded = distinct[digits].sum() * 2 >= len(present) if digits else False
        mapping: dict[str, str] = {}
        used: dict[str, int] = {}
        unknown: dict[str, int] = {}
        names = self.names(table)
        for value in distinct.index:
            if not isinstance(value, str) or value in names:
                continue
            hit = entries.get(_normal(value)) if value.isdigit() else None
            if hit is not None:
                mapping[value] = hit.name_zh
                used[hit.code] = used.get(hit.code, 0) + int(distinct[value])
            elif value.isdigit() and looks_coded:
                unknown[value] = int(distinct[value])
        if not mapping:
            return Decoded(values, unknown, used, looks_coded)
        mapped = values.map(mapping)  # a dict: vectorised lookup, NaN where not a code
        decoded = mapped.astype(object).where(mapped.notna(), values)
        return Decoded(decoded.astype(object), unknown, used, looks_coded)


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines()))


@cache
def national_codebook() -> CodeBook:
    """The code tables shipped with tanhui (``gis_data/data/code_tables.csv``)."""
    text = resources.files("gis_data").joinpath("data/code_tables.csv").read_text("utf-8")
    tables: dict[str, dict[str, CodeEntry]] = {}
    for row in _read(text):
        entry = CodeEntry(
            row["field"], row["code"], row["name_zh"], row["meaning_zh"], row["system"],
            row["source"], row["status"],
        )  # fmt: skip
        table = tables.setdefault(entry.field, {})
        key = _normal(entry.code)
        if key in table and table[key].name_zh != entry.name_zh:
            raise ValueError(f"code_tables.csv: {entry.field} code {entry.code} is ambiguous")
        table.setdefault(key, entry)
    return CodeBook(tables)


def load_codebook(path: Path | None, profile: FieldProfile) -> CodeBook:
    """The national tables, overridden by a county's ``field,code,meaning`` CSV when given."""
    book = national_codebook()
    if path is None:
        return book
    try:
        rows = _read(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"无法读取代码表 {str(path)!r}：{exc}。请提供 UTF-8 编码的 CSV（列：field,code,meaning）。",
            f"Cannot read the code table {str(path)!r}: {exc}. Provide a UTF-8 CSV with the "
            "columns field,code,meaning.",
        ) from exc
    if not rows or not {"field", "code", "meaning"} <= set(rows[0]):
        raise UsageError(
            f"代码表 {str(path)!r} 须有列 field,code,meaning。",
            f"The code table {str(path)!r} must have the columns field,code,meaning.",
        )
    by_alias = {}
    for spec in profile.fields:
        for name in (spec.canonical, *spec.aliases):
            by_alias[name.casefold()] = spec.code_table or spec.canonical
    tables = {k: dict(v) for k, v in book.tables.items()}
    for number, row in enumerate(rows, start=2):
        table = by_alias.get((row["field"] or "").strip().casefold())
        code, meaning = (row["code"] or "").strip(), (row["meaning"] or "").strip()
        if table is None or not code or not meaning:
            raise UsageError(
                f"代码表 {str(path)!r} 第 {number} 行无法使用：字段 {row['field']!r} 未知或代码/含义为空。"
                f"可用字段：{', '.join(sorted(set(by_alias.values())))}。",
                f"Code table {str(path)!r} line {number}: unknown field {row['field']!r} or an "
                f"empty code/meaning. Fields: {', '.join(sorted(set(by_alias.values())))}.",
            )
        tables.setdefault(table, {})[_normal(code)] = CodeEntry(
            table, code, meaning, meaning, "county", f"county code table {Path(path).name}",
            "county table",
        )  # fmt: skip
    return CodeBook(tables)
