"""The demo's eco-label step: a synthetic water-source protection layer over part of a demo
project, loaded, evaluated and 水源涵养 attached to the project's first issued vintage.

SYNTHETIC: the polygon is no real 饮用水水源保护区; it is drawn from the project's own stands
so that the demo shows both passing and failing stands — the convex hull of the project's
boundary, 200 m wider, west of the easting below which 70 % of its stands' centroids lie —
written as a GeoPackage in CGCS2000 / 3-degree Gauss–Krüger zone 37 (EPSG:4525, the sample
inventory's CRS), so that loading it reprojects it to the registry's EPSG:4490.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from sqlalchemy.orm import Session

from registry.actors import Actor
from registry.db import DriverSQL
from registry.errors import LabelConflict
from registry.labels.catalogue import STARTER_CATALOGUE, add_label, read_catalogue_file
from registry.labels.layers import LayerInfo, load_layer
from registry.labels.service import AttachResult, attach_label, evaluate_label
from registry.results import Result

__all__ = ["DemoLabelsReport", "demo_labels", "write_water_source_layer"]

LABEL = "water_conservation"
LAYER = "water_source"
LAYER_CRS = "EPSG:4525"
SHARE_WEST = 0.7  # the layer covers the stands west of this quantile of centroid eastings


@dataclass(frozen=True)
class DemoLabelsReport(Result):
    layer_file: str
    layer: LayerInfo
    n_stands: int
    n_passed: int
    share_area: float
    share_credits: float | None
    qualifies: bool
    unverified: tuple[str, ...]
    evaluation_digest: str
    attached: AttachResult | None = None


def write_water_source_layer(session: Session, project_code: str, path: Path) -> Path:
    """The synthetic water-source polygon over part of the project (see the module)."""
    import geopandas as gpd
    import pyogrio

    db = DriverSQL(session)
    rows = db.rows(
        "SELECT ST_AsBinary(s.geom) FROM project p JOIN project_stand ps ON ps.project_id = p.id "
        "AND ps.active JOIN stand s ON s.stand_key = ps.stand_key AND s.is_current WHERE p.code = :p",
        {"p": project_code},
    )
    if not rows:
        raise LabelConflict(
            f"项目 {project_code} 没有小班，无法生成示例图层。",
            f"project {project_code} has no stands to draw the demo layer over.",
        )
    stands = gpd.GeoSeries([shapely.from_wkb(bytes(r[0])) for r in rows], crs="EPSG:4490")
    metres = stands.to_crs(LAYER_CRS)
    hull = shapely.convex_hull(shapely.union_all(metres.to_numpy())).buffer(200.0)
    cut = float(np.quantile(metres.centroid.x.to_numpy(), SHARE_WEST))
    minx, miny, _, maxy = hull.bounds
    west = shapely.intersection(hull, shapely.box(minx - 1.0, miny - 1.0, cut, maxy + 1.0))
    frame = gpd.GeoDataFrame(
        {"name": ["示例饮用水水源保护区（合成） synthetic water-source zone"],
         "note": ["SYNTHETIC 合成示例数据，非真实保护区"]},
        geometry=[west], crs=LAYER_CRS,
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(frame, path, driver="GPKG", layer=LAYER)
    return path


def demo_labels(
    session: Session, admin_actor: Actor, project_code: str, workdir: Path
) -> DemoLabelsReport:
    """Add the starter catalogue (if it is not there yet; its evidence: a synthetic designation
    note written to ``workdir``), write and load the water-source layer, evaluate 水源涵养 for
    the project and attach it to its first issued vintage when the project qualifies."""
    db = DriverSQL(session)
    if db.first("SELECT 1 FROM eco_label WHERE code = :c", {"c": LABEL}) is None:
        note = workdir / "labels" / "label-designation-SYNTHETIC.txt"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text("双牌县林业局生态标签认定说明（合成示例，非真实文件）\n"
                        "Eco-label designation note of the county forestry bureau — SYNTHETIC.\n",
                        encoding="utf-8")  # fmt: skip
        known = {str(r[0]) for r in db.rows("SELECT code FROM eco_label")}
        for entry in read_catalogue_file(STARTER_CATALOGUE):
            if entry["code"] not in known:
                add_label(session, admin_actor, entry, note)
    path = write_water_source_layer(session, project_code, workdir / "labels" / "water_source.gpkg")
    layer = load_layer(session, admin_actor, LAYER, path)
    found = evaluate_label(session, admin_actor, project_code, LABEL)
    j = found.judgement
    attached = None
    vintage = db.first(
        "SELECT MIN(vintage) FROM issuance WHERE project_code = :p", {"p": project_code}
    )
    if j.qualifies and vintage is not None and vintage[0] is not None:
        attached = attach_label(session, admin_actor, f"demo-label-{project_code}-{LABEL}",
                                project_code, int(vintage[0]), LABEL)  # fmt: skip
    return DemoLabelsReport(str(path), layer, j.n_stands, j.n_passed, j.share_area,
                            j.share_credits, j.qualifies, j.unverified, found.digest, attached)  # fmt: skip
