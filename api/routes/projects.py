"""Carbon-sink projects: create, stands, lifecycle actions, verification, and show."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlmodel import col

from api.deps import CallerDep, PageDep
from api.schemas import Page, ProjectAction, ProjectCreate, StandSelection, VerifyCreate
from registry.models import Project
from registry.projects import (
    add_stands,
    create_project,
    project_summary,
    remove_stands,
    transition,
    verify_period,
)

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
    if body.selection.lstrip().startswith("@") or "polygon=" in body.selection:
        from registry.errors import SelectionError

        raise SelectionError("HTTP 请求不能引用服务器上的文件。",
                             "a request over HTTP cannot name files on the server.")  # fmt: skip
    tolerance = caller.registry.settings.overlap_tolerance_m2
    keys = caller.write(lambda s, a: add_stands(s, a, code, body.selection, tolerance))
    return {"project": code, "added": keys}


@router.post("/{code}/stands/remove")
def remove(code: str, body: StandSelection, caller: CallerDep) -> dict[str, Any]:
    """移出小班（草稿） / remove stands from a draft."""
    if body.selection.lstrip().startswith("@") or "polygon=" in body.selection:
        from registry.errors import SelectionError

        raise SelectionError("HTTP 请求不能引用服务器上的文件。",
                             "a request over HTTP cannot name files on the server.")  # fmt: skip
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
