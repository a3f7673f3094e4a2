"""Benchmark: a synthetic province (``gis_data.province``) in PostGIS — load, overlap check,
township selection, a county polygon selection, and two ways of laying the table out by county.

Everything in one run, on one throw-away PostGIS cluster (tests/pg_cluster.py), same file:
  anchor   ``ogr2ogr -f PostgreSQL`` of the GeoPackage into a plain table (reprojected to
           EPSG:4490, promoted to multipolygons; validates and decodes nothing);
  load     ``tanhui import-inventory`` of the same file (read, check every record, store, audit);
  select   ``select_stands('township=…')`` — one township of one county;
  overlap  ``add_stands`` of that township to project A, then ``conflicts`` of the same stands
           for project B (every one is A's: the check finds them all through the GIST index);
  within   ``stands_within`` of one county's outline (the union of its stands, buffered −1 m);
  layouts  the current stands copied (not timed as a load) into (a) a table partitioned by LIST
           (county_code), one partition per county, GIST per partition, and (b) a plain table
           clustered by county_code with a BRIN index on it and one GIST; the county-outline query
           timed on each, with and without ``county_code = …`` (partition pruning / BRIN).
Each step in its own process: wall time and peak memory (max RSS of that process); EXPLAIN of
the spatial statements the real functions sent, as the planner chose them on the full table
(no planner setting changed). Not a test: nothing here asserts timings.

    .venv/bin/python bench/province/run.py [--counties 20] [--stands-per-county 50000]

Measured at full size (20 counties × 50,000 = 1,000,000 stands, 536 MB GeoPackage), once, on
2 cores shared with three other workers' test runs, 24 GiB; ``bench/province/run.py`` with its
defaults, 2026-11-30 (commit after "a child's peak memory is its own VmHWM"):

    anchor  ogr2ogr -f PostgreSQL            21.3 s       52 MB
    load    tanhui import-inventory          92.3 s     5879 MB  ratio 4.33 × ogr2ogr
    select  township (2,199 stands)           0.18 s in process (ix_stand_township)
    overlap add_stands 2,199 stands 0.80 s; conflicts of 2,199 stands 0.48 s (2,199 found;
            Index Scan uq_stand_current_key → Index Scan idx_stand_geom per stand)
    within  stands_within of a county outline 0.72 s in process (50,000 stands; Bitmap Index
            Scan on idx_stand_geom); step processes 340–359 MB peak
    county outline, best of 3       plain stand 418 ms   + county_code 377 ms
                                    LIST-partitioned 1156 ms   + county_code (pruned) 279 ms
                                    clustered + BRIN  379 ms   + county_code (BRIN ∧ GIST) 210 ms
    layouts built from the loaded stands: partitioned 6.7 s, clustered + BRIN 4.1 s

Two earlier full runs (before the overlap check's LATERAL rewrite) found the overlap check's
plain join planned as a Parallel Seq Scan on stand (check 2.24 s); the load took 135 s and 79 s
(shared machine: ±30 %). The peak memory of the load (5.9 GB for 1,000,000 stands in one file)
is the import's in-memory check of the whole file: load a province county by county.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TANHUI = str(Path(sys.executable).parent / "tanhui")
TOLERANCE_M2 = 1.0


def _hwm_mb(pid: int) -> float:
    """The process's resident-memory high-water mark (VmHWM, MB), 0 once it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command to its end; (seconds, peak RSS MB of the child, its stdout).

    The peak is the child's own VmHWM, read every 0.1 s while it runs (``ru_maxrss`` from
    wait4 would also count this parent's memory, which a forked child inherits as its
    high-water mark across exec)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _hwm_mb(proc.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read()[-3000:]}")
        return seconds, peak, out.read()


# -- the steps, each run in a child process ------------------------------------------------


def _staff() -> Any:
    from registry.projects import Actor
    from registry.vocabulary import Role

    return Actor.of("基准", Role.BUREAU_STAFF, "省林业局（基准）", "bureau")


