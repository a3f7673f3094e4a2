"""Intake of real bureau deliveries into the registry, on SpatiaLite and PostGIS: a coded
一张图 FileGDB registers exactly the stands of the same file with names; per-township keys and
细斑; a later inventory that splits, merges and drops stands retires what disappeared, links the
history and keeps the county's area equal to the new file's; ZM; lying .cpg never stores U+FFFD.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, func, select, text
from sqlmodel import col

from gis_data import area_ha
from gis_data.sample import coded_frame, second_inventory, write_filegdb
from registry.carbon_model import fit_and_store_growth
from registry.db import session_scope
from registry.errors import ImportRejected
from registry.models import Owner, Role, Stand
from registry.projects import Actor, add_stands, create_project
from registry.queries import current_stands_frame, lineage_lines, stand_history
from registry.stands import ImportOptions, import_inventory
from tests.conftest import db_snapshot
from tests.inventory_files import (
    sample_frame,
    with_slope_class_names,
    write_gpkg,
    write_shapefile,
)
from tests.registry.project_fixtures import TOLERANCE_M2

STAFF = Actor.of("李工", Role.BUREAU_STAFF, "双牌县林业局")


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return sample_frame(150, 17)


def _stands(engine: Engine) -> gpd.GeoDataFrame:
    with session_scope(engine) as session:
        stands = current_stands_frame(session)
    return stands.drop(columns=["batch_id"])


def test_a_coded_filegdb_registers_exactly_the_stands_of_the_named_file(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # both as FileGDB: the format's coordinate grid is the same for both files
    named = write_filegdb(with_slope_class_names(frame), tmp_path / "named.gdb")
    first = import_inventory(engine, named, ImportOptions())
    assert first.status == "imported" and first.n_new == len(frame)
    before = _stands(engine)
    coded = write_filegdb(coded_frame(frame), tmp_path / "coded.gdb")
    again = import_inventory(engine, coded, ImportOptions())  # no options at all
    # every stand hashes the same (attributes and geometry): nothing to change
    assert again.status == "unchanged" and again.n_unchanged == len(frame)
    after = _stands(engine)
    assert after.drop(columns="geometry").equals(before.drop(columns="geometry"))
    assert list(after.geometry.to_wkb()) == list(before.geometry.to_wkb())
    assert set(after["slope_class"]) <= {"平坡", "缓坡", "斜坡", "陡坡", "急坡", "险坡"}
    assert after["slope_deg"].isna().all()


def test_per_township_compartments_and_fine_stands(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    per_town = frame.copy()
    # 林班 numbered afresh in each township (0001, 0002, … per 乡镇)
    per_town["LIN_BAN"] = [
        f"{n:04d}" for n in per_town.groupby("XIANG")["LIN_BAN"].rank(method="dense").astype(int)
    ]
    per_town["XIAO_BAN"] = (
        per_town.groupby(["XIANG", "LIN_BAN"]).cumcount().map(lambda i: f"{i + 1:03d}")
    )
    # and one 小班 split into two 细斑
    g = per_town.geometry.iloc[0]
    cx = g.centroid.x
    minx, miny, maxx, maxy = g.bounds
    halves = [
        shapely.clip_by_rect(g, minx, miny, cx, maxy),
        shapely.clip_by_rect(g, cx, miny, maxx, maxy),
    ]
    split = per_town.iloc[[0, 0]].copy()
    split["XI_BAN"] = ["1", "2"]
    split = split.set_geometry(halves, crs=frame.crs)
    split["MIAN_JI"] = [round(h.area / 10_000, 2) for h in halves]
    per_town["XI_BAN"] = None
    per_town = gpd.GeoDataFrame(
        gpd.pd.concat([split, per_town.iloc[1:]], ignore_index=True), crs=frame.crs
    )
    path = write_gpkg(per_town, tmp_path / "per_town.gpkg")
    before = db_snapshot(engine)
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, path, ImportOptions())
    assert db_snapshot(engine) == before
    dup = [i for i in info.value.report.errors if i.code == "duplicate_key"]
    assert dup, [i.code for i in info.value.report.errors]
    # the message names the key's columns and how to change them
    assert "county_code(XIAN),compartment(LIN_BAN),subcompartment(XIAO_BAN)" in dup[0].problem_en
    assert "--key" in dup[0].action_en and "--key" in dup[0].action_zh
    key = ("county_code", "township", "compartment", "subcompartment", "fine_stand")
    result = import_inventory(engine, path, ImportOptions(key=key))
    assert result.status == "imported" and result.n_new == len(per_town)
    town0, lb0, xb0 = per_town.loc[0, ["XIANG", "LIN_BAN", "XIAO_BAN"]]
    with session_scope(engine) as session:
        keys = set(session.execute(select(col(Stand.stand_key))).scalars())
        fine = session.execute(
            select(col(Stand.fine_stand)).where(
                col(Stand.stand_key) == f"431123-{town0}-{lb0}-{xb0}-2"
            )
        ).scalar_one()
    assert f"431123-{town0}-{lb0}-{xb0}-1" in keys and fine == "2"
    town1, lb1, xb1 = per_town.loc[2, ["XIANG", "LIN_BAN", "XIAO_BAN"]]
    assert f"431123-{town1}-{lb1}-{xb1}" in keys  # no 细斑: no tail on the key
    assert len(keys) == len(per_town)


def test_a_later_inventory_retires_links_and_keeps_the_county_area(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # the first inventory came as a FileGDB too (same coordinate grid): unchanged stands stay
    first = write_filegdb(coded_frame(frame), tmp_path / "2020.gdb")
    assert import_inventory(engine, first, ImportOptions()).n_new == len(frame)
    later, done = second_inventory(frame, seed=3, n_splits=2, n_merges=2, n_removed=2)
    assert all(len(done[k]) == 2 for k in ("split", "merge", "removed"))
    county = "431123-"
    removed = county + done["removed"][0][0]
    split_old, split_a, split_b = (county + k for k in done["split"][0])
    merged_gone, _, merged_into = (county + k for k in done["merge"][0])
    # a project holding the removed stand and the stand that is split
    with session_scope(engine) as session:
        fit_and_store_growth(session, STAFF)
        create_project(session, STAFF, code="FM-1", name="项目", methodology="AR-CM-003-V01",
                       developer="双牌县林业局", start_date=date(2026, 1, 1), crediting_years=30)  # fmt: skip
        added = add_stands(session, STAFF, "FM-1", f"key={removed}|{split_old}", TOLERANCE_M2)
    assert sorted(added) == sorted([removed, split_old])
    path = write_filegdb(coded_frame(later), tmp_path / "2031.gdb")
    before = db_snapshot(engine)
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, path, ImportOptions(inventory_year=2031))
    assert db_snapshot(engine) == before
    listed = next(i for i in info.value.report.errors if i.code == "missing_stands")
    for key in (removed, split_old, merged_gone):
        assert key in listed.problem_en

    result = import_inventory(engine, path, ImportOptions(inventory_year=2031, retire_missing=True))
    assert result.status == "imported" and result.n_retired == 2 + 2 + 2
    # the county's current area equals the new file's area (hectares on the ellipsoid)
    new_area = float(area_ha(np.asarray(later.to_crs(4490).geometry.values)).sum())
    with session_scope(engine) as session:
        current_area = session.execute(
            select(func.sum(col(Stand.area_ha))).where(col(Stand.is_current).is_(True))
        ).scalar_one()
        n_current = session.execute(
            select(func.count()).select_from(Stand).where(col(Stand.is_current).is_(True))
        ).scalar_one()
        n_all = session.execute(select(func.count()).select_from(Stand)).scalar_one()
        split_history = stand_history(session, split_old)
        merge_history = stand_history(session, merged_into)
        removed_history = stand_history(session, removed)
    assert n_current == len(later)
    assert current_area == pytest.approx(new_area, rel=1e-9)
    assert n_all == len(frame) + 2 * 2 + 2  # nothing deleted: +2 halves each, +2 merged versions
    # 005 → 005-1, 005-2
    became = split_history[-1]["became"]
    assert {b["to"] for b in became} == {split_a, split_b} and {b["kind"] for b in became} == {
        "split"
    }
    (line,) = lineage_lines(split_history, split_old)
    assert line.startswith(f"v1 {split_old} → ") and line.endswith(" (split)")
    assert sorted(line.split(" → ")[1][: -len(" (split)")].split(", ")) == [split_a, split_b]
    # 006 + 007 → 007
    came = merge_history[-1]["came_from"]
    assert {c["from"] for c in came} == {merged_gone, merged_into}
    assert {c["kind"] for c in came} == {"merge"}
    assert merge_history[-1]["is_current"] and not merge_history[0]["is_current"]
    assert removed_history[-1]["became"][0]["kind"] == "retired"
    assert not removed_history[-1]["is_current"]
    # the project's stands that disappeared are reported against it; the project keeps them
    impacts = [i for i in result.report.warnings if i.code == "project_stand_changed"]
    assert {i.key for i in impacts} == {removed, split_old}
    assert all(i.value == "FM-1" for i in impacts)
    with session_scope(engine) as session:
        kept = session.execute(
            text("SELECT count(*) FROM project_stand WHERE active")
            if engine.dialect.name == "postgresql"
            else text("SELECT count(*) FROM project_stand WHERE active = 1")
        ).scalar_one()
    assert kept == 2
    # re-running the same update is a no-op
    assert import_inventory(engine, path, ImportOptions(retire_missing=True)).status == (
        "already_imported"
    )


def test_polygon_zm_is_stored_2d(engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    z = frame.copy().set_geometry(
        [shapely.force_3d(g, 250.0) for g in frame.geometry], crs=frame.crs
    )
    z_path = write_gpkg(z, tmp_path / "z.gpkg")
    zm = tmp_path / "zm" / "xiaoban.shp"
    zm.parent.mkdir()
    # the system GDAL adds M (pyogrio cannot write measured geometries)
    subprocess.run(
        ["ogr2ogr", "-f", "ESRI Shapefile", "-dim", "XYZM", "-lco", "ENCODING=UTF-8", str(zm), str(z_path)],
        check=True, capture_output=True,
    )  # fmt: skip
    info = subprocess.run(["ogrinfo", "-so", str(zm), "xiaoban"], capture_output=True, text=True)
    assert "Measured" in info.stdout
    result = import_inventory(engine, zm, ImportOptions())
    assert result.status == "imported" and result.n_new == len(frame)
    with session_scope(engine) as session:
        wkbs = session.execute(select(func.ST_AsBinary(Stand.geom))).scalars().all()
    geoms = shapely.from_wkb([bytes(w) for w in wkbs])
    assert not shapely.has_z(geoms).any() and not shapely.has_m(geoms).any()


def test_a_lying_cpg_is_refused_and_no_replacement_character_is_ever_stored(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = write_shapefile(frame, tmp_path / "lying.shp", "GBK", "UTF-8")
    before = db_snapshot(engine)
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, path, ImportOptions())
    assert db_snapshot(engine) == before
    issue = next(i for i in info.value.report.errors if i.code == "cpg_conflict")
    assert "--encoding GBK" in issue.action_en
    result = import_inventory(engine, path, ImportOptions(encoding="GBK"))
    assert result.status == "imported"
    with session_scope(engine) as session:
        texts = [
            *session.execute(
                select(Stand.township, Stand.village, Stand.dominant_species, Stand.extra)
            ).all(),
            *session.execute(select(Owner.name)).all(),
        ]
    assert texts and not any("\ufffd" in (v or "") for row in texts for v in row)
    assert set(frame["LQ_QLR"].dropna()) <= {row[0] for row in texts if len(row) == 1}
