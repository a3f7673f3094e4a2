"""Benchmark: our zonal statistics against exactextract on the same raster and stands.

A synthetic county-like raster (default 2 000 × 2 250 cells of 10 m = 4.5 million cells, EPSG:4546,
a smooth NDVI-like field with noise and about 2 % nodata) and irregular stands (a Voronoi
tessellation of random points, clipped to the raster, about 0.9 ha each at the default 50 000)
are written to a temporary GeoTIFF and GeoParquet; then, each in its own fresh process (so that
the peak memory is its own):

  tanhui   gis_data.zonal.zonal_stats (mean, p10/p50/p90, valid share)
  anchor   exactextract ``mean`` with strategy feature-sequential and raster-sequential

and, in one more fresh process, ``gis_data.disturbance.detect_disturbances`` of the same
stands between that raster and an "after" copy (its values plus independent noise of sd 0.01,
its own 2 % nodata, and 200 round patches of radius 40 m dropping 0.35).

Prints the seconds of each call (reading the stands and importing excluded), the peak resident
memory of each process, the ratio tanhui / fastest anchor, and the largest absolute difference
of the means over all stands (both are exact-area weighted, so it should be round-off only).
Not a test: nothing here asserts timings.

    .venv/bin/python bench/zonal/run.py [--stands 50000] [--width 2000] [--height 2250]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CELL = 10.0
X0, TOP = 500_000.0, 2_870_000.0  # EPSG:4546, about Shuangpai (CM 111°E)
NODATA = -9999.0


def make_inputs(folder: Path, stands: int, width: int, height: int, seed: int) -> tuple[Path, Path]:
    import geopandas as gpd
    import rasterio
    import shapely
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    field = 0.55 + 0.2 * np.sin(xx / 173.0) * np.cos(yy / 211.0) + rng.normal(0, 0.05, xx.shape)
    field[rng.random(xx.shape) < 0.02] = NODATA
    raster = folder / "county.tif"
    with rasterio.open(
        raster, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32",
        crs="EPSG:4546", transform=from_origin(X0, TOP, CELL, CELL), nodata=NODATA,
        tiled=True, blockxsize=256, blockysize=256,
    ) as ds:  # fmt: skip
        ds.write(field.astype(np.float32), 1)
    extent = shapely.box(X0, TOP - height * CELL, X0 + width * CELL, TOP)
    pts = shapely.points(
        rng.uniform(X0, X0 + width * CELL, stands), rng.uniform(TOP - height * CELL, TOP, stands)
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=extent))
    cells = shapely.intersection(cells, extent)
    cells = cells[shapely.area(cells) > 0]
    vector = folder / "stands.parquet"
    gpd.GeoDataFrame({"stand": np.arange(len(cells))}, geometry=cells, crs="EPSG:4546").to_parquet(
        vector
    )
    return raster, vector


def make_after(folder: Path, raster: Path, seed: int, patches: int = 200) -> Path:
    """The "after" date of ``raster``: the same grid, independent noise and nodata, and
    ``patches`` discs of radius 40 m whose cells drop by 0.35 (index units)."""
    import rasterio

    rng = np.random.default_rng([seed, 1])
    with rasterio.open(raster) as ds:
        profile = ds.profile
        band = ds.read(1).astype(np.float64)
    band[band == NODATA] = 0.6
    band += rng.normal(0, 0.01, band.shape)
    rows, cols = np.ogrid[0 : band.shape[0], 0 : band.shape[1]]
    centres = rng.integers(0, band.shape, size=(patches, 2))
    for r, c in centres:
        band[(rows - r) ** 2 + (cols - c) ** 2 <= (40.0 / CELL) ** 2] -= 0.35
    band[rng.random(band.shape) < 0.02] = NODATA
    after = folder / "county_after.tif"
    with rasterio.open(after, "w", **profile) as out:
        out.write(band.astype(np.float32), 1)
    return after


def run_detect(raster: str, after: str, vector: str) -> tuple[float, float, int, int]:
    import geopandas as gpd

    from gis_data.disturbance import detect_disturbances

    stands = gpd.read_parquet(vector)
    stands["stand_key"] = stands["stand"].astype(str)
    t0 = time.perf_counter()
    det = detect_disturbances(stands, raster, after)
    seconds = time.perf_counter() - t0
    return seconds, peak_rss_mb(), len(det.patches), int(det.stands["flagged"].sum())


def run_one(which: str, raster: str, vector: str, out: str) -> tuple[float, float]:
    import geopandas as gpd

    stands = gpd.read_parquet(vector)
    if which == "tanhui":
        from gis_data.zonal import ZonalOptions, zonal_stats

        t0 = time.perf_counter()
        res = zonal_stats(stands, raster, ZonalOptions(percentiles=(10, 50, 90)))
        seconds = time.perf_counter() - t0
        means = res["mean"].to_numpy()
    else:
        from exactextract import exact_extract

        t0 = time.perf_counter()
        res = exact_extract(raster, stands, ["mean"], output="pandas", strategy=which)
        seconds = time.perf_counter() - t0
        means = res["mean"].to_numpy()
    np.save(out, means.astype(np.float64))
    return seconds, peak_rss_mb()


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM), MB. Not ru_maxrss: Linux carries the
    parent's peak across fork and exec into it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stands", type=int, default=50_000)
    ap.add_argument("--width", type=int, default=2_000)
    ap.add_argument("--height", type=int, default=2_250)
    ap.add_argument("--seed", type=int, default=19)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        raster, vector = make_inputs(folder, args.stands, args.width, args.height, args.seed)
        print(f"inputs: {args.width}×{args.height} cells of {CELL:g} m, {args.stands} stands "
              f"({time.perf_counter() - t0:.1f} s to make)")  # fmt: skip
        results: dict[str, tuple[float, float, np.ndarray]] = {}
        for which in ("tanhui", "feature-sequential", "raster-sequential"):
            out = str(folder / f"{which}.npy")
            with ctx.Pool(1) as pool:
                seconds, peak = pool.apply(run_one, (which, str(raster), str(vector), out))
            results[which] = (seconds, peak, np.load(out))
            print(f"  {which:20s} {seconds:8.2f} s   peak RSS {peak:8.1f} MB")
        after = make_after(folder, raster, args.seed)
        with ctx.Pool(1) as pool:
            seconds, peak, n_patches, n_flagged = pool.apply(
                run_detect, (str(raster), str(after), str(vector))
            )
        print(f"  {'tanhui detection':20s} {seconds:8.2f} s   peak RSS {peak:8.1f} MB   "
              f"({n_patches} patches kept, {n_flagged} stands flagged)")  # fmt: skip
        ours = results["tanhui"]
        anchor_name = min(("feature-sequential", "raster-sequential"), key=lambda k: results[k][0])
        anchor = results[anchor_name]
        both = np.isfinite(ours[2]) & np.isfinite(anchor[2])
        nan_mismatch = int(np.count_nonzero(np.isfinite(ours[2]) != np.isfinite(anchor[2])))
        diff = (
            float(np.max(np.abs(ours[2][both] - anchor[2][both]))) if both.any() else float("nan")
        )
        print(f"ratio tanhui / exactextract ({anchor_name}): {ours[0] / anchor[0]:.2f}× the time")
        print(f"largest |difference of means|: {diff:.3g} over {int(both.sum())} stands; "
              f"stands with a mean in one and not the other: {nan_mismatch}")  # fmt: skip


if __name__ == "__main__":
    main()
