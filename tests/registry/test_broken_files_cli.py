"""A corpus of broken deliveries run through ``tanhui import-inventory`` as a user runs it: each
ends with its documented exit code (1 refused with a report, 2 bad usage, 3 unreadable file), a
report file, a bilingual message, no Python traceback, and nothing written to the database."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from sqlalchemy import Engine

from gis_data.sample import coded_frame, write_filegdb
from tests.cli_runner import run_cli
from tests.conftest import db_snapshot
from tests.inventory_files import (
    sample_frame,
    write_gpkg,
    write_shapefile,
    write_shapefile_gbk_no_cpg,
)
from tests.registry.user_fixtures import cli_env

REFUSED, USAGE, UNREADABLE = 1, 2, 3


def _garbage(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = d / "garbage.gpkg"
    p.write_bytes(b"\x00not a geopackage\xff" * 64)
    return p, []


def _empty_geojson(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = d / "empty.geojson"
    p.write_bytes(b"")
    return p, []


def _no_dbf(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = write_shapefile_gbk_no_cpg(f, d / "nodbf.shp")
    p.with_suffix(".dbf").unlink()
    return p, []


def _truncated_shp(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = write_shapefile_gbk_no_cpg(f, d / "cut.shp")
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 3])
    return p, []


def _broken_dbf_header(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = write_shapefile_gbk_no_cpg(f, d / "hdr.shp")
    dbf = bytearray(p.with_suffix(".dbf").read_bytes())
    dbf[4:8] = (10_000_000).to_bytes(4, "little")  # claims ten million records
    p.with_suffix(".dbf").write_bytes(bytes(dbf))
    return p, []


def _two_shapefiles_zipped(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    a = write_shapefile_gbk_no_cpg(f, d / "a" / "a.shp")
    b = write_shapefile_gbk_no_cpg(f, d / "b" / "b.shp")
    p = d / "two.zip"
    with zipfile.ZipFile(p, "w") as z:
        for part in [*a.parent.iterdir(), *b.parent.iterdir()]:
            z.write(part, part.name)
    return p, []


def _not_a_zip(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = d / "delivery.zip"
    p.write_bytes(b"PK\x03\x04 truncated")
    return p, []


def _empty_gdb(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = d / "empty.gdb"
    p.mkdir()
    return p, []


def _missing(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return d / "does_not_exist.shp", []


def _two_layers(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    p = write_gpkg(f, d / "two.gpkg")
    pyogrio.write_dataframe(f.iloc[:3], p, driver="GPKG", layer="old")
    return p, []


def _layer_on_shapefile(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return write_shapefile_gbk_no_cpg(f, d / "x.shp"), ["--layer", "xiaoban"]


def _bad_key(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return write_gpkg(f, d / "k.gpkg"), ["--key", "county_code,林班"]


def _bad_unit(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return write_gpkg(f, d / "u.gpkg"), ["--area-unit", "acre"]


def _missing_codes_file(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return write_gpkg(f, d / "c.gpkg"), ["--codes", str(d / "nope.csv")]


def _bowtie(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    bad = f.copy()
    g = bad.geometry.iloc[3]
    x0, y0, x1, y1 = g.bounds
    geoms = bad.geometry.values.copy()
    geoms[3] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    return write_gpkg(bad.set_geometry(gpd.GeoSeries(geoms, crs=f.crs)), d / "bowtie.gpkg"), []


def _lying_cpg(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return write_shapefile(f, d / "lying.shp", "GBK", "UTF-8"), []


def _no_prj(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    return write_shapefile_gbk_no_cpg(f, d / "noprj.shp", prj=False), []


def _mu(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    mu = f.copy()
    mu["MIAN_JI"] = mu["MIAN_JI"] * 15
    return write_gpkg(mu, d / "mu.gpkg"), []


def _unknown_codes(d: Path, f: gpd.GeoDataFrame) -> tuple[Path, list[str]]:
    coded = coded_frame(f)
    coded["YOU_SHI_SZ"] = np.where(coded["YOU_SHI_SZ"].notna(), "977", None)
    return write_filegdb(coded, d / "codes.gdb"), []


Case = Callable[[Path, gpd.GeoDataFrame], tuple[Path, list[str]]]
CORPUS: list[tuple[str, Case, int, str]] = [
    ("garbage gpkg", _garbage, UNREADABLE, "garbage.gpkg"),
    ("empty geojson", _empty_geojson, UNREADABLE, "empty.geojson"),
    ("shapefile without .dbf", _no_dbf, UNREADABLE, ".dbf"),
    ("truncated .shp", _truncated_shp, UNREADABLE, "cut.shp"),
    ("dbf header lies", _broken_dbf_header, UNREADABLE, "hdr.shp"),
    ("zip with two shapefiles", _two_shapefiles_zipped, UNREADABLE, "exactly one"),
    ("not a zip", _not_a_zip, UNREADABLE, "delivery.zip"),
    ("empty .gdb folder", _empty_gdb, UNREADABLE, "empty.gdb"),
    ("missing file", _missing, UNREADABLE, "does_not_exist.shp"),
    ("two polygon layers", _two_layers, USAGE, "--layer"),
    ("--layer on a shapefile", _layer_on_shapefile, USAGE, "--layer"),
    ("unknown --key field", _bad_key, USAGE, "--key"),
    ("unknown --area-unit", _bad_unit, USAGE, "--area-unit"),
    ("missing --codes file", _missing_codes_file, USAGE, "nope.csv"),
    ("self-intersection", _bowtie, REFUSED, "invalid_geometry"),
    ("lying .cpg", _lying_cpg, REFUSED, "cpg_conflict"),
    ("no .prj", _no_prj, REFUSED, "EPSG:4525"),
    ("areas in 亩", _mu, REFUSED, "--area-unit mu"),
    ("unknown codes", _unknown_codes, REFUSED, "--codes"),
]


def test_every_broken_file_ends_with_its_exit_code_a_report_and_no_traceback(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    frame = sample_frame(40, 9)
    env = cli_env(db_url)
    before = db_snapshot(engine)
    for case, make, expected, needle in CORPUS:
        folder = tmp_path / case.replace(" ", "_").replace("/", "_")
        folder.mkdir()
        path, options = make(folder, frame)
        reports = folder / "reports"
        # in-process: an exception escaping the command fails the test with its traceback
        done = run_cli("import-inventory", str(path), "--report-dir", str(reports), *options,
                       env=env, cwd=folder)  # fmt: skip
        output = done.stdout + done.stderr
        assert done.returncode == expected, f"{case}: exit {done.returncode}\n{output}"
        assert "Traceback" not in output, f"{case}:\n{output}"
        if expected != USAGE or reports.exists():
            written = list(reports.glob("*.report.json"))
            assert written, f"{case}: no report\n{output}"
            assert needle in written[0].read_text(encoding="utf-8") + output, case
        else:  # usage errors found before the file is opened say so on one line
            assert needle in output, f"{case}:\n{output}"
        # bilingual
        assert ("错误" in output or "未导入" in output or "用法错误" in output) and (
            "Error" in output or "Not imported" in output or "Bad usage" in output
        ), case
        assert db_snapshot(engine) == before, f"{case}: the database changed"
    shutil.rmtree(tmp_path, ignore_errors=True)
