"""Stands: import an inventory file as registered, versioned stands with owners and history.

``import_inventory`` reads and checks the whole file first (``gis_data``), refuses it with the
full report if anything is wrong, and otherwise writes it in one transaction together with its
audit event: a crash or a kill at any point leaves the database as it was. A file imported
before (same bytes) or whose stands are all unchanged writes nothing; changed stands get a new
version and the old one is kept, marked as superseded by the new batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from gis_data import (
    CheckOptions,
    IssueReport,
    PreparedInventory,
    RawInventory,
    load_profile,
    prepare_inventory,
    read_inventory,
)
from methodologies import load_species_vocabulary
from registry.audit import append_event
from registry.db import is_postgres, session_scope
from registry.errors import ImportRejected
from registry.models import STORAGE_SRID, InventoryBatch, Owner, OwnerKind, Stand
from registry.progress import NullProgress, ProgressReporter

__all__ = [
    "STAND_ATTRIBUTES",
    "ImportOptions",
    "ImportResult",
    "classify_owner",
    "import_inventory",
    "read_and_check",
    "store_inventory",
]

# Canonical attributes stored on a stand (owner_name becomes owner_id).
STAND_ATTRIBUTES = (
    "county_code", "township", "village", "compartment", "subcompartment", "area_ha_reported",
    "land_class", "forest_use", "origin", "forest_category", "dominant_species", "age_years",
    "age_group", "canopy_closure", "mean_dbh_cm", "mean_height_m", "stems_per_ha",
    "volume_m3_per_ha", "site_class", "land_tenure", "tree_tenure", "forest_right_cert",
    "slope_deg",
)  # fmt: skip
HASHED_ATTRIBUTES = (*STAND_ATTRIBUTES, "owner_name", "extra")
CHUNK = 5000  # rows per progress step
FAULT_PAUSE_ENV = "TANHUI_FAULT_PAUSE_BEFORE_COMMIT"  # seconds; for crash tests only


@dataclass(frozen=True)
class ImportOptions:
    crs: str | None = None
    encoding: str | None = None
    profile: Path | None = None
    inventory_year: int | None = None
    fix_geometry: bool = False
    overlap_tolerance_m2: float = 1.0
    area_tolerance_pct: float = 1.0
    actor: str = "bureau"


@dataclass
class ImportResult:
    status: str  # "imported" | "unchanged" | "already_imported"
    source: str
    batch_id: int | None
    n_records: int
    n_new: int = 0
    n_changed: int = 0
    n_unchanged: int = 0
    report: IssueReport = field(default_factory=lambda: IssueReport(""))
    seconds: dict[str, float] = field(default_factory=dict)


def classify_owner(name: str) -> OwnerKind:
    """Guess the kind of a forest right holder from its name (林场 → state, 村委会 → collective)."""
    if "林场" in name or "国有" in name:
        return OwnerKind.STATE
    if name.endswith(("委员会", "村民小组", "集体", "经济合作社", "股份经济合作社")):
        return OwnerKind.COLLECTIVE
    if any(word in name for word in ("公司", "合作社", "企业", "林业站", "家庭农场")):
        return OwnerKind.ENTERPRISE
    return OwnerKind.HOUSEHOLD


def read_and_check(
    path: Path, options: ImportOptions, progress: ProgressReporter | None = None
) -> tuple[RawInventory, PreparedInventory]:
    """Read and check an inventory file (no database)."""
    progress = progress or NullProgress()
    progress.stage("读取文件 reading")
    raw = read_inventory(Path(path), load_profile(options.profile), encoding=options.encoding)
    progress.stage("检查 checking")
    species = {name: group.value for name, group in load_species_vocabulary().items()}
    prepared = prepare_inventory(
        raw,
        species,
        CheckOptions(
            crs=options.crs,
            fix_geometry=options.fix_geometry,
            overlap_tolerance_m2=options.overlap_tolerance_m2,
            area_tolerance_pct=options.area_tolerance_pct,
        ),
    )
    return raw, prepared


def _content_hashes(prepared: PreparedInventory) -> list[str]:
    """SHA-256 per stand over its canonical attributes and its geometry (WKB, little endian).

    Text is hashed as is (missing: "None"), numbers by Python's ``repr`` of the float64
    (missing: "nan"), so a stand read from a GeoPackage, a Shapefile or GeoJSON with the same
    values hashes the same.
    """
    attrs = prepared.attributes
    n = len(attrs)
    parts = []
    for name in HASHED_ATTRIBUTES:
        if name not in attrs:
            parts.append(pd.Series(["None"] * n, dtype=object))
        elif attrs[name].dtype.kind == "f":
            parts.append(pd.Series([repr(v) for v in attrs[name].tolist()], dtype=object))
        else:
            parts.append(pd.Series([str(v) for v in attrs[name].tolist()], dtype=object))
    text = parts[0].str.cat(pd.concat(parts[1:], axis=1), sep="\x1f").tolist()
    wkb = shapely.to_wkb(prepared.geometry, byte_order=1)
    sha = hashlib.sha256
    return [sha(t.encode() + b"\x1e" + g).hexdigest() for t, g in zip(text, wkb, strict=True)]


def store_inventory(
    session: Session,
    raw: RawInventory,
    prepared: PreparedInventory,
    options: ImportOptions,
    progress: ProgressReporter | None = None,
) -> ImportResult:
    """Write checked stands in the session's transaction; see the module docstring."""
    progress = progress or NullProgress()
    report = prepared.report
    n = len(prepared.attributes)
    if report.has_errors:
        raise ImportRejected(
            f"{raw.source}：发现 {len(report.errors)} 个错误，未导入任何数据。",
            f"{raw.source}: {len(report.errors)} errors found; nothing was imported.",
            report,
        )
    existing = session.execute(
        select(col(InventoryBatch.id)).where(col(InventoryBatch.fingerprint) == raw.fingerprint)
    ).scalar_one_or_none()
    if existing is not None:
        return ImportResult(
            "already_imported", raw.source, existing, n, n_unchanged=n, report=report
        )
    progress.stage("比对已登记小班 comparing with registered stands")
    hashes = _content_hashes(prepared)
    keys = prepared.attributes["stand_key"].tolist()
    current = {
        row.stand_key: (row.id, row.version, row.content_hash)
        for row in session.execute(
            select(
                col(Stand.stand_key), col(Stand.id), col(Stand.version), col(Stand.content_hash)
            ).where(col(Stand.is_current).is_(True))
        )
    }
    new_rows: list[int] = []
    versions: list[int] = []
    superseded: list[int] = []
    for i, (key, digest) in enumerate(zip(keys, hashes, strict=True)):
        old = current.get(key)
        if old is None:
            new_rows.append(i)
            versions.append(1)
        elif old[2] != digest:
            new_rows.append(i)
            versions.append(old[1] + 1)
            superseded.append(old[0])
    n_changed = len(superseded)
    n_new = len(new_rows) - n_changed
    if not new_rows:
        return ImportResult("unchanged", raw.source, None, n, n_unchanged=n, report=report)

    batch = InventoryBatch(
        source_name=Path(raw.source).name,
        fingerprint=raw.fingerprint,
        inventory_year=options.inventory_year,
        profile=raw.profile.name,
        source_crs=prepared.source_crs.to_string() if prepared.source_crs else "",
        encoding=raw.encoding.encoding if raw.encoding else None,
        imported_at=datetime.now(UTC),
        imported_by=options.actor,
        n_records=n,
        n_new=n_new,
        n_changed=n_changed,
        n_unchanged=n - len(new_rows),
        n_warnings=len(report.warnings),
        report_json=json.dumps([i.describe() for i in report.issues], ensure_ascii=False),
    )
    session.add(batch)
    session.flush()
    assert batch.id is not None
    progress.stage("登记林权权利人 registering owners")
    owner_ids = _ensure_owners(session, prepared, new_rows, batch.id)
    if superseded:
        progress.stage(f"标记 {len(superseded)} 个旧版本 superseding old versions")
        for chunk in _chunks(superseded, 5000):
            session.execute(
                update(Stand)
                .where(Stand.id.in_(chunk))  # type: ignore[union-attr]
                .values(is_current=False, superseded_by_batch_id=batch.id)
            )
    progress.stage(f"写入 {len(new_rows)} 个小班 writing stands", total=len(new_rows))
    _bulk_insert_stands(
        session, prepared, new_rows, versions, hashes, owner_ids, batch.id, progress
    )
    append_event(
        session,
        actor=options.actor,
        action="inventory.imported",
        entity_type="inventory_batch",
        entity_id=str(batch.id),
        payload={
            "source": Path(raw.source).name,
            "fingerprint": raw.fingerprint,
            "records": n,
            "new": n_new,
            "changed": n_changed,
            "unchanged": n - len(new_rows),
            "warnings": len(report.warnings),
            "repairs": len(report.repairs),
            "stand_versions_digest": hashlib.sha256(
                "\n".join(
                    f"{keys[i]}|{v}|{hashes[i]}" for i, v in zip(new_rows, versions, strict=True)
                ).encode()
            ).hexdigest(),
        },
    )
    pause = os.environ.get(FAULT_PAUSE_ENV)
    if pause:
        session.flush()
        print("FAULT-INJECTION: paused before commit", file=sys.stderr, flush=True)
        time.sleep(float(pause))
    return ImportResult(
        "imported", raw.source, batch.id, n, n_new, n_changed, n - len(new_rows), report
    )


