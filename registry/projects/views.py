"""What a project looks like to a reader: its summary and its frozen ex-ante. No locks."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from registry.models import Project, ProjectEvent
from registry.projects.core import find_project, periods
from registry.results import Result

__all__ = [
    "HistoryLine",
    "PeriodSummary",
    "ProjectLine",
    "ProjectSummary",
    "frozen_exante",
    "list_projects",
    "project_summary",
]


@dataclass(frozen=True)
class PeriodSummary(Result):
    """A monitoring period: its dates, state and figures (t CO2e), flags and verification."""

    period: int
    start: str
    end: str
    status: str
    stock_tco2e: float | None
    uncertainty: float | None
    removals_tco2e: float | None
    verified_tco2e: float | None
    change_tco2e: float | None
    change_uncertainty: float | None
    flags: tuple[dict[str, Any], ...]
    override_reason: str | None
    verifier: str | None
    comments: str | None


@dataclass(frozen=True)
class HistoryLine(Result):
    at: str | None
    actor: str
    role: str
    action: str
    from_status: str = field(metadata={"key": "from"})
    to_status: str = field(metadata={"key": "to"})
    comment: str


@dataclass(frozen=True)
class ProjectSummary(Result):
    """Everything a project page or ``project show`` says of a project."""

    code: str
    name: str
    methodology: str
    developer: str
    status: str
    start_date: str
    crediting_years: int
    area_ha: float
    stands: int
    exante_total_tco2e: float | None
    buffer_pct: float | None
    start_stock_tco2e: float | None
    start_measured_on: str | None
    start_plots_digest: str | None
    unverified_parameters: tuple[str, ...]
    monitoring_periods: tuple[PeriodSummary, ...] = field(metadata={"of": PeriodSummary})
    history: tuple[HistoryLine, ...] = field(metadata={"of": HistoryLine})


def frozen_exante(session: Session, code: str) -> dict[str, Any]:
    """The ex-ante frozen at registration (``{}`` before), as stored: by year, traces, flags."""
    return dict(json.loads(find_project(session, code).exante_json or "{}"))


def project_summary(session: Session, code: str) -> ProjectSummary:
    """A project: status, area, stands, ex-ante, monitoring periods, history (read, no lock)."""
    project = find_project(session, code)
    history = (
        session.execute(
            select(ProjectEvent)
            .where(col(ProjectEvent.project_id) == project.id)
            .order_by(col(ProjectEvent.id))
        )
        .scalars()
        .all()
    )
    return ProjectSummary(
        code=project.code, name=project.name, methodology=project.methodology,
        developer=project.developer, status=project.status,
        start_date=project.start_date.isoformat(), crediting_years=project.crediting_years,
        area_ha=project.area_ha, stands=project.n_stands,
        exante_total_tco2e=project.exante_total_tco2e, buffer_pct=project.buffer_pct,
        start_stock_tco2e=project.start_stock_tco2e,
        start_measured_on=project.start_measured_on.isoformat() if project.start_measured_on else None,
        start_plots_digest=project.start_plots_digest,
        unverified_parameters=tuple(json.loads(project.exante_json)["unverified_parameters"] if project.exante_json else ()),
        monitoring_periods=tuple(
            PeriodSummary(p.period_no, p.start_date.isoformat(), p.end_date.isoformat(), p.status,
                          p.stock_tco2e, p.uncertainty, p.removals_tco2e, p.verified_tco2e,
                          p.change_tco2e, p.change_uncertainty, tuple(json.loads(p.flags_json or "[]")),
                          p.override_reason, p.verifier, p.comments)
            for p in periods(session, project)
        ),
        history=tuple(
            HistoryLine(e.at.isoformat() if e.at else None, e.actor, e.role, e.action,
                        e.from_status, e.to_status, e.comment)
            for e in history
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class ProjectLine(Result):
    """A project in a list: code, name, methodology, status, stands, ha, frozen ex-ante (t CO2e)."""

    code: str
    name: str
    methodology: str
    status: str
    stands: int
    area_ha: float
    exante_total_tco2e: float | None


def list_projects(session: Session) -> list[ProjectLine]:
    """Every project, by code (read, no lock)."""
    rows = session.execute(select(Project).order_by(col(Project.code))).scalars().all()
    return [ProjectLine(p.code, p.name, p.methodology, p.status, p.n_stands, p.area_ha,
                        p.exante_total_tco2e) for p in rows]  # fmt: skip
