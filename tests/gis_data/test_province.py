"""The synthetic province: counties side by side, each the sample moved, its own code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from gis_data.province import write_province_inventory
from gis_data.sample import generate_sample_inventory


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb"])
def test_counties_lie_side_by_side_with_their_own_codes(tmp_path: Path, suffix: str) -> None:
    path = write_province_inventory(tmp_path / f"p{suffix}", n_counties=3, stands_per_county=300)
    frame = pyogrio.read_dataframe(path)
    assert pyogrio.read_info(path)["geometry_type"] == "MultiPolygon"
    assert len(frame) == 900
    assert sorted(frame["XIAN"].unique()) == ["439001", "439002", "439003"]
    assert not frame.duplicated(["XIAN", "LIN_BAN", "XIAO_BAN"]).any()
    # townships name one county's area only
    assert frame.groupby("XIANG")["XIAN"].nunique().max() == 1
    boxes = [shapely.box(*frame[frame["XIAN"] == c].total_bounds) for c in ("439001", "439002", "439003")]  # fmt: skip
    for i in range(3):
        for j in range(i + 1, 3):
            assert not boxes[i].intersects(boxes[j])
    # county 2 (index 1) is the sample of seed 4300 + 1, moved: the same stand areas, in order
    sample = generate_sample_inventory(300, 4301)
    # (a FlatGeobuf's spatial index reorders the features: compare in key order)
    moved = frame[frame["XIAN"] == "439002"].sort_values(["LIN_BAN", "XIAO_BAN"])
    sample = sample.sort_values(["LIN_BAN", "XIAO_BAN"])
    np.testing.assert_allclose(
        shapely.area(moved.geometry.values), shapely.area(sample.geometry.values), rtol=1e-9
    )
    assert (
        moved["MEI_GQ_XJ"].fillna(-1).to_numpy() == sample["MEI_GQ_XJ"].fillna(-1).to_numpy()
    ).all()
