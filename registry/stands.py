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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from gis_data import (
    CheckOptions,
    InventoryIssue,
    IssueReport,
    PreparedInventory,
    RawInventory,
    Severity,
    load_profile,
    prepare_inventory,
    read_inventory,
)
from gis_data.codes import load_codebook
from gis_data.crs import equal_area_crs
from methodologies import load_species_vocabulary
from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import is_postgres, session_scope
from registry.errors import ImportRejected, UnreadableFile
from registry.models import (
    STORAGE_SRID,
    InventoryBatch,
    Owner,
    OwnerKind,
    Project,
    ProjectStand,
    Stand,
    StandLineage,
)
from registry.progress import NullProgress, ProgressReporter
from registry.vocabulary import Role

__all__ = [
    "IMPORTERS",
    "STAND_ATTRIBUTES",
    "ImportOptions",
    "ImportResult",
    "classify_owner",
    "import_as",
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
    "slope_deg", "slope_class", "fine_stand",
)  # fmt: skip
# attributes added after stands were first hashed: they join the hash only when they have a
# value, so that stands registered before them keep their content hashes
LATER_ATTRIBUTES = ("slope_class", "fine_stand")
HASHED_ATTRIBUTES = (
    *(a for a in STAND_ATTRIBUTES if a not in LATER_ATTRIBUTES), "owner_name", "extra",
)  # fmt: skip
SCOPES = ("township", "village", "county", "stands")
LINK_MIN_SHARE = 0.05  # an overlap links two stands when it is ≥ 5 % of the smaller one …
LINK_MIN_HA = 0.001  # … and at least 10 m²
SHRINK_PCT = 1.0  # a project stand whose new version is > 1 % smaller is reported
RESHAPE_PCT = 0.1  # a same-key new version whose area moved more than this may be a merge
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
    layer: str | None = None  # GeoPackage / FileGDB layer
    codes: Path | None = None  # a county's code table (field,code,meaning)
    area_unit: str | None = None  # ha | mu
    slope_unit: str | None = None  # deg | class
    key: tuple[str, ...] | None = None  # stand key fields; None: the profile's
    scope: str | None = None  # township | village | county | stands; None: township if present
    retire_missing: bool = False  # retire registered stands of the scope missing from the file


