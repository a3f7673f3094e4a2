"""Disturbance detection between two dates: values worked out by hand on tiny rasters, then the
generator's patches found again on a synthetic scene, and the evidence picture."""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from matplotlib import image as mpimg
from numpy.typing import NDArray
from rasterio.transform import from_origin

from gis_data.disturbance import (
    DetectionError,
    DetectionParameters,
    detect_disturbances,
    evidence_png,
)
from gis_data.synthetic_raster import SceneSpec, generate_disturbances, write_pair

X0, TOP = 37_500_000.0, 2_900_060.0  # EPSG:4525 (GK zone 37, zone number in the easting)
CRS = "EPSG:4525"
NODATA = -9999.0


def write(path: Path, band: NDArray[np.float32], x0: float = X0, crs: str = CRS) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=band.shape[1], height=band.shape[0], count=1,
        dtype="float32", crs=crs, transform=from_origin(x0, TOP, 10.0, 10.0), nodata=NODATA,
    ) as ds:  # fmt: skip
        ds.write(band, 1)
    return path


def box(col0: float, row0: float, col1: float, row1: float) -> shapely.Polygon:
    """A rectangle from grid coordinates (columns and rows of 10 m cells, row 0 at the top)."""
    return shapely.box(X0 + 10 * col0, TOP - 10 * row1, X0 + 10 * col1, TOP - 10 * row0)


def stands_of(**geoms: shapely.Geometry) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"stand_key": list(geoms)}, geometry=list(geoms.values()), crs=CRS)


@pytest.fixture()
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """6 × 6 cells of 10 m, index 0.8 everywhere before. After: a 3 × 2 block (rows 1–2,
    columns 1–3) and the single cell (5, 5) drop by 0.2. Nodata: before at (0, 0), after at
    (3, 0)."""
    before = np.full((6, 6), 0.8, dtype=np.float32)
    after = before.copy()
    after[1:3, 1:4] = 0.6
    after[5, 5] = 0.6
    before[0, 0] = NODATA
    after[3, 0] = NODATA
    return write(tmp_path / "before.tif", before), write(tmp_path / "after.tif", after)


def test_hand_computed_patch_areas_and_stand_figures(tiny: tuple[Path, Path]) -> None:
    stands = stands_of(
        half=box(0, 0, 2.5, 4),  # 25 m × 40 m = 1000 m²: columns 0, 1 and half of column 2
        whole=box(0, 0, 5, 4),  # the whole 3 × 2 block inside
        single=box(5, 5, 6, 6),  # exactly the isolated dropped cell
    )
    det = detect_disturbances(stands, *tiny)  # defaults: drop 0.06, patches ≥ 400 m²
    # patches: the 6-cell block (6 · 100 m² = 600 m² ≥ 400) is kept; the single cell
    # (100 m² < 400) is dropped
    assert list(det.patches["cells"]) == [6]
    assert list(det.patches["area_m2"]) == [600.0]
    assert det.patches["mean_change"].iloc[0] == pytest.approx(-0.2, abs=1e-6)
    assert det.patches.geometry.iloc[0].area == pytest.approx(600.0)

    half = det.stands.set_index("stand_key").loc["half"]
    # disturbed: column 1 rows 1–2 fully (2 · 100) + column 2 rows 1–2 half (2 · 50) = 300 m²
    assert half["disturbed_ha"] == pytest.approx(300 / 10_000)
    assert half["disturbed_share"] == pytest.approx(300 / 1000)
    # the block has two rows: every one of its cells has a 4-neighbour outside → all edge
    assert half["boundary_share"] == pytest.approx(1.0)
    assert half["area_u"] == pytest.approx(0.5)
    # covered cells: 4 rows × (1 + 1 + 0.5) = 10 cells; (0, 0) nodata before and (3, 0) nodata
    # after are both fully covered → observed 8 cells · 100 m² / 1000 m² = 0.8
    assert half["valid_share"] == pytest.approx(0.8)
    # of those 8 observed cell-weights 3 dropped by 0.2: mean Δ = 3 · (−0.2) / 8 = −0.075
    assert half["mean_change"] == pytest.approx(-0.075, abs=1e-6)
    assert half["mean_before"] == pytest.approx(0.8, abs=1e-6)
    assert half["mean_after"] == pytest.approx((5 * 0.8 + 3 * 0.6) / 8, abs=1e-6)
    assert half["disturbed_mean_change"] == pytest.approx(-0.2, abs=1e-6)
    assert bool(half["observed"]) and not bool(half["flagged"])  # 300 m² < 400 m²

    whole = det.stands.set_index("stand_key").loc["whole"]
    assert whole["disturbed_ha"] == pytest.approx(600 / 10_000)  # 600 m² ≥ 400 → flagged
    assert whole["disturbed_share"] == pytest.approx(600 / (50 * 40))
    assert bool(whole["flagged"])

    single = det.stands.set_index("stand_key").loc["single"]
    assert single["disturbed_ha"] == 0.0 and not bool(single["flagged"])
    assert single["valid_share"] == pytest.approx(1.0)
    assert single["mean_change"] == pytest.approx(-0.2, abs=1e-6)  # dropped, just not a patch
    assert "UNVERIFIED" in det.note and "未经核实" in det.note


