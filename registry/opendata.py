"""Open data (开放数据): the public projects, stands, issuances and retirements as files anyone
may download — CSV (UTF-8 with a byte-order mark, so that Excel opens the Chinese text
correctly) and GeoPackage (projects and stands with their geometry in CGCS2000 longitude /
latitude, EPSG:4490; issuances and retirements as attribute tables) — with ``manifest.json``:
per file its rows, bytes and SHA-256, when the files were made and the state of the data they
hold (the audit chain's head: its time, sequence number and hash).

Every row is read through ``registry.public`` — the functions the library page, the public
ledger and the OGC API read through — in one snapshot transaction, so a manifest's row counts
are the pages' counts by construction. Nothing private is in them: stands carry the public
attributes only (household names, certificate numbers and unknown columns never).

A dump is keyed by the audit head: when the head has not moved, the files on disk are the data
and nothing is rewritten. A new dump is written into a fresh folder under ``snapshots/`` and
then published by replacing the ``current`` symbolic link (an atomic rename), so a reader sees
either the old set of files or the new one, never a mixture; the previous set is kept for
downloads already under way. One writer at a time (a lock file)."""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from registry.db import is_postgres, read_scope
from registry.progress import NullProgress, ProgressReporter
from registry.public import (
    PUBLIC_STAND_COLUMNS,
    LibraryQuery,
    ProjectCard,
    audit_head,
    data_as_of,
    head_key,
    issuances_page,
    library_page,
    project_boundaries,
    public_stands,
    retirements_page,
)
from registry.results import Result

__all__ = [
    "DATASETS",
    "DumpResult",
    "FileEntry",
    "Manifest",
    "Snapshot",
    "current_snapshot",
    "dump_open_data",
]

DATASETS: dict[str, tuple[str, str]] = {
    "projects": ("碳汇项目（项目库）", "Carbon-sink projects (the library)"),
    "stands": ("小班（公开属性）", "Stands (public attributes)"),
    "issuances": ("签发记录", "Issuances"),
    "retirements": ("退役记录（退役证书）", "Retirements (certificates)"),
}
FORMATS = ("csv", "gpkg")
CHUNK = 5000  # stands per read
CRS = "EPSG:4490"
LIST_SEPARATOR = ";"
CURRENT = "current"
ALL = 10**9


@dataclass(frozen=True)
class FileEntry(Result):
    """One file of a dump: its dataset, format, rows, size in bytes and SHA-256 (hex)."""

    name: str
    dataset: str
    format: str
    rows: int
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest(Result):
    """What a dump holds. ``audit_seq`` / ``audit_hash`` / ``data_as_of``: the audit chain's
    head when the data were read (0, "", None for an empty registry)."""

    registry: str
    generated_at: str
    data_as_of: str | None
    audit_seq: int
    audit_hash: str
    files: tuple[FileEntry, ...] = field(metadata={"of": FileEntry})
    crs: str = CRS
    csv_encoding: str = "UTF-8 with BOM (Excel opens the Chinese text correctly)"

    def file(self, name: str) -> FileEntry | None:
        return next((f for f in self.files if f.name == name), None)


@dataclass(frozen=True)
class Snapshot:
    """A published dump: its folder and its manifest."""

    folder: Path
    manifest: Manifest


@dataclass(frozen=True)
class DumpResult(Result):
    """``regenerated``: False when the files on disk already held the current data."""

    manifest: Manifest
    folder: str
    regenerated: bool


def current_snapshot(root: Path) -> Snapshot | None:
    """The published dump under ``root`` (None when there is none yet)."""
    link = root / CURRENT
    try:
        folder = link.resolve(strict=True)
        data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return Snapshot(folder, Manifest.from_dict(data))


# --- reading (one snapshot of the registry) -------------------------------------------------


@contextmanager
def _snapshot_scope(engine: Engine) -> Iterator[Session]:
    """A read-only transaction that sees one state of the data throughout: SQLite's deferred
    transaction is a snapshot already; PostgreSQL needs REPEATABLE READ for that."""
    with read_scope(engine) as session:
        if is_postgres(session):
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        yield session


def _joined(values: Any) -> str:
    return LIST_SEPARATOR.join(str(v) for v in values)


def _projects(session: Session) -> tuple[list[dict[str, Any]], list[Any]]:
    cards, _ = library_page(session, LibraryQuery(), ALL, 0)
    shapes = project_boundaries(session)
    rows, geometries = [], []
    for card in cards:
        row = card.to_dict()
        for key in ("townships", "vintages", "labels", "verifiers"):
            row[key] = _joined(row[key])
        rows.append(row)
        geometries.append(shapes.get(card.code))
    return rows, geometries


def _stands(session: Session, progress: ProgressReporter) -> tuple[list[dict[str, Any]], list[Any]]:
    first = public_stands(session, limit=CHUNK, offset=0)
    progress.stage("读取小班 reading stands", total=first.total)
    rows, geometries = [], []
    page = first
    while True:
        for item in page.items:
            geometries.append(item.pop("geometry"))
            rows.append(item)
        progress.advance(len(page.items))
        if len(page.items) < CHUNK:
            return rows, geometries
        page = public_stands(session, limit=CHUNK, offset=len(rows))


def _issuances(session: Session) -> list[dict[str, Any]]:
    return list(issuances_page(session, ALL, 0).items)


def _retirements(session: Session) -> list[dict[str, Any]]:
    rows = []
    for item in retirements_page(session, ALL, 0).items:
        row = dict(item)
        for key in ("serials", "projects", "labels"):
            row[key] = _joined(row[key])
        rows.append(row)
    return rows