@dataclass
class ImportResult:
    status: str  # "imported" | "unchanged" | "already_imported"
    source: str
    batch_id: int | None
    n_records: int
    n_new: int = 0
    n_changed: int = 0
    n_unchanged: int = 0
    n_retired: int = 0
    links: list[tuple[str, str | None, str]] = field(default_factory=list)  # old, new, kind
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
    profile = load_profile(options.profile)
    codes = load_codebook(options.codes, profile)
    raw = read_inventory(Path(path), profile, encoding=options.encoding, layer=options.layer)
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
            codes=codes,
            area_unit=options.area_unit,
            slope_unit=options.slope_unit,
            key_fields=options.key,
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
    for name in LATER_ATTRIBUTES:
        if name in attrs:
            tail = attrs[name].map(lambda v, n=name: "" if v is None else f"\x1f{n}={v}")
            parts[-1] = parts[-1] + tail.astype(object)
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
    attrs = prepared.attributes
    keys = attrs["stand_key"].tolist()
    scope_column, scope_values = _scope(attrs, options)
    current_stmt = select(
        col(Stand.stand_key), col(Stand.id), col(Stand.version), col(Stand.content_hash),
        col(Stand.area_ha), col(Stand.land_class), col(Stand.township), col(Stand.village),
        col(Stand.county_code),
    ).where(col(Stand.is_current).is_(True))  # fmt: skip
    current = {row.stand_key: row for row in session.execute(current_stmt)}
    new_rows: list[int] = []
    versions: list[int] = []
    superseded: list[int] = []
    for i, (key, digest) in enumerate(zip(keys, hashes, strict=True)):
        old = current.get(key)
        if old is None:
            new_rows.append(i)
            versions.append(1)
        elif old.content_hash != digest:
            new_rows.append(i)
            versions.append(old.version + 1)
            superseded.append(old.id)
    in_file = set(keys)
    missing = sorted(
        (row for key, row in current.items()
         if key not in in_file and scope_column is not None
         and getattr(row, scope_column) in scope_values),
        key=lambda r: r.stand_key,
    )  # fmt: skip
    if missing and not options.retire_missing:
        _refuse_missing(raw, report, missing, scope_column, scope_values)
    n_changed = len(superseded)
    n_new = len(new_rows) - n_changed
    if not new_rows and not missing:
        return ImportResult("unchanged", raw.source, None, n, n_unchanged=n, report=report)
    changed_old = {current[keys[i]].id: current[keys[i]] for i in new_rows if keys[i] in current}
    impacts = _project_impacts(session, prepared, new_rows, changed_old, missing)
    for issue in impacts:
        report.add(issue)
    scope_text = f"{scope_column}={'|'.join(sorted(scope_values))}" if scope_column else "stands"
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
        key_fields=",".join(prepared.key_fields),
        scope=scope_text,
        n_retired=len(missing),
    )
    session.add(batch)
    session.flush()
    assert batch.id is not None
    progress.stage("登记林权权利人 registering owners")
    owner_ids = _ensure_owners(session, prepared, new_rows, batch.id)
    retired = [row.id for row in missing]
    if superseded or retired:
        progress.stage(
            f"标记 {len(superseded)} 个旧版本、注销 {len(retired)} 个小班 "
            "superseding old versions, retiring missing stands"
        )
        for chunk in _chunks([*superseded, *retired], 5000):
            session.execute(
                update(Stand)
                .where(Stand.id.in_(chunk))  # type: ignore[union-attr]
                .values(is_current=False, superseded_by_batch_id=batch.id)
            )
    progress.stage(f"写入 {len(new_rows)} 个小班 writing stands", total=len(new_rows))
    _bulk_insert_stands(
        session, prepared, new_rows, versions, hashes, owner_ids, batch.id, progress
    )
    # stands whose key stayed and whose area barely moved are new versions, not reshapes:
    # only the others are matched by overlap (keeps a full re-survey cheap)
    reshaped = [
        i for i in new_rows
        if keys[i] not in current
        or abs(float(prepared.area_ha[i]) - current[keys[i]].area_ha)
        > RESHAPE_PCT / 100 * current[keys[i]].area_ha
    ]  # fmt: skip
    reshaped_old = {current[keys[i]].id: current[keys[i]] for i in reshaped if keys[i] in current}
    links = _link_by_overlap(session, prepared, reshaped, reshaped_old, missing, batch.id)
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
            "retired": [row.stand_key for row in missing],
            "scope": scope_text,
            "key_fields": list(prepared.key_fields),
            "links": [f"{o}->{nw or '-'}:{k}" for o, nw, k in links],
            "project_stands_changed": [i.problem_en for i in impacts],
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
        "imported", raw.source, batch.id, n, n_new, n_changed, n - len(new_rows), len(missing),
        links, report,
    )  # fmt: skip


def _scope(attrs: pd.DataFrame, options: ImportOptions) -> tuple[str | None, set[str]]:
    """What the file covers: (stand column, its values in the file) — by default the
    townships it holds (or its counties when it has no township column); ``stands`` means
    only the stands in the file, and retires nothing."""
    wanted = options.scope
    if wanted == "stands":
        return None, set()
    order = {"township": ("township",), "village": ("village",), "county": ("county_code",)}
    candidates = order[wanted] if wanted else ("township", "county_code")
    for column in candidates:
        if column in attrs and attrs[column].notna().any():
            return column, {str(v) for v in attrs[column].dropna().unique()}
    if wanted:
        raise ImportRejected(
            f"--scope {wanted}：文件中没有该列的值，无法确定更新范围。",
            f"--scope {wanted}: the file has no values in that column, so the scope of the "
            "update is unknown.",
            IssueReport(""),
        )
    return None, set()


