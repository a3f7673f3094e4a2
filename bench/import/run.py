"""Benchmark: import the default sample inventory with full validation, vs ogr2ogr.

For SpatiaLite and for PostGIS, in the same run and on the same files — the 50 000-stand GBK
Shapefile that `tanhui sample-data` writes, and the same inventory as a coded 林地一张图 FileGDB
(`tanhui sample-data --yizhangtu`):
  anchor  ogr2ogr (system GDAL) loading the file into the same engine, reprojected to
          EPSG:4490 and promoted to multipolygons — it validates and decodes nothing;
  tanhui  `tanhui import-inventory` in a fresh process: read, detect encoding, decode codes,
          check every record (geometry validity, overlaps, areas, vocabularies, ranges, units),
          store, audit.
Prints wall time, peak memory (max RSS of the child process) and the ratio tanhui / ogr2ogr.
Target (issues #3, #11): ratio ≤ 2, peak memory < 2 GB. Not a test: nothing here asserts timings.

    .venv/bin/python bench/import/run.py [--stands 50000] [--repeat 3] [--engines spatialite,postgis]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import TANHUI, with_user  # noqa: E402
from gis_data.sample import write_sample_inventory  # noqa: E402
from registry.db import make_engine, migrate  # noqa: E402
from tests.pg_cluster import PostgisCluster  # noqa: E402


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in MB) of that child."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return seconds, usage.ru_maxrss / 1024


def ogr2ogr_args(path: Path) -> list[str]:
    encoding = ["--config", "SHAPE_ENCODING", "GBK"] if path.suffix == ".shp" else []
    return [
        *encoding, "-t_srs", "EPSG:4490", "-nlt", "PROMOTE_TO_MULTI",
        "-lco", "GEOMETRY_NAME=geom", "-nln", "anchor", str(path),
    ]  # fmt: skip


def bench_spatialite(work: Path, path: Path, repeat: int) -> tuple[float, float, float, float]:
    anchor, ours, anchor_mem, ours_mem = [], [], 0.0, 0.0
    for i in range(repeat):
        out = work / f"anchor-{path.stem}-{i}.sqlite"
        s, m = timed(
            ["ogr2ogr", "-f", "SQLite", "-dsco", "SPATIALITE=YES", str(out), *ogr2ogr_args(path)]
        )
        anchor.append(s)
        anchor_mem = max(anchor_mem, m)
        db = work / f"tanhui-{path.stem}-{i}.sqlite"
        env = with_user(f"sqlite:///{db}", "双牌县林业局（基准）")
        s, m = timed([TANHUI, "import-inventory", str(path), "--report-dir", str(work / "r")], env)
        ours.append(s)
        ours_mem = max(ours_mem, m)
    return min(anchor), min(ours), anchor_mem, ours_mem


def bench_postgis(
    work: Path, cluster: PostgisCluster, path: Path, repeat: int, tag: str
) -> tuple[float, float, float, float]:
    import psycopg

    anchor, ours, anchor_mem, ours_mem = [], [], 0.0, 0.0
    for i in range(repeat):
        name = f"anchor_{tag}_{i}"
        cluster.create_database(name)
        with psycopg.connect(cluster.libpq(name), autocommit=True) as c:
            c.execute("CREATE EXTENSION postgis")
        s, m = timed(["ogr2ogr", "-f", "PostgreSQL", f"PG:{cluster.libpq(name)}",
                      "--config", "PG_USE_COPY", "YES", *ogr2ogr_args(path)])  # fmt: skip
        anchor.append(s)
        anchor_mem = max(anchor_mem, m)
        url = cluster.create_database(f"tanhui_{tag}_{i}", template="template_tanhui")
        env = with_user(url, "双牌县林业局（基准）")
        s, m = timed([TANHUI, "import-inventory", str(path), "--report-dir", str(work / "r")], env)
        ours.append(s)
        ours_mem = max(ours_mem, m)
    return min(anchor), min(ours), anchor_mem, ours_mem


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stands", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="spatialite,postgis")
    args = parser.parse_args()
    engines = args.engines.split(",")
    work = Path(tempfile.mkdtemp(prefix="tanhui-bench-"))
    paths = write_sample_inventory(work / "sample", args.stands, yizhangtu=True)
    files = {"GBK Shapefile": paths["shapefile"], "coded FileGDB": paths["filegdb"]}
    rows: list[tuple[str, str, float, float, float, float]] = []
    if "spatialite" in engines:
        for label, path in files.items():
            rows.append(("SpatiaLite", label, *bench_spatialite(work, path, args.repeat)))
    if "postgis" in engines:
        cluster = PostgisCluster().start()
        try:
            cluster.create_database("template_tanhui")
            template = make_engine(cluster.url("template_tanhui"))
            migrate(template)
            template.dispose()
            for n, (label, path) in enumerate(files.items()):
                result = bench_postgis(work, cluster, path, args.repeat, f"f{n}")
                rows.append(("PostGIS", label, *result))
        finally:
            cluster.stop()

    print(f"\nimport of {args.stands:,} stands, best of {args.repeat}, 2 cores")
    print(
        f"{'engine':<11} {'file':<14} {'ogr2ogr s':>10} {'tanhui s':>9} {'ratio':>6} "
        f"{'ogr2ogr MB':>11} {'tanhui MB':>10}"
    )
    for engine, label, a, o, am, om in rows:
        print(
            f"{engine:<11} {label:<14} {a:>10.2f} {o:>9.2f} {o / a:>6.2f} {am:>11.0f} {om:>10.0f}"
        )
    print("target: ratio <= 2.0, tanhui peak memory < 2048 MB")


if __name__ == "__main__":
    main()
