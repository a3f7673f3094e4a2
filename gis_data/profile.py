"""Field profiles: map a province's or a year's inventory column names to canonical names.

A profile is a CSV with columns ``canonical,required,type,unit,aliases,meaning_zh,meaning_en``
and, optionally, ``code_table`` and ``key``. ``aliases`` lists, separated by ``;``, the column
names a file may use. The first alias is the name written on export, so an export re-imports
through the same profile. A profile maps values as well as columns: ``code_table`` names the
table of :mod:`gis_data.codes` whose codes the column may hold (decoded to names on import), and
``key`` gives the default position of the field in the stand key (empty: not in the key).

A .dbf stores at most 10 bytes of a column name, so ``每公顷蓄积量`` (12 bytes in GBK) arrives as
``每公顷蓄积``: an alias also matches its own first 10 bytes in GBK or UTF-8 (a partial character
dropped).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gis_data.errors import InventoryReadError

__all__ = ["DEFAULT_PROFILE_NAME", "FieldProfile", "FieldSpec", "load_profile"]

DEFAULT_PROFILE_NAME = "field_profile_erlei.csv"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    canonical: str
    required: bool
    type: str  # "text" | "number"
    unit: str
    aliases: tuple[str, ...]
    meaning_zh: str
    meaning_en: str
    code_table: str = ""
    key_position: int | None = None

    @property
    def export_name(self) -> str:
        return self.aliases[0] if self.aliases else self.canonical


@dataclass(frozen=True)
class FieldProfile:
    name: str
    fields: tuple[FieldSpec, ...]

    def spec(self, canonical: str) -> FieldSpec:
        for f in self.fields:
            if f.canonical == canonical:
                return f
        raise KeyError(canonical)

    @property
    def canonical_names(self) -> list[str]:
        return [f.canonical for f in self.fields]

    @property
    def key_fields(self) -> tuple[str, ...]:
        """The default stand key: fields with a ``key`` position, in that order."""
        keyed = [f for f in self.fields if f.key_position is not None]
        return tuple(f.canonical for f in sorted(keyed, key=lambda f: f.key_position or 0))

    def match_columns(self, columns: list[str]) -> dict[str, str]:
        """Return ``{canonical: source column}`` for the columns of a file.

        Matching is case-insensitive and ignores surrounding blanks; the first alias found in
        the file wins, and a column matching the canonical name itself is accepted too.
        """
        by_folded = {c.strip().rstrip("\ufffd").casefold(): c for c in columns}
        mapping: dict[str, str] = {}
        taken: set[str] = set()
        # a truncated form two fields share (每公顷株数, 每公顷蓄积 → 每公顷 in UTF-8) is ambiguous
        owners: dict[str, set[str]] = {}
        for spec in self.fields:
            for candidate in (*spec.aliases, spec.canonical):
                for form in _name_forms(candidate):
                    owners.setdefault(form, set()).add(spec.canonical)
        # first pass: exact and unambiguous forms; second pass: an ambiguous truncated form is
        # taken by the one field of its owners that is still unmatched
        for strict in (True, False):
            for spec in self.fields:
                if spec.canonical in mapping:
                    continue
                hit = self._find(spec, by_folded, owners, taken, mapping, strict)
                if hit is not None:
                    mapping[spec.canonical] = hit
                    taken.add(hit)
        return mapping

    @staticmethod
    def _find(
        spec: FieldSpec,
        by_folded: dict[str, str],
        owners: dict[str, set[str]],
        taken: set[str],
        mapping: dict[str, str],
        strict: bool,
    ) -> str | None:
        for candidate in (*spec.aliases, spec.canonical):
            for form in _name_forms(candidate):
                others = owners[form] - {spec.canonical}
                if others and (strict or not others <= set(mapping)):
                    continue
                hit = by_folded.get(form)
                if hit is not None and hit not in taken:
                    return hit
        return None


DBF_NAME_BYTES = 10


def _name_forms(name: str) -> list[str]:
    """The folded name, then its first 10 bytes in GBK and in UTF-8 (as a .dbf truncates it)."""
    folded = name.strip().casefold()
    forms = [folded]
    for codec in ("gbk", "utf-8"):
        try:
            raw = folded.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(raw) > DBF_NAME_BYTES:
            short = raw[:DBF_NAME_BYTES].decode(codec, errors="ignore")
            if short and short not in forms:
                forms.append(short)
    return forms


def load_profile(path: Path | None = None) -> FieldProfile:
    """Load a field profile CSV; ``None`` loads the default 二类调查 profile shipped with us."""
    if path is None:
        text = (
            resources.files("gis_data")
            .joinpath(f"data/{DEFAULT_PROFILE_NAME}")
            .read_text(encoding="utf-8")
        )
        name = DEFAULT_PROFILE_NAME
    else:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryReadError(
                f"无法读取字段配置文件 {str(path)!r}：{exc}。请提供 UTF-8 编码的 CSV 文件。",
                f"Cannot read field profile {str(path)!r}: {exc}. Provide a UTF-8 CSV file.",
            ) from exc
        name = Path(path).name
    rows = list(csv.DictReader(text.splitlines()))
    needed = {"canonical", "required", "type", "aliases"}
    if not rows or not needed <= set(rows[0]):
        raise InventoryReadError(
            f"字段配置文件 {name!r} 缺少列：{', '.join(sorted(needed))}。",
            f"Field profile {name!r} must have the columns {', '.join(sorted(needed))}.",
        )
    fields = tuple(
        FieldSpec(
            canonical=row["canonical"].strip(),
            required=row["required"].strip().lower() in {"yes", "true", "1", "是"},
            type=row["type"].strip(),
            unit=(row.get("unit") or "").strip(),
            aliases=tuple(a.strip() for a in (row["aliases"] or "").split(";") if a.strip()),
            meaning_zh=(row.get("meaning_zh") or "").strip(),
            meaning_en=(row.get("meaning_en") or "").strip(),
            code_table=(row.get("code_table") or "").strip(),
            key_position=_key_position(row.get("key"), name),
        )
        for row in rows
    )
    return FieldProfile(name=name, fields=fields)


def _key_position(text: str | None, profile: str) -> int | None:
    value = (text or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InventoryReadError(
            f"字段配置文件 {profile!r} 的 key 列应为整数（小班编号中的位置），实际为 {value!r}。",
            f"Field profile {profile!r}: the key column must be an integer (position in the "
            f"stand key), not {value!r}.",
        )
    return int(value)