def step(name: str, url: str, arg: str) -> dict[str, Any]:
    """One timed operation on the registry (in this child process); its result as JSON."""
    from datetime import date

    from registry.carbon_model import select_stands, stands_within
    from registry.db import make_engine, session_scope
    from registry.projects import add_stands, create_project
    from registry.projects.core import lock_project
    from registry.projects.membership import conflicts
    from tests.pg_plans import explain, recorded

    engine = make_engine(url)
    out: dict[str, Any] = {}
    with session_scope(engine) as session:
        t0 = time.perf_counter()
        if name == "select":
            with recorded(session) as sent:
                frame = select_stands(session, f"township={arg}")
            out["stands"] = len(frame)
            plans = [_explain_plain(session, s) for s in sent[:1]]
        elif name == "overlap":
            for code in ("A", "B"):
                create_project(session, _staff(), code=code, name=f"基准项目 {code}",
                               methodology="AR-CM-003-V01", developer="省林业局（基准）",
                               start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip
            added = add_stands(session, _staff(), "A", f"township={arg}", TOLERANCE_M2)
            t_add = time.perf_counter() - t0
            t1 = time.perf_counter()
            with recorded(session) as sent:
                found = conflicts(session, lock_project(session, "B"), added, TOLERANCE_M2)
            out.update(added=len(added), conflicts=len(found), add_s=t_add,
                       check_s=time.perf_counter() - t1)  # fmt: skip
            plans = explain(session, list(sent))
        elif name == "within":
            with recorded(session) as sent:
                keys = stands_within(session, Path(arg))
            out["stands"] = len(keys)
            plans = explain(session, list(sent))
        else:
            raise SystemExit(f"unknown step {name}")
        out["seconds_in_process"] = time.perf_counter() - t0
        out["plans"] = plans
        if name != "overlap":
            session.rollback()
    engine.dispose()
    return out


def _explain_plain(session: Any, statement: tuple[str, Any]) -> str:
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cur:
        cur.execute("EXPLAIN " + statement[0], statement[1])
        return "\n".join(str(r[0]) for r in cur.fetchall())


# -- the layouts (plain SQL on the loaded registry) -----------------------------------------

LAYOUT_COLUMNS = "id, stand_key, version, is_current, county_code, township, area_ha, geom"


def build_layouts(libpq: str, counties: list[str]) -> dict[str, float]:
    """(a) LIST-partitioned by county, (b) county-clustered with BRIN: seconds to build each."""
    import psycopg

    built: dict[str, float] = {}
    with psycopg.connect(libpq, autocommit=True) as c:
        t0 = time.perf_counter()
        c.execute(
            "CREATE TABLE stand_by_county (id integer NOT NULL, stand_key text NOT NULL, "
            "version integer NOT NULL, is_current boolean NOT NULL, county_code text NOT NULL, "
            "township text, area_ha double precision NOT NULL, geom geometry(MultiPolygon, 4490) "
            "NOT NULL, PRIMARY KEY (county_code, id)) PARTITION BY LIST (county_code)"
        )
        for code in counties:
            c.execute(f"CREATE TABLE stand_c{code} PARTITION OF stand_by_county FOR VALUES IN ('{code}')")  # fmt: skip
        c.execute(
            f"INSERT INTO stand_by_county SELECT {LAYOUT_COLUMNS} FROM stand WHERE is_current"
        )
        c.execute("CREATE INDEX ON stand_by_county USING gist (geom)")  # one per partition
        c.execute(
            "CREATE UNIQUE INDEX ON stand_by_county (county_code, stand_key) WHERE is_current"
        )
        c.execute("ANALYZE stand_by_county")
        built["partitioned"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        c.execute(
            f"CREATE TABLE stand_clustered AS SELECT {LAYOUT_COLUMNS} FROM stand WHERE is_current "
            "ORDER BY county_code, stand_key"
        )
        c.execute("CREATE INDEX stand_clustered_county ON stand_clustered USING brin (county_code)")
        c.execute("CREATE INDEX stand_clustered_geom ON stand_clustered USING gist (geom)")
        c.execute("ANALYZE stand_clustered")
        built["clustered_brin"] = time.perf_counter() - t0
    return built


def time_layout_queries(
    libpq: str, outline_wkb: bytes, code: str
) -> list[tuple[str, float, int, str]]:
    """The county-outline query on each table, with and without the county predicate: (label,
    best of 3 s, stands found, the plan's first lines)."""
    import psycopg

    rows = []
    with psycopg.connect(libpq, autocommit=True) as c:
        for table in ("stand", "stand_by_county", "stand_clustered"):
            for with_county in (False, True):
                where = " AND s.county_code = %(c)s" if with_county else ""
                sql = (
                    f"SELECT s.stand_key FROM {table} s, (SELECT ST_GeomFromWKB(%(g)s, 4490) AS g) a "
                    f"WHERE s.is_current AND ST_Intersects(s.geom, a.g) "
                    f"AND ST_Contains(a.g, ST_PointOnSurface(s.geom)){where}"
                )
                params = {"g": outline_wkb, "c": code}
                best, found = float("inf"), 0
                for _ in range(3):
                    t0 = time.perf_counter()
                    found = len(c.execute(sql, params).fetchall())
                    best = min(best, time.perf_counter() - t0)
                plan = "\n".join(str(r[0]) for r in c.execute("EXPLAIN " + sql, params).fetchall())
                label = f"{table}{' + county_code' if with_county else ''}"
                rows.append((label, best, found, plan))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counties", type=int, default=20)
    parser.add_argument("--stands-per-county", type=int, default=50_000)
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--arg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, args.url, args.arg), ensure_ascii=False))
        return

    import geopandas as gpd
    import psycopg
    import shapely

    from bench.common import with_user
    from gis_data.province import county_code, generate_county, write_province_inventory
    from tests.pg_cluster import PostgisCluster

    n = args.counties * args.stands_per_county
    work = Path(tempfile.mkdtemp(prefix="tanhui-province-"))
    print(
        f"writing {args.counties} counties × {args.stands_per_county:,} = {n:,} stands …",
        flush=True,
    )
    t0 = time.perf_counter()
    path = write_province_inventory(work / "province.gpkg", args.counties, args.stands_per_county)
    print(f"  written in {time.perf_counter() - t0:.0f} s ({path.stat().st_size / 2**20:.0f} MB)")
    # the outline of county 2 (index 1): its stands' union, 1 m inside its edge (not timed)
    outline = shapely.buffer(generate_county(1, args.stands_per_county).geometry.union_all(), -1.0)
    outline_path = work / "county_outline.gpkg"
    gpd.GeoDataFrame({"name": [county_code(1)]}, geometry=[outline], crs="EPSG:4525").to_file(
        outline_path, driver="GPKG"
    )
    outline_4490 = gpd.GeoSeries([outline], crs="EPSG:4525").to_crs(4490).iloc[0]
    township = f"合成{county_code(1)[3:]}县泷泊镇"

    cluster = PostgisCluster().start()
    report: list[str] = []
    try:
        anchor_db = "anchor"
        cluster.create_database(anchor_db)
        with psycopg.connect(cluster.libpq(anchor_db), autocommit=True) as c:
            c.execute("CREATE EXTENSION postgis")
        a_s, a_mb, _ = run_child(
            ["ogr2ogr", "-f", "PostgreSQL", f"PG:{cluster.libpq(anchor_db)}", "--config",
             "PG_USE_COPY", "YES", "-t_srs", "EPSG:4490", "-nlt", "PROMOTE_TO_MULTI",
             "-lco", "GEOMETRY_NAME=geom", "-nln", "anchor", str(path)]
        )  # fmt: skip
        report.append(f"anchor  ogr2ogr -f PostgreSQL        {a_s:8.1f} s  {a_mb:7.0f} MB")
        print(report[-1], flush=True)

        url = cluster.create_database("registry")
        env = with_user(url, "省林业局（基准）")
        l_s, l_mb, _ = run_child(
            [TANHUI, "import-inventory", str(path), "--report-dir", str(work / "r")], env
        )
        report.append(f"load    tanhui import-inventory  {l_s:8.1f} s  {l_mb:7.0f} MB  "
                      f"ratio {l_s / a_s:.2f} × ogr2ogr")  # fmt: skip
        print(report[-1], flush=True)
        with psycopg.connect(cluster.libpq("registry"), autocommit=True) as c:
            c.execute("ANALYZE")

        plans: list[str] = []
        me = [sys.executable, str(Path(__file__).resolve())]
        for name, arg in (("select", township), ("overlap", township),
                          ("within", str(outline_path))):  # fmt: skip
            s, mb, out = run_child([*me, "--step", name, "--url", url, "--arg", arg])
            result = json.loads(out.strip().splitlines()[-1])
            plans += [f"-- {name}\n{p}" for p in result.pop("plans")]
            detail = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in result.items())  # fmt: skip
            report.append(f"{name:<7} (process {s:6.1f} s, {mb:5.0f} MB) {detail}")
            print(report[-1], flush=True)

        counties = [county_code(i) for i in range(args.counties)]
        built = build_layouts(cluster.libpq("registry"), counties)
        report.append("layouts built: " + ", ".join(f"{k} {v:.1f} s" for k, v in built.items()))
        print(report[-1], flush=True)
        for label, best, found, plan in time_layout_queries(
            cluster.libpq("registry"), shapely.to_wkb(outline_4490), county_code(1)
        ):
            report.append(f"county outline on {label:<28} {best * 1000:8.0f} ms  {found:,} stands")
            print(report[-1], flush=True)
            plans.append(f"-- outline on {label}\n{plan}")
    finally:
        cluster.stop()

    print(f"\nprovince of {n:,} stands ({args.counties} counties), 2 cores")
    print("\n".join(report))
    print("\nplans (EXPLAIN, planner's own choice):")
    for plan in plans:
        print("\n".join(line[:200] for line in plan.splitlines()[:14]))


if __name__ == "__main__":
    main()
