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
KEY_FIELDS = ("county_code", "compartment", "subcompartment")
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


@dataclass
class PreparedInventory:
    """Checked stands: canonical attributes, CGCS2000 multipolygons and computed hectares."""

    source: str
    attributes: pd.DataFrame  # canonical columns + stand_key, species_group, row, extra
    geometry: NDArray[np.object_]  # shapely MultiPolygons, EPSG:4490, rounded to 1e-9 degree
    area_ha: NDArray[np.float64]
    source_crs: CRS | None
    report: IssueReport


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
        out = series.astype("string").str.strip().astype(object)
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
        """小班 key (county + 林班 + 小班) first, so that every finding can name its stand."""
        parts = [_text(self.frame[f]) for f in KEY_FIELDS if f in self.raw.columns]
        key = parts[0].fillna("") if parts else pd.Series([""] * self.n, dtype=object)
        for p in parts[1:]:
            key = key + "-" + p.fillna("")
        self.key_series = key
        self.keys = [k if k.strip("-") else None for k in key.tolist()]

    def attributes(self) -> pd.DataFrame:
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
                attrs[name] = pd.Series([None] * self.n, dtype=object)
                continue
            column = self.frame[name]
            if spec.type == "number":
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
                (f"小班编号 {key} 重复出现在第 {rows_1} 条记录",
                 f"stand key {key} appears in records {rows_1}"),
                ("每个 县-林班-小班 编号只能出现一次：更正编号或合并小班",
                 "each county-compartment-subcompartment key must be unique: renumber or merge"),
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
        unknown = values.notna() & ~values.isin(known)
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

    # -- geometry --------------------------------------------------------------------------
    def geometry(self) -> tuple[NDArray[np.object_], CRS | None]:
        geoms = np.asarray(self.frame.geometry.values, dtype=object)
        geoms = np.array([g if g is not None else None for g in geoms], dtype=object)
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
                check_in_china(lonlat, src, self.raw.source)  # type: ignore[arg-type]
            except CrsError as exc:
                self.issue(
                    Severity.ERROR, "crs", (exc.message_zh, exc.message_en),
                    ("用 --crs 指定正确的坐标系", "pass the right CRS with --crs"), field="geometry",
                )  # fmt: skip
                return stored, src
        # round to a 1e-9 degree grid and normalise ring order and orientation, so that a
        # stand exported and imported again is byte-for-byte the same geometry
        stored[ok] = shapely.normalize(
            shapely.transform(stored[ok], lambda c: np.round(c, COORDINATE_DECIMALS))
        )
        rounded_ok = shapely.is_valid(stored[ok])
        for row in np.flatnonzero(ok)[~rounded_ok]:
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
        accuracy = transformer.accuracy
        acc_text = f"{accuracy:g} m" if accuracy and accuracy > 0 else "未知/unknown"
        self.issue(
            Severity.WARNING, "datum_shift",
            (f"数据为 {src.name}，已转换到 CGCS2000（{transformer.description}；精度 {acc_text}）。"
             "如有省级官方转换参数，精度会更高",
             f"data in {src.name} were transformed to CGCS2000 ({transformer.description}; "
             f"accuracy {acc_text}); the province's official parameters would be more accurate"),
            ("如需厘米级精度，请先用官方参数转换到 CGCS2000 再导入",
             "for centimetre accuracy, convert to CGCS2000 with the official parameters first"),
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

    def area_warnings(self, attrs: pd.DataFrame, area: NDArray[np.float64]) -> None:
        ok = self.ok
        if "area_ha_reported" in self.raw.columns:
            reported = attrs["area_ha_reported"].to_numpy(dtype=float)
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
    checker.check_values(attrs)
    attrs["species_group"] = attrs["dominant_species"].map(
        lambda v: known_species.get(v) if v else None
    )
    return attrs
