"""Zonal statistics checked against sums written out by hand on a 4×4 raster of 10 m cells."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin

from gis_data.errors import CrsError
from gis_data.zonal import RasterReadError, ZonalOptions, coverage_fractions, zonal_stats

X0, TOP = 500_000.0, 2_850_000.0  # upper-left corner, EPSG:4546 (CGCS2000 GK CM 111E)
NODATA = -9999.0
# row 0 is the northernmost row
VALUES = np.array(
    [
        [2.0, 2.0, 6.0, 8.0],
        [5.0, 7.0, 1.0, 1.0],
        [1.0, 1.0, 1.0, 1.0],
        [1.0, 1.0, 1.0, 1.0],
    ]
)


def write_raster(path: Path, values: np.ndarray, crs: str | None = "EPSG:4546") -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
        crs=crs, transform=from_origin(X0, TOP, 10.0, 10.0), nodata=NODATA,
    ) as ds:  # fmt: skip
        ds.write(values.astype(np.float32), 1)
    return path


def rect(u0: float, v0: float, u1: float, v1: float) -> shapely.Polygon:
    """A rectangle in metres east (u) and south (v) of the upper-left corner."""
    return shapely.box(X0 + u0, TOP - v1, X0 + u1, TOP - v0)


def frame(geom: shapely.Geometry, crs: str = "EPSG:4546") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"stand": ["s1"]}, geometry=[geom], crs=crs)


@pytest.fixture
def raster(tmp_path: Path) -> Path:
    return write_raster(tmp_path / "r.tif", VALUES)


# the strip u 5..25 m, v 0..10 m: half of cell (0,0)=2, all of (0,1)=2, half of (0,2)=6
STRIP = rect(5, 0, 25, 10)


def test_partial_pixels_are_weighted_by_covered_area(raster: Path) -> None:
    out = zonal_stats(frame(STRIP), raster, ZonalOptions(percentiles=(50, 90), threshold=4.0))
    row = out.loc[0]
    # value 2 covers 0.5 + 1 = 1.5 cells, value 6 covers 0.5 cell: (1.5×2 + 0.5×6) / 2 = 3
    assert row["mean"] == pytest.approx((1.5 * 2 + 0.5 * 6) / 2.0) == pytest.approx(3.0)
    # weighted CDF: 2 → 1.5/2 = 75 %, 6 → 100 %; the median is 2, the 90th percentile 6
    assert row["p50"] == 2.0 and row["p90"] == 6.0
    # above 4: only the half cell of 6 → 0.5 / 2
    assert row["frac_above"] == pytest.approx(0.5 / 2.0)
    assert row["valid_share"] == pytest.approx(1.0)
    assert row["valid_area"] == pytest.approx(2 * 100.0)  # 2 cells of 10 m × 10 m
    assert row["cells"] == 3


def test_a_diagonal_edge_splits_cells_in_halves(raster: Path) -> None:
    # triangle u + v ≤ 20: cell (0,0)=2 wholly, (0,1)=2 half, (1,0)=5 half; area 200 m²
    tri = shapely.Polygon([(X0, TOP), (X0 + 20, TOP), (X0, TOP - 20)])
    out = zonal_stats(frame(tri), raster)
    assert out.loc[0, "mean"] == pytest.approx((1 * 2 + 0.5 * 2 + 0.5 * 5) / 2.0)  # 2.75
    assert out.loc[0, "valid_area"] == pytest.approx(200.0)


def test_nodata_is_excluded_and_lowers_the_valid_share(tmp_path: Path) -> None:
    values = VALUES.copy()
    values[0, 1] = NODATA  # the whole cell of 2 under the strip
    path = write_raster(tmp_path / "n.tif", values)
    row = zonal_stats(frame(STRIP), path).loc[0]
    # left: half a cell of 2 and half a cell of 6 → (0.5×2 + 0.5×6) / 1 = 4
    assert row["mean"] == pytest.approx((0.5 * 2 + 0.5 * 6) / 1.0)
    assert row["valid_share"] == pytest.approx(100.0 / 200.0)


def test_cloud_mask_is_honoured(raster: Path) -> None:
    cloud = np.zeros((4, 4), dtype=bool)
    cloud[0, 2] = True  # the half cell of 6
    row = zonal_stats(frame(STRIP), raster, cloud_mask=cloud).loc[0]
    assert row["mean"] == pytest.approx(1.5 * 2 / 1.5)  # 2
    assert row["valid_share"] == pytest.approx(1.5 / 2.0)


def test_polygon_all_under_clouds_has_no_statistics_and_no_valid_share(raster: Path) -> None:
    cloud = np.ones((4, 4), dtype=bool)
    row = zonal_stats(frame(STRIP), raster, cloud_mask=cloud).loc[0]
    assert np.isnan(row["mean"]) and row["valid_share"] == 0.0


def test_part_off_the_raster_is_not_valid(raster: Path) -> None:
    # u −10..10, v 0..10: half the polygon west of the raster, the other half on cell (0,0)=2
    row = zonal_stats(frame(rect(-10, 0, 10, 10)), raster).loc[0]
    assert row["mean"] == pytest.approx(2.0)
    assert row["valid_share"] == pytest.approx(100.0 / 200.0)


def test_crs_mismatch_same_projection_with_zone_prefix(raster: Path) -> None:
    # EPSG:4525 is EPSG:4546 with the zone number 37 in front of the easting: +37 000 000 m
    shifted = shapely.transform(STRIP, lambda c: c + np.array([37_000_000.0, 0.0]))
    row = zonal_stats(frame(shifted, "EPSG:4525"), raster).loc[0]
    assert row["mean"] == pytest.approx(3.0, abs=1e-6)


def test_crs_mismatch_polygons_in_longitude_latitude(raster: Path) -> None:
    # the strip's corners taken to CGCS2000 lon/lat by pyproj; back on the raster it is the strip
    to_geo = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
    geo = shapely.transform(STRIP, lambda c: np.column_stack(to_geo.transform(c[:, 0], c[:, 1])))
    assert 110.9 < geo.centroid.x < 111.1  # central meridian 111°E
    row = zonal_stats(frame(geo, "EPSG:4490"), raster).loc[0]
    assert row["mean"] == pytest.approx(3.0, abs=1e-4)
    assert row["valid_area"] == pytest.approx(200.0, rel=1e-4)


def test_an_open_dataset_and_several_polygons(raster: Path) -> None:
    polys = gpd.GeoDataFrame(
        {"stand": ["a", "b"]}, geometry=[STRIP, rect(20, 10, 40, 20)], crs="EPSG:4546",
        index=[7, 9],
    )  # fmt: skip
    with rasterio.open(raster) as ds:
        out = zonal_stats(polys, ds)
    assert list(out.index) == [7, 9]
    assert out.loc[7, "mean"] == pytest.approx(3.0)
    assert out.loc[9, "mean"] == pytest.approx((1.0 + 1.0) / 2)  # cells (1,2)=1, (1,3)=1


def test_raster_without_crs_is_a_bilingual_error(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "nocrs.tif", VALUES, crs=None)
    with pytest.raises(RasterReadError) as info:
        zonal_stats(frame(STRIP), path)
    assert "CRS" in info.value.message_en and "坐标参考系" in info.value.message_zh


def test_polygons_without_crs_and_a_missing_file_are_clear_errors(raster: Path) -> None:
    with pytest.raises(CrsError):
        zonal_stats(gpd.GeoDataFrame(geometry=[STRIP]), raster)
    with pytest.raises(RasterReadError, match="Cannot open"):
        zonal_stats(frame(STRIP), raster.parent / "absent.tif")


def test_a_hole_and_a_second_part_are_counted_exactly() -> None:
    # 2×2 cells of 10 m; a 20 m square with a 10 m hole in the middle: each cell loses a
    # 5 m × 5 m corner → 75/100; a second part (clockwise on purpose) fills the hole's quarter in cell
    # (1,1), the bottom right (row 0 is the top) → (75 + 25)/100
    shell = [(0, 0), (20, 0), (20, 20), (0, 20)]
    hole = [(5, 5), (15, 5), (15, 15), (5, 15)]
    extra = shapely.box(10, 5, 15, 10).reverse()
    geom = shapely.MultiPolygon([shapely.Polygon(shell, [hole]), extra])
    frac = coverage_fractions(geom, np.array([0.0, 10.0, 20.0]), np.array([20.0, 10.0, 0.0]))
    expected = np.array([[75 / 100, 75 / 100], [75 / 100, (75 + 25) / 100]])
    assert frac == pytest.approx(expected)


def test_progress_is_reported_up_to_the_last_polygon(raster: Path) -> None:
    seen: list[tuple[int, int]] = []
    polys = gpd.GeoDataFrame(geometry=[STRIP] * 3, crs="EPSG:4546")
    zonal_stats(polys, raster, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(3, 3)]
