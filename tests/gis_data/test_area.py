"""Stand areas: hectares on an equal-area projection of the CGCS2000 ellipsoid."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gis_data.checks import area_ha


def test_rectangle_on_the_central_meridian_has_its_planar_area() -> None:
    # A 100 m × 200 m rectangle in CGCS2000 / 3-degree Gauss–Krüger CM 111°E (EPSG:4546),
    # centred on the central meridian (easting 500 000 m) at northing 2 870 000 m (≈ 25.9°N).
    # On the central meridian the Gauss–Krüger scale factor is exactly 1 (k0 = 1 for the
    # Chinese 3-degree zones), so the area on the ellipsoid is the planar area:
    #   100 m × 200 m = 20 000 m² = 20 000 / 10 000 ha = 2.0 ha.
    # Off the meridian, by |x| ≤ 50 m, the areal scale is 1 + x²/R² ≤ 1 + 50²/6.37e6² ≈ 1+6e-11.
    x0, y0 = 500_000.0, 2_870_000.0
    corners = [(x0 - 50, y0 - 100), (x0 + 50, y0 - 100), (x0 + 50, y0 + 100), (x0 - 50, y0 + 100)]
    # densify the edges (every 10 m) so that straight edges in the projection stay straight
    ring = shapely.segmentize(shapely.Polygon(corners), 10.0)
    to_lonlat = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
    lonlat = shapely.transform(
        ring, lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1]))
    )
    expected_ha = 100 * 200 / 10_000  # = 2.0
    assert area_ha(np.array([lonlat], dtype=object))[0] == pytest.approx(expected_ha, rel=1e-6)


def test_one_degree_cell_matches_the_authalic_sphere_formula() -> None:
    # A cell 0.01° × 0.01° at 26°N (lon 111.50–111.51, lat 26.00–26.01). On a sphere of the
    # ellipsoid's authalic radius R_q the area is R_q² · Δλ · (sin φ2' − sin φ1') with
    # authalic latitudes φ'; for a small cell the ellipsoidal area is, to first order,
    #   A = M · N · cos φ · Δφ · Δλ   (meridian radius M, prime-vertical radius N, φ mid).
    # GRS80/CGCS2000: a = 6 378 137 m, e² = 0.00669438002290.
    a, e2 = 6_378_137.0, 0.00669438002290
    phi = np.radians(26.005)
    w = np.sqrt(1 - e2 * np.sin(phi) ** 2)
    m = a * (1 - e2) / w**3  # ≈ 6 380 030 m
    n = a / w  # ≈ 6 381 995 m
    dphi = dlam = np.radians(0.01)  # 1.745329e-4 rad
    expected_m2 = m * n * np.cos(phi) * dphi * dlam  # ≈ 1.1160e6 m² ≈ 111.6 ha
    cell = shapely.box(111.50, 26.00, 111.51, 26.01)
    cell = shapely.segmentize(cell, 0.0005)
    assert area_ha(np.array([cell], dtype=object))[0] == pytest.approx(expected_m2 / 1e4, rel=2e-5)


def test_zero_polygons_give_zero_areas() -> None:
    assert area_ha(np.array([], dtype=object)).shape == (0,)
