"""Check and normalise an inventory read by :mod:`gis_data.read`.

All problems of a file are collected into one :class:`~gis_data.issues.IssueReport`; nothing
here raises for a bad record. The result, when the report holds no error, is a table of
canonical attributes and CGCS2000 multipolygons with their hectares computed on an equal-area
projection of the CGCS2000 ellipsoid.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer

from gis_data.codes import CodeBook, national_codebook
from gis_data.crs import STORAGE_CRS, check_in_china, equal_area_crs, resolve_crs
from gis_data.errors import CrsError
from gis_data.issues import InventoryIssue, IssueReport, Severity
from gis_data.profile import FieldSpec
from gis_data.read import RawInventory

__all__ = [
    "CheckOptions",
    "PreparedInventory",
    "area_ha",
    "land_class_vocabulary",
    "origin_vocabulary",
    "prepare_inventory",
]

SEVERITY_ORDER = {Severity.ERROR: 0, Severity.REPAIRED: 1, Severity.WARNING: 2}
COORDINATE_DECIMALS = 9  # 1e-9 degree ≈ 0.1 mm: stored coordinates are rounded to this grid
KEY_FIELDS = ("county_code", "compartment", "subcompartment")  # when the profile names none
OPTIONAL_KEY_FIELDS = ("fine_stand",)  # 细斑: joins the key only where the record has one
KEY_CHOICES = ("county_code", "township", "village", "compartment", "subcompartment", "fine_stand")
MU_PER_HA = 15.0  # 1 公顷 = 15 亩 exactly (1 亩 = 10 000 / 15 m²)
AREA_UNITS = {"ha": 1.0, "公顷": 1.0, "mu": MU_PER_HA, "亩": MU_PER_HA}
SLOPE_UNITS = ("deg", "class")
# (field, lowest, highest, unit) — beyond these a value is absurd, not merely unusual
NUMBER_RANGES: dict[str, tuple[float, float, str]] = {
    "age_years": (0, 300, "年/years"),
    "volume_m3_per_ha": (0, 1500, "m³/ha"),
    "canopy_closure": (0, 1, "0–1"),
    "mean_dbh_cm": (0, 200, "cm"),
    "mean_height_m": (0, 80, "m"),
    "stems_per_ha": (0, 100_000, "株/ha, stems/ha"),
    "slope_deg": (0, 90, "度/degrees"),
}
FIELD_ZH = {
    "age_years": "年龄", "volume_m3_per_ha": "每公顷蓄积", "canopy_closure": "郁闭度",
    "mean_dbh_cm": "平均胸径", "mean_height_m": "平均树高", "stems_per_ha": "每公顷株数",
    "slope_deg": "坡度", "area_ha_reported": "面积",
}  # fmt: skip


@dataclass(frozen=True)
class CheckOptions:
    crs: str | None = None  # --crs
    fix_geometry: bool = False
    overlap_tolerance_m2: float = 1.0
    area_tolerance_pct: float = 1.0
    codes: CodeBook | None = None  # national code tables (+ a county's --codes); None: national
    area_unit: str | None = None  # --area-unit ha|mu; None: the profile's unit
    slope_unit: str | None = None  # --slope-unit deg|class; None: recognised from the column
    key_fields: tuple[str, ...] | None = None  # --key; None: the profile's key


@dataclass
class PreparedInventory:
    """Checked stands: canonical attributes, CGCS2000 multipolygons and computed hectares."""

    source: str
    attributes: pd.DataFrame  # canonical columns + stand_key, species_group, row, extra
    geometry: NDArray[np.object_]  # shapely MultiPolygons, EPSG:4490, rounded to 1e-9 degree
    area_ha: NDArray[np.float64]
    source_crs: CRS | None
    report: IssueReport
    key_fields: tuple[str, ...] = KEY_FIELDS


def _read_vocabulary(name: str) -> list[dict[str, str]]:
    text = resources.files("gis_data").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def land_class_vocabulary() -> dict[str, dict[str, str]]:
    """地类 name → its row (category, needs_species, name_en, source, status)."""
    return {row["name_zh"]: row for row in _read_vocabulary("land_class_vocabulary.csv")}


@cache
def origin_vocabulary() -> dict[str, str]:
    """起源 name → canonical origin (natural, planted, aerial_seeding, …)."""
    return {row["name_zh"]: row["origin"] for row in _read_vocabulary("origin_vocabulary.csv")}


def _text(series: pd.Series) -> pd.Series:
    """Normalise a text column: stripped str, integers without '.0', blanks → None."""
    if series.dtype.kind in "iu":
        out = series.astype(str).astype(object)
    elif series.dtype.kind == "f":
        values = series.to_numpy(dtype=float)
        whole = np.isfinite(values) & (values == np.round(values))
        out = pd.Series(
            np.where(whole, np.char.mod("%d", np.where(whole, values, 0).astype(np.int64)),
                     series.astype(str).to_numpy(dtype=object)),
            index=series.index, dtype=object,
        )  # fmt: skip
        out[~np.isfinite(values)] = None
        return out
    else:
        # strip the distinct values only (a column has far fewer of them than records)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        stripped = np.array(
            [None if (t := str(u).strip()) == "" else t for u in uniques] + [None], dtype=object
        )
        return pd.Series(stripped[codes], index=series.index, dtype=object)
    missing = series.isna().to_numpy() | (out == "").to_numpy()
    out = out.where(~missing, None)
    return out.astype(object)


def area_ha(geometry: NDArray[np.object_]) -> NDArray[np.float64]:
    """Area in hectares of CGCS2000 (EPSG:4490) polygons, on an equal-area projection.

    The polygons are projected to a Lambert azimuthal equal-area projection of the CGCS2000
    ellipsoid centred on their joint extent (equal-area, so planar area there is the area on
    the ellipsoid up to edge densification), and m² are divided by 10 000.
    """
    if len(geometry) == 0:
        return np.zeros(0)
    minx, miny, maxx, maxy = shapely.total_bounds(geometry)
    to_metres = _transformer(STORAGE_CRS, equal_area_crs((minx + maxx) / 2, (miny + maxy) / 2))
    return np.asarray(shapely.area(shapely.transform(geometry, to_metres)) / 10_000.0)


def _transformer(source: CRS, target: CRS) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    transformer = Transformer.from_crs(source, target, always_xy=True)

    def apply(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return apply


class _Checker:
    def __init__(self, raw: RawInventory, known_species: Mapping[str, str], opts: CheckOptions):
        self.raw = raw
        self.frame = raw.frame
        self.known_species = known_species
        self.opts = opts
        self.report = IssueReport(raw.source)
        self.n = len(raw.frame)
        self.keys: list[str | None] = [None] * self.n
        self.ok = np.zeros(self.n, dtype=bool)  # geometry usable, set by geometry()
        self.key_series = pd.Series([""] * self.n, dtype=object)  # set by compute_keys()
        self.codes = opts.codes or national_codebook()
        self.key_fields = opts.key_fields or raw.profile.key_fields or KEY_FIELDS
        self.decoded: dict[str, object] = {}  # field -> gis_data.codes.Decoded
        self.slope_is_class = False
        self.area_factor = 1.0  # reported area unit per hectare (15 for 亩)

    # -- helpers ---------------------------------------------------------------------------
    def issue(
        self,
        severity: Severity,
        code: str,
        problem: tuple[str, str],
        action: tuple[str, str],
        row: int | None = None,
        field: str | None = None,
        value: object = None,
        source_field: str | None = None,
    ) -> None:
        self.report.add(
            InventoryIssue(
                severity=severity,
                source=self.raw.source,
                code=code,
                problem_zh=problem[0],
                problem_en=problem[1],
                action_zh=action[0],
                action_en=action[1],
                record=None if row is None else row + 1,
                key=None if row is None else self.keys[row],
                field=field,
                source_field=source_field or (self.raw.columns.get(field) if field else None),
                value=None if value is None else str(value),
            )
        )

    # -- attributes ------------------------------------------------------------------------
    def compute_keys(self) -> None:
        """小班 key first (county + 林班 + 小班 by default, or --key), so that every finding
        can name its stand. 细斑 joins the key only on the records that have one, so a file
        without 细斑 keeps the keys it always had."""
        fields = self.key_fields
        if self.opts.key_fields:
            for f in fields:
                if f not in self.raw.columns:
                    self.issue(
                        Severity.ERROR, "missing_field",
                        (f"--key 含字段 {f}，但文件中没有对应的列",
                         f"--key names {f}, but the file has no column for it"),
                        ("从 --key 中去掉该字段，或用 --profile 映射该列",
                         "drop it from --key, or map the column with --profile"),
                        field=f,
                    )  # fmt: skip
        parts: list[pd.Series] = []
        optional: list[pd.Series] = []
        for f in fields:
            if f not in self.raw.columns:
                continue
            (optional if f in OPTIONAL_KEY_FIELDS else parts).append(_text(self.frame[f]))
        key = parts[0].fillna("") if parts else pd.Series([""] * self.n, dtype=object)
        for p in parts[1:]:
            key = key + "-" + p.fillna("")
        present = [p.notna().to_numpy() for p in parts]
        base_ok = list(np.logical_and.reduce(present)) if present else [False] * self.n
        for p in optional:
            tail = ("-" + p).where(p.notna(), "")
            key = key + tail.astype(object)
        self.key_series = key.astype(object)
        self.keys = [k if ok else None for k, ok in zip(key.tolist(), base_ok, strict=True)]

    def key_columns_text(self) -> str:
        used = [f for f in self.key_fields if f in self.raw.columns]
        return ",".join(f"{f}({self.raw.columns[f]})" for f in used)

    def _decode(self, table: str, values: pd.Series, field: str | None = None) -> pd.Series:
        decoded = self.codes.decode(table, values)
        self.decoded[field or table] = decoded
        return decoded.values

    def units(self) -> None:
        """Decide the unit of 面积 and whether 坡度 holds degrees or classes (once per file)."""
        specs = {s.canonical: s for s in _profile_specs(self.raw)}
        unit = self.opts.area_unit or (
            specs["area_ha_reported"].unit if "area_ha_reported" in specs else "ha"
        )
        self.area_factor = AREA_UNITS.get(unit or "ha", 1.0)
        if "slope_deg" not in self.raw.columns:
            return
        if self.opts.slope_unit is not None:
            self.slope_is_class = self.opts.slope_unit == "class"
            return
        if specs["slope_deg"].unit == "class":
            self.slope_is_class = True
            return
        column = self.frame["slope_deg"]
        text = _text(column).dropna()
        if text.empty:
            return
        names = self.codes.names("slope_class")
        codes = {str(i) for i in range(1, 7)}
        is_text = not pd.api.types.is_numeric_dtype(column.dtype)
        if is_text and text.isin(names | codes).all():
            self.slope_is_class = True  # text codes or class names: 一张图 坡度级
            return
        numbers = pd.to_numeric(text, errors="coerce")
        if len(text) >= 10 and numbers.notna().all() and numbers.isin(range(1, 7)).all():
            self.issue(
                Severity.ERROR, "slope_unit",
                (f"坡度列 {self.raw.columns['slope_deg']} 的值全为 1–6 的整数，像坡度级（平…险）而非度数，"
                 "不能猜测",
                 f"the slope column {self.raw.columns['slope_deg']} holds only whole numbers 1-6: "
                 "these look like slope classes (flat ... hazardous), not degrees; tanhui "
                 "does not guess"),
                ("若是坡度级，请加 --slope-unit class；若确为度数，请加 --slope-unit deg",
                 "if these are classes pass --slope-unit class; if they are degrees pass "
                 "--slope-unit deg"),
                field="slope_deg",
            )  # fmt: skip

    def attributes(self) -> pd.DataFrame:
        self.units()
        profile_fields = {c: c in self.raw.columns for c in _profile_canonicals(self.raw)}
        attrs = pd.DataFrame(index=range(self.n))
        specs = {s.canonical: s for s in _profile_specs(self.raw)}
        attrs["stand_key"] = self.key_series
        for name, spec in specs.items():
            if not profile_fields.get(name):
                if spec.required:
                    self.issue(
                        Severity.ERROR,
                        "missing_field",
                        (
                            f"缺少必填字段 {name}（{spec.meaning_zh}；可用列名：{'、'.join(spec.aliases)}）",
                            f"required field {name} ({spec.meaning_en}) is missing; accepted "
                            f"column names: {', '.join(spec.aliases)}",
                        ),
                        ("在文件中补充该字段，或用 --profile 指定字段对应关系",
                         "add the column, or map it with --profile"),
                        field=name,
                    )  # fmt: skip
                if name not in attrs:
                    attrs[name] = pd.Series([None] * self.n, dtype=object)
                continue
            column = self.frame[name]
            if name == "slope_deg" and self.slope_is_class:
                attrs["slope_deg"] = np.full(self.n, np.nan)
                attrs["slope_class"] = self._decode("slope_class", _text(column))
                continue
            if spec.code_table and spec.type != "number":
                attrs[name] = self._decode(spec.code_table, _text(column), name)
                continue
            if spec.type == "number":
                if pd.api.types.is_numeric_dtype(column.dtype):  # nothing to misread
                    attrs[name] = column.astype("float64")
                    continue
                numbers = pd.to_numeric(column, errors="coerce").astype("float64")
                text = _text(column)
                bad = numbers.isna() & text.notna()
                for row in np.flatnonzero(bad.to_numpy()):
                    self.issue(
                        Severity.ERROR,
                        "not_a_number",
                        (f"{spec.meaning_zh}不是数字：{text.iloc[row]!r}",
                         f"{spec.meaning_en} is not a number: {text.iloc[row]!r}"),
                        ("改为数字（单位 " + (spec.unit or "-") + "）",
                         "write a number (unit " + (spec.unit or "-") + ")"),
                        row=int(row), field=name, value=text.iloc[row],
                    )  # fmt: skip
                attrs[name] = numbers
            else:
                attrs[name] = _text(column)
        if self.area_factor != 1.0 and "area_ha_reported" in attrs:
            attrs["area_ha_reported"] = attrs["area_ha_reported"] / self.area_factor
        if "slope_class" not in attrs:
            attrs["slope_class"] = pd.Series([None] * self.n, dtype=object)
        extra_cols = sorted(c for c in self.frame.columns if str(c).startswith("extra:"))
        if extra_cols:
            # one JSON object per record, keys sorted, null for missing values
            extras = pd.DataFrame(self.frame[extra_cols]).rename(
                columns=lambda c: c[len("extra:") :]
            )
            lines = extras.to_json(
                orient="records", lines=True, force_ascii=False, double_precision=15
            )
            attrs["extra"] = lines.rstrip("\n").split("\n") if self.n else []
        else:
            attrs["extra"] = "{}"
        attrs["row"] = np.arange(self.n) + 1
        return attrs

    def check_values(self, attrs: pd.DataFrame) -> None:
        land = land_class_vocabulary()
        specs = {s.canonical: s for s in _profile_specs(self.raw)}
        needs_species = attrs["land_class"].map(
            lambda v: land.get(v, {}).get("needs_species") == "yes" if v else False
        )
        for name, spec in specs.items():
            if not spec.required or name not in self.raw.columns:
                continue
            missing = attrs[name].isna().to_numpy().copy()
            if name in ("dominant_species", "age_years", "origin"):
                missing &= needs_species.to_numpy()
            for row in np.flatnonzero(missing):
                self.issue(
                    Severity.ERROR, "missing_value",
                    (f"必填字段「{spec.meaning_zh}」为空", f"required value {spec.meaning_en} is empty"),
                    ("补填该值", "fill in the value"), row=int(row), field=name,
                )  # fmt: skip
        for name, (low, high, unit) in NUMBER_RANGES.items():
            if name not in self.raw.columns:
                continue
            values = attrs[name].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                bad = (values < low) | (values > high)
            for row in np.flatnonzero(bad):
                v = values[row]
                zh_name = FIELD_ZH.get(name, name)
                hint_zh, hint_en = "核对外业记录并更正", "check the field record and correct it"
                if name == "canopy_closure" and 1 < v <= 100:
                    hint_zh = "郁闭度应为 0–1 的小数；若填的是百分数请除以 100"
                    hint_en = (
                        "canopy closure is a fraction 0-1; if this is a percentage divide by 100"
                    )
                kind = (
                    ("为负数", "is negative")
                    if v < low
                    else ("超出合理范围", "is implausibly large")
                )
                self.issue(
                    Severity.ERROR, "out_of_range",
                    (f"{zh_name} {v:g} {kind[0]}（合理范围 {low:g}–{high:g} {unit}）",
                     f"{name} {v:g} {kind[1]} (plausible range {low:g}-{high:g} {unit})"),
                    (hint_zh, hint_en), row=int(row), field=name, value=f"{v:g}",
                )  # fmt: skip
        if "area_ha_reported" in self.raw.columns:
            reported = attrs["area_ha_reported"].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                bad = reported <= 0
            for row in np.flatnonzero(bad):
                self.issue(
                    Severity.ERROR, "out_of_range",
                    (f"面积 {reported[row]:g} 公顷不大于 0", f"reported area {reported[row]:g} ha is not positive"),
                    ("按小班实测面积更正", "correct the stand's area"),
                    row=int(row), field="area_ha_reported", value=f"{reported[row]:g}",
                )  # fmt: skip
        self.code_findings()
        self._vocabulary(
            attrs, "dominant_species", set(self.known_species), "species",
            ("未知树种", "unknown species"),
            ("在树种对照表 species_vocabulary.csv 中补充该树种及其树种组，或更正拼写",
             "add the species and its group to species_vocabulary.csv, or correct the spelling"),
        )  # fmt: skip
        self._vocabulary(
            attrs, "land_class", set(land), "land_class",
            ("未知地类", "unknown land class"),
            ("使用 GB/T 26424 地类名称（如 乔木林地、竹林地、宜林地）",
             "use a GB/T 26424 land-class name (e.g. 乔木林地, 竹林地, 宜林地)"),
        )  # fmt: skip
        self._vocabulary(
            attrs, "origin", set(origin_vocabulary()), "origin",
            ("未知起源", "unknown origin"),
            ("使用 天然、人工 或 飞播", "use 天然 (natural), 人工 (planted) or 飞播 (aerial seeding)"),
        )  # fmt: skip
        # duplicate 小班 keys
        keyed = attrs.loc[[k is not None for k in self.keys], "stand_key"]
        dup = keyed[keyed.duplicated(keep=False)]
        for key, rows in dup.groupby(dup).groups.items():
            rows_1 = [int(r) + 1 for r in rows]
            self.issue(
                Severity.ERROR, "duplicate_key",
                (f"小班编号 {key} 重复出现在第 {rows_1} 条记录（编号由 {self.key_columns_text()} 组成）",
                 f"stand key {key} appears in records {rows_1} (the key is made of "
                 f"{self.key_columns_text()})"),
                ("编号须唯一：更正编号或合并小班；若林班按乡镇或村编号、或有细斑，用 --key 加入这些字段，"
                 "如 --key county_code,township,compartment,subcompartment,fine_stand",
                 "keys must be unique: renumber or merge; if 林班 are numbered per township or "
                 "village, or stands are split into 细斑, add those fields with --key, e.g. "
                 "--key county_code,township,compartment,subcompartment,fine_stand"),
                row=int(rows[0]), field="subcompartment", value=key,
            )  # fmt: skip
        for missing_row in [i for i, k in enumerate(self.keys) if k is None]:
            self.issue(
                Severity.ERROR, "missing_key",
                ("缺少林班号或小班号，无法确定小班编号", "compartment or sub-compartment number is missing"),
                ("补填林班号和小班号", "fill in the compartment and sub-compartment numbers"),
                row=missing_row, field="subcompartment",
            )  # fmt: skip

    def _vocabulary(
        self,
        attrs: pd.DataFrame,
        field: str,
        known: set[str],
        code: str,
        what: tuple[str, str],
        action: tuple[str, str],
    ) -> None:
        if field not in self.raw.columns:
            return
        values = attrs[field]
        decoded = self.decoded.get(field)
        coded_unknown = set(getattr(decoded, "unknown", {}))  # reported once by code_findings
        unknown = values.notna() & ~values.isin(known) & ~values.isin(coded_unknown)
        if not unknown.any():
            return
        for value, rows in values[unknown].groupby(values[unknown]).groups.items():
            rows_list = [int(r) for r in rows]
            sample = [self.keys[r] or f"#{r + 1}" for r in rows_list[:5]]
            self.issue(
                Severity.ERROR, f"unknown_{code}",
                (f"{what[0]} {value!r}：共 {len(rows_list)} 条记录，例如小班 {sample}",
                 f"{what[1]} {value!r}: {len(rows_list)} records, e.g. stands {sample}"),
                action, row=rows_list[0], field=field, value=value,
            )  # fmt: skip

    def code_findings(self) -> None:
        """Per coded column: one error listing the unknown codes, one warning for codes whose
        table entry is not verified against its standard."""
        from gis_data.codes import Decoded

        for field, decoded in self.decoded.items():
            assert isinstance(decoded, Decoded)
            table = "slope_class" if field == "slope_class" else field
            source = self.raw.columns.get(field) or self.raw.columns.get("slope_deg")
            if decoded.unknown:
                listed = "、".join(f"{c}（{n} 条）" for c, n in sorted(decoded.unknown.items()))
                listed_en = ", ".join(
                    f"{c} ({n} records)" for c, n in sorted(decoded.unknown.items())
                )
                self.issue(
                    Severity.ERROR, "unknown_codes",
                    (f"列 {source} 存的是代码，其中 {len(decoded.unknown)} 个代码不在代码表中：{listed}",
                     f"column {source} holds codes; {len(decoded.unknown)} of them are not in the "
                     f"code tables: {listed_en}"),
                    (f"用 --codes 文件.csv（列 field,code,meaning，如 {field},{min(decoded.unknown)},名称）"
                     "提供本县代码表",
                     f"supply the county's code table with --codes FILE.csv (columns "
                     f"field,code,meaning, e.g. {field},{min(decoded.unknown)},name)"),
                    field=field, source_field=source,
                    value=";".join(sorted(decoded.unknown)),
                )  # fmt: skip
            unverified = sorted(
                c for c in decoded.used
                if (e := self.codes.entry(table, c)) is not None and e.unverified
            )  # fmt: skip
            if unverified:
                self.issue(
                    Severity.WARNING, "unverified_codes",
                    (f"列 {source} 的代码 {', '.join(unverified)} 按代码表解读，但这些代码条目尚未与标准核对"
                     "（状态 recalled - verify）",
                     f"column {source}: the codes {', '.join(unverified)} were decoded with "
                     "code-table entries not yet checked against their standard (status "
                     "'recalled - verify')"),
                    ("核对 gis_data/data/code_tables.csv，或用 --codes 提供本县代码表",
                     "check gis_data/data/code_tables.csv, or supply the county's table with --codes"),
                    field=field, source_field=source, value=";".join(unverified),
                )  # fmt: skip

    # -- geometry --------------------------------------------------------------------------
    def geometry(self) -> tuple[NDArray[np.object_], CRS | None]:
        geoms = np.asarray(self.frame.geometry.values, dtype=object)
        geoms = np.array([g if g is not None else None for g in geoms], dtype=object)
        if (shapely.has_z(geoms) | shapely.has_m(geoms)).any():
            geoms = shapely.force_2d(geoms)  # Z and M are dropped: stands are stored 2D
        ok = np.ones(self.n, dtype=bool)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        for row in np.flatnonzero(missing):
            ok[row] = False
            self.issue(
                Severity.ERROR, "empty_geometry",
                ("小班没有图形（几何为空）", "the stand has no geometry (empty)"),
                ("在 GIS 中补绘该小班的边界", "draw the stand boundary in your GIS"),
                row=int(row), field="geometry",
            )  # fmt: skip
        type_ids = shapely.get_type_id(geoms)
        polygonal = np.isin(type_ids, [3, 6])  # Polygon, MultiPolygon
        for row in np.flatnonzero(~polygonal & ~missing):
            ok[row] = False
            gtype = shapely.get_type_id(geoms[row])
            self.issue(
                Severity.ERROR, "not_polygon",
                (f"图形不是面（类型 {shapely.geometry.base.GEOMETRY_TYPES[gtype]}）",
                 f"geometry is not a polygon (type {shapely.geometry.base.GEOMETRY_TYPES[gtype]})"),
                ("小班必须是面要素；请在 GIS 中转换为面", "a stand must be a polygon; convert it in your GIS"),
                row=int(row), field="geometry",
            )  # fmt: skip
        candidates = np.flatnonzero(ok)
        valid = shapely.is_valid(geoms[candidates])
        for row in candidates[~valid]:
            reason = shapely.is_valid_reason(geoms[row])
            if self.opts.fix_geometry:
                repaired = _polygonal_part(shapely.make_valid(geoms[row]))
                if repaired is None:
                    ok[row] = False
                    self.issue(
                        Severity.ERROR, "invalid_geometry",
                        (f"图形无效且无法自动修复：{reason}", f"invalid geometry that cannot be repaired: {reason}"),
                        ("在 GIS 中重绘该小班", "redraw the stand in your GIS"),
                        row=int(row), field="geometry", value=reason,
                    )  # fmt: skip
                    continue
                before, after = shapely.area(geoms[row]), shapely.area(repaired)
                geoms[row] = repaired
                self.issue(
                    Severity.REPAIRED, "geometry_repaired",
                    (f"无效图形已用 make_valid 修复：{reason}；面积（源坐标单位）{before:.6g} → {after:.6g}",
                     f"invalid geometry repaired with make_valid: {reason}; area (source units) "
                     f"{before:.6g} -> {after:.6g}"),
                    ("请核对修复后的边界", "check the repaired boundary"),
                    row=int(row), field="geometry", value=reason,
                )  # fmt: skip
            else:
                ok[row] = False
                self.issue(
                    Severity.ERROR, "invalid_geometry",
                    (f"图形无效：{reason}", f"invalid geometry: {reason}"),
                    ("在 GIS 中修复（如自相交），或用 --fix-geometry 自动修复并列出每处修复",
                     "fix it in your GIS (e.g. self-intersection), or pass --fix-geometry to "
                     "repair automatically with every repair listed"),
                    row=int(row), field="geometry", value=reason,
                )  # fmt: skip
        # CRS
        bounds = tuple(float(v) for v in shapely.total_bounds(geoms[ok])) if ok.any() else (0,) * 4
        try:
            decision = resolve_crs(self.raw.file_crs, self.opts.crs, bounds, self.raw.source)  # type: ignore[arg-type]
        except CrsError as exc:
            self.issue(
                Severity.ERROR, "crs", (exc.message_zh, exc.message_en),
                ("用 --crs 指定坐标系", "pass the CRS with --crs"), field="geometry",
            )  # fmt: skip
            return geoms, None
        for zh, en in decision.warnings:
            self.issue(Severity.WARNING, "crs_override", (zh, en), ("请确认", "check this"))
        src = decision.crs
        stored = geoms.copy()
        if not src.equals(STORAGE_CRS, ignore_axis_order=True):
            transformer = Transformer.from_crs(src, STORAGE_CRS, always_xy=True)
            if src.geodetic_crs is not None and src.geodetic_crs.datum != STORAGE_CRS.datum:
                self._datum_warning(src, transformer)
            stored[ok] = shapely.transform(geoms[ok], _transformer(src, STORAGE_CRS))
        if ok.any():
            lonlat = tuple(float(v) for v in shapely.total_bounds(stored[ok]))
            try:
                check_in_china(lonlat, src, self.raw.source, bounds)  # type: ignore[arg-type]
            except CrsError as exc:
                self.issue(
                    Severity.ERROR, "crs", (exc.message_zh, exc.message_en),
                    ("用 --crs 指定正确的坐标系", "pass the right CRS with --crs"), field="geometry",
                )  # fmt: skip
                return stored, src
        # round to a 1e-9 degree grid and normalise ring order and orientation, so that a
        # stand exported and imported again is byte-for-byte the same geometry
        unrounded = stored.copy()
        stored[ok] = shapely.normalize(
            shapely.transform(stored[ok], lambda c: np.round(c, COORDINATE_DECIMALS))
        )
        rounded_ok = shapely.is_valid(stored[ok])
        # rounding can pinch a valid stand (a vertex within 1e-9° of another edge); snap those
        # to the grid with GEOS, which keeps them valid, instead of refusing our own damage
        pinched = np.flatnonzero(ok)[~rounded_ok]
        if len(pinched):
            snapped = shapely.normalize(
                shapely.set_precision(unrounded[pinched], 10.0**-COORDINATE_DECIMALS)
            )
            good = shapely.is_valid(snapped) & ~shapely.is_empty(snapped)
            stored[pinched[good]] = _to_multipolygons(snapped[good])
            rounded_ok[np.searchsorted(np.flatnonzero(ok), pinched[good])] = True
        for row in np.flatnonzero(ok)[~rounded_ok]:
            repaired = (
                _polygonal_part(shapely.make_valid(stored[row])) if self.opts.fix_geometry else None
            )
            if repaired is not None and shapely.is_valid(repaired):
                stored[row] = shapely.normalize(repaired)
                self.issue(
                    Severity.REPAIRED, "geometry_repaired",
                    ("换算到 CGCS2000 并取整后无效的图形已用 make_valid 修复",
                     "geometry invalid once in CGCS2000 and rounded was repaired with make_valid"),
                    ("请核对修复后的边界", "check the repaired boundary"),
                    row=int(row), field="geometry",
                )  # fmt: skip
                continue
            ok[row] = False
            self.issue(
                Severity.ERROR, "invalid_geometry",
                ("图形换算到 CGCS2000 并取整到 1e-9 度后无效（极窄的尖角或缝隙）",
                 "geometry becomes invalid once in CGCS2000 rounded to 1e-9 degree (a sliver)"),
                ("用 --fix-geometry 修复或在 GIS 中清理", "repair with --fix-geometry or clean it in your GIS"),
                row=int(row), field="geometry", value=shapely.is_valid_reason(stored[row]),
            )  # fmt: skip
        self.ok = ok
        return stored, src

    def _datum_warning(self, src: CRS, transformer: Transformer) -> None:
        """Say plainly whether a datum shift was applied, and how accurate the result is."""
        accuracy = transformer.accuracy
        ballpark = "ballpark" in transformer.description.lower() or not (accuracy and accuracy > 0)
        if ballpark:
            problem = (
                f"数据为 {src.name}：未应用基准转换（PROJ 没有 {src.name} 到 CGCS2000 的转换参数，只做了"
                f"椭球间的近似换算：{transformer.description}），精度未知，平面误差可能达数十米",
                f"data in {src.name}: NO datum shift was applied (PROJ has no parameters from "
                f"{src.name} to CGCS2000; only an approximate ellipsoid change was made: "
                f"{transformer.description}); accuracy unknown, errors may reach tens of metres",
            )
        else:
            problem = (
                f"数据为 {src.name}：已应用基准转换 {transformer.description}，精度约 {accuracy:g} 米",
                f"data in {src.name}: a datum shift was applied ({transformer.description}), "
                f"accurate to about {accuracy:g} m",
            )
        self.issue(
            Severity.WARNING, "datum_shift", problem,
            ("如需更高精度，请先用省级官方参数转换到 CGCS2000 再导入",
             "for better accuracy, convert to CGCS2000 with the province's official parameters "
             "first"),
        )  # fmt: skip

    def overlaps_and_area(self, stored: NDArray[np.object_]) -> NDArray[np.float64]:
        ok = self.ok
        area = np.full(self.n, np.nan)
        if not ok.any():
            return area
        idx = np.flatnonzero(ok)
        minx, miny, maxx, maxy = shapely.total_bounds(stored[idx])
        to_m = _transformer(STORAGE_CRS, equal_area_crs((minx + maxx) / 2, (miny + maxy) / 2))
        metric = shapely.transform(stored[idx], to_m)
        area[idx] = shapely.area(metric) / 10_000.0
        # GEOS coverage validation (noding, fast) flags every polygon with an edge that
        # overlaps or does not match its neighbour's; only those need the pairwise test of
        # interiors (DE-9IM T********) and the overlap area.
        flagged = np.flatnonzero(~shapely.is_empty(shapely.coverage_invalid_edges(metric)))
        left = right = np.zeros(0, dtype=np.int64)
        if len(flagged):
            tree = shapely.STRtree(metric)
            q_left, q_right = tree.query(metric[flagged], predicate="intersects")
            pairs = np.column_stack([flagged[q_left], q_right])
            pairs = pairs[pairs[:, 0] != pairs[:, 1]]
            pairs = np.unique(np.sort(pairs, axis=1), axis=0)
            left, right = pairs[:, 0], pairs[:, 1]
            interiors = shapely.relate_pattern(metric[left], metric[right], "T********")
            left, right = left[interiors], right[interiors]
        if len(left):
            shared = shapely.area(shapely.intersection(metric[left], metric[right]))
            tol = self.opts.overlap_tolerance_m2
            for a, b, m2 in zip(left, right, shared, strict=True):
                if m2 <= tol:
                    continue
                ra, rb = int(idx[a]), int(idx[b])
                other = self.keys[rb] or f"#{rb + 1}"
                self.issue(
                    Severity.ERROR, "overlap",
                    (f"与小班 {other}（第 {rb + 1} 条）重叠 {m2:,.1f} 平方米（容差 {tol:g} 平方米）",
                     f"overlaps stand {other} (record {rb + 1}) by {m2:,.1f} m² (tolerance {tol:g} m²)"),
                    ("在 GIS 中修正两个小班的公共边界", "fix the shared boundary of the two stands in your GIS"),
                    row=ra, field="geometry", value=f"{m2:.1f}",
                )  # fmt: skip
        return area

    def area_unit_check(self, reported: NDArray[np.float64], area: NDArray[np.float64]) -> bool:
        """Whole-file check: reported ÷ mapped ≈ 15 means 面积 is in 亩 (1 ha = 15 亩), ≈ 1/15
        that 亩 was declared for hectares. One error for the file; True when it was raised."""
        usable = self.ok & np.isfinite(reported) & (reported > 0) & (area > 0)
        if usable.sum() < 3:
            return False
        ratio = float(np.median(reported[usable] / area[usable]))
        column = self.raw.columns.get("area_ha_reported", "面积")
        declared = "亩" if self.area_factor != 1.0 else "公顷 ha"
        if 0.9 * MU_PER_HA <= ratio <= 1.1 * MU_PER_HA:
            zh_hint, en_hint = "面积单位像是亩", "the areas look like 亩 (mu)"
            action = ("若面积单位为亩，请加 --area-unit mu（或在字段配置中把 unit 写为 亩）",
                      "if 面积 is in 亩 pass --area-unit mu (or set its unit to 亩 in the profile)")  # fmt: skip
        elif 0.9 / MU_PER_HA <= ratio <= 1.1 / MU_PER_HA:
            zh_hint, en_hint = "面积单位像是公顷", "the areas look like hectares"
            action = (
                "面积若为公顷，请去掉 --area-unit mu 或加 --area-unit ha",
                "if 面积 is in hectares drop --area-unit mu or pass --area-unit ha",
            )
        else:
            return False
        self.issue(
            Severity.ERROR, "area_unit",
            (f"全文件 {column}（按 {declared} 读）与图形面积之比的中位数为 {ratio:.2f}：{zh_hint}",
             f"across the file, {column} (read as {declared}) is {ratio:.2f} times the mapped "
             f"area (median): {en_hint}"),
            action, field="area_ha_reported", source_field=column, value=f"{ratio:.3f}",
        )  # fmt: skip
        return True

    def area_warnings(self, attrs: pd.DataFrame, area: NDArray[np.float64]) -> None:
        ok = self.ok
        if "area_ha_reported" in self.raw.columns:
            reported = attrs["area_ha_reported"].to_numpy(dtype=float)
            if self.area_unit_check(reported, area):
                return
            with np.errstate(invalid="ignore", divide="ignore"):
                diff_pct = np.abs(area - reported) / reported * 100
            pct = self.opts.area_tolerance_pct
            for row in np.flatnonzero((diff_pct > pct) & ok & (reported > 0)):
                self.issue(
                    Severity.WARNING, "area_mismatch",
                    (f"图形面积 {area[row]:.4f} 公顷与登记面积 {reported[row]:g} 公顷相差 {diff_pct[row]:.1f}%（超过 {pct:g}%）",
                     f"mapped area {area[row]:.4f} ha differs from the reported {reported[row]:g} ha "
                     f"by {diff_pct[row]:.1f}% (more than {pct:g}%)"),
                    ("核对小班面积或边界；两者都会保存", "check the area or the boundary; both are kept"),
                    row=int(row), field="area_ha_reported", value=f"{reported[row]:g}",
                )  # fmt: skip


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if shapely.get_type_id(p) in (3, 6)]
    flat = [q for p in polys for q in shapely.get_parts(p)]
    if not flat:
        return None
    return shapely.MultiPolygon(flat)


def _profile_specs(raw: RawInventory) -> list[FieldSpec]:
    return list(raw.profile.fields)


def _profile_canonicals(raw: RawInventory) -> list[str]:
    return [s.canonical for s in raw.profile.fields]


def _to_multipolygons(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    parts, index = shapely.get_parts(geoms, return_index=True)
    out = np.empty(len(geoms), dtype=object)
    out[:] = shapely.multipolygons(parts, indices=index)
    return out


def prepare_inventory(
    raw: RawInventory, known_species: Mapping[str, str], options: CheckOptions | None = None
) -> PreparedInventory:
    """Check every record of ``raw`` and return the stands ready to store, with the report.

    ``known_species`` maps 优势树种 names to species groups. When ``report.has_errors`` the
    stands must not be stored.
    """
    opts = options or CheckOptions()
    checker = _Checker(raw, known_species, opts)
    for zh, en in raw.layer_warnings:
        checker.issue(Severity.WARNING, "layer", (zh, en), ("请确认", "check this"))
    checker.compute_keys()
    # geometry checks (shapely, GIL released) run on the second core while the attributes
    # are normalised and checked here; findings are sorted afterwards, so order is stable
    with ThreadPoolExecutor(max_workers=1) as pool:
        geometry_job = pool.submit(_geometry_checks, checker)
        attrs = _attribute_checks(checker, raw, known_species)
        stored, src, area = geometry_job.result()
    checker.area_warnings(attrs, area)
    checker.report.issues.sort(key=lambda i: (i.record or 0, SEVERITY_ORDER[i.severity], i.code))
    geometry = np.empty(checker.n, dtype=object)
    if checker.ok.all() and checker.n:
        geometry[:] = _to_multipolygons(stored)
    return PreparedInventory(
        source=raw.source,
        attributes=attrs,
        geometry=geometry,
        area_ha=area,
        source_crs=src,
        report=checker.report,
        key_fields=tuple(f for f in checker.key_fields if f in raw.columns),
    )


def _geometry_checks(
    checker: _Checker,
) -> tuple[NDArray[np.object_], CRS | None, NDArray[np.float64]]:
    stored, src = checker.geometry()
    return stored, src, checker.overlaps_and_area(stored)


def _attribute_checks(
    checker: _Checker, raw: RawInventory, known_species: Mapping[str, str]
) -> pd.DataFrame:
    attrs = checker.attributes()
    if raw.encoding is not None and raw.encoding.undecodable:
        canonical_of = {column: canon for canon, column in raw.columns.items()}
        for bad in raw.encoding.undecodable:
            checker.issue(
                Severity.ERROR, "encoding",
                (f"字段 {bad.field} 的文字无法按 {raw.encoding.encoding} 解码（字节 {bad.raw_hex}）",
                 f"the text of field {bad.field} cannot be decoded as {raw.encoding.encoding} "
                 f"(bytes {bad.raw_hex})"),
                ("用 --encoding 指定正确编码，或在原软件中更正该值",
                 "pass the right --encoding, or correct the value in the source software"),
                row=bad.record, field=canonical_of.get(bad.field), source_field=bad.field,
                value=bad.raw_hex,
            )  # fmt: skip
    conflict = raw.encoding.cpg_conflict if raw.encoding is not None else None
    if conflict is not None:
        checker.issue(
            Severity.ERROR, "cpg_conflict",
            (f".cpg 声明编码为 {conflict.declared}，但属性表文字实为 {conflict.actual}："
             f"该记录字段 {conflict.field} 按 .cpg 读作 {conflict.as_declared!r}，"
             f"按 {conflict.actual} 读作 {conflict.as_actual!r}",
             f"the .cpg declares {conflict.declared} but the text is {conflict.actual}: field "
             f"{conflict.field} of this record reads {conflict.as_declared!r} as the .cpg says "
             f"and {conflict.as_actual!r} as {conflict.actual}"),
            (f"改正或删除 .cpg 文件，或加 --encoding {conflict.actual}",
             f"correct or delete the .cpg file, or pass --encoding {conflict.actual}"),
            row=conflict.record, source_field=conflict.field, value=conflict.declared,
        )  # fmt: skip
    elif not (raw.encoding is not None and raw.encoding.undecodable):
        _replacement_characters(checker, attrs)
    checker.check_values(attrs)
    attrs["species_group"] = attrs["dominant_species"].map(
        lambda v: known_species.get(v) if v else None
    )
    return attrs


def _replacement_characters(checker: _Checker, attrs: pd.DataFrame) -> None:
    """U+FFFD (�) is never stored: a value holding it was decoded with the wrong encoding."""
    for name in attrs.columns:
        column = attrs[name]
        if column.dtype != object or name in ("stand_key",):
            continue
        text = column.astype("string")
        hit = text.str.contains("\ufffd", regex=False).fillna(False).to_numpy(dtype=bool)
        rows = np.flatnonzero(hit)
        if not len(rows):
            continue
        checker.issue(
            Severity.ERROR, "replacement_character",
            (f"字段 {name} 有 {len(rows)} 条记录含替换字符 U+FFFD（文字已在别处解码失败）",
             f"field {name} holds the replacement character U+FFFD in {len(rows)} records (the "
             "text was mis-decoded before it reached us)"),
            ("用 --encoding 指定正确编码，或在原软件中更正后重新导出",
             "pass the right --encoding, or correct the text in the source software and export "
             "again"),
            row=int(rows[0]), field=None if name == "extra" else name, value=str(column.iloc[rows[0]]),
        )  # fmt: skip
