"""The files bureaus really have, read and checked without a database: coded values, units,
FileGDB layers, lying .cpg files, Chinese and truncated column names, Z/M, CRS messages and
rounding. Every file is written here with pyogrio/GDAL and read back through the real drivers."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from gis_data import CheckOptions, load_profile, prepare_inventory, read_inventory
from gis_data.codes import load_codebook, national_codebook
from gis_data.crs import recognise_coordinates
from gis_data.errors import UsageError
from gis_data.sample import coded_frame, write_filegdb
from methodologies import load_species_vocabulary
from tests.inventory_files import sample_frame, write_gpkg, write_shapefile

SPECIES = {name: group.value for name, group in load_species_vocabulary().items()}


@pytest.fixture(scope="module")
def frame() -> gpd.GeoDataFrame:
    return sample_frame(60, 11)


def check(path: Path, **options: object) -> tuple[object, object]:
    profile = load_profile()
    codes = options.pop("codes_file", None)
    raw = read_inventory(path, profile, layer=options.pop("layer", None))  # type: ignore[arg-type]
    opts = CheckOptions(codes=load_codebook(codes, profile), **options)  # type: ignore[arg-type]
    return raw, prepare_inventory(raw, SPECIES, opts)


def test_code_tables_carry_the_codes_of_the_real_template_with_source_and_status() -> None:
    book = national_codebook()
    # the codes listed from one real 一张图 template (shared/DESIGN.md)
    for table, code, name in [
        ("dominant_species", "121", "杉木"), ("dominant_species", "131", "马尾松"),
        ("dominant_species", "151", "湿地松"), ("dominant_species", "411", "毛竹"),
        ("dominant_species", "661", "油茶"), ("dominant_species", "220", "栎类"),
        ("origin", "11", "天然"), ("origin", "21", "人工"), ("origin", "23", "飞播"),
        ("forest_category", "011", "公益林"), ("forest_category", "022", "商品林"),
        ("land_tenure", "10", "国有"), ("land_tenure", "20", "集体"),
        ("land_class", "1111", "乔木林地"), ("land_class", "1130", "竹林地"),
        ("land_class", "0301", "乔木林地"), ("land_class", "111", "乔木林地"),
        ("slope_class", "1", "平坡"), ("slope_class", "6", "险坡"), ("age_group", "5", "过熟林"),
    ]:  # fmt: skip
        entry = book.entry(table, code)
        assert entry is not None and entry.name_zh == name, (table, code)
        assert entry.source and entry.status
    # SEN_LIN_LB 011 stored as the integer 11 still decodes
    assert book.entry("forest_category", "11") == book.entry("forest_category", "011")
    recalled = [e for t in book.tables.values() for e in t.values() if "recalled" in e.status]
    assert recalled and all(e.unverified for e in recalled)


def test_every_land_class_code_decodes_to_a_known_land_class() -> None:
    from gis_data.checks import land_class_vocabulary

    names = national_codebook().names("land_class")
    assert names <= set(land_class_vocabulary())
    assert national_codebook().names("dominant_species") <= set(SPECIES)


def test_coded_file_decodes_to_the_same_attributes_as_the_named_file(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    _, named = check(write_gpkg(frame, tmp_path / "named.gpkg"), slope_unit="deg")
    _, coded = check(write_filegdb(coded_frame(frame), tmp_path / "coded.gdb"))
    assert not coded.report.has_errors, [i.describe() for i in coded.report.errors]
    for column in ("land_class", "dominant_species", "origin", "age_group", "forest_category",
                   "land_tenure", "tree_tenure", "site_class", "stand_key"):  # fmt: skip
        assert coded.attributes[column].tolist() == named.attributes[column].tolist(), column
    # the coded file's 坡度 holds classes: stored as classes, never as degrees
    assert coded.attributes["slope_deg"].isna().all()
    first = float(frame["PO_DU"].iloc[0])  # e.g. 22° is 斜坡 (15–24°)
    expected = "平坡缓坡斜坡陡坡急坡险坡"[
        2 * int(np.searchsorted([5, 15, 25, 35, 45], first, "right")) :
    ][:2]
    assert coded.attributes["slope_class"].iloc[0] == expected
    # the unverified code entries are said once per column, not per record
    unverified = [i for i in coded.report.warnings if i.code == "unverified_codes"]
    assert len({i.field for i in unverified}) == len(unverified)


def test_unknown_codes_are_one_report_entry_with_counts_and_the_option(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    coded = coded_frame(frame)
    species = coded["YOU_SHI_SZ"].astype(object).to_numpy().copy()
    forest_rows = np.flatnonzero(coded["YOU_SHI_SZ"].notna().to_numpy())
    species[forest_rows[:7]] = "999"
    species[forest_rows[7:9]] = "998"
    coded["YOU_SHI_SZ"] = species
    path = write_filegdb(coded, tmp_path / "county.gdb")
    _, prepared = check(path)
    errors = prepared.report.errors
    assert [i.code for i in errors] == ["unknown_codes"]
    issue = errors[0]
    assert "998 (2 records)" in issue.problem_en and "999 (7 records)" in issue.problem_en
    assert "--codes" in issue.action_en and "--codes" in issue.action_zh
    assert issue.source_field == "YOU_SHI_SZ"
    # the county's own table supplies them
    table = tmp_path / "county_codes.csv"
    table.write_text("field,code,meaning\nYOU_SHI_SZ,999,杉木\ndominant_species,998,毛竹\n")
    _, fixed = check(path, codes_file=table)
    assert not fixed.report.has_errors
    assert fixed.attributes["dominant_species"].iloc[forest_rows[0]] == "杉木"
    assert fixed.attributes["dominant_species"].iloc[forest_rows[8]] == "毛竹"


def test_a_bad_county_code_table_is_bad_usage(tmp_path: Path) -> None:
    table = tmp_path / "codes.csv"
    table.write_text("field,code,meaning\nNOT_A_FIELD,1,x\n")
    with pytest.raises(UsageError, match="NOT_A_FIELD"):
        load_codebook(table, load_profile())


def test_area_in_mu_is_one_error_naming_the_unit_and_the_option(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    mu = frame.copy()
    mu["MIAN_JI"] = (mu["MIAN_JI"] * 15).round(2)  # 1 ha = 15 亩
    path = write_gpkg(mu, tmp_path / "mu.gpkg")
    _, prepared = check(path)
    assert [i.code for i in prepared.report.errors] == ["area_unit"]
    assert "--area-unit mu" in prepared.report.errors[0].action_en
    assert "亩" in prepared.report.errors[0].problem_zh
    assert not [i for i in prepared.report.warnings if i.code == "area_mismatch"]
    _, declared = check(path, area_unit="mu")
    assert not declared.report.has_errors
    # stored in hectares: 15 亩 = 1 ha, by hand: reported 亩 / 15
    first = float(mu["MIAN_JI"].iloc[0])
    assert declared.attributes["area_ha_reported"].iloc[0] == pytest.approx(first / 15)
    # and hectares declared as 亩 are caught the other way round
    _, wrong = check(write_gpkg(frame, tmp_path / "ha.gpkg"), area_unit="mu")
    assert [i.code for i in wrong.report.errors] == ["area_unit"]


def test_slope_classes_are_stored_as_classes_and_never_guessed(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    numeric = frame.copy()
    numeric["PO_DU"] = np.arange(len(frame)) % 6 + 1  # integers 1–6: classes or flat degrees?
    path = write_gpkg(numeric, tmp_path / "classes.gpkg")
    _, guessed = check(path)
    assert [i.code for i in guessed.report.errors] == ["slope_unit"]
    assert "--slope-unit class" in guessed.report.errors[0].action_en
    _, classes = check(path, slope_unit="class")
    assert not classes.report.has_errors
    assert classes.attributes["slope_class"].iloc[:6].tolist() == [
        "平坡", "缓坡", "斜坡", "陡坡", "急坡", "险坡",
    ]  # fmt: skip
    assert classes.attributes["slope_deg"].isna().all()
    _, degrees = check(path, slope_unit="deg")
    assert degrees.attributes["slope_deg"].iloc[:3].tolist() == [1.0, 2.0, 3.0]
    assert degrees.attributes["slope_class"].isna().all()


def test_filegdb_with_two_polygon_layers_is_refused_listing_them(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = write_filegdb(coded_frame(frame), tmp_path / "two.gdb", layer="XIAOBAN")
    pyogrio.write_dataframe(
        frame.iloc[:5], path, driver="OpenFileGDB", layer="XIAOBAN_2019", promote_to_multi=True
    )
    with pytest.raises(UsageError) as info:
        read_inventory(path, load_profile())
    assert "XIAOBAN" in info.value.message_en and "XIAOBAN_2019" in info.value.message_en
    assert "--layer" in info.value.message_en and "--layer" in info.value.message_zh
    raw, prepared = check(path, layer="XIAOBAN")
    assert raw.driver == "OpenFileGDB" and len(raw.frame) == len(frame)
    assert not prepared.report.has_errors
    with pytest.raises(UsageError, match="no layer 'NOPE'"):
        read_inventory(path, load_profile(), layer="NOPE")
    # zipped, as it is e-mailed
    archive = tmp_path / "delivery.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for part in path.iterdir():
            z.write(part, f"一张图/two.gdb/{part.name}")
    raw_zip = read_inventory(archive, load_profile(), layer="XIAOBAN_2019")
    assert raw_zip.driver == "OpenFileGDB" and len(raw_zip.frame) == 5


def test_a_geopackage_with_a_second_polygon_layer_is_refused(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = write_gpkg(frame, tmp_path / "two.gpkg")
    pyogrio.write_dataframe(frame.iloc[:3], path, driver="GPKG", layer="old")
    with pytest.raises(UsageError, match="xiaoban"):
        read_inventory(path, load_profile())
    assert len(read_inventory(path, load_profile(), layer="old").frame) == 3


@pytest.mark.parametrize(
    ("written", "cpg", "declared", "actual"),
    [
        ("UTF-8", "936", "GBK", "UTF-8"),  # .cpg "936" (CP936) over UTF-8 bytes
        ("GBK", "UTF-8", "UTF-8", "GBK"),  # .cpg UTF-8 over GBK bytes
        ("GBK", "1252", "CP1252", "GBK"),  # a Western code page over GBK bytes
    ],
)
def test_a_lying_cpg_is_reported_with_the_real_encoding_and_the_record(
    frame: gpd.GeoDataFrame, tmp_path: Path, written: str, cpg: str, declared: str, actual: str
) -> None:
    path = write_shapefile(frame, tmp_path / "lying.shp", written, cpg)
    _raw, prepared = check(path)
    issues = [i for i in prepared.report.errors if i.code == "cpg_conflict"]
    assert len(issues) == 1
    issue = issues[0]
    assert declared in issue.problem_en and actual in issue.problem_en
    assert issue.record == 1 and issue.source_field == "XIANG"
    assert frame["XIANG"].iloc[0] in issue.problem_en  # the value as the bytes really read
    assert f"--encoding {actual}" in issue.action_en
    # the text was read as the bytes are, so nothing holds U+FFFD
    for column in prepared.attributes.columns:
        values = prepared.attributes[column]
        if values.dtype == object:
            assert not values.astype(str).str.contains("\ufffd").any(), column


def test_a_truthful_cpg_936_reads_gbk(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    path = write_shapefile(frame, tmp_path / "cp936.shp", "GBK", "936")
    raw, prepared = check(path)
    assert raw.encoding is not None and raw.encoding.encoding == "GBK"
    assert not prepared.report.has_errors
    assert raw.frame["township"].tolist() == frame["XIANG"].tolist()


@pytest.mark.parametrize("encoding", ["GBK", "UTF-8"])
def test_chinese_column_names_and_their_10_byte_truncation_match_the_profile(
    frame: gpd.GeoDataFrame, tmp_path: Path, encoding: str
) -> None:
    chinese = frame.rename(
        columns={"LIN_BAN": "林班号", "XIAO_BAN": "小班号", "DI_LEI": "地类",
                 "YOU_SHI_SZ": "优势树种", "MEI_GQ_XJ": "每公顷蓄积量"}
    )  # fmt: skip
    path = write_shapefile(chinese, tmp_path / f"cn_{encoding}.shp", encoding, None)
    raw = read_inventory(path, load_profile())
    # 每公顷蓄积量 is 12 bytes in GBK (→ 每公顷蓄积) and 18 in UTF-8 (→ 每公顷): still volume
    assert raw.columns["volume_m3_per_ha"] in {"每公顷蓄积", "每公顷"}
    assert raw.columns["compartment"] == "林班号" and raw.columns["land_class"] == "地类"
    assert raw.frame["volume_m3_per_ha"].tolist() == pytest.approx(
        frame["MEI_GQ_XJ"].tolist(), nan_ok=True
    )
    assert raw.frame["dominant_species"].fillna("").tolist() == (
        frame["YOU_SHI_SZ"].fillna("").tolist()
    )


def test_z_polygons_are_checked_2d(frame: gpd.GeoDataFrame, tmp_path: Path) -> None:
    zm = frame.copy()
    geoms = [shapely.force_3d(g, 123.0) for g in zm.geometry]
    zm = zm.set_geometry(gpd.GeoSeries(geoms, crs=frame.crs))
    path = tmp_path / "z.gpkg"
    pyogrio.write_dataframe(zm, path, driver="GPKG", layer="xiaoban")
    assert "Z" in pyogrio.read_info(path)["geometry_type"]
    _, prepared = check(path)
    assert not prepared.report.has_errors
    assert not shapely.has_z(prepared.geometry).any()


def test_rounding_to_the_storage_grid_never_makes_a_valid_stand_invalid(tmp_path: Path) -> None:
    # A notch reaching within 4e-10° of the stand's own southern edge: valid as drawn, but a
    # plain rounding to 1e-9° puts the notch's tip ON that edge (a self-touching ring).
    x0, y0 = 111.5, 26.0
    tip = (111.55, y0 + 4e-10)
    ring = [(x0, y0), (111.6, y0), (111.6, 26.1), (111.5501, 26.1), tip, (111.5499, 26.1),
            (x0, 26.1), (x0, y0)]  # fmt: skip
    stand = shapely.Polygon(ring)
    assert stand.is_valid
    rounded = shapely.transform(stand, lambda c: np.round(c, 9))
    assert not rounded.is_valid  # the damage plain rounding does
    one = sample_frame(20, 3).iloc[[0]].to_crs(4490).set_geometry([stand], crs=4490)
    one["MIAN_JI"] = 1.0
    path = write_gpkg(one, tmp_path / "notch.gpkg")
    _, prepared = check(path, area_tolerance_pct=1e9)
    assert not prepared.report.has_errors, [i.describe() for i in prepared.report.errors]
    stored = prepared.geometry[0]
    assert stored.is_valid
    # still the same stand: its area changes by far less than a square metre in 110 km²
    assert abs(shapely.area(stored) - shapely.area(stand)) < 1e-9


def test_geojson_in_metres_without_crs_is_refused_like_a_missing_prj(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "metres.geojson"
    # write the EPSG:4525 coordinates as they are, with no "crs" member
    plain = frame.set_crs(None, allow_override=True)
    pyogrio.write_dataframe(plain, path, driver="GeoJSON")
    assert b'"crs"' not in path.read_bytes()
    _, prepared = check(path)
    crs = [i for i in prepared.report.errors if i.code == "crs"]
    assert crs and "EPSG:4525" in crs[0].problem_en and "never guesses" in crs[0].problem_en


def test_swapped_axes_and_contradicting_prj_name_the_epsg_the_coordinates_suggest(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    zh, en = recognise_coordinates((2_850_000.0, 37_540_000.0, 2_900_000.0, 37_600_000.0))
    assert "swapped" in en and "EPSG:4525" in en and "颠倒" in zh
    zh, en = recognise_coordinates((25.6, 111.4, 26.2, 112.0))
    assert "swapped" in en and "EPSG:4490" in en
    wrong = frame.set_crs("EPSG:4546", allow_override=True)  # .prj without the zone prefix
    _, prepared = check(write_gpkg(wrong, tmp_path / "wrong.gpkg"))
    crs = [i for i in prepared.report.errors if i.code == "crs"]
    assert crs and "outside China" in crs[0].problem_en and "EPSG:4525" in crs[0].problem_en


def test_datum_warning_says_plainly_that_no_shift_was_applied(
    frame: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    _, prepared = check(write_gpkg(frame.to_crs("EPSG:2361"), tmp_path / "xian.gpkg"))
    datum = [i for i in prepared.report.warnings if i.code == "datum_shift"]
    assert len(datum) == 1
    assert "NO datum shift was applied" in datum[0].problem_en
    assert "未应用基准转换" in datum[0].problem_zh and "accuracy unknown" in datum[0].problem_en
