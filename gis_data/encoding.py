"""Detect the text encoding of a Shapefile's .dbf attribute table.

Bureau data often arrive as a Shapefile whose .dbf holds GBK text and has no .cpg sidecar (and
no language-driver byte). GDAL then decodes it as Latin-1 and returns mojibake with no warning.
We read the .dbf's character fields ourselves and decide: ASCII, UTF-8, GBK or GB18030; bytes
that decode in none of them are reported per record.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["CpgConflict", "DbfEncoding", "UndecodableValue", "cpg_encoding", "detect_dbf_encoding"]

# dBASE language-driver ids (byte 29 of the header) that name a Chinese code page.
_LDID_ENCODINGS = {0x4D: "GBK", 0x7A: "GBK"}
_CANDIDATES = ("UTF-8", "GBK", "GB18030")


@dataclass(frozen=True, slots=True)
class UndecodableValue:
    record: int  # 0-based feature index, deleted .dbf records not counted (as GDAL reads)
    field: str  # the .dbf column name
    raw_hex: str


@dataclass(frozen=True, slots=True)
class CpgConflict:
    """A .cpg that contradicts the bytes: what it says, what the bytes are, where it shows."""

    declared: str
    actual: str
    record: int  # 0-based feature index
    field: str
    as_declared: str  # the value decoded as the .cpg says
    as_actual: str  # the value decoded as the bytes are


@dataclass(frozen=True)
class DbfEncoding:
    """What we learnt about a .dbf: the encoding to read it with and why."""

    encoding: str | None  # None: plain ASCII, any reader is right
    reason: str
    undecodable: list[UndecodableValue] = field(default_factory=list)
    cpg_conflict: CpgConflict | None = None


# .cpg contents seen in the wild → our encoding names. "936" is Windows code page 936 (GBK).
_CPG_NAMES = {
    "936": "GBK", "cp936": "GBK", "gbk": "GBK", "gb2312": "GBK", "ansi 936": "GBK",
    "54936": "GB18030", "gb18030": "GB18030",
    "utf-8": "UTF-8", "utf8": "UTF-8", "65001": "UTF-8",
    "1252": "CP1252", "ansi 1252": "CP1252", "cp1252": "CP1252", "windows-1252": "CP1252",
    "88591": "ISO-8859-1", "8859_1": "ISO-8859-1", "iso-8859-1": "ISO-8859-1",
    "latin1": "ISO-8859-1",
}  # fmt: skip
_SINGLE_BYTE = ("CP1252", "ISO-8859-1")


def cpg_encoding(text: str) -> str:
    """The encoding a .cpg names, in our spelling (unknown names are returned as written)."""
    cleaned = text.strip().strip("\x00").strip()
    return _CPG_NAMES.get(cleaned.casefold(), cleaned)


def _char_fields(header: bytes) -> tuple[int, int, int, list[tuple[str, int, int]]]:
    n_records, header_len, record_len = struct.unpack("<IHH", header[4:12])
    fields: list[tuple[str, int, int]] = []
    offset = 1  # deletion flag
    pos = 32
    while pos + 32 <= len(header) and header[pos] != 0x0D:
        descriptor = header[pos : pos + 32]
        name = descriptor[:11].split(b"\x00", 1)[0].decode("ascii", errors="replace")
        ftype = chr(descriptor[11])
        length = descriptor[16]
        if ftype == "C":
            length = descriptor[16] + 256 * descriptor[17]  # long character fields
            fields.append((name, offset, length))
        offset += length
        pos += 32
    return n_records, header_len, record_len, fields


def _codec(name: str) -> str:
    return {"UTF-8": "utf-8", "GBK": "gbk", "GB18030": "gb18030"}.get(name, name)


def detect_dbf_encoding(dbf: bytes, cpg: str | None = None) -> DbfEncoding:
    """Decide how to decode a .dbf given its bytes and the text of its .cpg (if any).

    The character fields' bytes are tried, in order, as ASCII, UTF-8, GBK and GB18030; the
    first that decodes every value is chosen. When none decodes everything, GBK/GB18030 is
    still chosen if it decodes most values, and the values it cannot decode are returned in
    ``undecodable`` with their record and field. A .cpg is checked against that verdict: when
    it names another encoding than the bytes are in (UTF-8 bytes under "936", GBK bytes under
    "UTF-8", Chinese bytes under a Western code page), ``cpg_conflict`` says so, with the first
    record that shows it; otherwise the .cpg's encoding is used.
    """
    found = _detect(dbf)
    if not (cpg and cpg.strip()):
        return found
    declared = cpg_encoding(cpg)
    actual = found.encoding
    conflict = actual is not None and (
        (declared in ("GBK", "GB18030") and actual == "UTF-8")
        or (declared == "UTF-8" and actual in ("GBK", "GB18030"))
        or (declared in _SINGLE_BYTE and actual in ("UTF-8", "GBK", "GB18030"))
    )
    if not conflict or actual is None:
        if found.undecodable and declared in ("GBK", "GB18030", "UTF-8"):
            return DbfEncoding(declared, f".cpg says {cpg.strip()}", found.undecodable)
        return DbfEncoding(declared, f".cpg says {cpg.strip()}; the bytes agree")
    record, name, raw = _first_non_ascii(dbf)
    shown = DbfEncoding(
        actual,
        f".cpg says {cpg.strip()} but the text is {actual}",
        found.undecodable,
        CpgConflict(
            declared, actual, record, name,
            raw.decode(_python_codec(declared), errors="replace"),
            raw.decode(_python_codec(actual), errors="replace"),
        ),
    )  # fmt: skip
    return shown


def _python_codec(name: str) -> str:
    return {"CP1252": "cp1252", "ISO-8859-1": "latin-1"}.get(name) or _codec(name)


def _first_non_ascii(dbf: bytes) -> tuple[int, str, bytes]:
    header_len = struct.unpack("<H", dbf[8:10])[0]
    n_records, header_len, record_len, fields = _char_fields(dbf[:header_len])
    feature = 0
    for r in range(n_records):
        start = header_len + r * record_len
        record = dbf[start : start + record_len]
        if record[:1] == b"*":
            continue
        for name, offset, length in fields:
            raw = record[offset : offset + length].rstrip(b" \x00")
            if any(b >= 0x80 for b in raw):
                return feature, name, raw
        feature += 1
    return 0, "", b""


def _detect(dbf: bytes) -> DbfEncoding:
    if len(dbf) < 32:
        return DbfEncoding(None, "empty .dbf")
    header_len = struct.unpack("<H", dbf[8:10])[0]
    n_records, header_len, record_len, fields = _char_fields(dbf[:header_len])
    ldid = dbf[29]
    body = np.frombuffer(dbf, dtype=np.uint8, count=n_records * record_len, offset=header_len)
    table = body.reshape(n_records, record_len)
    live = table[:, 0] != ord("*")  # deleted records: GDAL skips them too
    feature_index = np.cumsum(live) - 1  # record number as GDAL counts (deleted ones skipped)
    # per character field: the values holding a byte >= 0x80, joined by b"\n" (never a valid
    # trail byte in UTF-8 or GBK, so the join decodes exactly when every value decodes)
    columns: list[tuple[str, NDArray[np.int64], NDArray[np.uint8]]] = []
    for name, offset, length in fields:
        block = table[:, offset : offset + length]
        rows = np.flatnonzero(live & (block >= 0x80).any(axis=1))
        if len(rows):
            newline = np.full((len(rows), 1), ord("\n"), dtype=np.uint8)
            columns.append((name, rows, np.hstack([block[rows], newline])))
    if not columns:
        return DbfEncoding(None, "ASCII only")
    if ldid in _LDID_ENCODINGS:
        preferred: tuple[str, ...] = (_LDID_ENCODINGS[ldid], *_CANDIDATES)
    else:
        preferred = _CANDIDATES
    for candidate in preferred:
        codec = _codec(candidate)
        if all(_decodes(values.tobytes(), codec) for _, _, values in columns):
            why = "language driver id" if candidate == preferred[0] and ldid else "no .cpg"
            return DbfEncoding(candidate, f"{why}; all text decodes as {candidate}")
    # Nothing decodes everything: pick the Chinese code page that decodes the most values and
    # list, per record, what it cannot decode.
    failures: dict[str, list[UndecodableValue]] = {}
    for candidate in ("GBK", "GB18030"):
        codec = _codec(candidate)
        bad: list[UndecodableValue] = []
        for name, rows, values in columns:
            if _decodes(values.tobytes(), codec):
                continue
            for row, cells in zip(rows, values, strict=True):
                raw = cells.tobytes()[:-1].rstrip(b" \x00")
                if not _decodes(raw, codec):
                    bad.append(UndecodableValue(int(feature_index[row]), name, raw.hex(" ")))
        failures[candidate] = bad
    best = min(("GBK", "GB18030"), key=lambda c: len(failures[c]))
    return DbfEncoding(best, f"most text decodes as {best}", failures[best])


def _decodes(raw: bytes, codec: str) -> bool:
    try:
        raw.decode(codec)
    except UnicodeDecodeError:
        return False
    return True
