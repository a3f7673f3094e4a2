"""The synthetic NDVI-like raster: a real GeoTIFF, the stated values, drops and clouds, deterministic."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from numpy.typing import NDArray

from gis_data.synthetic_raster import (
    NODATA,
    SceneSpec,
    SyntheticRasterError,
    write_pair,
    write_synthetic_raster,
)

BEFORE, AFTER = dt.date(2025, 7, 1), dt.date(2026, 7, 1)
X0, Y0 = 37_500_000.0, 2_900_000.0  # GK zone 37 with the zone number in the easting (EPSG:4525)
NO_CLOUDS = gpd.GeoDataFrame({"cloud_id": []}, geometry=[], crs="EPSG:4525")


def two_stands(crs: str = "EPSG:4525") -> gpd.GeoDataFrame:
    """A 1 km × 1 km Chinese fir stand (10 years) beside a 1 km × 1 km broadleaf one (30 years)."""
    stands = gpd.GeoDataFrame(
        {"species_group": ["chinese_fir", "broadleaf"], "age_years": [10.0, 30.0]},
        geometry=[
            shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
            shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
        ],
        crs="EPSG:4525",
    )
    return stands.to_crs(crs)


def read(path: Path) -> NDArray[np.float32]:
    with rasterio.open(path) as ds:
        return ds.read(1)


def centres_in(geom: shapely.Geometry) -> NDArray[np.bool_]:
    """Pixels (rows, cols of the 100 × 200 grid of 10 m from X0, Y0 + 1000) whose centre is in geom."""
    cols, rows = np.meshgrid(np.arange(200), np.arange(100))
    x = X0 + 10 * cols + 5
    y = Y0 + 1000 - 10 * rows - 5
    return np.asarray(shapely.contains_xy(geom, x, y))


def test_the_file_opens_with_the_right_crs_transform_and_nodata(tmp_path: Path) -> None:
    out = write_synthetic_raster(SceneSpec(two_stands()), BEFORE, tmp_path / "a.tif")
    with rasterio.open(out.path) as ds:
        assert ds.crs.to_epsg() == 4525
        # 2 km × 1 km of 10 m cells: 200 columns, 100 rows, origin at the north-west corner
        assert (ds.width, ds.height) == (200, 100)
        assert tuple(ds.transform)[:6] == (10.0, 0.0, X0, 0.0, -10.0, Y0 + 1000)
        assert ds.nodata == -9999.0 and ds.dtypes == ("float32",)
        assert "UNVERIFIED" in ds.tags()["NOTE"]


def test_values_follow_the_stated_age_curve_without_noise(tmp_path: Path) -> None:
    spec = SceneSpec(two_stands(), site_sd=0.0, obs_sd=0.0)
    band = read(write_synthetic_raster(spec, BEFORE, tmp_path / "a.tif", clouds=NO_CLOUDS).path)
    # chinese_fir: 0.35 + (0.82 − 0.35)·(1 − e^(−10/6)) = 0.35 + 0.47·0.811124 = 0.731228
    fir = 0.35 + 0.47 * (1 - math.exp(-10 / 6))
    # broadleaf: 0.35 + (0.86 − 0.35)·(1 − e^(−30/6)) = 0.35 + 0.51·0.993262 = 0.856564
    broadleaf = 0.35 + 0.51 * (1 - math.exp(-30 / 6))
    assert fir == pytest.approx(0.731228, abs=1e-6)
    assert broadleaf == pytest.approx(0.856564, abs=1e-6)
    assert np.allclose(band[:, :100], fir, atol=1e-6)
    assert np.allclose(band[:, 100:], broadleaf, atol=1e-6)


def test_stands_in_another_crs_are_reprojected_onto_the_same_grid(tmp_path: Path) -> None:
    spec = SceneSpec(two_stands("EPSG:4490"), site_sd=0.0, obs_sd=0.0)
    out = write_synthetic_raster(spec, BEFORE, tmp_path / "a.tif", clouds=NO_CLOUDS)
    with rasterio.open(out.path) as ds:
        assert ds.crs.to_epsg() == 4525
        assert ds.transform.c == pytest.approx(X0, abs=10) and ds.transform.f == pytest.approx(
            Y0 + 1000, abs=10
        )


def test_inside_a_patch_after_minus_before_is_the_stated_drop(tmp_path: Path) -> None:
    spec = SceneSpec(two_stands(), seed=7, site_sd=0.03, obs_sd=0.01)
    # a cloud at the south-east corner, away from nothing in particular: the pair shares it
    cloud = shapely.Point(X0 + 2000, Y0).buffer(100)
    clouds = gpd.GeoDataFrame({"cloud_id": [0]}, geometry=[cloud], crs="EPSG:4525")
    before, after = write_pair(spec, BEFORE, AFTER, tmp_path, 2, drop=0.35, clouds=clouds)
    patches = after.disturbances
    assert len(patches) == 2 and (patches["drop"] == 0.35).all()
    stands = two_stands()
    diff = read(after.path).astype(float) - read(before.path).astype(float)
    valid = (read(before.path) != NODATA) & (read(after.path) != NODATA)
    # per pixel, after − before outside a patch is the difference of two independent observation
    # noises: sd = 0.01·√2 = 0.01414; the mean of n pixels has sd 0.01414/√n
    pixel_sd = 0.01 * math.sqrt(2)
    in_any = np.zeros(diff.shape, dtype=bool)
    for geom, label in zip(patches.geometry, patches["stand_index"], strict=True):
        assert stands.geometry[label].contains(geom)  # the patch lies in the stand it names
        inside = centres_in(geom) & valid
        assert not cloud.intersects(geom)  # else fewer pixels; the check below would say so
        n = int(inside.sum())
        # a circle of 40 m radius holds about π·40²/10² = 50 cell centres
        assert 30 <= n <= 70
        assert abs(diff[inside].mean() - (-0.35)) < 4 * pixel_sd / math.sqrt(n)
        assert np.all(np.abs(diff[inside] + 0.35) < 6 * pixel_sd)
        in_any |= centres_in(geom)
    rest = valid & ~in_any
    assert abs(diff[rest].mean()) < 4 * pixel_sd / math.sqrt(int(rest.sum()))
    assert diff[rest].std() == pytest.approx(pixel_sd, rel=0.05)


def test_cloud_pixels_are_nodata(tmp_path: Path) -> None:
    cloud = shapely.Point(X0 + 500, Y0 + 500).buffer(120)
    clouds = gpd.GeoDataFrame({"cloud_id": [0]}, geometry=[cloud], crs="EPSG:4525")
    out = write_synthetic_raster(SceneSpec(two_stands()), BEFORE, tmp_path / "a.tif", clouds=clouds)
    band = read(out.path)
    expected = centres_in(cloud)
    # a circle of 120 m radius holds about π·120²/10² ≈ 452 cell centres
    assert 420 <= int(expected.sum()) <= 480
    assert np.array_equal(band == NODATA, expected)


def test_generated_clouds_are_nodata_and_differ_between_the_dates(tmp_path: Path) -> None:
    before, after = write_pair(SceneSpec(two_stands(), seed=3), BEFORE, AFTER, tmp_path, 1)
    for raster in (before, after):
        expected = centres_in(shapely.union_all(raster.clouds.geometry.values))
        assert expected.any()
        assert np.array_equal(read(raster.path) == NODATA, expected)
    assert not before.clouds.geometry.geom_equals(after.clouds.geometry).all()


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def write(seed: int, folder: str) -> tuple[bytes, bytes]:
        a, b = write_pair(SceneSpec(two_stands(), seed=seed), BEFORE, AFTER, tmp_path / folder, 2)
        return a.path.read_bytes(), b.path.read_bytes()

    first, again, other = write(5, "one"), write(5, "two"), write(6, "three")
    assert first == again
    assert first[0] != other[0] and first[1] != other[1]


def test_bad_stands_are_refused_naming_the_record(tmp_path: Path) -> None:
    stands = two_stands()
    stands.loc[1, "species_group"] = "palm"
    with pytest.raises(SyntheticRasterError, match="1") as err:
        write_synthetic_raster(SceneSpec(stands), BEFORE, tmp_path / "a.tif")
    assert "palm" in err.value.message_zh and "palm" in err.value.message_en
    assert not (tmp_path / "a.tif").exists()
    stands = two_stands()
    stands.loc[0, "age_years"] = -3.0
    with pytest.raises(SyntheticRasterError, match="林龄"):
        write_synthetic_raster(SceneSpec(stands), BEFORE, tmp_path / "a.tif")
    with pytest.raises(SyntheticRasterError, match="早于"):
        write_pair(SceneSpec(two_stands()), AFTER, BEFORE, tmp_path)
