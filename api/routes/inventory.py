"""Inventory imports over HTTP: an upload (bounded: size, type, safe zips — see
:mod:`registry.uploads`) imported by bureau staff with every check of the command line; a
refused file answers 422 with the per-record report in ``details``; past imports and their
reports."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from sqlalchemy import func, select
from sqlmodel import col

from api.deps import CallerDep, PageDep
from api.schemas import Page
from api.uploaded import received
from registry.actors import require_any_role
from registry.errors import ImportRejected, NotFound
from registry.models import InventoryBatch
from registry.stands import IMPORTERS, ImportOptions, import_as

__all__ = ["router"]

router = APIRouter(prefix="/inventory", tags=["inventory 小班调查"])


class RefusedImport(ImportRejected):
    """The import was refused: ``details`` carries the per-record report."""


@router.post("/imports", status_code=201)
def upload(
    caller: CallerDep,
    file: Annotated[UploadFile, File(description=".gpkg, .geojson, or a zipped shapefile / FileGDB")],
    inventory_year: Annotated[int | None, Form(ge=1950, le=2100)] = None,
    crs: Annotated[str | None, Form(max_length=40)] = None,
    retire_missing: Annotated[bool, Form()] = False,
    scope: Annotated[Literal["township", "village", "county", "stands"] | None, Form()] = None,
) -> dict[str, Any]:  # fmt: skip
    """上传并导入小班数据（局工作人员） / upload and import an inventory (bureau staff):
    all or nothing, with the per-record report."""
    settings = caller.registry.settings
    actor = caller.read(lambda s, a: a)
    require_any_role(actor, IMPORTERS, "导入调查数据 / import an inventory")
    folder = Path(tempfile.mkdtemp(prefix="tanhui-upload-"))
    try:
        path = received(file, settings, folder)
        options = ImportOptions(
            crs=crs, inventory_year=inventory_year, retire_missing=retire_missing, scope=scope,
            overlap_tolerance_m2=settings.overlap_tolerance_m2,
            area_tolerance_pct=settings.area_tolerance_pct,
        )  # fmt: skip
        with caller.registry.writing():
            try:
                result = import_as(caller.registry.engine, actor, path, options)
            except ImportRejected as exc:
                report = (
                    json.loads(exc.report.to_json()) if hasattr(exc.report, "to_json") else None
                )
                raise RefusedImport(exc.message_zh, exc.message_en, report) from exc
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"status": result.status, "batch_id": result.batch_id, "n_records": result.n_records,
            "n_new": result.n_new, "n_changed": result.n_changed,
            "n_unchanged": result.n_unchanged, "n_retired": result.n_retired,
            "report": json.loads(result.report.to_json())}  # fmt: skip


@router.get("/imports", response_model=Page[dict[str, Any]])
def imports(caller: CallerDep, page: PageDep) -> dict[str, Any]:
    """导入记录（按 id） / past imports by id (staff)."""

    def work(session: Any, actor: Any) -> dict[str, Any]:
        require_any_role(actor, IMPORTERS, "查看导入记录 / read imports")
        total = session.execute(select(func.count()).select_from(InventoryBatch)).scalar_one()
        rows = session.execute(select(InventoryBatch).order_by(col(InventoryBatch.id))
                               .limit(page.limit).offset(page.offset)).scalars()  # fmt: skip
        items = [{"id": b.id, "source": b.source_name, "inventory_year": b.inventory_year,
                  "imported_at": b.imported_at.isoformat(), "imported_by": b.imported_by,
                  "n_records": b.n_records, "n_new": b.n_new, "n_changed": b.n_changed,
                  "n_warnings": b.n_warnings} for b in rows]  # fmt: skip
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}

    return caller.read(work)


@router.get("/imports/{batch_id}/report")
def report(batch_id: int, caller: CallerDep) -> dict[str, Any]:
    """一次导入的报告（警告与修复） / one import's report (warnings and repairs)."""

    def work(session: Any, actor: Any) -> dict[str, Any]:
        require_any_role(actor, IMPORTERS, "查看导入报告 / read import reports")
        batch = session.get(InventoryBatch, batch_id) if 0 < batch_id < 2**31 else None
        if batch is None:
            raise NotFound(f"没有导入批次 {batch_id}。", f"no import batch {batch_id}.")
        return {"batch_id": batch.id, "source": batch.source_name,
                "report": json.loads(batch.report_json)}  # fmt: skip

    return caller.read(work)
