"""Zonal statistics of a raster over polygons, exact-area weighted (no database).

For each polygon, every raster cell it touches gets its *coverage fraction* c ∈ [0, 1]: the
area of (cell ∩ polygon) divided by the cell's area, computed exactly (eq. Z5, Green's
theorem on the polygon's edges cut at the column edges, vectorised in numpy over the polygon's
pixel window; see ``coverage_fractions``). With x the cell values and v the validity (not
nodata, not NaN, not cloud):

    mean            = Σ c·v·x / Σ c·v                                    (eq. Z1)
    valid_share     = Σ c·v·A_cell / A_polygon                           (eq. Z2)
    frac_above(t)   = Σ c·v·[x > t] / Σ c·v                              (eq. Z3)
    percentile p    = min { x_k : W_k ≥ p/100 · W },  x sorted ascending,
                      W_k = Σ_{j≤k} c_j·v_j,  W = Σ c·v                  (eq. Z4)

Z1 is the coverage-weighted mean that exactextract reports as ``mean`` (Baston, exactextract
documentation, "Supported statistics"); Z4 is the lower inverse of the weighted empirical CDF
(no interpolation: a percentile is always a value that occurs in the polygon). Weights are
coverage fractions, i.e. areas in units of one cell: on a projected raster all cells have the
same area. On a geographic raster (degrees) cells shrink with cos(latitude); that correction
is NOT applied (as in exactextract's default), which matters only for polygons spanning many
kilometres north–south. A_polygon is the area of the polygon in the raster's CRS, so a part of
the polygon off the raster lowers the valid share.

CRS: the polygons are reprojected to the raster's CRS (pyproj, through GeoPandas), never the
raster to the polygons'. Reprojecting a raster resamples it: every value is re-interpolated
(nearest neighbour shifts cells by up to half a pixel, bilinear smooths the values and mixes
nodata into the edges), so the statistics would no longer be those of the bureau's pixels.
Moving polygon vertices is exact at each vertex; the edges are first densified (segments of at
most a quarter of a cell, in the polygons' own CRS when projected) so that a straight edge in
one projection stays within a small fraction of a cell of its image in the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from rasterio.io import DatasetReader
from rasterio.windows import Window

from gis_data.errors import CrsError, GisDataError, UsageError

__all__ = [
    "RasterReadError",
    "ZonalOptions",
    "coverage_fractions",
    "open_raster",
    "opened",
    "reproject_polygons",
    "valid_values",
    "zonal_stats",
]

# a raster up to this many cells is read into memory once; larger ones window by window
MAX_CELLS_IN_MEMORY = 100_000_000


class RasterReadError(GisDataError):
    """The raster cannot be opened or is unusable (no CRS, rotated grid, band missing)."""


@dataclass(frozen=True)
class ZonalOptions:
    """What to compute: ``percentiles`` in 0..100; ``threshold`` for ``frac_above`` (None: not
    computed); ``band`` 1-based."""

    percentiles: Sequence[float] = (10.0, 50.0, 90.0)
    threshold: float | None = None
    band: int = 1


def coverage_fractions(
    polygon: shapely.Geometry,
    x_edges: NDArray[np.float64],
    y_edges: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Exact fraction (0..1) of each cell of a grid covered by ``polygon`` (eq. Z5).

    ``x_edges`` (n_cols + 1, increasing) and ``y_edges`` (n_rows + 1, row 0 first, either
    direction) are the cell edges in the polygon's coordinates. Returns an (n_rows, n_cols)
    array. No overlay is computed: by Green's theorem, with the exterior rings counter-clockwise
    and the holes clockwise, the area of the polygon inside the column strip x0 ≤ x ≤ x1 and
    below the height Y is

        F(Y) = −∮ 1[x0 ≤ x ≤ x1] · min(y, Y) dx                                   (eq. Z5)

    (∂/∂y of 1[strip]·min(y, Y) is the indicator of the strip below Y), so the area in the cell
    [x0, x1] × [y0, y1] is F(y1) − F(y0). Each boundary edge is cut at the column edges and the
    integral of min(y, Y) along a straight piece is closed-form; all pieces and all row edges
    are done at once in numpy. Holes and multipolygons need nothing special.
    """
    n_rows, n_cols = len(y_edges) - 1, len(x_edges) - 1
    ox, oy = float(x_edges[0]), float(y_edges[0])  # work near the origin: no cancellation
    xe = np.asarray(x_edges, dtype=np.float64) - ox
    ye = np.asarray(y_edges, dtype=np.float64) - oy
    parts = shapely.get_parts(shapely.orient_polygons(polygon))
    rings = shapely.get_rings(parts)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    xa, ya = coords[:-1, 0][same] - ox, coords[:-1, 1][same] - oy
    xb, yb = coords[1:, 0][same] - ox, coords[1:, 1][same] - oy
    moves = xa != xb  # a vertical edge has dx = 0: nothing to integrate
    xa, ya, xb, yb = xa[moves], ya[moves], xb[moves], yb[moves]
    lo_x, hi_x = np.minimum(xa, xb), np.maximum(xa, xb)
    first = np.clip(np.searchsorted(xe, lo_x, side="right") - 1, 0, n_cols - 1)
    last = np.clip(np.searchsorted(xe, hi_x, side="left") - 1, 0, n_cols - 1)
    count = np.maximum(last - first + 1, 0)
    edge = np.repeat(np.arange(len(xa)), count)
    col = np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count) + first[edge]
    # the piece of each edge inside its column, in the edge's own direction
    p0 = np.maximum(lo_x[edge], xe[col])
    p1 = np.minimum(hi_x[edge], xe[col + 1])
    inside = p1 > p0
    edge, col, p0, p1 = edge[inside], col[inside], p0[inside], p1[inside]
    slope = (yb[edge] - ya[edge]) / (xb[edge] - xa[edge])
    y0 = ya[edge] + slope * (p0 - xa[edge])
    y1 = ya[edge] + slope * (p1 - xa[edge])
    dx = np.where(xb[edge] > xa[edge], p1 - p0, p0 - p1)
    # mean of min(y, Y) along each piece, for every row edge Y (pieces × (n_rows + 1))
    lo_y = np.minimum(y0, y1)[:, None]
    hi_y = np.maximum(y0, y1)[:, None]
    big = ye[None, :]
    span = hi_y - lo_y
    below = np.clip(np.divide(big - lo_y, span, out=np.ones_like(big - lo_y), where=span > 0), 0, 1)
    mean_min = np.where(
        big >= hi_y,
        (lo_y + hi_y) / 2,
        np.where(big <= lo_y, big, below * (lo_y + big) / 2 + (1 - below) * big),
    )
    contrib = -dx[:, None] * mean_min
    flat = (col[:, None] * (n_rows + 1) + np.arange(n_rows + 1)[None, :]).ravel()
    f = np.bincount(flat, weights=contrib.ravel(), minlength=n_cols * (n_rows + 1))
    f = f.reshape(n_cols, n_rows + 1)
    area = np.abs(np.diff(f, axis=1)).T  # (n_rows, n_cols)
    cell = np.abs(np.diff(xe))[None, :] * np.abs(np.diff(ye))[:, None]
    fractions: NDArray[np.float64] = np.clip(area / cell, 0.0, 1.0)
    return fractions


