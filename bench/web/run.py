"""Benchmark: the public web pages, the map's tiles and the OGC API at 50 concurrent clients on
the 50,000-stand SpatiaLite county, beside a static file served by the same server (the anchor).

The county is the demo's (``tanhui demo``: 50,000 synthetic stands, three projects walked to
issuance, a retirement certificate, the map's tiles), built once into ``bench/results/
web-county`` and reused while its schema is current. One ``tanhui serve`` (SpatiaLite: one
worker) answers 50 client threads (httpx, keep-alive, a closed loop: each sends its next request
when the last is answered) for ``--seconds`` per row:

  static file      /static/css/site.css — the anchor: the same server, no database, no template
  library page     /library
  project page     /projects/<the largest project>          (issue #16 helper A; "not built" if absent)
  certificate page /certificates/<the demo's certificate>   (helper A; "not built" if absent)
  tile             /tiles/{z}/{x}/{y}.pbf, cycling through the county's z12–z14 tiles (MBTiles)
  PMTiles range    /tiles/registry.pmtiles with a Range header, cycling through z12–z14 tiles'
                   byte ranges (what the map page asks)
  OGC items        /ogc/collections/stands/items?limit=100&offset=… (helper C; "not built" if absent)

Prints requests/s, p50 and p99 latency, their ratios to the anchor, the server's peak memory and
the wall time. Target (issue #16): p99 < 100 ms. Not a test: nothing here asserts timings.

    .venv/bin/python bench/web/run.py [--seconds 10] [--clients 50] [--county DIR] [--stands 50000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import TANHUI, Result, run_clients, serve  # noqa: E402
from bench.web.wrk import WRK, measure_wrk  # noqa: E402

COUNTY = ROOT / "bench" / "results" / "web-county"


def county(folder: Path, stands: int) -> Path:
    """The demo's county in ``folder`` (built unless there with the current schema)."""
    from registry.db import current_revision, make_engine, schema_head

    db = folder / "tanhui.sqlite"
    if db.exists():
        engine = make_engine(f"sqlite:///{db}")
        current = current_revision(engine) == schema_head()
        engine.dispose()
        if current:
            print(f"county: reusing {db}")
            return db
        print(f"county: {db} has an older schema; building it again")
        subprocess.run(["rm", "-rf", str(folder)], check=True)
    print(f"county: tanhui demo --stands {stands} → {folder} (a few minutes, once)")
    t0 = time.perf_counter()
    done = subprocess.run([TANHUI, "demo", "--workdir", str(folder), "--stands", str(stands)],
                          env={**os.environ, "TANHUI_DATABASE_URL": ""}, capture_output=True,
                          text=True)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"tanhui demo failed:\n{done.stderr[-3000:]}")
    print(f"county: built in {time.perf_counter() - t0:.0f} s")
    return db


def targets(db: Path, tiles: Path) -> dict[str, list[str]]:
    """The URLs (with headers encoded after a '|') each row cycles through."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        project = c.execute("SELECT code FROM project ORDER BY n_stands DESC LIMIT 1").fetchone()[0]
        certificate = c.execute(
            "SELECT certificate_id FROM retirement ORDER BY id LIMIT 1"
        ).fetchone()
        n_stands = c.execute("SELECT COUNT(*) FROM stand WHERE is_current").fetchone()[0]
    with sqlite3.connect(f"file:{tiles / 'registry.mbtiles'}?mode=ro", uri=True) as c:
        xyz = [(z, x, (1 << z) - 1 - row) for z, x, row in c.execute(
            "SELECT zoom_level, tile_column, tile_row FROM tiles WHERE zoom_level >= 12")]  # fmt: skip
    random.Random(16).shuffle(xyz)
    ranges = _pmtiles_ranges(tiles / "registry.pmtiles", xyz[:500])
    offsets = random.Random(17).sample(range(0, max(1, n_stands - 100)), 200)
    return {
        "static file": ["/static/css/site.css"],
        "library page": ["/library"],
        "project page": [f"/projects/{project}"],
        "certificate page": [f"/certificates/{certificate[0]}"] if certificate else [],
        "tile": [f"/tiles/{z}/{x}/{y}.pbf" for z, x, y in xyz],  # printed as the first
        "PMTiles range": [f"/tiles/registry.pmtiles|bytes={a}-{b}" for a, b in ranges],
        "OGC items": [f"/ogc/collections/stands/items?limit=100&offset={o}" for o in offsets],
    }


def _pmtiles_ranges(path: Path, xyz: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The byte ranges of these tiles in the PMTiles file (the reader of the pmtiles package)."""
    from pmtiles.reader import MmapSource, Reader

    out = []
    with open(path, "rb") as f:
        reader = Reader(MmapSource(f))
        header = reader.header()
        for z, x, y in xyz:
            found = _find(reader, header, z, x, y)
            if found:
                out.append(found)
    return out


