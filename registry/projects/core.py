"""What every part of a project's life shares: who acts (:class:`Actor`), the lifecycle table
(:data:`TRANSITIONS`), the project row lock, the role check and the history record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.carbon_model import select_stands
from registry.db import is_postgres
from registry.errors import (
    InvalidTransition,
    PermissionDenied,
    ProjectError,
    ProjectNotFound,
)
from registry.models import (
    MonitoringPeriod,
    Project,
    ProjectEvent,
    ProjectStand,
    ProjectStatus,
    Role,
)
from registry.vocabulary import PeriodStatus

__all__ = [
    "EDITABLE",
    "REJECT_ROLE",
    "REJECT_TO",
    "STAFF",
    "TRANSITIONS",
    "Actor",
    "Transition",
    "active_keys",
    "check_action",
    "draft_for_stand_changes",
    "find_project",
    "lock_project",
    "now",
    "open_period",
    "periods",
    "record_event",
    "require_independent",
    "require_role",
    "stands_of",
    "status_before_monitoring",
]


S = ProjectStatus


@dataclass(frozen=True)
class Transition:
    sources: tuple[ProjectStatus, ...]
    target: ProjectStatus | None  # None: decided by the action (reject returns a step)
    roles: tuple[Role, ...]
    zh: str


STAFF = (Role.ADMIN, Role.BUREAU_STAFF)

TRANSITIONS: dict[str, Transition] = {
    "submit": Transition((S.DRAFT,), S.SUBMITTED, STAFF, "提交审定"),
    "validate": Transition((S.SUBMITTED,), S.VALIDATED, (Role.VERIFIER,), "审定通过"),
    "register": Transition((S.VALIDATED,), S.REGISTERED, (Role.ADMIN,), "登记"),
    "monitor": Transition((S.REGISTERED, S.VERIFIED, S.ISSUED), S.MONITORED, STAFF, "提交监测报告"),
    "verify": Transition((S.MONITORED,), S.VERIFIED, (Role.VERIFIER,), "核证通过"),
    "issue": Transition((S.VERIFIED,), S.ISSUED, (Role.ADMIN,), "签发"),
    "reject": Transition(
        (S.SUBMITTED, S.VALIDATED, S.MONITORED), None, (Role.VERIFIER, Role.ADMIN), "退回"
    ),
}
# reject returns one step: submitted → draft, validated → submitted (admin declines to register),
# monitored → the state before the monitoring report

REJECT_TO = {S.SUBMITTED: S.DRAFT, S.VALIDATED: S.SUBMITTED}

REJECT_ROLE = {S.SUBMITTED: Role.VERIFIER, S.VALIDATED: Role.ADMIN, S.MONITORED: Role.VERIFIER}

EDITABLE = (S.DRAFT,)


def now() -> datetime:
    return datetime.now(UTC)


def lock_project(session: Session, code: str) -> Project:
    """The project, its row locked for the transaction (PostgreSQL; SQLite's BEGIN IMMEDIATE
    serialises writers already); an unknown code is refused."""
    return find_project(session, code, lock=True)


def find_project(session: Session, code: str, lock: bool = False) -> Project:
    """The project called ``code`` (read without a lock unless ``lock``); refuses an unknown one."""
    stmt = select(Project).where(col(Project.code) == code)
    if lock and is_postgres(session):
        stmt = stmt.with_for_update()
    project = session.execute(stmt).scalar_one_or_none()
    if project is None:
        raise ProjectNotFound(f"没有编号为 {code!r} 的项目。", f"no project with code {code!r}.")
    return project


def require_role(actor: Actor, roles: tuple[Role, ...], what: str) -> None:
    require_any_role(actor, roles, what)


INDEPENDENT = ("validate", "verify")  # a verifier never judges its own organisation's project


def require_independent(actor: Actor, project: Project, action: str) -> None:
    """A verifier may not validate or verify a project of its own organisation."""
    if action in INDEPENDENT and project.developer.strip() == actor.organisation:
        raise PermissionDenied(
            f"{actor.name} 属于项目 {project.code} 的业主 {project.developer}，不能审定或核证本机构的项目。",
            f"{actor.name} belongs to {project.developer}, the developer of project "
            f"{project.code}: a verifier may not validate or verify its own organisation's project.",
        )


def record_event(
    session: Session, project: Project, actor: Actor, action: str, before: str, comment: str,
    payload: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    assert project.id is not None
    session.add(
        ProjectEvent(
            project_id=project.id,
            at=now(),
            actor=actor.label,
            role=actor.roles_text,
            action=action,
            from_status=before,
            to_status=project.status,
            comment=comment,
        )
    )
    append_event(
        session, actor=actor.label, action=f"project.{action}", entity_type="project",
        entity_id=project.code,
        payload={"role": actor.roles_text, "from": before, "to": project.status,
                 "comment": comment, **(payload or {})},
    )  # fmt: skip
    session.flush()


def check_action(
    project: Project, actor: Actor, action: str, rule: Transition, before: ProjectStatus
) -> None:
    if before not in rule.sources:
        sources = ", ".join(s.value for s in rule.sources)
        raise InvalidTransition(
            f"项目 {project.code} 处于 {before.value} 状态，不能{rule.zh}（需要：{sources}）。",
            f"project {project.code} is {before.value}: '{action}' needs one of: {sources}.",
        )
    roles = (REJECT_ROLE[before],) if action == "reject" else rule.roles
    require_role(actor, roles, f"{rule.zh} / {action}")
    if action in INDEPENDENT or (action == "reject" and before != S.VALIDATED):
        require_independent(actor, project, "verify" if action == "reject" else action)


def active_keys(session: Session, project: Project) -> list[str]:
    return list(
        session.execute(
            select(col(ProjectStand.stand_key))
            .where(col(ProjectStand.project_id) == project.id)
            .where(col(ProjectStand.active).is_(True))
            .order_by(col(ProjectStand.stand_key))
        ).scalars()
    )


def stands_of(session: Session, project: Project) -> pd.DataFrame:
    if not active_keys(session, project):
        return pd.DataFrame(columns=["stand_id"])
    return select_stands(session, "all", project_id=project.id)


def periods(session: Session, project: Project) -> list[MonitoringPeriod]:
    return list(
        session.execute(
            select(MonitoringPeriod)
            .where(col(MonitoringPeriod.project_id) == project.id)
            .order_by(col(MonitoringPeriod.period_no))
        ).scalars()
    )


def open_period(session: Session, project: Project) -> MonitoringPeriod:
    period = session.execute(
        select(MonitoringPeriod)
        .where(col(MonitoringPeriod.project_id) == project.id)
        .where(col(MonitoringPeriod.status) == PeriodStatus.SUBMITTED.value)
    ).scalar_one_or_none()
    if period is None:
        raise ProjectError(
            f"项目 {project.code} 没有待核证的监测期。",
            f"project {project.code} has no monitoring period awaiting verification.",
        )
    return period


def status_before_monitoring(session: Session, project: Project) -> str:
    last = session.execute(
        select(col(ProjectEvent.from_status))
        .where(col(ProjectEvent.project_id) == project.id)
        .where(col(ProjectEvent.action) == "monitor")
        .order_by(col(ProjectEvent.id).desc())
        .limit(1)
    ).scalar_one()
    return str(last)


def draft_for_stand_changes(session: Session, actor: Actor, code: str) -> Project:
    """The project, locked, if ``actor`` may change its stands now (staff; draft only)."""
    require_role(actor, STAFF, "修改项目小班 / change project stands")
    project = lock_project(session, code)
    if project.status not in EDITABLE:
        raise InvalidTransition(
            f"项目 {code} 处于 {project.status} 状态，只有草稿可以增减小班。",
            f"project {code} is {project.status}; only a draft can gain or lose stands.",
        )
    return project
