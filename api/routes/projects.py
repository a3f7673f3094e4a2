"""Carbon-sink projects: create, stands, lifecycle actions, verification, and show."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from sqlalchemy import func, select
from sqlmodel import col

from api.deps import CallerDep, PageDep
from api.schemas import Page, ProjectAction, ProjectCreate, StandSelection, VerifyCreate
from api.uploaded import received
from registry.carbon_model import refuse_server_files
from registry.errors import Invalid
from registry.models import Project
from registry.projects import (
    add_evidence,
    add_stands,
    create_project,
    project_summary,
    record_start_measurement,
    remove_stands,
    submit_monitoring,
    transition,
    verify_period,
)
from registry.uploads import TABLE_TYPES

__all__ = ["router"]

router = APIRouter(prefix="/projects", tags=["projects 项目"])
Action = Literal["submit", "validate", "register", "reject"]
LISTED = ("code", "name", "methodology", "developer", "status", "area_ha", "n_stands",
          "start_date", "crediting_years", "exante_total_tco2e")  # fmt: skip


@router.get("", response_model=Page[dict[str, Any]])
def projects(caller: CallerDep, page: PageDep, status: str | None = None,
             methodology: str | None = None) -> dict[str, Any]:  # fmt: skip
    """项目列表（按编号） / projects by code, filtered by status or methodology."""

    def work(session: Any, _: Any) -> dict[str, Any]:
        stmt = select(Project)
        if status:
            stmt = stmt.where(col(Project.status) == status)
        if methodology:
            stmt = stmt.where(col(Project.methodology) == methodology)
        total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rows = session.execute(
            stmt.order_by(col(Project.code)).limit(page.limit).offset(page.offset)
        ).scalars()
        items = [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v)
             for k, v in ((k, getattr(p, k)) for k in LISTED)}
            for p in rows
        ]  # fmt: skip
        return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}

    return caller.read(work)


@router.post("", status_code=201)
def create(body: ProjectCreate, caller: CallerDep) -> dict[str, Any]:
    """新建项目草稿（局工作人员） / create a draft project (bureau staff)."""

    def work(session: Any, actor: Any) -> dict[str, Any]:
        create_project(session, actor, code=body.code, name=body.name,
                       methodology=body.methodology, developer=body.developer,
                       start_date=body.start_date, crediting_years=body.crediting_years,
                       planted_group=body.planted_group)  # fmt: skip
        return project_summary(session, body.code).to_dict()

    return caller.write(work)


@router.get("/{code}")
def show(code: str, caller: CallerDep) -> dict[str, Any]:
    """项目详情 / a project: status, stands, ex-ante, monitoring periods, history."""
    return caller.read(lambda s, a: project_summary(s, code)).to_dict()


@router.post("/{code}/stands")
def add(code: str, body: StandSelection, caller: CallerDep) -> dict[str, Any]:
    """加入小班（草稿；重复计量检查） / add stands to a draft (double counting checked)."""
    refuse_server_files(body.selection)
    tolerance = caller.registry.settings.overlap_tolerance_m2
    keys = caller.write(lambda s, a: add_stands(s, a, code, body.selection, tolerance))
    return {"project": code, "added": keys}


@router.post("/{code}/stands/remove")
def remove(code: str, body: StandSelection, caller: CallerDep) -> dict[str, Any]:
    """移出小班（草稿） / remove stands from a draft."""
    refuse_server_files(body.selection)
    keys = caller.write(lambda s, a: remove_stands(s, a, code, body.selection))
    return {"project": code, "removed": keys}


@router.post("/{code}/actions/{action}")
def act(code: str, action: Action, body: ProjectAction, caller: CallerDep) -> dict[str, Any]:
    """生命周期操作（角色见生命周期表） / a lifecycle action, by the roles of the lifecycle table."""
    tolerance = caller.registry.settings.overlap_tolerance_m2

    def work(session: Any, actor: Any) -> dict[str, Any]:
        transition(session, actor, code, action, body.comment, tolerance_m2=tolerance)
        return project_summary(session, code).to_dict()

    return caller.write(work)


@router.post("/{code}/verify")
def verify(code: str, body: VerifyCreate, caller: CallerDep) -> dict[str, Any]:
    """核证监测期（独立核证机构） / verify the open monitoring period (an independent verifier)."""

    def work(session: Any, actor: Any) -> dict[str, Any]:
        verify_period(session, actor, code, body.quantity, body.comment, body.override_reason)
        return project_summary(session, code).to_dict()

    return caller.write(work)


# -- evidence, the start measurement and monitoring periods: uploaded tables --------------------


class UnreadableTable(Invalid):
    """An uploaded workbook or table that cannot be read as one."""


def _received(caller: Any, upload: UploadFile, folder: Path) -> Path:
    """The upload, bounded (size, type, a workbook's unpacked size) before anything reads it."""
    return received(upload, caller.registry.settings, folder, TABLE_TYPES)


def _unreadable(path: Path, exc: Exception) -> UnreadableTable:
    return UnreadableTable(
        f"无法读取表格 {path.name}：{exc}", f"cannot read the table {path.name}: {exc}"
    )


def _workbook(path: Path) -> tuple[Any, Any]:
    from registry.plot_workbook import read_plot_workbook

    try:
        return read_plot_workbook(path)
    except Exception as exc:  # whatever a reader raises on a bad upload: the file is unreadable
        raise _unreadable(path, exc) from exc


@router.post("/{code}/evidence", status_code=201)
def evidence(
    code: str, caller: CallerDep,
    file: Annotated[UploadFile, File(description=".csv or .xlsx: stand_key, kind, item, value, observed_on, reference")],
) -> dict[str, Any]:  # fmt: skip
    """加入适用条件证据（草稿；局工作人员） / add applicability evidence to a draft (bureau staff):
    all rows or none, every bad row named."""
    from registry.plot_workbook import read_table

    folder = Path(tempfile.mkdtemp(prefix="tanhui-evidence-"))
    try:
        path = _received(caller, file, folder)
        try:
            rows = read_table(path)
        except Exception as exc:  # whatever a reader raises on a bad upload: unreadable
            raise _unreadable(path, exc) from exc
        added = caller.write(lambda s, a: add_evidence(s, a, code, rows))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"project": code, "rows": added}