def _find(reader: Any, header: dict[str, int], z: int, x: int, y: int) -> tuple[int, int] | None:
    """Where tile z/x/y lies in the file (as ``Reader.get`` walks the directories)."""
    from pmtiles.tile import deserialize_directory, find_tile, zxy_to_tileid

    tile_id = zxy_to_tileid(z, x, y)
    offset, length = header["root_offset"], header["root_length"]
    get = reader.get_bytes
    for _ in range(4):
        directory = deserialize_directory(get(offset, length))
        entry = find_tile(directory, tile_id)
        if entry is None:
            return None
        if entry.run_length > 0:
            start = header["tile_data_offset"] + entry.offset
            return start, start + entry.length - 1
        offset, length = header["leaf_directory_offset"] + entry.offset, entry.length
    return None


def measure(base: str, urls: list[str], clients: int, seconds: float) -> Result:
    def make(n: int) -> Callable[[int], bool]:
        http = httpx.Client(base_url=base, timeout=120, headers={"Accept-Encoding": "gzip"})
        order = random.Random(n).sample(urls, len(urls))

        def operation(i: int) -> bool:
            path, _, rng = order[i % len(order)].partition("|")
            r = http.get(path, headers={"Range": rng} if rng else None)
            if r.status_code >= 500:
                raise RuntimeError(f"{path}: server error {r.status_code}: {r.text[:300]}")
            return r.status_code in (200, 204, 206)

        return operation

    return run_clients(clients, seconds, make)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--county", type=Path, default=COUNTY)
    parser.add_argument("--stands", type=int, default=50_000)
    parser.add_argument(
        "--load",
        choices=("httpx", "wrk"),
        default="httpx",
        help="the load generator: Python client threads (httpx) or wrk (C)",
    )
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes (an experiment: tanhui serve gives SpatiaLite 1)")  # fmt: skip
    args = parser.parse_args()
    if args.load == "wrk" and WRK is None:
        raise SystemExit("wrk is not installed (make bench installs Debian's wrk)")
    started = time.perf_counter()
    db = county(args.county, args.stands)
    tiles = args.county / "tiles"
    subprocess.run([TANHUI, "tiles", "build", "--tiles-dir", str(tiles)], check=True,
                   env={**os.environ, "TANHUI_DATABASE_URL": f"sqlite:///{db}"})  # fmt: skip
    rows: list[tuple[str, Result | None, str]] = []
    env = {"TANHUI_DATABASE_URL": f"sqlite:///{db}", "TANHUI_TILES_DIR": str(tiles)}
    with serve(env, args.workers) as server:
        for name, urls in targets(db, tiles).items():
            path = urls[0].partition("|")[0] if urls else None
            probe = httpx.get(server.base + path, timeout=120) if path else None
            if probe is None or probe.status_code == 404:
                rows.append((name, None, path or "-"))
                continue
            run = measure if args.load == "httpx" else measure_wrk
            run(server.base, urls, args.clients, min(2.0, args.seconds))  # warm up
            rows.append((name, run(server.base, urls, args.clients, args.seconds), path))
        peak = server.peak_rss_mb()
    anchor = rows[0][1]
    assert anchor is not None
    how = ("one `tanhui serve` (SpatiaLite, 1 worker)" if args.workers == 1
           else f"uvicorn with {args.workers} workers (experiment; SpatiaLite)")  # fmt: skip
    print(f"\nweb: {args.clients} concurrent clients ({args.load}) × {args.seconds:.0f} s a row, {how} on the "
          f"{args.stands:,}-stand county")  # fmt: skip
    print(f"{'row':<17} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'req/s ÷':>8} {'p99 ×':>7}  path")
    print(f"{'':<17} {'':>8} {'':>8} {'':>8} {'anchor':>8} {'anchor':>7}")
    for name, r, path in rows:
        if r is None:
            print(f"{name:<17} {'not built':>8}{'':>34}  {path} (TODO: answers 404 on this branch)")
            continue
        met = "" if r.p99_ms < 100 else "  > 100 ms"
        print(f"{name:<17} {r.ops_per_s:>8.0f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} "
              f"{r.ops_per_s / anchor.ops_per_s:>8.2f} {r.p99_ms / anchor.p99_ms:>7.1f}  {path}{met}")  # fmt: skip
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"server peak memory {peak:,.0f} MB; clients {own:,.0f} MB; wall time "
          f"{time.perf_counter() - started:,.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