def _weighted_percentile(
    values: NDArray[np.float64], weights: NDArray[np.float64], p: float
) -> float:
    """Eq. Z4: the smallest value whose cumulative weight reaches p % of the total."""
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    k = int(np.searchsorted(cum, p / 100.0 * cum[-1] * (1 - 1e-12), side="left"))
    return float(values[order][min(k, len(values) - 1)])


def open_raster(raster: DatasetReader | str | Path) -> tuple[DatasetReader, bool]:
    if isinstance(raster, DatasetReader):
        return raster, False
    try:
        return rasterio.open(raster), True
    except (rasterio.errors.RasterioIOError, OSError) as exc:
        raise RasterReadError(
            f"无法打开栅格文件 {raster}：{exc}。请确认路径正确且为 GeoTIFF 等 GDAL 可读格式。",
            f"Cannot open the raster {raster}: {exc}. Check the path and that GDAL can read "
            "the format (e.g. GeoTIFF).",
        ) from exc


@contextmanager
def opened(raster: DatasetReader | str | Path) -> Iterator[DatasetReader]:
    """The raster as an open dataset for a ``with`` block, closed after it if opened here."""
    ds, mine = open_raster(raster)
    try:
        yield ds
    finally:
        if mine:
            ds.close()


def reproject_polygons(polygons: gpd.GeoDataFrame, crs: Any, cell: float) -> gpd.GeoSeries:
    if polygons.crs is None:
        raise CrsError(
            "多边形没有坐标参考系（CRS），无法与栅格对齐；本程序不会猜测，请先设置 CRS。",
            "The polygons have no CRS, so they cannot be placed on the raster; tanhui never "
            "guesses — set their CRS first.",
        )
    geoms = polygons.geometry
    if polygons.crs == crs:
        return geoms
    if polygons.crs.is_projected:
        # densify in the source's metres so straight edges follow their image (module docstring)
        geoms = gpd.GeoSeries(
            shapely.segmentize(geoms.values, cell / 4.0), index=geoms.index, crs=polygons.crs
        )
    return geoms.to_crs(crs)


