"""The demo's monitoring step: one disturbance from two images to a cancelled buffer block.

SYNTHETIC: two summer NDVI composites (2029-08-01 and 2030-08-01) over a demo project's stands
are written by :mod:`gis_data.synthetic_raster` (index by species group and age — UNVERIFIED
curves — site noise, observation noise, each date's clouds) with one burnt patch placed in the
after image: a circle of 90 m radius (index drop 0.35) inside the project's stand nearest the
median area among those of 5 ha or more, 15 m inside its edge. The bureau registers both images,
runs the detection over every current stand the images cover, the verifier confirms the flag as
a fire, and the ledger cancels the reversal from the buffer pool — then the evidence picture is
written next to the images.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy import Engine

from gis_data.sample import SAMPLE_CRS
from gis_data.synthetic_raster import SceneSpec, generate_clouds, write_pair
from registry.actors import Actor
from registry.db import DriverSQL, session_scope
from registry.models import STORAGE_SRID
from registry.remote_sensing.reversals import review_flag
from registry.remote_sensing.runs import flag_evidence, run_detection
from registry.remote_sensing.scenes import register_scene
from registry.remote_sensing.views import ReversalView, RunView

__all__ = ["AFTER", "BEFORE", "MonitoringDemo", "demo_monitoring"]

BEFORE, AFTER = date(2029, 8, 1), date(2030, 8, 1)
FIRE_RADIUS_M = 90.0
INSET_M = 15.0
DROP = 0.35  # index units, an illustrative stand-replacing loss (UNVERIFIED, as the generator's)
MIN_AREA_HA = 5.0


@dataclass(frozen=True)
class MonitoringDemo:
    before: Path
    after: Path
    run: RunView
    stand_key: str
    fire_ha: float  # the placed patch's area inside the stand (ha)
    flag_id: int
    evidence: Path
    reversal: ReversalView


def _stands(engine: Engine, code: str) -> tuple[gpd.GeoDataFrame, str]:
    """Every current stand near the project (for the images) and the stand that burns."""
    with session_scope(engine) as session:
        rows = DriverSQL(session).rows(
            "SELECT s.stand_key, s.species_group, s.age_years, s.area_ha, p.code, ST_AsBinary(s.geom) "
            "FROM stand s LEFT JOIN project_stand ps ON ps.stand_key = s.stand_key AND ps.active "
            "LEFT JOIN project p ON p.id = ps.project_id WHERE s.is_current ORDER BY s.stand_key"
        )  # fmt: skip
    frame = gpd.GeoDataFrame(
        {"stand_key": [str(r[0]) for r in rows], "species_group": [r[1] for r in rows],
         "age_years": [float(r[2] or 0) for r in rows], "area_ha": [float(r[3]) for r in rows],
         "project": [r[4] for r in rows]},
        geometry=[shapely.from_wkb(bytes(r[5])) for r in rows], crs=STORAGE_SRID,
    ).to_crs(SAMPLE_CRS)  # fmt: skip
    ours = frame[frame["project"] == code]
    big = ours[ours["area_ha"] >= MIN_AREA_HA]
    if big.empty:  # a small demo inventory: its largest stand
        big = ours.nlargest(1, "area_ha")
    median = big["area_ha"].median()
    target = big.iloc[(big["area_ha"] - median).abs().argsort().iloc[0]]
    minx, miny, maxx, maxy = ours.total_bounds
    near = frame[frame.intersects(shapely.box(minx, miny, maxx, maxy).buffer(300.0))]
    return near.reset_index(drop=True), str(target["stand_key"])


def demo_monitoring(
    engine: Engine, staff: Actor, verifier: Actor, code: str, folder: Path
) -> MonitoringDemo:
    """Images written to ``folder``, registered, compared; the burnt stand's flag confirmed."""
    stands, key = _stands(engine, code)
    target = stands.loc[stands["stand_key"] == key, "geometry"].iloc[0]
    inside = target.buffer(-INSET_M)
    fire = inside.intersection(inside.representative_point().buffer(FIRE_RADIUS_M, 32))
    spec = SceneSpec(stands, seed=2030)
    patches = gpd.GeoDataFrame({"patch_id": [1], "drop": [DROP], "date": [AFTER]},
                               geometry=[fire], crs=SAMPLE_CRS)  # fmt: skip
    # the after date's own clouds, kept off the burnt stand so the demo's story is told
    clouds = generate_clouds(spec, AFTER, count=4)
    clouds = clouds[~clouds.intersects(target.buffer(200.0))]
    first, second = write_pair(spec, BEFORE, AFTER, folder, disturbances=patches, clouds=clouds)
    with session_scope(engine) as session:
        # the demo plays years ahead: its clock is the after date (real use: today, UTC)
        register_scene(session, staff, first.path, BEFORE, f"synthetic-ndvi-{BEFORE.year}",
                       today=AFTER)  # fmt: skip
        register_scene(session, staff, second.path, AFTER, f"synthetic-ndvi-{AFTER.year}",
                       today=AFTER)  # fmt: skip
        run = run_detection(
            session, staff, f"synthetic-ndvi-{BEFORE.year}", f"synthetic-ndvi-{AFTER.year}"
        )
    flag = next(f for f in run.flags if f.stand_key == key)
    with session_scope(engine) as session:
        review = review_flag(session, verifier, f"demo-review-{flag.id}", flag.id, "confirm",
                             "现场核查：林火过火迹地 field check: burnt area", cause="fire")  # fmt: skip
        png = flag_evidence(session, staff, flag.id)
    assert review.reversal is not None  # a confirmation in a project always records one
    evidence = folder / f"evidence_flag_{flag.id}.png"
    evidence.write_bytes(png)
    return MonitoringDemo(first.path, second.path, run, key, fire.area / 10_000, flag.id,
                          evidence, review.reversal)  # fmt: skip