def test_boundary_share_with_an_interior_pixel(tmp_path: Path) -> None:
    before = np.full((5, 5), 0.7, dtype=np.float32)
    after = before.copy()
    after[1:4, 1:4] = 0.4  # a 3 × 3 block: 8 edge cells around 1 interior cell (2, 2)
    paths = write(tmp_path / "b.tif", before), write(tmp_path / "a.tif", after)
    det = detect_disturbances(stands_of(right=box(2.5, 0, 5, 5)), *paths)
    row = det.stands.iloc[0]
    # in the stand: column 2 half (3 cells · 50 m²) + column 3 whole (3 · 100) = 450 m²;
    # edge: column 3 (300) + rows 1 and 3 of column 2 (2 · 50) = 400 m², interior (2, 2) 50 m²
    assert row["disturbed_ha"] == pytest.approx(450 / 10_000)
    assert row["boundary_share"] == pytest.approx(400 / 450)
    assert row["area_u"] == pytest.approx(0.5 * 400 / 450)
    assert bool(row["flagged"])  # 450 m² ≥ 400


def test_a_higher_patch_threshold_drops_the_block(tiny: tuple[Path, Path]) -> None:
    det = detect_disturbances(
        stands_of(whole=box(0, 0, 5, 4)), *tiny, DetectionParameters(min_patch_m2=700.0)
    )
    assert len(det.patches) == 0  # 600 m² < 700 m²
    assert det.stands["disturbed_ha"].iloc[0] == 0.0 and not det.stands["flagged"].iloc[0]


def test_an_unobserved_stand_is_not_flagged(tmp_path: Path) -> None:
    before = np.full((6, 6), 0.8, dtype=np.float32)
    after = before.copy()
    after[0:3, 0:3] = 0.5  # 9 cells, 900 m² kept
    after[0:3, 3:6] = NODATA  # the right half of the top rows unobserved
    paths = write(tmp_path / "b.tif", before), write(tmp_path / "a.tif", after)
    # the stand: rows 0–2, columns 2–6 (5 cells wide): observed is column 2 only = 3 of 12 cells
    det = detect_disturbances(stands_of(s=box(2, 0, 6, 3)), *paths)
    row = det.stands.iloc[0]
    assert row["valid_share"] == pytest.approx(3 / 12)  # < 0.5 → unobserved
    assert row["disturbed_ha"] == pytest.approx(300 / 10_000)  # column 2 of the block
    assert not bool(row["observed"]) and not bool(row["flagged"])


def test_mismatched_grids_are_refused_with_a_bilingual_message(tmp_path: Path) -> None:
    band = np.full((6, 6), 0.8, dtype=np.float32)
    before = write(tmp_path / "b.tif", band)
    shifted = write(tmp_path / "a.tif", band, x0=X0 + 10.0)
    with pytest.raises(DetectionError) as err:
        detect_disturbances(stands_of(s=box(0, 0, 2, 2)), before, shifted)
    assert "网格" in err.value.message_zh and "gdalwarp" in err.value.message_en
    other_crs = write(tmp_path / "c.tif", band, x0=500_000.0, crs="EPSG:4546")
    with pytest.raises(DetectionError) as err:
        detect_disturbances(stands_of(s=box(0, 0, 2, 2)), before, other_crs)
    assert "坐标参考系" in err.value.message_zh and "CRS" in err.value.message_en


