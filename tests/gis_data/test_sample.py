"""The synthetic Shuangpai inventory: tiles the real county boundary, consistent, deterministic."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis_data.sample import COUNTY_CODE, SYNTHETIC_NOTE, county_boundary, generate_sample_inventory


@pytest.fixture(scope="module")
def sample() -> gpd.GeoDataFrame:
    return generate_sample_inventory(3000, 1)


def test_polygons_tile_the_county_without_gaps_or_overlaps(sample: gpd.GeoDataFrame) -> None:
    boundary = gpd.GeoSeries([county_boundary()], crs="EPSG:4326").to_crs("EPSG:4525")
    county_m2 = float(boundary.area.iloc[0])
    # the boundary file is ~1 722 km² (BOUNDARY_SOURCE.md); in EPSG:4525 the same within 0.1 %
    assert county_m2 / 1e6 == pytest.approx(1722, rel=1e-3)
    sum_m2 = float(sample.area.sum())
    union = shapely.union_all(sample.geometry.values)
    assert sum_m2 == pytest.approx(county_m2, rel=1e-6)  # no gaps (and no overlap: next line)
    assert float(union.area) == pytest.approx(sum_m2, rel=1e-6)
    assert shapely.is_valid(sample.geometry.values).all()


def test_attributes_are_consistent_and_typical_of_the_county(sample: gpd.GeoDataFrame) -> None:
    assert sample.crs.to_epsg() == 4525
    assert (sample.XIAN == COUNTY_CODE).all() and (sample.BEIZHU == SYNTHETIC_NOTE).all()
    shares = sample.YOU_SHI_SZ.value_counts(normalize=True)
    assert shares.index[0] == "杉木" and shares["杉木"] > 0.25  # Chinese fir dominant
    assert shares["马尾松"] > shares["毛竹"] > 0.04
    assert (sample.YOU_SHI_SZ == "油茶").any() and sample.YOU_SHI_SZ.isna().any()
    trees = sample[sample.PINGJUN_NL.notna() & sample.MEI_GQ_XJ.notna()]
    young = trees[trees.LING_ZU == "幼龄林"]
    mature = trees[trees.LING_ZU == "成熟林"]
    assert young.PINGJUN_NL.mean() < mature.PINGJUN_NL.mean()
    assert young.MEI_GQ_XJ.mean() < mature.MEI_GQ_XJ.mean()
    assert young.PINGJUN_XJ.mean() < mature.PINGJUN_XJ.mean()
    assert (sample.YU_BI_DU.dropna().between(0, 1)).all()
    assert set(sample.LD_QS.dropna()) <= {"国有", "集体"}
    keys = sample.XIAN + "-" + sample.LIN_BAN + "-" + sample.XIAO_BAN
    assert keys.is_unique
    # reported area is the mapped area rounded to 0.01 ha, but for a few drifted records
    mapped = sample.area / 10_000
    close = np.isclose(sample.MIAN_JI, mapped, atol=0.0051)
    assert 0.98 < close.mean() < 1.0


def test_deterministic_per_seed() -> None:
    a = generate_sample_inventory(200, 42)
    b = generate_sample_inventory(200, 42)
    c = generate_sample_inventory(200, 43)
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0).all()
    assert not a.drop(columns="geometry").equals(c.drop(columns="geometry"))