def zonal_stats(
    polygons: gpd.GeoDataFrame,
    raster: DatasetReader | str | Path,
    options: ZonalOptions | None = None,
    cloud_mask: NDArray[np.bool_] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Exact-area-weighted statistics of one raster band over each polygon (eqs. Z1–Z4).

    ``polygons``: a GeoDataFrame in any CRS (reprojected to the raster's, see module
    docstring). ``raster``: an open rasterio dataset or a path; its nodata value and NaN cells
    are invalid. ``cloud_mask``: optional boolean array of the raster's shape, True = cloud
    (invalid). Returns one row per polygon (the input's index) with ``mean``, ``p<q>`` for each
    percentile, ``frac_above`` (fraction 0..1 of the valid covered area with value > threshold,
    when a threshold is given), ``valid_share`` (0..1, eq. Z2), ``valid_area`` (raster CRS
    units², e.g. m²) and ``cells`` (cells touched). A polygon with no valid cell gets NaN
    statistics and valid_share 0. ``progress(done, total)`` is called every 1 000 polygons
    and at the end (for a progress bar).
    """
    opts = options or ZonalOptions()
    for p in opts.percentiles:
        if not 0.0 <= p <= 100.0:
            raise UsageError(f"百分位数 {p} 不在 0–100 之间。", f"Percentile {p} is outside 0–100.")
    with opened(raster) as ds:
        return _zonal(polygons, ds, opts, cloud_mask, progress)


def _zonal(
    polygons: gpd.GeoDataFrame,
    ds: DatasetReader,
    opts: ZonalOptions,
    cloud_mask: NDArray[np.bool_] | None,
    progress: Callable[[int, int], None] | None,
) -> pd.DataFrame:
    name = ds.name
    if ds.crs is None:
        raise RasterReadError(
            f"栅格 {name} 没有坐标参考系（CRS）；本程序不会猜测，请用 GDAL 为其设置 CRS。",
            f"The raster {name} has no CRS; tanhui never guesses — assign one with GDAL.",
        )
    t = ds.transform
    if t.b != 0 or t.d != 0:
        raise RasterReadError(
            f"栅格 {name} 的网格是旋转的，暂不支持；请先用 gdalwarp 转为正北朝上的网格。",
            f"The raster {name} has a rotated grid, which is not supported; warp it north-up "
            "with gdalwarp first.",
        )
    if not 1 <= opts.band <= ds.count:
        raise RasterReadError(
            f"栅格 {name} 没有第 {opts.band} 波段（共 {ds.count} 个）。",
            f"The raster {name} has no band {opts.band} (it has {ds.count}).",
        )
    if cloud_mask is not None and cloud_mask.shape != (ds.height, ds.width):
        raise UsageError(
            f"云掩膜的形状 {cloud_mask.shape} 与栅格 {name} 的 {(ds.height, ds.width)} 不一致。",
            f"The cloud mask's shape {cloud_mask.shape} differs from the raster {name}'s "
            f"{(ds.height, ds.width)}.",
        )
    geoms = reproject_polygons(polygons, ds.crs, min(abs(t.a), abs(t.e)))
    in_memory = ds.width * ds.height <= MAX_CELLS_IN_MEMORY
    whole = valid_values(ds, opts.band, None, cloud_mask) if in_memory else None

    cell_area = abs(t.a * t.e)
    rows: list[dict[str, float]] = []
    total = len(geoms)
    for done, geom in enumerate(geoms.values, start=1):
        rows.append(_one(geom, ds, opts, cloud_mask, whole, cell_area))
        if progress is not None and (done % 1000 == 0 or done == total):
            progress(done, total)
    columns = ["mean", *[_pname(p) for p in opts.percentiles]]
    if opts.threshold is not None:
        columns.append("frac_above")
    columns += ["valid_share", "valid_area", "cells"]
    return pd.DataFrame(rows, index=polygons.index, columns=columns)


def _pname(p: float) -> str:
    return f"p{p:g}"


def valid_values(
    ds: DatasetReader, band: int, window: Window | None, cloud: NDArray[np.bool_] | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The band's values (float64) and validity (not nodata, finite, not cloud) in a window."""
    x = ds.read(band, window=window).astype(np.float64)
    valid = np.isfinite(x)
    if ds.nodata is not None and not np.isnan(ds.nodata):
        valid &= x != ds.nodata
    if cloud is not None:
        if window is None:
            valid &= ~cloud
        else:
            r, c = int(window.row_off), int(window.col_off)
            valid &= ~cloud[r : r + int(window.height), c : c + int(window.width)]
    return x, valid


def _one(
    geom: shapely.Geometry | None,
    ds: DatasetReader,
    opts: ZonalOptions,
    cloud: NDArray[np.bool_] | None,
    whole: tuple[NDArray[np.float64], NDArray[np.bool_]] | None,
    cell_area: float,
) -> dict[str, float]:
    empty: dict[str, float] = {"valid_share": 0.0, "valid_area": 0.0, "cells": 0.0}
    if geom is None or shapely.is_empty(geom) or shapely.area(geom) <= 0:
        return empty
    t = ds.transform
    minx, miny, maxx, maxy = shapely.bounds(geom)
    # the window of cells the bounding box touches, clipped to the raster
    inv = ~t
    c_a, r_a = inv @ (minx, maxy)
    c_b, r_b = inv @ (maxx, miny)
    c0, c1 = sorted((c_a, c_b))
    r0, r1 = sorted((r_a, r_b))
    col0, row0 = max(int(np.floor(c0)), 0), max(int(np.floor(r0)), 0)
    col1, row1 = min(int(np.ceil(c1)), ds.width), min(int(np.ceil(r1)), ds.height)
    if col1 <= col0 or row1 <= row0:
        return empty
    cols = np.arange(col0, col1 + 1, dtype=np.float64)
    rws = np.arange(row0, row1 + 1, dtype=np.float64)
    x_edges = t.c + t.a * cols
    y_edges = t.f + t.e * rws
    if t.a < 0:  # a grid running west: edges must increase for the boxes
        x_edges = x_edges[::-1]
    frac = coverage_fractions(geom, x_edges, y_edges)
    if t.a < 0:
        frac = frac[:, ::-1]
    if whole is not None:
        x = whole[0][row0:row1, col0:col1]
        valid = whole[1][row0:row1, col0:col1]
    else:
        window = Window(col0, row0, col1 - col0, row1 - row0)
        x, valid = valid_values(ds, opts.band, window, cloud)
    w = frac * valid
    keep = w > 0
    touched = float(np.count_nonzero(frac > 0))
    total = float(w.sum())
    out: dict[str, float] = {
        "valid_share": min(total * cell_area / float(shapely.area(geom)), 1.0),
        "valid_area": total * cell_area,
        "cells": touched,
    }
    if total <= 0:
        return out
    xs, ws = x[keep], w[keep]
    out["mean"] = float((ws * xs).sum() / total)
    for p in opts.percentiles:
        out[_pname(p)] = _weighted_percentile(xs, ws, p)
    if opts.threshold is not None:
        out["frac_above"] = float(ws[xs > opts.threshold].sum() / total)
    return out
