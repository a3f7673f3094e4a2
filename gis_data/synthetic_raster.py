"""A synthetic but realistic NDVI-like raster over stands, for tests and the demo.

SYNTHETIC DATA — the bureau supplies its own GeoTIFFs in real use; nothing is downloaded here.

The index of a pixel is (all values dimensionless NDVI units)::

    v = curve(species_group, age) + site + obs(date) − drop · [pixel in a disturbance patch]

* ``curve`` — the saturating age curve ``v0 + (vmax − v0) · (1 − exp(−age / τ))`` (age in
  years) with ``v0``, ``vmax``, ``τ`` per species group from ``data/ndvi_age_curves.csv``.
  **These parameters are UNVERIFIED** (illustrative, not from a published table): every file
  written carries that note in its tags. Pixels in no stand, or in a stand without a species
  group (non-forest land), take ``BACKGROUND_NDVI``. The age is taken as given on every date
  (a year's growth between two dates is not added).
* ``site`` — spatially correlated noise shared by every date of a scene: Gaussian white noise
  smoothed with a Gaussian kernel of ``site_correlation_m`` and rescaled to standard deviation
  ``site_sd``.
* ``obs(date)`` — independent per-pixel noise of standard deviation ``obs_sd`` drawn anew for
  each date (seeded by the scene's seed and the date), so that after − before in a pixel outside
  every patch has standard deviation ``obs_sd · √2``.
* ``drop`` — the stated index drop of a disturbance patch, applied to pixels whose centre lies in
  the patch (GDAL's rasterisation rule without ``all_touched``), after dates on or after the
  patch's date. Values are clipped to [−1, 1] only.

Clouds are polygons (given, or generated per date from the seed and the date) whose pixels
(centre inside) are written as ``NODATA``. A pair of dates (``write_pair``) shares the grid, the
stands, the site field and the seed; it differs in the disturbances (after date only), the
observation noise and the clouds.

The grid is north-up with square cells of ``resolution_m`` in ``crs`` (default the registry's
projected CRS of the sample inventory, CGCS2000 / 3-degree Gauss–Krüger zone 37, EPSG:4525),
covering the stands' bounds snapped outward to whole cells.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import Affine
from scipy.ndimage import gaussian_filter

from gis_data.errors import GisDataError
from gis_data.sample import SAMPLE_CRS

__all__ = [
    "BACKGROUND_NDVI",
    "NODATA",
    "UNVERIFIED_NOTE",
    "AgeCurve",
    "SceneSpec",
    "SyntheticRaster",
    "SyntheticRasterError",
    "curve_value",
    "generate_clouds",
    "generate_disturbances",
    "load_age_curves",
    "write_pair",
    "write_synthetic_raster",
]

NODATA = -9999.0
BACKGROUND_NDVI = 0.30  # non-forest land and pixels in no stand; UNVERIFIED, illustrative
UNVERIFIED_NOTE = (
    "合成栅格；植被指数-林龄曲线参数未经核实（示意值） "
    "SYNTHETIC raster; the index-by-age curve parameters are UNVERIFIED (illustrative)"
)
REQUIRED_COLUMNS = ("species_group", "age_years")


class SyntheticRasterError(GisDataError):
    """The stands or parameters given to the synthetic raster generator are unusable."""


@dataclass(frozen=True)
class AgeCurve:
    """``v(age) = ndvi_young + (ndvi_mature − ndvi_young) · (1 − exp(−age / tau_years))``."""

    species_group: str
    ndvi_young: float
    ndvi_mature: float
    tau_years: float
    source: str


@cache
def load_age_curves() -> MappingProxyType[str, AgeCurve]:
    """Return species group → :class:`AgeCurve` from ``data/ndvi_age_curves.csv``."""
    text = resources.files("gis_data").joinpath("data/ndvi_age_curves.csv").read_text("utf-8")
    curves = {
        row["species_group"]: AgeCurve(
            row["species_group"],
            float(row["ndvi_young"]),
            float(row["ndvi_mature"]),
            float(row["tau_years"]),
            row["source"],
        )
        for row in csv.DictReader(text.splitlines())
    }
    return MappingProxyType(curves)


def curve_value(species_group: str, age_years: float) -> float:
    """The index of a stand of this group and age (years) from its :class:`AgeCurve`."""
    c = load_age_curves()[species_group]
    return float(
        c.ndvi_young + (c.ndvi_mature - c.ndvi_young) * (1 - np.exp(-age_years / c.tau_years))
    )


@dataclass(frozen=True)
class SceneSpec:
    """What the dates of one synthetic scene share.

    ``resolution_m`` cell size (m); ``site_sd`` and ``obs_sd`` standard deviations (index units)
    of the shared site field and of the per-date observation noise; ``site_correlation_m`` the
    Gaussian kernel's standard deviation (m) of the site field; ``seed`` makes everything
    deterministic.
    """

    stands: gpd.GeoDataFrame
    seed: int = 0
    crs: str = SAMPLE_CRS
    resolution_m: float = 10.0
    site_sd: float = 0.03
    site_correlation_m: float = 30.0
    obs_sd: float = 0.01


@dataclass(frozen=True)
class SyntheticRaster:
    """A written raster and what a test needs to find its features again.

    ``disturbances`` (columns ``patch_id``, ``stand_index``, ``drop``, ``date``, geometry) and
    ``clouds`` (``cloud_id``, geometry) are in the raster's CRS; ``stand_index`` is the index
    label of the stand the patch was placed in (``None`` for a patch given by the caller).
    """

    path: Path
    date: dt.date
    crs: str
    transform: Affine
    width: int
    height: int
    disturbances: gpd.GeoDataFrame
    clouds: gpd.GeoDataFrame
    site_sd: float
    obs_sd: float
    note: str = UNVERIFIED_NOTE


def _checked_stands(stands: gpd.GeoDataFrame, crs: str) -> gpd.GeoDataFrame:
    missing = [c for c in (*REQUIRED_COLUMNS, "geometry") if c not in stands.columns]
    if missing:
        raise SyntheticRasterError(
            f"林分表缺少列：{', '.join(missing)}。",
            f"The stands lack the column(s): {', '.join(missing)}.",
        )
    if stands.crs is None:
        raise SyntheticRasterError(
            "林分没有坐标参考系（CRS），无法生成栅格；请先设定 CRS。",
            "The stands have no CRS; set one before generating a raster.",
        )
    if len(stands) == 0:
        raise SyntheticRasterError("林分表为空。", "The stands table is empty.")
    curves = load_age_curves()
    for label, group, age in zip(
        stands.index, stands["species_group"], stands["age_years"], strict=True
    ):
        if not isinstance(group, str) and pd.isna(group):
            continue  # non-forest land: background value
        if group not in curves:
            raise SyntheticRasterError(
                f"林分 {label!r} 的树种组 {group!r} 没有植被指数曲线；可用：{', '.join(curves)}。",
                f"Stand {label!r}: species group {group!r} has no index curve; "
                f"known: {', '.join(curves)}.",
            )
        if age is None or not np.isfinite(float(age)) or float(age) < 0:
            raise SyntheticRasterError(
                f"林分 {label!r} 的林龄 {age!r} 无效（须为非负年数）。",
                f"Stand {label!r}: age {age!r} is not a non-negative number of years.",
            )
    return stands.to_crs(crs)


def _grid(stands: gpd.GeoDataFrame, res: float) -> tuple[Affine, int, int]:
    minx, miny, maxx, maxy = stands.total_bounds
    x0, y1 = np.floor(minx / res) * res, np.ceil(maxy / res) * res
    x1, y0 = np.ceil(maxx / res) * res, np.floor(miny / res) * res
    width, height = round((x1 - x0) / res), round((y1 - y0) / res)
    return Affine(res, 0.0, float(x0), 0.0, -res, float(y1)), int(width), int(height)


def _stand_values(stands: gpd.GeoDataFrame) -> NDArray[np.float64]:
    values = np.full(len(stands), BACKGROUND_NDVI)
    for i, (group, age) in enumerate(
        zip(stands["species_group"], stands["age_years"], strict=True)
    ):
        if isinstance(group, str):
            values[i] = curve_value(group, float(age))
    return values


def _date_seed(seed: int, date: dt.date, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, date.toordinal(), stream])


def _site_field(spec: SceneSpec, shape: tuple[int, int]) -> NDArray[np.float64]:
    if spec.site_sd == 0:
        return np.zeros(shape)
    white = np.random.default_rng([spec.seed, 1]).standard_normal(shape)
    field: NDArray[np.float64] = gaussian_filter(
        white, sigma=spec.site_correlation_m / spec.resolution_m
    )
    sd = float(field.std())
    return field / sd * spec.site_sd if sd > 0 else field


def _mask(geoms: Any, transform: Affine, shape: tuple[int, int]) -> NDArray[np.bool_]:
    shapes = [(g, 1) for g in geoms if g is not None and not g.is_empty]
    if not shapes:
        return np.zeros(shape, dtype=bool)
    burnt: NDArray[np.uint8] = rasterize(
        shapes, out_shape=shape, transform=transform, fill=0, dtype="uint8"
    )
    return np.asarray(burnt == 1, dtype=np.bool_)


def generate_disturbances(
    spec: SceneSpec,
    count: int,
    date: dt.date,
    drop: float = 0.35,
    radius_m: float = 40.0,
) -> gpd.GeoDataFrame:
    """Place ``count`` round disturbance patches of ``radius_m`` (m) inside forest stands.

    Each patch is a circle centred on a random point of a randomly chosen forest stand (one with
    a species group) at least ``radius_m`` inside it, so that the whole patch lies in that
    stand; ``drop`` is the index drop (index units; 0.35 is an UNVERIFIED illustrative value of a
    stand-replacing loss). Deterministic with the scene's seed.
    """
    stands = spec.stands.to_crs(spec.crs)
    rng = np.random.default_rng([spec.seed, 2, count])
    forest = stands[stands["species_group"].map(lambda g: isinstance(g, str))]
    cores = forest.geometry.buffer(-radius_m)
    candidates = [
        (label, core) for label, core in zip(forest.index, cores, strict=True) if not core.is_empty
    ]
    if len(candidates) < count:
        raise SyntheticRasterError(
            f"只有 {len(candidates)} 个林分容得下半径 {radius_m} 米的干扰斑块，需要 {count} 个。",
            f"Only {len(candidates)} stands can hold a patch of radius {radius_m} m; "
            f"{count} were asked for.",
        )
    chosen = rng.choice(len(candidates), size=count, replace=False)
    rows = []
    for patch_id, k in enumerate(sorted(int(c) for c in chosen)):
        label, core = candidates[k]
        centre = shapely.Point(shapely.get_coordinates(core.representative_point())[0])
        minx, miny, maxx, maxy = core.bounds
        for _ in range(100):  # rejection sampling of a uniform point in the core
            p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if core.contains(p):
                centre = p
                break
        rows.append((patch_id, label, drop, date, centre.buffer(radius_m, 32)))
    return gpd.GeoDataFrame(
        rows, columns=["patch_id", "stand_index", "drop", "date", "geometry"], crs=spec.crs
    )


def generate_clouds(
    spec: SceneSpec, date: dt.date, count: int = 3, radius_m: float = 150.0
) -> gpd.GeoDataFrame:
    """``count`` round cloud patches of ``radius_m`` (m) centred uniformly in the scene's bounds,
    drawn from the seed and the date (each date of a scene has its own clouds)."""
    minx, miny, maxx, maxy = spec.stands.to_crs(spec.crs).total_bounds
    rng = _date_seed(spec.seed, date, 3)
    xs, ys = rng.uniform(minx, maxx, count), rng.uniform(miny, maxy, count)
    geoms = [shapely.Point(x, y).buffer(radius_m, 32) for x, y in zip(xs, ys, strict=True)]
    return gpd.GeoDataFrame({"cloud_id": np.arange(count)}, geometry=geoms, crs=spec.crs)


def write_synthetic_raster(
    spec: SceneSpec,
    date: dt.date,
    path: str | Path,
    disturbances: gpd.GeoDataFrame | None = None,
    clouds: gpd.GeoDataFrame | None = None,
) -> SyntheticRaster:
    """Write the scene's index on ``date`` to a single-band float32 GeoTIFF at ``path``.

    ``disturbances`` (geometry and ``drop``, optional ``date``: a patch applies from its date on;
    without a ``date`` column it applies) are reprojected to the scene's CRS; ``clouds`` default
    to :func:`generate_clouds` (pass an empty frame for a clear sky). Same spec, date and
    arguments → the same bytes.
    """
    stands = _checked_stands(spec.stands, spec.crs)
    transform, width, height = _grid(stands, spec.resolution_m)
    shape = (height, width)
    stand_id = rasterize(
        ((g, i + 1) for i, g in enumerate(stands.geometry) if g is not None and not g.is_empty),
        out_shape=shape,
        transform=transform,
        fill=0,
        dtype="int32",
    )
    values = np.concatenate([[BACKGROUND_NDVI], _stand_values(stands)])
    index = values[stand_id] + _site_field(spec, shape)
    if spec.obs_sd > 0:
        index += _date_seed(spec.seed, date, 4).standard_normal(shape) * spec.obs_sd

    if disturbances is None:
        disturbances = gpd.GeoDataFrame(
            {"patch_id": [], "stand_index": [], "drop": [], "date": []},
            geometry=[],
            crs=spec.crs,
        )
    disturbances = disturbances.to_crs(spec.crs)
    for geom, drop, start in zip(
        disturbances.geometry,
        disturbances["drop"],
        disturbances["date"] if "date" in disturbances else [None] * len(disturbances),
        strict=True,
    ):
        if start is None or start <= date:
            index[_mask([geom], transform, shape)] -= float(drop)
    np.clip(index, -1.0, 1.0, out=index)

    if clouds is None:
        clouds = generate_clouds(spec, date)
    clouds = clouds.to_crs(spec.crs)
    out = index.astype(np.float32)
    out[_mask(clouds.geometry, transform, shape)] = NODATA

    path = Path(path)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "crs": spec.crs,
        "transform": transform,
        "nodata": NODATA,
        "compress": "deflate",
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(out, 1)
        dst.update_tags(
            NOTE=UNVERIFIED_NOTE,
            DATE=date.isoformat(),
            SEED=str(spec.seed),
            SITE_SD=str(spec.site_sd),
            OBS_SD=str(spec.obs_sd),
        )
        dst.set_band_description(1, "NDVI-like index (synthetic)")
    return SyntheticRaster(
        path,
        date,
        spec.crs,
        transform,
        width,
        height,
        disturbances,
        clouds,
        spec.site_sd,
        spec.obs_sd,
    )


def write_pair(
    spec: SceneSpec,
    before: dt.date,
    after: dt.date,
    folder: str | Path,
    disturbances: gpd.GeoDataFrame | int = 3,
    drop: float = 0.35,
    clouds: gpd.GeoDataFrame | None = None,
) -> tuple[SyntheticRaster, SyntheticRaster]:
    """Write ``before`` and ``after`` rasters of one scene to ``folder``.

    ``disturbances`` are given patches or a number to generate (:func:`generate_disturbances`,
    dated ``after``, index drop ``drop``); they appear in the after raster only. ``clouds``
    default to each date's own (:func:`generate_clouds`); a frame given is used on both dates
    (an empty one for clear skies). Files are named
    ``index_<date>.tif``.
    """
    if not before < after:
        raise SyntheticRasterError(
            f"前期日期 {before} 须早于后期日期 {after}。",
            f"The before date {before} must be earlier than the after date {after}.",
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    patches = (
        generate_disturbances(spec, disturbances, after, drop)
        if isinstance(disturbances, int)
        else disturbances
    )
    first = write_synthetic_raster(
        spec,
        before,
        folder / f"index_{before.isoformat()}.tif",
        disturbances=patches.iloc[:0],
        clouds=clouds,
    )
    second = write_synthetic_raster(
        spec, after, folder / f"index_{after.isoformat()}.tif", disturbances=patches, clouds=clouds
    )
    return first, second
