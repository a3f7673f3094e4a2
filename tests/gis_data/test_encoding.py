"""GBK attribute tables without .cpg: detected and read correctly, never as mojibake."""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest

from gis_data import load_profile, read_inventory
from gis_data.encoding import detect_dbf_encoding
from tests.inventory_files import sample_frame, write_shapefile_gbk_no_cpg


@pytest.fixture(scope="module")
def gbk_shapefile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shapefile_gbk_no_cpg(
        sample_frame(30, 3), tmp_path_factory.mktemp("gbk") / "xiaoban.shp"
    )


def test_plain_gdal_read_gives_mojibake_without_warning(gbk_shapefile: Path) -> None:
    # The problem we guard against: GDAL reads a GBK .dbf without .cpg as Latin-1.
    frame = pyogrio.read_dataframe(gbk_shapefile)
    assert "泷泊镇" not in set(frame["XIANG"]) and not frame["XIANG"].str.contains("镇").any()


def test_gbk_dbf_without_cpg_is_detected(gbk_shapefile: Path) -> None:
    assert not gbk_shapefile.with_suffix(".cpg").exists()
    found = detect_dbf_encoding(gbk_shapefile.with_suffix(".dbf").read_bytes())
    assert found.encoding == "GBK"
    assert found.undecodable == []


def test_gbk_dbf_without_cpg_reads_correct_chinese(gbk_shapefile: Path) -> None:
    raw = read_inventory(gbk_shapefile, load_profile())
    expected = sample_frame(30, 3)
    assert raw.frame["township"].tolist() == expected["XIANG"].tolist()
    assert raw.frame["dominant_species"].fillna("").tolist() == (
        expected["YOU_SHI_SZ"].fillna("").tolist()
    )
    assert "杉木" in set(raw.frame["dominant_species"])


def test_ascii_only_table_needs_no_encoding() -> None:
    header = bytearray(32)
    header[0] = 3
    header[4:8] = (1).to_bytes(4, "little")
    header[8:10] = (32 + 32 + 1).to_bytes(2, "little")
    header[10:12] = (1 + 5).to_bytes(2, "little")
    field = bytearray(32)
    field[:4] = b"NAME"
    field[11] = ord("C")
    field[16] = 5
    dbf = bytes(header + field + b"\x0d" + b" ABCDE" + b"\x1a")
    assert detect_dbf_encoding(dbf).encoding is None


def test_undecodable_bytes_are_reported_with_their_record(gbk_shapefile: Path) -> None:
    dbf = bytearray(gbk_shapefile.with_suffix(".dbf").read_bytes())
    # Break the third record's first Chinese character: a GBK lead byte followed by a space
    # is invalid in GBK, GB18030 and UTF-8 alike.
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = int.from_bytes(dbf[10:12], "little")
    third = header_len + 2 * record_len
    pos = next(i for i in range(third, third + record_len) if dbf[i] >= 0x80)
    dbf[pos], dbf[pos + 1] = 0x81, 0x20
    found = detect_dbf_encoding(bytes(dbf))
    assert found.encoding in {"GBK", "GB18030"}
    assert [u.record for u in found.undecodable] == [2]
    assert found.undecodable[0].raw_hex.startswith("81 20")