def test_geographic_rasters_are_refused_areas_would_be_in_degrees(tmp_path: Path) -> None:
    band = np.full((6, 6), 0.8, dtype=np.float32)
    paths = []
    for name in ("b", "a"):
        path = tmp_path / f"{name}.tif"
        with rasterio.open(path, "w", driver="GTiff", width=6, height=6, count=1,
                           dtype="float32", crs="EPSG:4490",
                           transform=from_origin(111.6, 25.9, 0.0001, 0.0001)) as ds:  # fmt: skip
            ds.write(band, 1)
        paths.append(path)
    stand = gpd.GeoDataFrame({"stand_key": ["s"]},
                             geometry=[shapely.box(111.6, 25.8995, 111.6003, 25.9)], crs=4490)  # fmt: skip
    with pytest.raises(DetectionError) as err:
        detect_disturbances(stand, paths[0], paths[1])
    assert "地理坐标" in err.value.message_zh and "degrees²" in err.value.message_en
    assert "gdalwarp -t_srs EPSG:4525 -tr 10 10" in err.value.message_en


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(DetectionError) as err:
        DetectionParameters(drop=-0.06).check()
    assert "drop" in err.value.message_en


def test_provenance_names_every_parameter_as_unverified() -> None:
    prov = DetectionParameters().provenance()
    assert set(prov) == {"drop", "min_patch_m2", "min_stand_m2", "min_valid_share"}
    assert all(v["status"] == "unverified" for v in prov.values())
    assert "13133914" in str(prov["drop"]["source"]) and prov["drop"]["value"] == 0.06


# --- the generator's patches found again ---------------------------------------------------

BEFORE, AFTER = dt.date(2025, 7, 1), dt.date(2026, 7, 1)
SIDE = 200.0  # stands of 200 m × 200 m = 4 ha


def grid_stands() -> gpd.GeoDataFrame:
    """A 5 × 4 grid of square 4-ha stands, Chinese fir and broadleaf alternating, ages 8–27."""
    geoms, groups, ages, keys = [], [], [], []
    for i in range(5):
        for j in range(4):
            geoms.append(shapely.box(X0 + SIDE * i, TOP - SIDE * (j + 1),
                                     X0 + SIDE * (i + 1), TOP - SIDE * j))  # fmt: skip
            groups.append("chinese_fir" if (i + j) % 2 else "broadleaf")
            ages.append(8.0 + i * 4 + j)
            keys.append(f"S{i}{j}")
    return gpd.GeoDataFrame(
        {"stand_key": keys, "species_group": groups, "age_years": ages}, geometry=geoms, crs=CRS
    )


def test_every_generated_patch_is_found_and_nothing_else(tmp_path: Path) -> None:
    # noise: the site field is the same on both dates and cancels in Δ; the observation noise
    # (sd 0.01 per date) leaves Δ with sd 0.01·√2 = 0.0141 outside the patches, so the drop
    # 0.06 is 4.2 sd: P(one pixel ≤ −0.06) ≈ 1e-5, and a kept patch needs ≥ 4 such pixels
    # 8-connected — the generated drop of 0.35 is 25 sd.
    spec = SceneSpec(grid_stands(), seed=7, obs_sd=0.01)
    no_clouds = gpd.GeoDataFrame({"cloud_id": []}, geometry=[], crs=CRS)
    before, after = write_pair(spec, BEFORE, AFTER, tmp_path, disturbances=4, clouds=no_clouds)
    stands = spec.stands
    det = detect_disturbances(stands, before.path, after.path)
    res = det.stands.set_index(stands.index)
    truth = after.disturbances
    assert len(truth) == 4 and len(det.patches) == 4
    # tolerance: pixels are in or out by their centre, so the found area may differ from the
    # circle's by at most the band of half a pixel either side of its edge: perimeter · 10 m
    radius = 40.0
    tolerance = 2 * math.pi * radius * 10.0
    for patch in truth.itertuples():
        row = res.loc[patch.stand_index]
        true_m2 = shapely.area(
            shapely.intersection(patch.geometry, stands.geometry[patch.stand_index])
        )
        assert bool(row["flagged"]), patch
        assert abs(row["disturbed_ha"] * 10_000 - true_m2) <= tolerance
        assert row["disturbed_mean_change"] == pytest.approx(-0.35, abs=0.02)
    hit = set(truth["stand_index"])
    others = res[~res.index.isin(hit)]
    assert not others["flagged"].any()
    assert (others["disturbed_ha"] == 0).all()


