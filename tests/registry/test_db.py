"""Opening the databases: SpatiaLite through Debian's sqlite3, and its shared-library trap."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from sqlalchemy import Engine, text

# SpatiaLite opened FIRST, then the geo libraries used: the order that used to crash shapely
# (mod_spatialite's system GEOS/PROJ took over symbols of the wheels' own builds).
SPATIALITE_FIRST = """
import sys
from registry.db import make_engine, migrate
engine = make_engine(f"sqlite:///{sys.argv[1]}/a.sqlite")
migrate(engine)
with engine.connect() as conn:
    assert conn.exec_driver_sql("SELECT spatialite_version()").scalar()
import geopandas as gpd
import shapely
from pyproj import Transformer
frame = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs="EPSG:4546")
frame.to_file(f"{sys.argv[1]}/b.gpkg", driver="GPKG")
back = gpd.read_file(f"{sys.argv[1]}/b.gpkg")
assert back.geometry.iloc[0].equals(shapely.box(0, 0, 1, 1))
lon, lat = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True).transform(500000, 2870000)
assert abs(lon - 111.0) < 1e-9, lon
print("OK")
"""


def test_geo_libraries_work_after_spatialite_is_loaded(tmp_path: object) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SPATIALITE_FIRST, str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"


def test_both_engines_are_spatial_and_store_cgcs2000(engine: Engine) -> None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            srid = conn.execute(
                text("SELECT srid FROM geometry_columns WHERE f_table_name = 'stand'")
            ).scalar()
        else:
            srid = conn.execute(text("SELECT Find_SRID('public', 'stand', 'geom')")).scalar()
    assert srid == 4490


def test_a_deadlock_postgresql_breaks_is_a_retryable_conflict(postgis_cluster: Any) -> None:
    """PostgreSQL only (SQLite serialises writers: no row locks, no deadlock). Two transactions
    take two row locks in opposite orders: PostgreSQL aborts one of them (deadlock detected);
    the shells show that as a bilingual "retry", nothing of it written."""
    import threading

    from sqlalchemy import create_engine
    from sqlalchemy.exc import DBAPIError

    from registry.db import database_refusal
    from registry.errors import Category

    engine = create_engine(postgis_cluster.create_database("deadlock_probe"))
    with engine.begin() as c:
        c.execute(text("CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int)"))
        c.execute(text("INSERT INTO deadlock_probe VALUES (1, 0), (2, 0)"))
    both_hold_one = threading.Barrier(2)
    failures: list[BaseException] = []

    def worker(first: int, second: int) -> None:
        try:
            with engine.begin() as c:
                c.execute(
                    text("SELECT n FROM deadlock_probe WHERE id = :i FOR UPDATE"), {"i": first}
                )
                both_hold_one.wait(timeout=10)
                c.execute(
                    text("SELECT n FROM deadlock_probe WHERE id = :i FOR UPDATE"), {"i": second}
                )
                c.execute(text("UPDATE deadlock_probe SET n = n + 1 WHERE id = :i"), {"i": first})
        except DBAPIError as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=a) for a in ((1, 2), (2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(failures) == 1, failures  # PostgreSQL broke the cycle by aborting one
    refusal = database_refusal(failures[0])
    assert refusal is not None and refusal.category == Category.CONFLICT
    assert "请重试" in refusal.message_zh and "retry" in refusal.message_en
    with engine.connect() as c:  # the aborted one wrote nothing; the other wrote its one row
        assert c.execute(text("SELECT sum(n) FROM deadlock_probe")).scalar_one() == 1
    engine.dispose()
    postgis_cluster.drop_database("deadlock_probe")
