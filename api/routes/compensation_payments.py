"""Benefit sharing and payment rosters over HTTP (:mod:`registry.compensation`): bureau staff
make rules and prepare rosters, an admin approves and records payment, staff read rosters and
their exports, a forest owner reads its own payments. Roles are decided in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep
from registry.compensation.exports import export_roster
from registry.compensation.presets import preset_rule
from registry.compensation.rosters import (
    approve_roster,
    my_payments,
    pay_roster,
    prepare_roster,
    roster_view,
)
from registry.compensation.rules import RuleSpec, create_rule, list_rules

__all__ = ["router"]

router = APIRouter(prefix="/compensation", tags=["compensation 生态补偿"])
RosterId = Annotated[int, Path(ge=1, le=2**31 - 1, description="名册编号 / roster id")]


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: str = Field(min_length=1, max_length=100)
    preset: Literal["anji", "sanming", "guizhou", "hunan-shares", "per-mu"] | None = None
    rule: dict[str, Any] = Field(default_factory=dict)


class RosterCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project: str = Field(min_length=1, max_length=100)
    period: int = Field(ge=1, le=1000)
    amount: Decimal = Field(ge=0, le=Decimal(10**12), decimal_places=2)
    rule_version: int | None = Field(default=None, ge=1)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expect_sha256: str = Field(
        min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$",
        description="名册明细摘要（查看名册时的 lines_sha256） / the lines' digest you read",
    )  # fmt: skip


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: str = Field(min_length=1, max_length=200)


@router.post("/rules", status_code=201)
def make_rule(body: RuleCreate, caller: CallerDep) -> dict[str, Any]:
    """新建一版收益分配规则（预设和/或 JSON） / a new version of a project's sharing rule."""

    def work(session: Any, actor: Any) -> dict[str, Any]:
        spec = preset_rule(body.preset, body.rule) if body.preset else RuleSpec.build(body.rule)
        return create_rule(session, actor, body.project, spec).to_dict()

    return caller.write(work)


@router.get("/rules")
def rules(
    caller: CallerDep, project: Annotated[str, Query(max_length=100)]
) -> list[dict[str, Any]]:
    """项目收益分配规则的各版本 / every version of a project's sharing rule (staff)."""
    return [r.to_dict() for r in caller.read(lambda s, a: list_rules(s, a, project))]


@router.post("/rosters", status_code=201)
def make_roster(body: RosterCreate, caller: CallerDep) -> dict[str, Any]:
    """编制（或重编草稿）发放名册 / prepare a roster (bureau staff or admin)."""
    return caller.write(lambda s, a: prepare_roster(
        s, a, body.project, body.period, body.amount, body.rule_version)).to_dict()  # fmt: skip


@router.get("/rosters/{roster_id}")
def roster(roster_id: RosterId, caller: CallerDep) -> dict[str, Any]:
    """发放名册 / a roster and its lines (staff)."""
    return caller.read(lambda s, a: roster_view(s, a, roster_id)).to_dict()


@router.post("/rosters/{roster_id}/approve")
def approve(roster_id: RosterId, body: Approval, caller: CallerDep) -> dict[str, Any]:
    """审批名册（管理员），须给出所查看名册的明细摘要 ``expect_sha256``（名册视图的
    ``lines_sha256``），名册此后被改动则拒绝（409） / approve a roster (admin): give the
    ``lines_sha256`` of the roster you read; refused (409) when it changed since."""
    return caller.write(lambda s, a: approve_roster(s, a, roster_id, body.expect_sha256)).to_dict()


@router.post("/rosters/{roster_id}/pay")
def pay(roster_id: RosterId, body: Payment, caller: CallerDep) -> dict[str, Any]:
    """登记已发放（管理员） / record a roster as paid (admin)."""
    return caller.write(lambda s, a: pay_roster(s, a, roster_id, body.reference)).to_dict()


@router.get("/rosters/{roster_id}/export")
def export(
    roster_id: RosterId, caller: CallerDep,
    format: Annotated[Literal["xlsx", "bank-csv", "notice"], Query()] = "xlsx",
    part: Annotated[Literal["csv", "html"], Query()] = "csv",
) -> Response:  # fmt: skip
    """名册导出（工作人员）：Excel、银行代发 CSV（仅已审批或已发放的名册）、公示（CSV 或 HTML）；
    Excel 与银行文件的导出记入审计日志 / a roster's export (staff); ``part`` chooses the
    notice's CSV or HTML; the bank file only for an approved or paid roster (409 otherwise);
    the private formats are logged in the audit log (so this runs in a write transaction)."""
    files = caller.write(lambda s, a: export_roster(s, a, roster_id, format))
    chosen = files[0] if len(files) == 1 or part == "csv" else files[1]
    return Response(chosen.content, media_type=chosen.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{chosen.name}"'})  # fmt: skip


@router.get("/my-payments")
def my_own_payments(caller: CallerDep) -> list[dict[str, Any]]:
    """本人补偿款（已关联的林权权利人） / the calling forest owner's own payments."""
    return caller.read(lambda s, a: my_payments(s, a))
