"""Every spatial query on ``stand`` goes through the spatial index, and ``stands_within`` (a
polygon selection) answers what reading every geometry answered.

The plans are PostgreSQL's own EXPLAIN of the statements the real functions sent (recorded by a
psycopg cursor subclass on the session's connection, then explained with the same parameters).
The test tables are small, so the planner is told ``enable_seqscan = off``: that does not forbid
a sequential scan — it only makes it cost more — so a statement the GIST index cannot serve
still shows ``Seq Scan on stand`` and fails. The planner's own choice on a large table (no
settings changed) is in bench/province.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from registry.carbon_model import select_stands, stands_within
from registry.db import session_scope
from registry.projects import add_stands, create_project
from registry.projects.membership import conflicts
from registry.public.stands import public_stands
from registry.stands import ImportOptions, import_inventory
from tests.inventory_files import sample_frame, write_gpkg
from tests.pg_plans import explain, recorded
from tests.registry.project_fixtures import STAFF, TOLERANCE_M2

SIDE = 100.0  # m: each grid stand is a 100 m × 100 m square (1 ha)
COLS, ROWS = 4, 3


def _grid_frame() -> tuple[gpd.GeoDataFrame, float, float, dict[tuple[int, int], str]]:
    """20 stands of the sample with their geometry replaced: 12 squares in a 4 × 3 grid (column
    c, row r: x0 + 100c … x0 + 100(c+1), y0 + 100r …), the other 8 squares 10 km east."""
    frame = sample_frame(20, 7)
    x0, y0 = (round(v, -3) for v in frame.total_bounds[:2])
    squares, where = [], {}
    for i in range(len(frame)):
        c, r = (i % COLS, i // COLS) if i < COLS * ROWS else (i, 0)
        dx = 0.0 if i < COLS * ROWS else 10_000.0
        x, y = x0 + dx + c * SIDE, y0 + r * SIDE
        squares.append(shapely.MultiPolygon([shapely.box(x, y, x + SIDE, y + SIDE)]))
        if i < COLS * ROWS:
            where[(c, r)] = f"431123-{frame.LIN_BAN.iloc[i]}-{frame.XIAO_BAN.iloc[i]}"
    frame = frame.set_geometry(squares)
    frame["MIAN_JI"] = 1.0
    return frame, x0, y0, where


def _write_area(path: Path, polygon: shapely.Geometry, crs: Any) -> Path:
    gpd.GeoDataFrame({"name": ["片区"]}, geometry=[polygon], crs=crs).to_file(path, driver="GPKG")
    return path


def test_stands_within_an_l_shaped_polygon_counted_by_hand(engine: Engine, tmp_path: Path) -> None:
    frame, x0, y0, where = _grid_frame()
    import_inventory(engine, write_gpkg(frame, tmp_path / "grid.gpkg"), ImportOptions())
    # An L: x −10 … 410 for y −10 … 90 (row 0), and x −10 … 240 for y 90 … 310 (rows 0–2).
    # Interior points are the squares' centres (x0 + 50 + 100c, y0 + 50 + 100r).
    #   row 0 (y 50 < 90): centres x 50, 150, 250, 350 < 410  → columns 0, 1, 2, 3 inside
    #   rows 1, 2 (y 150, 250 in 90 … 310): x 50, 150 < 240 → columns 0, 1 inside;
    #     column 2 (x 250 > 240) meets the L (x 200 … 240) but its centre is outside;
    #     column 3 does not meet it. The 8 stands 10 km east are far outside.
    #   inside: 4 + 2 + 2 = 8 stands.
    ell = shapely.Polygon([(x0 - 10, y0 - 10), (x0 + 410, y0 - 10), (x0 + 410, y0 + 90),
                           (x0 + 240, y0 + 90), (x0 + 240, y0 + 310), (x0 - 10, y0 + 310)])  # fmt: skip
    expected = {where[(c, 0)] for c in range(4)} | {where[(c, r)] for c in (0, 1) for r in (1, 2)}
    assert len(expected) == 8
    with session_scope(engine) as session:
        found = stands_within(session, _write_area(tmp_path / "ell.gpkg", ell, frame.crs))
    assert found == sorted(expected)
    # an area that touches no stand's interior point selects none (and reads no geometry)
    corner = shapely.box(x0 - 50, y0 - 50, x0 + 20, y0 + 20)
    with session_scope(engine) as session:
        assert stands_within(session, _write_area(tmp_path / "c.gpkg", corner, frame.crs)) == []


def _every_geometry_read(session: Session, area: shapely.Geometry) -> list[str]:
    """The former ``stands_within``: every current geometry read, the test done by shapely."""
    rows = session.execute(
        text("SELECT stand_key, ST_AsBinary(geom) FROM stand WHERE is_current = :t"), {"t": True}
    ).all()
    geoms = shapely.from_wkb([bytes(g) for _, g in rows])
    inside = shapely.contains(area, shapely.point_on_surface(geoms))
    return sorted(str(k) for (k, _), hit in zip(rows, inside, strict=True) if hit)


def test_stands_within_answers_what_reading_every_geometry_answered(
    engine: Engine, tmp_path: Path
) -> None:
    from gis_data.read import read_area_of_interest

    frame = sample_frame(400, 21)
    import_inventory(engine, write_gpkg(frame, tmp_path / "s.gpkg"), ImportOptions())
    # irregular areas: a buffered group of stands (edges cutting through many stands), a hole
    blob = frame.geometry.iloc[40:120].union_all().buffer(150)
    holed = blob.difference(frame.geometry.iloc[60:70].union_all().buffer(30))
    for name, polygon in (("blob", blob), ("holed", holed)):
        path = _write_area(tmp_path / f"{name}.gpkg", polygon, frame.crs)
        with session_scope(engine) as session:
            new = stands_within(session, path)
            old = _every_geometry_read(session, read_area_of_interest(path))
        assert new == old and 30 < len(new) < 400, (name, len(new))


@pytest.mark.parametrize("db_url", ["postgis"], indirect=True)
def test_every_spatial_query_on_stand_uses_the_gist_index(engine: Engine, tmp_path: Path) -> None:
    frame = sample_frame(400, 21)
    import_inventory(engine, write_gpkg(frame, tmp_path / "s.gpkg"), ImportOptions())
    area = _write_area(tmp_path / "a.gpkg", frame.geometry.iloc[:30].union_all(), frame.crs)
    lon0, lat0, lon1, lat1 = frame.to_crs(4490).geometry.iloc[:10].total_bounds
    with session_scope(engine) as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        create_project(session, STAFF, code="A", name="项目 A", methodology="AR-CM-003-V01",
                       developer="双牌县林业局", start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip
        create_project(session, STAFF, code="B", name="项目 B", methodology="AR-CM-003-V01",
                       developer="双牌县林业局", start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip
        add_stands(session, STAFF, "A", "species_group=chinese_fir", TOLERANCE_M2)
        from registry.projects.core import lock_project

        project_b = lock_project(session, "B")
        keys = sorted(stands_within(session, area))
        with recorded(session) as statements:
            stands_within(session, area)
            conflicts(session, project_b, keys, TOLERANCE_M2)
            public_stands(session, limit=50, offset=0, bbox=(lon0, lat0, lon1, lat1))
        plans = explain(session, list(statements))
        township = str(frame["XIANG"].iloc[0])
        with recorded(session) as statements:
            select_stands(session, f"township={township}")
        plans += explain(session, list(statements), spatial_only=False)
    # three spatial statements: the polygon selection, the overlap check, the bbox page
    assert len(plans) >= 4, plans
    for plan in plans[:-1]:
        assert "Seq Scan on stand" not in plan, plan
        assert "stand_geom" in plan, plan  # the GIST index (idx_stand_geom) is in the plan
    # and a township selection (no geometry) through ix_stand_township (migration 0022)
    assert "Seq Scan on stand" not in plans[-1] and "ix_stand_township" in plans[-1], plans[-1]