def _refuse_missing(
    raw: RawInventory,
    report: IssueReport,
    missing: list[Any],
    scope_column: str | None,
    scope_values: set[str],
) -> None:
    keys = [row.stand_key for row in missing]
    shown = ", ".join(keys[:20]) + (f" … (+{len(keys) - 20})" if len(keys) > 20 else "")
    where = f"{scope_column} ∈ {{{', '.join(sorted(scope_values))}}}"
    report.add(
        InventoryIssue(
            severity=Severity.ERROR, source=raw.source, code="missing_stands",
            problem_zh=f"本文件覆盖范围（{where}）内有 {len(keys)} 个已登记小班不在文件中：{shown}",
            problem_en=f"{len(keys)} registered stands within the file's scope ({where}) are "
            f"not in the file: {shown}",
            action_zh="若新调查已不含这些小班，加 --retire-missing 将其注销（保留历史，不删除）；"
            "若文件只是部分更新，加 --scope stands",
            action_en="if the new inventory no longer has them, pass --retire-missing to retire "
            "them (history kept, nothing deleted); if the file is a partial update, pass "
            "--scope stands",
            value=";".join(keys),
        )
    )  # fmt: skip
    for row in missing:
        report.add(
            InventoryIssue(
                severity=Severity.ERROR, source=raw.source, code="missing_stand",
                problem_zh="已登记小班不在新文件中", problem_en="registered stand not in the new file",
                action_zh="见上条 missing_stands", action_en="see missing_stands",
                key=row.stand_key, field="stand_key", value=row.stand_key,
            )
        )  # fmt: skip
    raise ImportRejected(
        f"{raw.source}：{len(keys)} 个已登记小班不在文件中，未导入任何数据（可用 --retire-missing）。",
        f"{raw.source}: {len(keys)} registered stands are missing from the file; nothing was "
        "imported (see --retire-missing).",
        report,
    )


def _project_impacts(
    session: Session,
    prepared: PreparedInventory,
    new_rows: list[int],
    changed_old: dict[int, Any],
    missing: list[Any],
) -> list[InventoryIssue]:
    """Stands of registered projects that disappear, shrink or change land class: reported
    against the project (its record is not touched)."""
    attrs = prepared.attributes
    findings: dict[str, tuple[str, str]] = {}
    for row in missing:
        findings[row.stand_key] = (
            "不在新调查中（已注销）",
            "is not in the new inventory (retired)",
        )
    old_by_key = {row.stand_key: row for row in changed_old.values()}
    keys = attrs["stand_key"].tolist()
    lands = attrs["land_class"].tolist()
    for i in new_rows:
        key = keys[i]
        old = old_by_key.get(key)
        if old is None:
            continue
        area = float(prepared.area_ha[i])
        land = lands[i]
        notes_zh, notes_en = [], []
        if area < old.area_ha * (1 - SHRINK_PCT / 100):
            notes_zh.append(f"面积由 {old.area_ha:.4f} 减为 {area:.4f} 公顷")
            notes_en.append(f"shrank from {old.area_ha:.4f} to {area:.4f} ha")
        if land != old.land_class:
            notes_zh.append(f"地类由 {old.land_class} 变为 {land}")
            notes_en.append(f"land class changed from {old.land_class} to {land}")
        if notes_zh:
            findings[key] = ("；".join(notes_zh), "; ".join(notes_en))
    if not findings:
        return []
    rows = session.execute(
        select(col(ProjectStand.stand_key), col(Project.code))
        .join(Project, col(Project.id) == col(ProjectStand.project_id))
        .where(col(ProjectStand.active).is_(True))
        .where(col(ProjectStand.stand_key).in_(sorted(findings)))
        .order_by(col(Project.code), col(ProjectStand.stand_key))
    ).all()
    return [
        InventoryIssue(
            severity=Severity.WARNING, source=prepared.source, code="project_stand_changed",
            problem_zh=f"项目 {code} 的小班 {key} {findings[key][0]}；项目记录不变",
            problem_en=f"stand {key} of project {code} {findings[key][1]}; the project's "
            "record is unchanged",
            action_zh="由项目监测处理（核查、变更或报告）", action_en="for the project's monitoring "
            "to handle (check, amend or report)",
            key=key, field="stand_key", value=code,
        )
        for key, code in rows
    ]  # fmt: skip


