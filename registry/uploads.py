"""Files that arrive over the network, checked before anything reads them: a size limit while
they are written, known types only, and zips opened member by member — no absolute paths or
``..`` (path traversal), no links, a bound on what they unpack to and on each member's
compression ratio (zip bombs), and the unpacked bytes counted as they are written (a member
that lies about its size is caught). A refusal leaves nothing behind."""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from registry.errors import Invalid

__all__ = [
    "RASTER_TYPES",
    "TABLE_TYPES",
    "UPLOAD_TYPES",
    "UploadLimits",
    "UploadRefused",
    "receive_upload",
]

UPLOAD_TYPES = (".gpkg", ".zip", ".geojson", ".json")
TABLE_TYPES = (".xlsx", ".csv")  # plot workbooks (样地) and evidence tables
RASTER_TYPES = (".tif", ".tiff")  # remote-sensing scenes (GeoTIFF)
MAX_RATIO = 200  # a member may unpack to at most 200× its compressed size (when over 1 MiB)
MAX_MEMBERS = 10_000
CHUNK = 1 << 20


class UploadRefused(Invalid):
    """An uploaded file refused before it was read: too large, a wrong type, an unsafe zip."""


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int
    max_unzipped_bytes: int


def _refuse(zh: str, en: str) -> UploadRefused:
    return UploadRefused(zh, en)


def receive_upload(
    filename: str, chunks: Iterable[bytes], limits: UploadLimits, folder: Path,
    types: tuple[str, ...] = UPLOAD_TYPES,
) -> Path:  # fmt: skip
    """Write an upload into ``folder`` (which the caller removes) and return the path to read:
    the file itself, or inside a zip the one ``.shp``, ``.gdb`` folder or ``.gpkg`` it holds.
    ``types``: the suffixes accepted (inventories by default; ``TABLE_TYPES`` for workbooks)."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in types or not name or name.startswith("."):
        raise _refuse(
            f"文件类型 {suffix or '（无）'} 不接受，可用：{'、'.join(types)}（Shapefile 与 FileGDB 请打包为 zip）。",
            f"file type {suffix or '(none)'} is not accepted; use {', '.join(types)} "
            "(zip a shapefile or a FileGDB).",
        )
    target = folder / name  # the sender's file name (its last part), as reports name it
    written = 0
    with target.open("wb") as out:
        for chunk in chunks:
            written += len(chunk)
            if written > limits.max_bytes:
                raise _refuse(
                    f"文件超过上限 {limits.max_bytes // (1 << 20)} MiB。",
                    f"the file is larger than the limit of {limits.max_bytes // (1 << 20)} MiB.",
                )
            out.write(chunk)
    if written == 0:
        raise _refuse("文件是空的。", "the file is empty.")
    if suffix == ".xlsx":  # a workbook is a zip too: bound what it would unpack to
        _check_workbook(target, limits)
    if suffix != ".zip":
        return target
    return _unzip(target, folder / "unzipped", limits)


def _check_workbook(path: Path, limits: UploadLimits) -> None:
    """An .xlsx is a zip of XML parts: refuse one that is not, or that would unpack beyond the
    limits (total size, and each part's compression ratio) before a reader opens it."""
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except zipfile.BadZipFile as exc:
        raise _refuse(
            "不是有效的 Excel 工作簿（.xlsx）。", "not a valid Excel workbook (.xlsx)."
        ) from exc
    total = sum(p.file_size for p in parts)
    if total > limits.max_unzipped_bytes or any(
        p.file_size > (1 << 20) and p.file_size > MAX_RATIO * max(p.compress_size, 1) for p in parts
    ):
        raise _refuse(
            "工作簿解压后过大或压缩比异常，拒绝读取。",
            "the workbook would unpack too large, or with an abnormal compression ratio: refused.",
        )


def _unzip(archive: Path, into: Path, limits: UploadLimits) -> Path:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise _refuse("不是有效的 zip 文件。", "not a valid zip file.") from exc
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise _refuse(
                f"zip 中文件过多（{len(members)}）。",
                f"too many files in the zip ({len(members)}).",
            )
        declared = 0
        for m in members:
            parts = PurePosixPath(m.filename.replace("\\", "/")).parts
            if m.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise _refuse(
                    f"zip 成员路径不安全：{m.filename!r}。",
                    f"unsafe path in the zip: {m.filename!r}.",
                )
            if stat.S_ISLNK(m.external_attr >> 16):
                raise _refuse(
                    f"zip 中有链接：{m.filename!r}。", f"the zip holds a link: {m.filename!r}."
                )
            declared += m.file_size
            if m.file_size > (1 << 20) and m.file_size > MAX_RATIO * max(m.compress_size, 1):
                raise _refuse(f"zip 成员 {m.filename!r} 压缩比异常（疑似压缩炸弹）。",
                              f"zip member {m.filename!r} has an implausible compression ratio (a zip bomb?).")  # fmt: skip
        if declared > limits.max_unzipped_bytes:
            raise _refuse("zip 解压后超过上限。", "the zip unpacks to more than the limit.")
        total = 0
        into.mkdir()
        for m in members:
            path = into.joinpath(*PurePosixPath(m.filename.replace("\\", "/")).parts)
            if m.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, path.open("wb") as dst:
                while block := src.read(CHUNK):
                    total += len(block)
                    if total > limits.max_unzipped_bytes:  # headers can lie; bytes cannot
                        raise _refuse(
                            "zip 解压后超过上限。", "the zip unpacks to more than the limit."
                        )
                    dst.write(block)
    found = [p for p in into.rglob("*") if p.suffix.lower() in (".shp", ".gpkg")] + [
        p for p in into.rglob("*.gdb") if p.is_dir()
    ]
    found = [
        p
        for p in found
        if not any(part.lower().endswith(".gdb") for part in p.relative_to(into).parts[:-1])
    ]
    if len(found) != 1:
        shutil.rmtree(into, ignore_errors=True)
        raise _refuse(
            f"zip 中应恰有一个 .shp、.gpkg 或 .gdb，实际 {len(found)} 个。",
            f"the zip must hold exactly one .shp, .gpkg or .gdb, not {len(found)}.",
        )
    return found[0]
