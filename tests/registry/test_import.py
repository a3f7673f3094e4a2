"""Importing a 小班 inventory into the registry, on SpatiaLite and on PostGIS.

Every bad input is refused with a message naming the record, the 小班 and the field, and the
database is exactly as it was before; a re-import is a no-op; an edited file creates versions.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer
from sqlalchemy import Engine, select, text
from sqlmodel import col

from gis_data import GisDataError, Severity
from registry.db import session_scope
from registry.errors import ImportRejected
from registry.models import Owner, Stand
from registry.queries import stand_history
from registry.stands import ImportOptions, import_inventory
from tests.conftest import db_snapshot
from tests.inventory_files import sample_frame, write_gpkg, write_shapefile_gbk_no_cpg


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return sample_frame()


@pytest.fixture
def imported(engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path) -> Engine:
    """A registry that already holds the sample inventory (so 'unchanged' means something)."""
    result = import_inventory(engine, write_gpkg(frame, tmp_path / "base.gpkg"), ImportOptions())
    assert result.status == "imported" and result.n_new == len(frame)
    return engine


def test_gbk_shapefile_without_cpg_imports_correct_chinese(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = write_shapefile_gbk_no_cpg(frame, tmp_path / "xiaoban.shp")
    result = import_inventory(engine, path, ImportOptions())
    assert result.status == "imported" and result.n_new == len(frame)
    with session_scope(engine) as session:
        stored = {
            key: (township, species)
            for key, township, species in session.execute(
                select(Stand.stand_key, Stand.township, Stand.dominant_species)
            )
        }
        owners = set(session.execute(select(Owner.name)).scalars())
    expected = {
        f"431123-{row.LIN_BAN}-{row.XIAO_BAN}": (
            row.XIANG, row.YOU_SHI_SZ if isinstance(row.YOU_SHI_SZ, str) else None
        )
        for row in frame.itertuples()
    }  # fmt: skip
    assert stored == expected
    assert {"杉木", "马尾松"} <= {species for _, species in stored.values()}
    assert set(frame.LQ_QLR.dropna()) == owners


def test_stored_hectares_match_a_rectangle_computed_by_hand(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    # One stand replaced by a 100 m × 200 m rectangle on the zone's central meridian
    # (EPSG:4546, easting 500 000 m, scale factor 1): 100 × 200 = 20 000 m² = 2.0 ha.
    x0, y0 = 500_000.0, 2_870_000.0
    rect = shapely.segmentize(shapely.box(x0 - 50, y0 - 100, x0 + 50, y0 + 100), 10.0)
    to_lonlat = Transformer.from_crs("EPSG:4546", "EPSG:4490", always_xy=True)
    rect_lonlat = shapely.transform(
        rect, lambda c: np.column_stack(to_lonlat.transform(c[:, 0], c[:, 1]))
    )
    one = frame.iloc[[0]].to_crs(4490)
    one = one.set_geometry([rect_lonlat], crs=4490)
    one["MIAN_JI"] = 2.0
    result = import_inventory(engine, write_gpkg(one, tmp_path / "rect.gpkg"), ImportOptions())
    assert result.status == "imported"
    with session_scope(engine) as session:
        stand = session.execute(select(Stand)).scalar_one()
    assert stand.area_ha == pytest.approx(100 * 200 / 10_000, rel=1e-6)
    assert stand.area_ha_reported == 2.0


def _bowtie(g: shapely.Geometry) -> shapely.Geometry:
    x0, y0, x1, y1 = g.bounds
    return shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])


Corruption = Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]


def _set(column: str, row: int, value: object) -> Corruption:
    def apply(f: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        f = f.copy()
        f[column] = f[column].astype(object)
        f.loc[row, column] = value
        return f

    return apply


def _geometry(row: int, make: Callable[[shapely.Geometry], shapely.Geometry]) -> Corruption:
    def apply(f: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        f = f.copy()
        geoms = f.geometry.values.copy()
        geoms[row] = make(geoms[row])
        return f.set_geometry(gpd.GeoSeries(geoms, crs=f.crs))

    return apply


def _duplicate_key(f: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    f = f.copy()
    f.loc[5, "XIAO_BAN"] = f.loc[4, "XIAO_BAN"]
    f.loc[5, "LIN_BAN"] = f.loc[4, "LIN_BAN"]
    return f


def _overlap(f: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # grow stand 10 by 30 m into its neighbours
    return _geometry(10, lambda g: g.buffer(30.0))(f)


def _drop_column(column: str) -> Corruption:
    return lambda f: f.drop(columns=[column])


# (case, corruption, expected error code, expected field (canonical), expected record (1-based))
BAD_INPUTS: list[tuple[str, Corruption, str, str | None, int | None]] = [
    ("self-intersection", _geometry(3, _bowtie), "invalid_geometry", "geometry", 4),
    ("empty geometry", _geometry(7, lambda g: shapely.Polygon()), "empty_geometry", "geometry", 8),
    ("duplicate key", _duplicate_key, "duplicate_key", "subcompartment", 5),
    ("overlap", _overlap, "overlap", "geometry", None),
    ("negative age", _set("PINGJUN_NL", 2, -5.0), "out_of_range", "age_years", 3),
    ("absurd age", _set("PINGJUN_NL", 2, 900.0), "out_of_range", "age_years", 3),
    ("negative volume", _set("MEI_GQ_XJ", 6, -12.0), "out_of_range", "volume_m3_per_ha", 7),
    ("canopy as percent", _set("YU_BI_DU", 9, 85.0), "out_of_range", "canopy_closure", 10),
    (
        "unknown species",
        _set("YOU_SHI_SZ", 11, "火星松"),
        "unknown_species",
        "dominant_species",
        12,
    ),
    ("unknown land class", _set("DI_LEI", 12, "森林地"), "unknown_land_class", "land_class", 13),
    ("text in a number field", _set("PINGJUN_NL", 1, "二十"), "not_a_number", "age_years", 2),
    ("missing required field", _drop_column("DI_LEI"), "missing_field", "land_class", None),
    ("negative reported area", _set("MIAN_JI", 0, -1.0), "out_of_range", "area_ha_reported", 1),
]


@pytest.mark.parametrize(
    ("case", "corrupt", "code", "field", "record"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_refused_naming_record_and_field_and_changes_nothing(
    imported: Engine,
    frame: gpd.GeoDataFrame,
    tmp_path: Path,
    case: str,
    corrupt: Corruption,
    code: str,
    field: str | None,
    record: int | None,
) -> None:
    bad = corrupt(frame.copy())
    # also change a good stand, so that a partial write would be visible
    bad["PINGJUN_NL"] = bad["PINGJUN_NL"].astype(object)
    age = bad.loc[20, "PINGJUN_NL"]
    bad.loc[20, "PINGJUN_NL"] = (float(age) + 1) if age is not None and age == age else 3.0
    path = tmp_path / "bad.geojson"
    pyogrio.write_dataframe(bad, path, driver="GeoJSON")
    before = db_snapshot(imported)
    with pytest.raises(ImportRejected) as info:
        import_inventory(imported, path, ImportOptions())
    assert db_snapshot(imported) == before
    report = info.value.report
    matching = [i for i in report.errors if i.code == code]
    assert matching, f"{case}: no {code!r} error in {[i.describe() for i in report.errors]}"
    issue = matching[0]
    assert issue.field == field
    if record is not None:
        assert issue.record == record
        expected_key = f"431123-{bad.loc[record - 1, 'LIN_BAN']}-{bad.loc[record - 1, 'XIAO_BAN']}"
        assert issue.key == expected_key
        assert expected_key in issue.describe()
    # bilingual, and says what to do
    assert issue.problem_zh and issue.problem_en and issue.action_zh and issue.action_en
    assert "记录" in issue.describe() or record is None


def test_overlap_names_both_stands_and_respects_the_tolerance(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    bad = _overlap(frame)
    path = write_gpkg(bad, tmp_path / "overlap.gpkg")
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, path, ImportOptions())
    overlaps = [i for i in info.value.report.errors if i.code == "overlap"]
    key10 = f"431123-{frame.LIN_BAN[10]}-{frame.XIAO_BAN[10]}"
    assert overlaps and all(key10 in (i.key or "") + i.problem_en for i in overlaps)
    assert all("m²" in i.problem_en for i in overlaps)
    # a 1 mm sliver along a ~15 km boundary (< 30 m²) is below a 100 m² tolerance
    tiny = _geometry(10, lambda g: g.buffer(0.001))(frame)
    tiny_path = write_gpkg(tiny, tmp_path / "tiny.gpkg")
    with pytest.raises(ImportRejected):
        import_inventory(engine, tiny_path, ImportOptions(overlap_tolerance_m2=0.01))
    result = import_inventory(engine, tiny_path, ImportOptions(overlap_tolerance_m2=100.0))
    assert result.status == "imported"


def test_all_problems_of_a_file_come_in_one_report(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    bad = frame
    for _case, corrupt, _code, _field, _record in BAD_INPUTS[:11]:
        bad = corrupt(bad)
    path = write_gpkg(bad, tmp_path / "many.gpkg")
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, path, ImportOptions())
    codes = {i.code for i in info.value.report.errors}
    assert {"invalid_geometry", "empty_geometry", "duplicate_key", "overlap", "out_of_range",
            "unknown_species", "unknown_land_class", "not_a_number"} <= codes  # fmt: skip
    report_csv, report_json = info.value.report.write(tmp_path / "reports", "many")
    assert "invalid_geometry" in report_csv.read_text(encoding="utf-8-sig")
    assert "火星松" in report_json.read_text(encoding="utf-8")


def test_missing_prj_is_refused_with_the_epsg_code_to_pass(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = write_shapefile_gbk_no_cpg(frame, tmp_path / "noprj.shp", prj=False)
    before = db_snapshot(engine)
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, path, ImportOptions())
    crs_errors = [i for i in info.value.report.errors if i.code == "crs"]
    assert crs_errors and "EPSG:4525" in crs_errors[0].problem_en
    assert "EPSG:4525" in crs_errors[0].problem_zh
    assert db_snapshot(engine) == before
    # … and imports once the user says which CRS it is
    result = import_inventory(engine, path, ImportOptions(crs="EPSG:4525"))
    assert result.status == "imported"


def test_wrong_crs_is_refused_because_the_data_fall_outside_china(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    wrong = frame.set_crs("EPSG:4546", allow_override=True)  # zone prefix not expected by 4546
    with pytest.raises(ImportRejected) as info:
        import_inventory(engine, write_gpkg(wrong, tmp_path / "wrong.gpkg"), ImportOptions())
    assert any(
        i.code == "crs" and "outside China" in i.problem_en for i in info.value.report.errors
    )


def test_xian1980_inventory_is_transformed_to_cgcs2000(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    xian = frame.to_crs("EPSG:2361")  # Xi'an 1980 / 3-degree GK zone 37
    result = import_inventory(engine, write_gpkg(xian, tmp_path / "xian.gpkg"), ImportOptions())
    assert result.status == "imported"
    assert any(i.code == "datum_shift" for i in result.report.warnings)
    with session_scope(engine) as session:
        n = session.execute(text("SELECT count(*) FROM stand")).scalar()
    assert n == len(frame)


def test_fix_geometry_repairs_and_lists_every_repair(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    bad = _geometry(3, _bowtie)(frame)
    path = write_gpkg(bad, tmp_path / "bowtie.gpkg")
    with pytest.raises(ImportRejected):
        import_inventory(engine, path, ImportOptions())
    # the bowtie overlaps its neighbours once repaired: allow that for this test
    result = import_inventory(
        engine, path, ImportOptions(fix_geometry=True, overlap_tolerance_m2=1e12)
    )
    assert result.status == "imported"
    repairs = result.report.repairs
    assert (
        len(repairs) == 1
        and repairs[0].record == 4
        and "Self-intersection" in repairs[0].problem_en
    )


def test_reimport_is_a_noop_and_an_edited_file_creates_versions(
    imported: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    same = import_inventory(imported, write_gpkg(frame, tmp_path / "base.gpkg"), ImportOptions())
    assert same.status in {"already_imported", "unchanged"}
    before = db_snapshot(imported)
    # the same content in another format is still "unchanged"
    shp = write_shapefile_gbk_no_cpg(frame, tmp_path / "same.shp")
    assert import_inventory(imported, shp, ImportOptions()).status == "unchanged"
    assert db_snapshot(imported) == before

    edited = frame.copy()
    edited.loc[0, "MEI_GQ_XJ"] = 321.5
    edited.loc[1, "LQ_QLR"] = "蒋新户主"
    edited = edited.drop(index=2)
    v2 = write_gpkg(edited, tmp_path / "v2.gpkg")
    # a stand of the file's townships is missing: refused with the list, nothing written …
    with pytest.raises(ImportRejected) as info:
        import_inventory(imported, v2, ImportOptions())
    assert db_snapshot(imported) == before
    key2 = f"431123-{frame.LIN_BAN[2]}-{frame.XIAO_BAN[2]}"
    listed = [i for i in info.value.report.errors if i.code == "missing_stands"]
    assert (
        len(listed) == 1
        and key2 in listed[0].problem_en
        and "--retire-missing" in (listed[0].action_en)
    )
    # … until the user says to retire it
    result = import_inventory(imported, v2, ImportOptions(retire_missing=True))
    assert (result.status, result.n_changed, result.n_new, result.n_retired) == (
        "imported", 2, 0, 1
    )  # fmt: skip
    assert result.n_unchanged == len(frame) - 3
    key0 = f"431123-{frame.LIN_BAN[0]}-{frame.XIAO_BAN[0]}"
    with session_scope(imported) as session:
        history = stand_history(session, key0)
        retired = stand_history(session, key2)
        owner = session.execute(select(Owner).where(Owner.name == "蒋新户主")).scalar_one()
        current = session.execute(
            select(text("count(*)")).select_from(Stand).where(col(Stand.is_current).is_(True))
        ).scalar()
    assert [h["version"] for h in history] == [1, 2]
    assert [h["is_current"] for h in history] == [False, True]
    assert history[0]["superseded_by_batch_id"] == result.batch_id
    assert history[1]["volume_m3_per_ha"] == 321.5
    assert owner.kind == "household"
    assert current == len(frame) - 1  # the missing stand is retired, not deleted
    assert [h["is_current"] for h in retired] == [False]
    assert retired[0]["superseded_by_batch_id"] == result.batch_id
    assert retired[0]["became"][0]["kind"] == "retired"


def test_zip_with_shapefile_and_geojson_import(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    shp = write_shapefile_gbk_no_cpg(frame, tmp_path / "zipped" / "xiaoban.shp")
    archive = tmp_path / "delivery.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in shp.parent.iterdir():
            z.write(part, f"二类调查/{part.name}")
    result = import_inventory(engine, archive, ImportOptions())
    assert result.status == "imported" and result.n_new == len(frame)
    geojson = tmp_path / "same.geojson"
    pyogrio.write_dataframe(frame.to_crs(4490), geojson, driver="GeoJSON")
    again = import_inventory(engine, geojson, ImportOptions())
    assert again.status == "unchanged"


def test_area_mismatch_is_a_warning_and_both_areas_are_kept(
    engine: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    off = frame.copy()
    off.loc[0, "MIAN_JI"] = round(float(off.geometry.area.iloc[0]) / 10_000 * 1.10, 2)
    result = import_inventory(engine, write_gpkg(off, tmp_path / "off.gpkg"), ImportOptions())
    warnings = [i for i in result.report.warnings if i.code == "area_mismatch" and i.record == 1]
    assert warnings and warnings[0].severity is Severity.WARNING
    with session_scope(engine) as session:
        stand = session.execute(
            select(Stand).where(Stand.stand_key == f"431123-{frame.LIN_BAN[0]}-{frame.XIAO_BAN[0]}")
        ).scalar_one()
    assert stand.area_ha_reported == off.loc[0, "MIAN_JI"]
    assert stand.area_ha == pytest.approx(float(frame.geometry.area.iloc[0]) / 10_000, rel=1e-3)


def test_undecodable_text_names_the_record_and_field_and_changes_nothing(
    imported: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = write_shapefile_gbk_no_cpg(frame, tmp_path / "broken.shp")
    dbf = bytearray(path.with_suffix(".dbf").read_bytes())
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = int.from_bytes(dbf[10:12], "little")
    fifth = header_len + 4 * record_len
    pos = next(i for i in range(fifth, fifth + record_len) if dbf[i] >= 0x80)
    dbf[pos], dbf[pos + 1] = 0x81, 0x20  # a GBK lead byte followed by a space: invalid
    path.with_suffix(".dbf").write_bytes(bytes(dbf))
    before = db_snapshot(imported)
    with pytest.raises(ImportRejected) as info:
        import_inventory(imported, path, ImportOptions())
    assert db_snapshot(imported) == before
    issue = next(i for i in info.value.report.errors if i.code == "encoding")
    assert issue.record == 5
    assert issue.key == f"431123-{frame.LIN_BAN[4]}-{frame.XIAO_BAN[4]}"
    assert issue.source_field == "XIANG" and issue.field == "township"
    assert "81 20" in issue.problem_en and "GBK" in issue.problem_zh


def test_a_point_among_the_polygons_is_refused(
    imported: Engine, frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    bad = _geometry(6, lambda g: g.centroid)(frame)
    path = tmp_path / "mixed.geojson"
    pyogrio.write_dataframe(bad, path, driver="GeoJSON")
    before = db_snapshot(imported)
    with pytest.raises(ImportRejected) as info:
        import_inventory(imported, path, ImportOptions())
    assert db_snapshot(imported) == before
    issue = next(i for i in info.value.report.errors if i.code == "not_polygon")
    assert issue.record == 7 and "Point" in issue.problem_en


@pytest.mark.parametrize("name", ["garbage.gpkg", "garbage.zip", "empty.geojson"])
def test_a_malformed_upload_is_a_clear_error(engine: Engine, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"" if name.startswith("empty") else b"\x00not a real file\xff" * 50)
    before = db_snapshot(engine)
    with pytest.raises(GisDataError) as info:
        import_inventory(engine, path, ImportOptions())
    assert name in str(info.value) and info.value.message_zh and info.value.message_en
    assert db_snapshot(engine) == before
