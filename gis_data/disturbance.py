"""Disturbances between two dates of one index raster, per stand (no database).

Two single-band rasters of a vegetation index (e.g. NDVI, dimensionless index units) on the
SAME grid (CRS, transform, shape) are compared pixel by pixel. A pixel is *valid on a date*
when it is not nodata, not NaN; a pixel valid on both dates is *observed*.

    change      Δ = after − before, per pixel observed on both dates              (eq. D1)
    changed     Δ ≤ −drop                                                           (eq. D2)
    patches     8-connected components of changed pixels (scipy.ndimage.label with a 3 × 3
                structure); a patch is kept when its area n·A_cell ≥ min_patch_m2    (eq. D3)
    disturbed   per stand, a_d = Σ c·[pixel in a kept patch]·A_cell (m²), c the exact coverage
                fraction of the pixel by the stand (gis_data.zonal, eq. Z5)          (eq. D4)
    boundary    b = Σ c·[edge pixel of a kept patch]·A_cell / a_d, an edge pixel being a kept
                pixel with a 4-neighbour outside its patch (or outside the raster); the
                relative ± of a_d is area_u = 0.5·b: an edge pixel is taken as half in, half
                out of the true patch                                                 (eq. D5)
    flagged     observed (valid_share ≥ min_valid_share, eq. Z2 with both dates) and
                a_d ≥ min_stand_m2                                                   (eq. D6)

The per-stand figures are the exact-area-weighted statistics of :func:`gis_data.zonal.zonal_stats`
over an in-memory raster on the same grid whose bands are: before and after where observed
(mean_before, mean_after, valid_share), the change in kept-patch pixels only (its valid area is
a_d, its mean the disturbed mean change) and the change in patch-edge pixels only (valid area
b·a_d). mean_change = mean_after − mean_before (both weighted over the same observed pixels,
so this is eq. Z1 of Δ exactly).

The default thresholds are UNVERIFIED (see :meth:`DetectionParameters.provenance`): every
:class:`Detection` carries that note.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from rasterio.features import shapes as raster_shapes
from rasterio.io import DatasetReader, MemoryFile
from rasterio.windows import Window
from scipy import ndimage

from gis_data.errors import GisDataError, UsageError
from gis_data.zonal import ZonalOptions, opened, reproject_polygons, valid_values, zonal_stats

matplotlib.use("Agg")

__all__ = [
    "Detection",
    "DetectionError",
    "DetectionParameters",
    "detect_disturbances",
    "evidence_png",
    "require_projected",
]

_PRACTICE = (
    "Annual-change practice of waldmonitoring.ch (Swiss forest monitoring: differences of yearly "
    "summer maximum-NDVI Sentinel-2 composites, 10 m; dataset 'NDVI difference rasters for "
    "annual forest change in Switzerland', Zenodo record 13133914), {what} as quoted by the "
    "registry's issue #19 — not read in the primary document here; unverified until the bureau "
    "sets its own from a calibration of its imagery."
)
NOTE = (
    "变化检测阈值（指数下降 {drop}、斑块最小面积 {patch} m²、林分最小受扰面积 {stand} m²、"
    "最小有效观测比例 {share}）未经核实：引自瑞士森林监测实践，须由林业局用本地影像标定。"
    " Detection thresholds (index drop {drop}, minimum patch {patch} m², minimum disturbed area "
    "per stand {stand} m², minimum observed share {share}) are UNVERIFIED: quoted from Swiss "
    "forest-monitoring practice; the bureau must calibrate them on its own imagery."
)


# relative round-off allowed in the comparisons of eq. D6: exact coverage fractions are sums of
# floating-point areas, so a stand covering exactly 4 cells of 100 m² may sum to 399.99999999 m²
ROUND_OFF = 1e-9


class DetectionError(GisDataError):
    """The two rasters or the stands cannot be compared (different grids, bad parameters)."""


@dataclass(frozen=True)
class DetectionParameters:
    """Thresholds of eqs. D2, D3 and D6.

    ``drop`` index units (a pixel changed when after − before ≤ −drop); ``min_patch_m2`` m²
    (smaller 8-connected patches are dropped); ``min_stand_m2`` m² (a stand is flagged when its
    disturbed area reaches it); ``min_valid_share`` 0..1 (below it the stand is unobserved).
    """

    drop: float = 0.06
    min_patch_m2: float = 400.0
    min_stand_m2: float = 400.0
    min_valid_share: float = 0.5

    def provenance(self) -> dict[str, dict[str, object]]:
        """Per parameter: value, unit, source and status ("unverified": none is checked here)."""
        sources = {
            "drop": ("index units", _PRACTICE.format(what="threshold −0.06 of the difference")),
            "min_patch_m2": ("m²", _PRACTICE.format(what="patches under 400 m² dropped")),
            "min_stand_m2": (
                "m²",
                "The registry's own choice: the patch threshold (400 m², "
                + _PRACTICE.format(what="patches under 400 m² dropped")
                + ") applied to the disturbed area within one stand.",
            ),
            "min_valid_share": ("share 0..1", "The registry's own choice."),
        }
        return {
            f.name: {
                "value": getattr(self, f.name),
                "unit": sources[f.name][0],
                "source": sources[f.name][1],
                "status": "unverified",
            }
            for f in fields(self)
        }

    def note(self) -> str:
        """The unverified-parameter sentence (zh / en) naming the values used."""
        return NOTE.format(
            drop=f"{self.drop:g}",
            patch=f"{self.min_patch_m2:g}",
            stand=f"{self.min_stand_m2:g}",
            share=f"{self.min_valid_share:g}",
        )

    def short_note(self) -> str:
        """The note's short form, one line for a picture (zh / en)."""
        return (
            f"阈值未经核实 UNVERIFIED thresholds: drop {self.drop:g}, patch ≥ "
            f"{self.min_patch_m2:g} m², stand ≥ {self.min_stand_m2:g} m², observed ≥ "
            f"{self.min_valid_share:g} — 须由林业局标定 to be calibrated by the bureau"
        )

    def check(self) -> None:
        """Raise :class:`DetectionError` (bilingual) for a value that cannot be used."""
        bad = []
        if not np.isfinite(self.drop) or self.drop <= 0:
            bad.append(("drop", self.drop, "须为正数", "must be a positive number"))
        for name in ("min_patch_m2", "min_stand_m2"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                bad.append((name, v, "须为非负面积", "must be a non-negative area"))
        if not 0.0 <= self.min_valid_share <= 1.0:
            bad.append(("min_valid_share", self.min_valid_share, "须在 0–1 之间", "must be in 0–1"))
        if bad:
            name, value, zh, en = bad[0]
            raise DetectionError(
                f"检测参数 {name} = {value!r} 无效：{zh}。", f"Parameter {name} = {value!r}: {en}."
            )


@dataclass(frozen=True)
class Detection:
    """The outcome of :func:`detect_disturbances`.

    ``stands``: one row per input stand (input order), ``stand_key`` and ``valid_share``,
    ``mean_before``, ``mean_after``, ``mean_change`` (index units), ``disturbed_ha`` (ha, eq.
    D4), ``disturbed_share`` (a_d / stand area), ``disturbed_mean_change`` (index units),
    ``boundary_share`` and ``area_u`` (eq. D5), ``observed`` and ``flagged`` (bool, eq. D6).
    ``patches``: kept patches (``patch_id`` from 1, ``cells``, ``area_m2``, ``mean_change``,
    geometry in the raster CRS). The grid is ``crs_wkt``, ``transform`` (GDAL affine, 6 numbers),
    ``width`` × ``height``; ``note`` is the unverified-parameter sentence.
    """

    stands: pd.DataFrame
    patches: gpd.GeoDataFrame
    params: DetectionParameters
    crs_wkt: str
    transform: tuple[float, ...]
    width: int
    height: int
    note: str


def require_projected(crs: object, what_zh: str, what_en: str) -> None:
    """Refuse a geographic CRS (degrees): areas would come out in degrees², not m²."""
    is_geographic = bool(getattr(crs, "is_geographic", False))
    if is_geographic:
        raise DetectionError(
            f"{what_zh}的坐标参考系是地理坐标（经纬度，单位为度），面积会以“平方度”计：请先投影到投影坐标系，"
            "例如 gdalwarp -t_srs EPSG:4525 -tr 10 10。",
            f"{what_en} is in a geographic CRS (degrees): areas would be in degrees². Reproject to "
            "a projected CRS first, e.g. gdalwarp -t_srs EPSG:4525 -tr 10 10.",
        )


def _check_grid(a: DatasetReader, b: DatasetReader) -> None:
    fix_zh = "请先把一期重采样到另一期的网格上（例如 gdalwarp -t_srs … -tr … -te … -tap）。"
    fix_en = "Resample one onto the other's grid first (e.g. gdalwarp -t_srs … -tr … -te … -tap)."
    if a.crs is None or b.crs is None or a.crs != b.crs:
        raise DetectionError(
            f"两期栅格的坐标参考系不同：前期 {a.crs}，后期 {b.crs}。{fix_zh}",
            f"The two rasters' CRS differ: before {a.crs}, after {b.crs}. {fix_en}",
        )
    if (a.width, a.height) != (b.width, b.height):
        raise DetectionError(
            f"两期栅格的行列数不同：前期 {a.width}×{a.height}，后期 {b.width}×{b.height}。{fix_zh}",
            f"The two rasters' sizes differ: before {a.width}×{a.height}, after "
            f"{b.width}×{b.height}. {fix_en}",
        )
    require_projected(a.crs, "两期栅格", "The rasters")
    if not a.transform.almost_equals(b.transform, precision=1e-9):
        raise DetectionError(
            f"两期栅格的像元网格（原点或像元大小）不同：前期 {tuple(a.transform)[:6]}，"
            f"后期 {tuple(b.transform)[:6]}。{fix_zh}",
            f"The two rasters' grids (origin or cell size) differ: before "
            f"{tuple(a.transform)[:6]}, after {tuple(b.transform)[:6]}. {fix_en}",
        )
    if a.transform.b != 0 or a.transform.d != 0:
        raise DetectionError(
            "栅格网格是旋转的，暂不支持；请先用 gdalwarp 转为正北朝上的网格。",
            "The rasters' grid is rotated, which is not supported; warp it north-up first.",
        )


def _patches(
    changed: NDArray[np.bool_], min_cells: float
) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Eq. D3: label 8-connected changed pixels; keep components of ≥ ``min_cells`` cells.

    Returns the kept labels renumbered 1..n (0 elsewhere) and the cell count of each."""
    labels, n = ndimage.label(changed, structure=np.ones((3, 3), dtype=bool))
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    keep = counts >= min_cells
    keep[0] = False
    new_id = np.zeros(n + 1, dtype=np.int32)
    new_id[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    kept: NDArray[np.int32] = new_id[labels]
    return kept, counts[keep]


def _edges(kept: NDArray[np.int32]) -> NDArray[np.bool_]:
    """Eq. D5: kept pixels with a 4-neighbour not in their patch (outside the raster counts)."""
    inside = np.pad(kept > 0, 1, constant_values=False)
    core = inside[:-2, 1:-1] & inside[2:, 1:-1] & inside[1:-1, :-2] & inside[1:-1, 2:]
    # a 4-neighbour that is kept is in the same 8-connected patch, so "kept" suffices
    edge: NDArray[np.bool_] = (kept > 0) & ~core
    return edge


def _patch_frame(
    kept: NDArray[np.int32],
    counts: NDArray[np.int64],
    change: NDArray[np.float64],
    ds: DatasetReader,
) -> gpd.GeoDataFrame:
    n = len(counts)
    cell_area = abs(ds.transform.a * ds.transform.e)
    sums = ndimage.sum_labels(np.nan_to_num(change), kept, index=np.arange(1, n + 1))
    parts: dict[int, list[shapely.Geometry]] = {}
    if n:
        for geom, value in raster_shapes(kept, mask=kept > 0, transform=ds.transform):
            parts.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    geoms = [shapely.union_all(parts[i]) for i in range(1, n + 1)]
    return gpd.GeoDataFrame(
        {
            "patch_id": np.arange(1, n + 1, dtype=np.int64),
            "cells": counts.astype(np.int64),
            "area_m2": counts * cell_area,
            "mean_change": np.asarray(sums, dtype=np.float64) / np.maximum(counts, 1),
        },
        geometry=geoms,
        crs=ds.crs,
    )


def _memory_raster(ds: DatasetReader, bands: list[NDArray[np.float64]]) -> MemoryFile:
    memfile = MemoryFile()
    with memfile.open(
        driver="GTiff",
        width=ds.width,
        height=ds.height,
        count=len(bands),
        dtype="float64",
        crs=ds.crs,
        transform=ds.transform,
        nodata=np.nan,
    ) as dst:
        for i, band in enumerate(bands, start=1):
            dst.write(band, i)
    return memfile


def detect_disturbances(
    stands: gpd.GeoDataFrame,
    before: str | Path | DatasetReader,
    after: str | Path | DatasetReader,
    params: DetectionParameters | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Detection:
    """Eqs. D1–D6 for every stand (columns ``stand_key``, geometry; any CRS) between two rasters.

    ``before`` / ``after``: paths or open datasets of one band each on the same grid (else a
    bilingual :class:`DetectionError`). ``progress(done, total)`` is called as the stands are
    measured (for a progress bar). See the module docstring for the equations and
    :class:`Detection` for the output.
    """
    p = params or DetectionParameters()
    p.check()
    if "stand_key" not in stands.columns:
        raise UsageError(
            "林分表缺少 stand_key 列。", "The stands table lacks the column stand_key."
        )
    with opened(before) as b_ds, opened(after) as a_ds:
        return _detect(stands, b_ds, a_ds, p, progress)


def _detect(
    stands: gpd.GeoDataFrame,
    b_ds: DatasetReader,
    a_ds: DatasetReader,
    p: DetectionParameters,
    progress: Callable[[int, int], None] | None,
) -> Detection:
    _check_grid(b_ds, a_ds)
    t = b_ds.transform
    cell_area = abs(t.a * t.e)
    x_before, v_before = valid_values(b_ds, 1, None, None)
    x_after, v_after = valid_values(a_ds, 1, None, None)
    observed = v_before & v_after
    change = np.where(observed, x_after - x_before, np.nan)  # eq. D1
    changed = observed & (change <= -p.drop)  # eq. D2
    kept, counts = _patches(changed, p.min_patch_m2 / cell_area)  # eq. D3
    edge = _edges(kept)
    patches = _patch_frame(kept, counts, change, b_ds)

    geoms = reproject_polygons(stands, b_ds.crs, min(abs(t.a), abs(t.e)))
    frame = gpd.GeoDataFrame({"stand_key": stands["stand_key"].to_numpy()}, geometry=geoms.values)
    frame = frame.set_crs(b_ds.crs, allow_override=True)
    area = shapely.area(geoms.values)
    # only stands whose bounds meet a kept patch can hold disturbed area
    near = np.zeros(len(frame), dtype=bool)
    if len(patches):
        hit = patches.sindex.query(frame.geometry.values, predicate="intersects")[0]
        near[np.unique(hit)] = True

    n_all, n_near = len(frame), int(near.sum())
    total = 2 * n_all + 2 * n_near
    offset = 0

    def step(done: int, _total: int) -> None:
        if progress is not None:
            progress(offset + done, total)

    bands = [
        np.where(observed, x_before, np.nan),
        np.where(observed, x_after, np.nan),
        np.where(kept > 0, change, np.nan),
        np.where(edge, change, np.nan),
    ]
    del x_before, x_after, v_before, v_after
    memfile = _memory_raster(b_ds, bands)
    del bands
    try:
        with memfile.open() as mem:
            opts = {i: ZonalOptions(percentiles=(), band=i) for i in (1, 2, 3, 4)}
            z_before = zonal_stats(frame, mem, opts[1], progress=step)
            offset += n_all
            z_after = zonal_stats(frame, mem, opts[2], progress=step)
            offset += n_all
            sub = frame[near]
            z_kept = zonal_stats(sub, mem, opts[3], progress=step)
            offset += n_near
            z_edge = zonal_stats(sub, mem, opts[4], progress=step)
    finally:
        memfile.close()

    disturbed_m2 = np.zeros(n_all)
    disturbed_mean = np.full(n_all, np.nan)
    edge_m2 = np.zeros(n_all)
    disturbed_m2[near] = z_kept["valid_area"].to_numpy()
    disturbed_mean[near] = z_kept["mean"].to_numpy()
    edge_m2[near] = z_edge["valid_area"].to_numpy()
    has = disturbed_m2 > 0
    boundary = np.where(has, edge_m2 / np.where(has, disturbed_m2, 1.0), 0.0)
    valid_share = z_before["valid_share"].to_numpy()
    is_observed = valid_share >= p.min_valid_share - ROUND_OFF
    mean_before = z_before["mean"].to_numpy()
    mean_after = z_after["mean"].to_numpy()
    out = pd.DataFrame(
        {
            "stand_key": frame["stand_key"].to_numpy(),
            "valid_share": valid_share,
            "mean_before": mean_before,
            "mean_after": mean_after,
            "mean_change": mean_after - mean_before,
            "disturbed_ha": disturbed_m2 / 10_000.0,
            "disturbed_share": np.where(area > 0, disturbed_m2 / np.where(area > 0, area, 1), 0.0),
            "disturbed_mean_change": disturbed_mean,
            "boundary_share": boundary,
            "area_u": 0.5 * boundary,
            "observed": is_observed,
            "flagged": is_observed & (disturbed_m2 >= p.min_stand_m2 * (1 - ROUND_OFF)),
        },
        index=stands.index,
    )
    return Detection(
        stands=out,
        patches=patches,
        params=p,
        crs_wkt=b_ds.crs.to_wkt(),
        transform=tuple(t)[:6],
        width=b_ds.width,
        height=b_ds.height,
        note=p.note(),
    )


# --- the evidence picture ------------------------------------------------------------------

CJK_FILE_PREFIX = "NotoSansCJK-Regular"  # Noto Sans CJK (SC among its faces)
PATCH_COLOUR = "#ff00ff"  # magenta: visible on viridis and on the red of a drop
NO_DATA_COLOUR = "#bdbdbd"
MARGIN_CELLS = 10  # cells of margin around the stand's bounds in the evidence picture


def _cjk_family() -> list[str]:
    """The family name of Noto Sans CJK (fonts-noto-cjk) as matplotlib's font_manager finds it
    among the system fonts, registered for this process; nothing when absent (quietly)."""
    from matplotlib import font_manager

    for path in sorted(font_manager.findSystemFonts()):
        if Path(path).name.startswith(CJK_FILE_PREFIX):
            font_manager.fontManager.addfont(path)
            return [font_manager.FontProperties(fname=path).get_name()]
    return []


def _rings(geom: shapely.Geometry) -> list[NDArray[np.float64]]:
    out: list[NDArray[np.float64]] = []
    for ring in shapely.get_rings(shapely.get_parts(geom)):
        out.append(np.asarray(shapely.get_coordinates(ring), dtype=np.float64))
    return out


def evidence_png(
    before: str | Path | DatasetReader,
    after: str | Path | DatasetReader,
    stand_geometry: shapely.Geometry,
    stand_crs: Any,
    detection: Detection,
    stand_key: str,
    title: str = "",
) -> bytes:
    """A PNG of three panels over the stand's window (its bounds plus ``MARGIN_CELLS`` cells):
    the before index, the after index and the change Δ (eq. D1), each with a colour bar; the
    stand outlined in black and the kept patches (eq. D3) in red; axes in km of the raster CRS;
    ``title`` (e.g. the run's scene names) on top and the thresholds' UNVERIFIED line at the
    foot (both also in the PNG's Title / Description text chunks).
    """
    with opened(before) as b_ds, opened(after) as a_ds:
        _check_grid(b_ds, a_ds)
        return _evidence(b_ds, a_ds, stand_geometry, stand_crs, detection, stand_key, title)


def _evidence(
    b_ds: DatasetReader,
    a_ds: DatasetReader,
    stand_geometry: shapely.Geometry,
    stand_crs: Any,
    detection: Detection,
    stand_key: str,
    title: str,
) -> bytes:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    t = b_ds.transform
    cell = min(abs(t.a), abs(t.e))
    stand = gpd.GeoDataFrame(geometry=[stand_geometry], crs=stand_crs)
    geom = reproject_polygons(stand, b_ds.crs, cell).iloc[0]
    minx, miny, maxx, maxy = shapely.bounds(geom)
    inv = ~t
    cols, rows = zip(*(inv @ (x, y) for x in (minx, maxx) for y in (miny, maxy)), strict=True)
    col0 = max(int(np.floor(min(cols))) - MARGIN_CELLS, 0)
    row0 = max(int(np.floor(min(rows))) - MARGIN_CELLS, 0)
    col1 = min(int(np.ceil(max(cols))) + MARGIN_CELLS, b_ds.width)
    row1 = min(int(np.ceil(max(rows))) + MARGIN_CELLS, b_ds.height)
    if col1 <= col0 or row1 <= row0:
        raise DetectionError(
            f"林分 {stand_key} 不在栅格范围内，无法绘制证据图。",
            f"Stand {stand_key} lies outside the raster; no evidence picture can be drawn.",
        )
    window = Window(col0, row0, col1 - col0, row1 - row0)
    xb, vb = valid_values(b_ds, 1, window, None)
    xa, va = valid_values(a_ds, 1, window, None)
    both = vb & va
    before_img = np.where(vb, xb, np.nan)
    after_img = np.where(va, xa, np.nan)
    change_img = np.where(both, xa - xb, np.nan)
    left, top = t @ (col0, row0)
    right, bottom = t @ (col1, row1)
    extent = (left / 1000, right / 1000, bottom / 1000, top / 1000)
    box = shapely.box(min(left, right), min(top, bottom), max(left, right), max(top, bottom))
    patches = detection.patches
    shown = patches[patches.intersects(box)] if len(patches) else patches

    row = detection.stands[detection.stands["stand_key"] == stand_key]
    facts = ""
    if len(row):
        r = row.iloc[0]
        facts = (
            f"受扰面积 disturbed {r['disturbed_ha']:.2f} ha ± {100 * r['area_u']:.0f} %, "
            f"有效观测 observed {100 * r['valid_share']:.0f} %, "
            f"{'已标记 flagged' if r['flagged'] else '未标记 not flagged'}"
        )
    p = detection.params
    families = [*_cjk_family(), "DejaVu Sans"]
    with plt.rc_context(
        {"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False}
    ):
        fig, axes = plt.subplots(1, 3, figsize=(15, 5.6), dpi=110, layout="constrained")
        vals = np.concatenate([before_img[vb], after_img[va]])
        lo, hi = (
            (float(np.percentile(vals, 1)), float(np.percentile(vals, 99))) if vals.size else (0, 1)
        )
        span = max(0.1, float(np.nanmax(np.abs(change_img))) if both.any() else 0.1)
        panels = [
            (before_img, "前期指数 Before index", "viridis", lo, hi),
            (after_img, "后期指数 After index", "viridis", lo, hi),
            (change_img, f"变化 Change Δ (阈值 threshold −{p.drop:g})", "RdBu", -span, span),
        ]
        for ax, (img, name, cmap, vmin, vmax) in zip(axes, panels, strict=True):
            colours = plt.get_cmap(cmap).with_extremes(bad=NO_DATA_COLOUR)
            im = ax.imshow(img, extent=extent, cmap=colours, vmin=vmin, vmax=vmax,
                           interpolation="nearest")  # fmt: skip
            fig.colorbar(im, ax=ax, shrink=0.8, label="指数 index" if cmap != "RdBu" else "Δ")
            for ring in _rings(geom):
                ax.plot(ring[:, 0] / 1000, ring[:, 1] / 1000, color="black", lw=1.6)
            for pg in shown.geometry:
                for ring in _rings(pg):
                    ax.plot(ring[:, 0] / 1000, ring[:, 1] / 1000, color=PATCH_COLOUR, lw=1.2)
            ax.set_title(name)
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
            ax.set_xlabel("x (km)")
            ax.set_ylabel("y (km)")
            ax.ticklabel_format(useOffset=False, style="plain")
            ax.xaxis.set_major_locator(MaxNLocator(4))  # full eastings: few, or they overlap
        head = title or f"林分 {stand_key} 扰动证据 Disturbance evidence, stand {stand_key}"
        fig.suptitle(
            f"{head}\n{facts}\n黑线：林分；品红线：保留的变化斑块；灰色：无数据  "
            "Black: stand; magenta: kept patches; grey: no data"
        )
        fig.text(0.5, 0.01, p.short_note(), ha="center", va="bottom", color="#b00020",
                 fontsize=10)  # fmt: skip
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png",
                    metadata={"Title": head, "Description": p.short_note()})  # fmt: skip
        plt.close(fig)
    return buffer.getvalue()