def _link_by_overlap(
    session: Session,
    prepared: PreparedInventory,
    new_rows: list[int],
    changed_old: dict[int, Any],
    missing: list[Any],
    batch_id: int,
) -> list[tuple[str, str | None, str]]:
    """Link old stands (retired or superseded) to the new stands that overlap them.

    Overlap areas are computed on an equal-area projection of the CGCS2000 ellipsoid. A link
    needs ≥ 5 % of the smaller stand and ≥ 10 m². Kinds: ``split`` (one old, several new),
    ``merge`` (several old, one new), ``reshaped`` (both), ``renumbered`` (one to one under
    a new key); a same-key one-to-one link is just a new version and is not recorded. An old
    stand retired with no overlapping successor gets a ``retired`` row.
    """
    old_ids = [*changed_old, *(row.id for row in missing)]
    if not old_ids:
        return []
    key_of_old = {**{i: r.stand_key for i, r in changed_old.items()},
                  **{r.id: r.stand_key for r in missing}}  # fmt: skip
    old_geoms: dict[int, Any] = {}
    for chunk in _chunks(old_ids, 5000):
        for sid, wkb in session.execute(
            select(col(Stand.id), func.ST_AsBinary(Stand.geom)).where(col(Stand.id).in_(chunk))
        ):
            old_geoms[int(sid)] = shapely.from_wkb(bytes(wkb))
    all_keys = prepared.attributes["stand_key"].tolist()
    new_keys = [all_keys[i] for i in new_rows]
    new_ids: dict[str, int] = {}
    for start in range(0, len(new_keys), 5000):
        for key, sid in session.execute(
            select(col(Stand.stand_key), col(Stand.id))
            .where(col(Stand.is_current).is_(True))
            .where(col(Stand.stand_key).in_(new_keys[start : start + 5000]))
        ):
            new_ids[str(key)] = int(sid or 0)
    old_list = list(old_geoms)
    old_arr = np.array([old_geoms[i] for i in old_list], dtype=object)
    new_arr = np.asarray(prepared.geometry[new_rows], dtype=object)
    pairs: list[tuple[int, str, float]] = []
    if len(new_arr):
        everything = np.concatenate([old_arr, new_arr])
        minx, miny, maxx, maxy = shapely.total_bounds(everything)
        crs = equal_area_crs((minx + maxx) / 2, (miny + maxy) / 2)
        to_m = Transformer.from_crs(4490, crs, always_xy=True)

        def project(g: Any) -> Any:
            return shapely.transform(g, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))

        old_m = project(old_arr)
        new_m = project(new_arr)
        tree = shapely.STRtree(new_m)
        left, right = tree.query(old_m, predicate="intersects")
        if len(left):
            shared = shapely.area(shapely.intersection(old_m[left], new_m[right])) / 10_000
            smaller = np.minimum(shapely.area(old_m[left]), shapely.area(new_m[right])) / 10_000
            keep = (shared >= LINK_MIN_HA) & (shared >= LINK_MIN_SHARE * smaller)
            for a, b, ha in zip(left[keep], right[keep], shared[keep], strict=True):
                pairs.append((old_list[int(a)], new_keys[int(b)], float(ha)))
    per_old: dict[int, int] = {}
    per_new: dict[str, int] = {}
    for old_id, new_key, _ in pairs:
        per_old[old_id] = per_old.get(old_id, 0) + 1
        per_new[new_key] = per_new.get(new_key, 0) + 1
    rows: list[dict[str, Any]] = []
    linked: set[int] = set()
    for old_id, new_key, ha in pairs:
        many_new, many_old = per_old[old_id] > 1, per_new[new_key] > 1
        old_key = key_of_old[old_id]
        if not many_new and not many_old and old_key == new_key:
            linked.add(old_id)
            continue
        kind = (
            "reshaped" if many_new and many_old
            else "split" if many_new
            else "merge" if many_old
            else "renumbered"
        )  # fmt: skip
        linked.add(old_id)
        rows.append({"batch_id": batch_id, "old_stand_id": old_id,
                     "new_stand_id": new_ids.get(new_key), "old_key": old_key,
                     "new_key": new_key, "kind": kind, "overlap_ha": ha})  # fmt: skip
    for row in missing:
        if row.id not in linked:
            rows.append({"batch_id": batch_id, "old_stand_id": row.id, "new_stand_id": None,
                         "old_key": row.stand_key, "new_key": None, "kind": "retired",
                         "overlap_ha": None})  # fmt: skip
    if rows:
        session.execute(StandLineage.__table__.insert(), rows)  # type: ignore[attr-defined]
    return [(r["old_key"], r["new_key"], r["kind"]) for r in rows]


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


IMPORTERS = (Role.ADMIN, Role.BUREAU_STAFF)


def import_as(
    engine: Engine, actor: Actor, path: Path, options: ImportOptions,
    progress: ProgressReporter | None = None,
) -> ImportResult:  # fmt: skip
    """:func:`import_inventory` by a user: bureau staff or an admin, named in the audit log."""
    from gis_data.errors import GisDataError

    require_any_role(actor, IMPORTERS, "导入调查数据 / import an inventory")
    try:
        return import_inventory(engine, path, replace(options, actor=actor.label), progress)
    except GisDataError as exc:  # unreadable or misused file: the registry's refusal
        raise UnreadableFile(exc.message_zh, exc.message_en) from exc


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