STAND_FIELDS = (*PUBLIC_STAND_COLUMNS, "owner", "project")
PROJECT_FIELDS = tuple(f.name for f in dataclasses.fields(ProjectCard))
# the keys of registry.public.ledger's rows (the header of an empty file)
ISSUANCE_FIELDS = ("issuance", "project", "vintage", "quantity", "buffer", "serials", "period",
                   "period_start", "period_end", "issued_at")  # fmt: skip
RETIREMENT_FIELDS = ("certificate", "beneficiary", "purpose", "retired_on", "quantity", "serials",
                     "projects", "labels")  # fmt: skip


# --- writing ----------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(
    folder: Path, dataset: str, rows: list[dict[str, Any]], columns: tuple[str, ...],
    geometries: list[Any] | None,
) -> list[FileEntry]:  # fmt: skip
    """``dataset``.csv and ``dataset``.gpkg; ``columns``: every row's keys, in this order."""
    import geopandas as gpd
    import pandas as pd
    import pyogrio
    from shapely.geometry import shape

    if rows and set(rows[0]) != set(columns):  # a column added upstream must not vanish here
        raise ValueError(f"{dataset}: columns {sorted(rows[0])} are not {sorted(columns)}")
    frame = pd.DataFrame(rows, columns=list(columns))
    csv = folder / f"{dataset}.csv"
    frame.to_csv(csv, index=False, encoding="utf-8-sig")
    gpkg = folder / f"{dataset}.gpkg"
    if geometries is None:
        pyogrio.write_dataframe(frame, gpkg, layer=dataset, driver="GPKG")
    else:
        shapes = [shape(g) if g else None for g in geometries]
        geo = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, crs=CRS), crs=CRS)
        pyogrio.write_dataframe(geo, gpkg, layer=dataset, driver="GPKG",
                                geometry_type="MultiPolygon")  # fmt: skip
    return [
        FileEntry(p.name, dataset, fmt, len(rows), p.stat().st_size, _sha256(p))
        for p, fmt in ((csv, "csv"), (gpkg, "gpkg"))
    ]


@contextmanager
def _lock(root: Path, wait: bool) -> Iterator[bool]:
    """The dump's lock file; yields False when ``wait`` is off and another writer holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(root: Path, built: Path, name: str) -> Path:
    """Move a finished dump into place and point ``current`` at it (atomic renames); keep the
    previous dump, remove older ones."""
    snapshots = root / "snapshots"
    final = snapshots / name
    os.replace(built, final)
    previous = current_snapshot(root)
    link = root / f".{CURRENT}-{uuid.uuid4().hex}"
    link.symlink_to(Path("snapshots") / name)
    os.replace(link, root / CURRENT)
    keep = {final.name} | ({previous.folder.name} if previous else set())
    for old in snapshots.iterdir():
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)
    return final


def dump_open_data(
    engine: Engine, root: Path, registry_name: str, *, force: bool = False, wait: bool = True,
    progress: ProgressReporter | None = None,
) -> DumpResult | None:  # fmt: skip
    """Write the open-data files under ``root`` unless the published dump already holds the
    current data (``force``: write anyway). ``wait`` off: return None at once when another
    writer holds the lock (a server does not queue behind a dump already being made)."""
    progress = progress or NullProgress()
    with _lock(root, wait) as locked:
        if not locked:
            return None
        with read_scope(engine) as session:
            head = audit_head(session)
        published = current_snapshot(root)
        if (not force and published is not None
                and (published.manifest.audit_seq, published.manifest.audit_hash) == head_key(head)):  # fmt: skip
            return DumpResult(published.manifest, str(published.folder), False)
        snapshots = root / "snapshots"
        snapshots.mkdir(exist_ok=True)
        for abandoned in snapshots.glob(".building-*"):  # a dump that died half-way
            shutil.rmtree(abandoned, ignore_errors=True)
        built = snapshots / f".building-{uuid.uuid4().hex}"
        built.mkdir()
        try:
            manifest = _build(engine, built, registry_name, progress)
            stamp = manifest.generated_at.replace(":", "").replace("-", "")
            name = (f"{manifest.audit_seq:08d}-{manifest.audit_hash[:12] or 'empty'}-{stamp}-"
                    f"{built.name[-6:]}")  # unique: a forced dump in the same second  # fmt: skip
            final = _publish(root, built, name)
        except BaseException:
            shutil.rmtree(built, ignore_errors=True)
            raise
        return DumpResult(manifest, str(final), True)


def _build(
    engine: Engine, folder: Path, registry_name: str, progress: ProgressReporter
) -> Manifest:
    progress.stage("读取项目与账本 reading projects and the ledger")
    with _snapshot_scope(engine) as session:
        head, as_of = audit_head(session), data_as_of(session)
        projects, boundaries = _projects(session)
        issuances = _issuances(session)
        retirements = _retirements(session)
        stands, shapes = _stands(session, progress)
    progress.stage("写入文件 writing files", total=len(DATASETS))
    files: list[FileEntry] = []
    for dataset, rows, columns, geometries in (
        ("projects", projects, PROJECT_FIELDS, boundaries),
        ("stands", stands, STAND_FIELDS, shapes),
        ("issuances", issuances, ISSUANCE_FIELDS, None),
        ("retirements", retirements, RETIREMENT_FIELDS, None),
    ):
        files += _write(folder, dataset, rows, columns, geometries)
        progress.advance()
    seq, digest = head_key(head)
    manifest = Manifest(
        registry=registry_name,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        data_as_of=as_of, audit_seq=seq, audit_hash=digest,
        files=tuple(files),
    )  # fmt: skip
    body = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1)
    (folder / "manifest.json").write_text(body + "\n", encoding="utf-8")
    return manifest
