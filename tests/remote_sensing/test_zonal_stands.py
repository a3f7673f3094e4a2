"""zonal_for_stands on both engines: a constant raster (0.7) laid over one stand of L1 gives
that stand mean 0.7 and valid share 1 (every covered cell is 0.7: the exact-area weighted mean
of a constant is the constant); frac_above 0.5 is 1 there; stands the raster does not reach
have valid share 0; an unknown statistic and frac_above without a threshold are refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from sqlalchemy import Engine

from registry.db import session_scope
from registry.errors import Invalid
from registry.remote_sensing.zonal import zonal_for_stands
from tests.documents.doc_fixtures import issued_project
from tests.registry.project_fixtures import STAFF
from tests.remote_sensing.rs_fixtures import stands_4525


@pytest.fixture
def issued(scenario: Callable[..., Engine]) -> Engine:
    return issued_project(scenario)


def test_a_constant_raster_over_one_stand(issued: Engine, tmp_path: Path) -> None:
    stands = stands_4525(issued)
    target = stands[stands["project"] == "L1"].iloc[0]
    minx, miny, maxx, maxy = target.geometry.buffer(50.0).bounds
    width, height = int((maxx - minx) // 10) + 1, int((maxy - miny) // 10) + 1
    path = tmp_path / "const.tif"
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs="EPSG:4525", transform=from_origin(minx, maxy, 10, 10),
                       nodata=-9999.0) as ds:  # fmt: skip
        ds.write(np.full((height, width), 0.7, dtype="float32"), 1)
    with session_scope(issued) as s:
        table = zonal_for_stands(s, STAFF, str(path), ["mean", "p50", "frac_above", "valid_share"],
                                 0.5, "L1")  # fmt: skip
    row = table.set_index("stand_key").loc[target.stand_key]
    assert row["mean"] == pytest.approx(0.7, abs=1e-6)  # float32 0.7 = 0.699999988
    assert row["p50"] == pytest.approx(0.7, abs=1e-6)
    assert row["frac_above"] == pytest.approx(1.0) and row["valid_share"] == pytest.approx(1.0)
    assert (table["project_code"] == "L1").all()
    far = table[
        ~table.stand_key.isin(stands[stands.intersects(target.geometry.buffer(60))].stand_key)
    ]
    assert len(far) > 0 and (far["valid_share"] == 0).all()
    with pytest.raises(Invalid), session_scope(issued) as s:
        zonal_for_stands(s, STAFF, str(path), ["median"], None, "L1")
    with pytest.raises(Invalid), session_scope(issued) as s:
        zonal_for_stands(s, STAFF, str(path), ["frac_above"], None, "L1")


def test_stands_outside_every_project_carry_none_not_nan(issued: Engine, tmp_path: Path) -> None:
    stands = stands_4525(issued)
    minx, miny, maxx, maxy = stands.total_bounds
    width, height = int((maxx - minx) // 100) + 1, int((maxy - miny) // 100) + 1
    path = tmp_path / "coarse.tif"
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1,
                       dtype="float32", crs="EPSG:4525", transform=from_origin(minx, maxy, 100, 100),
                       nodata=-9999.0) as ds:  # fmt: skip
        ds.write(np.full((height, width), 0.5, dtype="float32"), 1)
    with session_scope(issued) as s:
        table = zonal_for_stands(s, STAFF, str(path), ["mean"], None, None)
    codes = dict(zip(table["stand_key"], table["project_code"], strict=True))
    outside = set(stands.loc[stands["project"].isna(), "stand_key"])
    assert outside and all(codes[k] is None for k in outside)  # None, not NaN ("nan" printed)
    assert {codes[k] for k in stands.loc[stands["project"] == "L1", "stand_key"]} == {"L1"}
