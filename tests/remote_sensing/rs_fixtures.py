"""A before/after pair of synthetic NDVI rasters over a corner of the issued project L1
(``tests.documents.doc_fixtures.issued_project``): one disturbance patch (index drop 0.35, well
above the −0.06 threshold) covering the western half of the smallest stand of L1 (20 m inside its
edge), so that a sizeable share of it is lost; clear skies on both dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import Engine, text

from gis_data.synthetic_raster import SceneSpec, write_pair

__all__ = ["AFTER", "BEFORE", "Pair", "disturbed_pair", "stands_4525"]

BEFORE, AFTER = date(2025, 11, 1), date(2026, 11, 1)  # both past: no scene from the future
INSET_M = 20.0
DROP = 0.35


@dataclass(frozen=True)
class Pair:
    before: Path
    after: Path
    stand_key: str  # the L1 stand holding the patch
    patch: shapely.Geometry  # EPSG:4525


def stands_4525(engine: Engine) -> gpd.GeoDataFrame:
    """Every current stand (key, group, age, area, project) in EPSG:4525."""
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT s.stand_key, s.species_group, s.age_years, s.area_ha, p.code, "
            "ST_AsBinary(s.geom) FROM stand s "
            "LEFT JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active "
            "LEFT JOIN project p ON p.id = ps.project_id WHERE s.is_current ORDER BY s.stand_key"
        )).all()  # fmt: skip
    frame = gpd.GeoDataFrame(
        {"stand_key": [r[0] for r in rows], "species_group": [r[1] for r in rows],
         "age_years": [float(r[2] or 0) for r in rows], "area_ha": [float(r[3]) for r in rows],
         "project": [r[4] for r in rows]},
        geometry=[shapely.from_wkb(bytes(r[5])) for r in rows], crs=4490,
    )  # fmt: skip
    return frame.to_crs(4525)


def disturbed_pair(engine: Engine, folder: Path, project: str | None = "L1") -> Pair:
    """The patch in the smallest stand of ``project`` (None: of the stands outside every
    project, among those large enough for it)."""
    stands = stands_4525(engine)
    ours = stands[stands["project"] == project] if project else stands[stands["project"].isna()]
    ours = ours[ours["area_ha"] >= 5.0] if project is None else ours
    ours = ours.sort_values(["area_ha", "stand_key"])
    target = ours.iloc[0]
    minx, miny, maxx, maxy = target.geometry.bounds
    west = shapely.box(minx - 1.0, miny - 1.0, (minx + maxx) / 2, maxy + 1.0)
    patch = target.geometry.buffer(-INSET_M).intersection(west)
    assert patch.area > 10_000, f"the smallest stand of {project} is too small for the test patch"
    near = stands[stands.intersects(target.geometry.envelope.buffer(150.0))]
    spec = SceneSpec(near.reset_index(drop=True), seed=19)
    patches = gpd.GeoDataFrame({"patch_id": [1], "drop": [DROP], "date": [AFTER]},
                               geometry=[patch], crs=4525)  # fmt: skip
    clear = gpd.GeoDataFrame({"cloud_id": []}, geometry=[], crs=4525)
    first, second = write_pair(spec, BEFORE, AFTER, folder, disturbances=patches, clouds=clear)
    return Pair(first.path, second.path, str(target.stand_key), patch)
