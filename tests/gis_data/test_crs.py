"""CRS: never guessed; recognised from the coordinates and explained; old datums transformed."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import CRS, Transformer

from gis_data.crs import gauss_kruger_epsg, recognise_coordinates, resolve_crs
from gis_data.errors import CrsError


def test_gauss_kruger_codes_follow_the_epsg_registry() -> None:
    assert gauss_kruger_epsg("CGCS2000", 37, zone_prefix=True) == 4525
    assert gauss_kruger_epsg("CGCS2000", 37, zone_prefix=False) == 4546
    # and the registry itself agrees (real pyproj database)
    assert "zone 37" in CRS.from_epsg(4525).name
    assert "111E" in CRS.from_epsg(4546).name
    assert "zone 37" in CRS.from_epsg(gauss_kruger_epsg("Xian 1980", 37, True)).name
    assert "zone 37" in CRS.from_epsg(gauss_kruger_epsg("Beijing 1954", 37, True)).name


def test_zone_prefixed_easting_is_recognised_with_the_epsg_to_pass() -> None:
    zh, en = recognise_coordinates((37_540_000.0, 2_850_000.0, 37_600_000.0, 2_900_000.0))
    assert "EPSG:4525" in zh and "EPSG:4525" in en and "zone 37" in en
    assert "EPSG:2361" in en  # Xi'an 1980 zone 37


def test_easting_without_zone_prefix_is_recognised() -> None:
    zh, en = recognise_coordinates((540_000.0, 2_850_000.0, 600_000.0, 2_900_000.0))
    assert "EPSG:4546" in en and "central meridian" in en and "EPSG:4546" in zh


def test_missing_crs_is_refused_never_guessed() -> None:
    with pytest.raises(CrsError) as info:
        resolve_crs(None, None, (37_540_000.0, 2_850_000.0, 37_600_000.0, 2_900_000.0), "a.shp")
    assert "EPSG:4525" in str(info.value)
    assert "never guesses" in info.value.message_en and "不会猜测" in info.value.message_zh


def test_user_crs_overriding_the_file_is_a_warning() -> None:
    decision = resolve_crs(CRS.from_epsg(4546), "EPSG:4525", (0, 0, 1, 1), "a.shp")
    assert decision.crs.to_epsg() == 4525 and decision.warnings


def test_unknown_crs_text_is_a_clear_error() -> None:
    with pytest.raises(CrsError, match="EPSG:4525"):
        resolve_crs(None, "EPSG:notacode", (0, 0, 1, 1), "a.shp")


def test_xian1980_to_cgcs2000_uses_the_real_projection_library() -> None:
    # Xi'an 1980 zone 37 → lon/lat on the Xi'an ellipsoid; the point must land in Shuangpai.
    t = Transformer.from_crs("EPSG:2361", "EPSG:4490", always_xy=True)
    lon, lat = t.transform(37_560_000.0, 2_870_000.0)
    assert 111.4 < lon < 112.0 and 25.6 < lat < 26.2
    pt = shapely.transform(shapely.Point(37_560_000.0, 2_870_000.0),
                           lambda c: np.column_stack(t.transform(c[:, 0], c[:, 1])))  # fmt: skip
    assert pt.x == pytest.approx(lon) and pt.y == pytest.approx(lat)