def _chunks(items: Sequence[int], size: int) -> list[Sequence[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _ensure_owners(
    session: Session, prepared: PreparedInventory, rows: list[int], batch_id: int
) -> dict[str, int]:
    if "owner_name" not in prepared.attributes:
        return {}
    names = {str(v) for v in prepared.attributes["owner_name"].iloc[rows] if v is not None}
    known = {
        name: oid
        for name, oid in session.execute(select(col(Owner.name), col(Owner.id)))
        if name in names
    }
    missing = sorted(names - set(known))
    if missing:
        session.execute(
            Owner.__table__.insert(),  # type: ignore[attr-defined]
            [
                {"name": name, "kind": classify_owner(name).value, "first_batch_id": batch_id}
                for name in missing
            ],
        )
        known.update(
            {
                name: oid
                for name, oid in session.execute(select(col(Owner.name), col(Owner.id)))
                if name in names
            }
        )
    return {k: int(v) for k, v in known.items() if v is not None}


STAND_INSERT_COLUMNS = (
    "stand_key", "version", "is_current", "batch_id", "content_hash", *STAND_ATTRIBUTES,
    "species_group", "owner_id", "area_ha", "extra",
)  # fmt: skip


def _bulk_insert_stands(
    session: Session,
    prepared: PreparedInventory,
    rows: list[int],
    versions: list[int],
    hashes: list[str],
    owner_ids: dict[str, int],
    batch_id: int,
    progress: ProgressReporter,
) -> None:
    attrs = prepared.attributes.iloc[rows]
    columns: dict[str, list[Any]] = {}
    for name in (*STAND_ATTRIBUTES, "species_group", "extra"):
        if name in attrs:
            series = attrs[name].astype(object)
            columns[name] = series.where(attrs[name].notna(), None).tolist()
        else:
            columns[name] = [None] * len(rows)
    owners = attrs["owner_name"].tolist() if "owner_name" in attrs else [None] * len(rows)
    columns["owner_id"] = [owner_ids.get(o) if o is not None else None for o in owners]
    columns["stand_key"] = attrs["stand_key"].tolist()
    columns["version"] = versions
    columns["is_current"] = [True] * len(rows)
    columns["batch_id"] = [batch_id] * len(rows)
    columns["content_hash"] = [hashes[i] for i in rows]
    columns["area_ha"] = [float(a) for a in prepared.area_ha[rows]]
    geoms = prepared.geometry[rows]
    records = list(zip(*(columns[c] for c in STAND_INSERT_COLUMNS), strict=True))
    names = ", ".join((*STAND_INSERT_COLUMNS, "geom"))
    dbapi = session.connection().connection.driver_connection
    if is_postgres(session):
        ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True, byte_order=1)
        with dbapi.cursor() as cur, cur.copy(f"COPY stand ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for i, (record, geom) in enumerate(zip(records, ewkb, strict=True), start=1):
                copy.write_row((*record, geom))
                if i % CHUNK == 0:
                    progress.advance(CHUNK)
    else:
        wkb = shapely.to_wkb(geoms, byte_order=1)
        marks = ", ".join("?" for _ in STAND_INSERT_COLUMNS)
        sql = f"INSERT INTO stand ({names}) VALUES ({marks}, GeomFromWKB(?, {STORAGE_SRID}))"
        cur = dbapi.cursor()  # type: ignore[union-attr]
        # A large load rebuilds the R*Tree once at the end (about 3x faster than one trigger
        # insert per row); a small update keeps the index triggers. Same transaction either way.
        existing = cur.execute("SELECT count(*) FROM stand").fetchone()[0]
        rebuild = len(records) >= max(1000, existing // 5)
        if rebuild:
            cur.execute("SELECT DisableSpatialIndex('stand', 'geom')")
            cur.execute("DROP TABLE IF EXISTS idx_stand_geom")
        for start in range(0, len(records), CHUNK):
            part = zip(records[start : start + CHUNK], wkb[start : start + CHUNK], strict=True)
            cur.executemany(sql, [(*r, g) for r, g in part])
            progress.advance(CHUNK)
        if rebuild and cur.execute("SELECT CreateSpatialIndex('stand', 'geom')").fetchone()[0] != 1:
            raise RuntimeError("SpatiaLite could not rebuild the spatial index of stand.geom")
        cur.close()


def import_inventory(
    engine: Engine,
    path: Path,
    options: ImportOptions,
    progress: ProgressReporter | None = None,
) -> ImportResult:
    """Read, check and store an inventory file in one transaction. Raises ImportRejected."""
    t0 = time.perf_counter()
    raw, prepared = read_and_check(path, options, progress)
    t1 = time.perf_counter()
    with session_scope(engine) as session:
        result = store_inventory(session, raw, prepared, options, progress)
    t2 = time.perf_counter()
    result.seconds = {"read_and_check": t1 - t0, "store": t2 - t1}
    return result