@router.post("/{code}/start-measurement", status_code=201)
def start_measurement(
    code: str, caller: CallerDep,
    file: Annotated[UploadFile, File(description="plot workbook .xlsx (每木检尺 + 层面积)")],
    measured_on: Annotated[date, Form()],
) -> dict[str, Any]:  # fmt: skip
    """记录计入期开始时的固定样地测定（局工作人员） / record the permanent plots measured at the
    start of the crediting period (bureau staff)."""
    folder = Path(tempfile.mkdtemp(prefix="tanhui-plots-"))
    try:
        trees, strata = _workbook(_received(caller, file, folder))

        def work(session: Any, actor: Any) -> dict[str, Any]:
            project = record_start_measurement(session, actor, code, measured_on, trees, strata)
            return {"project": code, "measured_on": measured_on.isoformat(),
                    "plots_digest": project.start_plots_digest}  # fmt: skip

        return caller.write(work)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.post("/{code}/monitoring", status_code=201)
def monitoring(
    code: str, caller: CallerDep,
    file: Annotated[UploadFile, File(description="plot workbook .xlsx: the same plots remeasured")],
    start: Annotated[date, Form()],
    end: Annotated[date, Form()],
) -> dict[str, Any]:  # fmt: skip
    """提交监测期（同一批固定样地复测；局工作人员） / submit a monitoring period: the same
    permanent plots remeasured (bureau staff); the removals, their uncertainty and any
    plausibility flags come back."""
    factor = caller.registry.settings.plausibility_factor
    folder = Path(tempfile.mkdtemp(prefix="tanhui-plots-"))
    try:
        trees, strata = _workbook(_received(caller, file, folder))

        def work(session: Any, actor: Any) -> dict[str, Any]:
            period = submit_monitoring(session, actor, code, start, end, trees, strata, factor)
            return {"project": code, "period": period.period_no,
                    "removals_tco2e": period.removals_tco2e,
                    "change_uncertainty": period.change_uncertainty,
                    "flags": json.loads(period.flags_json or "[]")}  # fmt: skip

        return caller.write(work)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
