"""Opening the databases: SpatiaLite through Debian's sqlite3, and its shared-library trap."""

from __future__ import annotations

import subprocess
import sys

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
