"""The lifecycle actions: create, assess the non-permanence risk, and the transitions of
:data:`registry.projects.core.TRANSITIONS` (submit, validate, register — which freezes the
ex-ante — issue, reject).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from methodologies import catalogue
from methodologies.exante import ExAnteResult
from registry.carbon_model import latest_growth_curves
from registry.errors import (
    NotEligible,
    ProjectError,
)
from registry.models import (
    Project,
    ProjectStatus,
    Role,
)
from registry.projects.checks import check_project
from registry.projects.core import (
    REJECT_TO,
    STAFF,
    TRANSITIONS,
    Actor,
    S,
    check_action,
    lock_project,
    now,
    open_period,
    record_event,
    require_role,
    stands_of,
    status_before_monitoring,
)
from registry.vocabulary import PeriodStatus

__all__ = ["assess_risk", "create_project", "ex_ante", "transition"]


def assess_risk(
    session: Session, actor: Actor, code: str, buffer_pct: float, reason: str
) -> Project:
    """Record the project's assessed non-permanence risk: the buffer share (%) of its future
    issuances (at least the registry's minimum, see :func:`registry.ledger.issue`).

    Set by the validator/verifier (or an administrator), with a reason; any state, since a
    reassessment applies from the next issuance. 0 ≤ buffer_pct < 100.
    """
    require_role(
        actor, (Role.VERIFIER, Role.ADMIN), "评估非永久性风险 / assess non-permanence risk"
    )
    if not reason.strip():
        raise ProjectError(
            "请写明风险评估的依据。", "give the reason (basis) of the risk assessment."
        )
    if not 0 <= buffer_pct < 100:
        raise ProjectError(
            f"缓冲比例 {buffer_pct}% 须在 0–100 之间（不含 100）。",
            f"buffer share {buffer_pct}% must be within 0–100 (100 excluded).",
        )
    project = lock_project(session, code)
    previous = project.buffer_pct
    project.buffer_pct = float(buffer_pct)
    session.add(project)
    record_event(session, project, actor, "risk_assessed", project.status, reason,
            {"buffer_pct": project.buffer_pct, "previous_buffer_pct": previous})  # fmt: skip
    return project


def create_project(
    session: Session, actor: Actor, *, code: str, name: str, methodology: str, developer: str,
    start_date: date, crediting_years: int, planted_group: str | None = None,
) -> Project:  # fmt: skip
    """A new project in draft. Crediting period 20–40 years; methodology by code."""
    require_role(actor, STAFF, "创建项目 / create a project")
    if methodology not in catalogue.CATALOGUE:
        raise ProjectError(
            f"未知方法学 {methodology!r}，可用：{', '.join(catalogue.codes())}",
            f"unknown methodology {methodology!r}; use one of {', '.join(catalogue.codes())}",
        )
    if not 20 <= crediting_years <= 40:
        raise ProjectError(
            f"计入期 {crediting_years} 年不在 20–40 年之间。",
            f"crediting period {crediting_years} years is outside 20–40 years.",
        )
    if session.execute(select(col(Project.id)).where(col(Project.code) == code)).first():
        raise ProjectError(f"项目编号 {code!r} 已存在。", f"project code {code!r} already exists.")
    project = Project(
        code=code, name=name, methodology=methodology, developer=developer,
        start_date=start_date, crediting_years=crediting_years, planted_group=planted_group,
        status=S.DRAFT.value, created_at=now(),
    )  # fmt: skip
    session.add(project)
    session.flush()
    record_event(session, project, actor, "created", S.DRAFT.value, "",
            {"methodology": methodology, "start_date": start_date.isoformat(),
             "crediting_years": crediting_years})  # fmt: skip
    return project


def ex_ante(session: Session, project: Project) -> tuple[ExAnteResult, float]:
    """The project's ex-ante and the stock its stands hold at the start (t CO2e), as its
    methodology's catalogue record computes them."""
    record = catalogue.methodology(project.methodology)
    stands = record.computed(stands_of(session, project))
    curves = latest_growth_curves(session) if record.needs_curves else []
    result = record.ex_ante(stands, curves, project.start_date.year, project.crediting_years,
                            project.planted_group or "chinese_fir")  # fmt: skip
    return result, record.start_stock(stands)


def transition(
    session: Session, actor: Actor, code: str, action: str, comment: str = "", *,
    tolerance_m2: float | None = None,
) -> Project:  # fmt: skip
    """Take a lifecycle action (see TRANSITIONS); checks role and state; atomic.

    ``submit`` re-checks applicability and double counting: it needs the registry's overlap
    tolerance (``tolerance_m2``, m², from the settings).
    """
    if action not in TRANSITIONS or action in ("monitor", "verify"):
        raise ProjectError(
            f"未知操作 {action!r}（监测和核证请用专门的命令）。",
            f"unknown action {action!r} (monitoring and verification have their own commands).",
        )
    project = lock_project(session, code)
    rule = TRANSITIONS[action]
    before = ProjectStatus(project.status)
    check_action(project, actor, action, rule, before)
    payload: dict[str, Any] = {}
    if action == "submit":
        if tolerance_m2 is None:
            raise TypeError("transition('submit') needs tolerance_m2, the registry's setting")
        report = check_project(session, code, tolerance_m2)
        if report.empty:
            raise NotEligible(
                "项目没有小班，不能提交。",
                "the project has no stands; it cannot be submitted.",
                report,
            )
        failed = report[~report["passed"]]
        if len(failed):
            first = failed.iloc[0]
            raise NotEligible(
                f"{failed['stand_id'].nunique()} 个小班不符合 {project.methodology} 的条件，例如小班 {first.stand_id}：{first.reason_zh}（规则 {first.rule}，{first.source}）。",
                f"{failed['stand_id'].nunique()} stands fail {project.methodology}, e.g. stand {first.stand_id}: {first.reason_en} (rule {first.rule}, {first.source}).",
                failed,
            )
    if action == "register":
        result, start_stock = ex_ante(session, project)
        project.exante_total_tco2e = result.total
        project.start_stock_tco2e = start_stock
        project.exante_json = json.dumps(
            {"by_year": result.by_year().to_dict(orient="records"),
             "traces": {k: t.to_dict() for k, t in result.traces.items()},
             "unverified_parameters": result.unverified(),
             "stands": [str(s) for s in result.stand_ids]},
            ensure_ascii=False,
        )  # fmt: skip
        payload = {
            "exante_total_tco2e": round(result.total, 3),
            "start_stock_tco2e": round(start_stock, 3),
        }
    if action == "reject":
        if not comment.strip():
            raise ProjectError("退回必须写明理由。", "a rejection needs a reason.")
        if before is S.MONITORED:
            period = open_period(session, project)
            period.status = PeriodStatus.REJECTED.value
            period.comments = comment
            project.status = status_before_monitoring(session, project)
        else:
            project.status = REJECT_TO[before].value
    else:
        assert rule.target is not None
        project.status = rule.target.value
    record_event(session, project, actor, action, before.value, comment, payload)
    return project