def test_a_stand_under_a_cloud_is_unobserved(tmp_path: Path) -> None:
    spec = SceneSpec(grid_stands(), seed=3)
    patches = generate_disturbances(spec, 2, AFTER)
    hidden = patches["stand_index"].iloc[0]
    square = spec.stands.geometry[hidden]
    # a circle of radius 145 m covers the square (half diagonal 141.4 m) entirely
    clouds = gpd.GeoDataFrame({"cloud_id": [0]}, geometry=[square.centroid.buffer(145.0)], crs=CRS)
    before, after = write_pair(spec, BEFORE, AFTER, tmp_path, disturbances=patches, clouds=clouds)
    det = detect_disturbances(spec.stands, before.path, after.path)
    row = det.stands.set_index(spec.stands.index).loc[hidden]
    assert row["valid_share"] == 0.0 and not bool(row["observed"]) and not bool(row["flagged"])
    seen = det.stands.set_index(spec.stands.index).loc[patches["stand_index"].iloc[1]]
    assert bool(seen["flagged"])  # the other patch, under a clear sky, is found


def test_evidence_png_is_a_picture(tiny: tuple[Path, Path]) -> None:
    stands = stands_of(whole=box(0, 0, 5, 4))
    det = detect_disturbances(stands, *tiny)
    png = evidence_png(*tiny, stands.geometry[0], stands.crs, det, "whole")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(io.BytesIO(png), format="png")
    assert img.shape[0] > 300 and img.shape[1] > 900  # three panels side by side
    magenta = (img[..., 0] > 0.9) & (img[..., 1] < 0.2) & (img[..., 2] > 0.9)
    assert magenta.sum() > 50  # the kept patch is outlined (#ff00ff)


def test_evidence_png_says_the_thresholds_are_unverified_and_names_the_scenes(
    tiny: tuple[Path, Path],
) -> None:
    from PIL import Image

    stands = stands_of(whole=box(0, 0, 5, 4))
    det = detect_disturbances(stands, *tiny)
    title = "林分 stand whole: synthetic-ndvi-2029 (2029-08-01) → synthetic-ndvi-2030 (2030-08-01)"
    png = evidence_png(*tiny, stands.geometry[0], stands.crs, det, "whole", title=title)
    chunks = Image.open(io.BytesIO(png)).text  # type: ignore[attr-defined]
    assert chunks["Title"] == title
    assert "UNVERIFIED" in chunks["Description"] and "未经核实" in chunks["Description"]
    assert "drop 0.06" in chunks["Description"] and "400 m²" in chunks["Description"]
    img = mpimg.imread(io.BytesIO(png), format="png")
    foot = img[int(img.shape[0] * 0.9) :]  # the warning line, drawn in #b00020 at the foot
    red = (foot[..., 0] > 0.6) & (foot[..., 1] < 0.1) & (foot[..., 2] < 0.2)
    assert red.sum() > 100


def test_patches_join_at_corners(tmp_path: Path) -> None:
    before = np.full((5, 5), 0.8, dtype=np.float32)
    after = before.copy()
    for k in range(4):  # a diagonal chain of 4 cells touching only at corners
        after[k, k] = 0.6
    paths = write(tmp_path / "b.tif", before), write(tmp_path / "a.tif", after)
    det = detect_disturbances(stands_of(all=box(0, 0, 5, 5)), *paths)
    # 8-connected: one patch of 4 cells = 400 m² ≥ 400 → kept (4-connected it would be four
    # single cells of 100 m², all dropped)
    assert list(det.patches["cells"]) == [4]
    assert det.stands["disturbed_ha"].iloc[0] == pytest.approx(400 / 10_000)
    assert det.stands["boundary_share"].iloc[0] == pytest.approx(1.0)  # no cell is interior
    assert bool(det.stands["flagged"].iloc[0])  # 400 m² ≥ 400 m² (up to round-off)


def test_progress_reaches_its_total(tiny: tuple[Path, Path]) -> None:
    calls: list[tuple[int, int]] = []
    stands = stands_of(half=box(0, 0, 2.5, 4), single=box(5, 5, 6, 6))
    detect_disturbances(stands, *tiny, progress=lambda done, total: calls.append((done, total)))
    # before and after over both stands (2 + 2), then kept and edge cells over the one stand
    # whose bounds meet the kept patch (1 + 1): 6 stand measurements in all
    assert calls[-1] == (6, 6)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
