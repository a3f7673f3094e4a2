"""Applicability evidence: dated observations and declarations a draft project brings."""

from __future__ import annotations

import hashlib
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from methodologies.eligibility import EVIDENCE_COLUMNS
from registry.errors import (
    ProjectError,
)
from registry.models import (
    Project,
    ProjectEvidence,
)
from registry.projects.core import Actor, active_keys, draft_for_stand_changes, now, record_event

__all__ = ["EVIDENCE_KINDS", "add_evidence", "project_evidence"]


EVIDENCE_KINDS = ("survey", "imagery", "declaration", "measurement")


def project_evidence(session: Session, project: Project) -> pd.DataFrame:
    """The project's evidence rows (``EVIDENCE_COLUMNS``), oldest record first."""
    rows = session.execute(
        select(ProjectEvidence)
        .where(col(ProjectEvidence.project_id) == project.id)
        .order_by(col(ProjectEvidence.id))
    ).scalars()
    return pd.DataFrame(
        [(r.stand_key or "", r.kind, r.item, r.value, r.observed_on, r.reference) for r in rows],
        columns=list(EVIDENCE_COLUMNS),
    )


def add_evidence(session: Session, actor: Actor, code: str, rows: pd.DataFrame) -> int:
    """Add dated observations and declarations to a draft project (all rows or none).

    ``rows``: ``stand_key`` (empty: the whole project), ``kind`` (survey | imagery |
    declaration | measurement), ``item``, ``value``, ``observed_on`` (YYYY-MM-DD),
    ``reference`` (the document, image or survey it comes from). Every problem of the file is
    reported at once, naming the row; a stand key must be one of the project's stands.
    Recorded with the file's digest in one audit event.
    """
    project = draft_for_stand_changes(session, actor, code)
    missing = [c for c in EVIDENCE_COLUMNS if c not in rows]
    if missing:
        raise ProjectError(
            f"证据文件缺少列：{', '.join(missing)}",
            f"the evidence file lacks the columns: {', '.join(missing)}",
        )
    members = set(active_keys(session, project))
    problems: list[tuple[str, str]] = []
    parsed: list[tuple[str | None, str, str, str, date, str]] = []
    text_rows = rows[list(EVIDENCE_COLUMNS)].astype(object).where(rows.notna(), "")
    for i, r in enumerate(text_rows.itertuples(index=False), start=2):  # row 1 is the header
        key = str(r.stand_key).strip()
        kind, item = str(r.kind).strip(), str(r.item).strip()
        value, reference = str(r.value).strip(), str(r.reference).strip()
        try:
            when = pd.Timestamp(str(r.observed_on)).date()
        except ValueError:
            when = None
        if kind not in EVIDENCE_KINDS:
            problems.append((f"第 {i} 行：类别 {kind!r} 无效（可用：{'、'.join(EVIDENCE_KINDS)}）",
                             f"row {i}: kind {kind!r} is not one of {', '.join(EVIDENCE_KINDS)}"))  # fmt: skip
        if key and key not in members:
            problems.append(
                (
                    f"第 {i} 行：小班 {key!r} 不属于项目 {code}",
                    f"row {i}: stand {key!r} is not in project {code}",
                )
            )
        if when is None:
            problems.append(
                (
                    f"第 {i} 行：日期 {r.observed_on!r} 无效（YYYY-MM-DD）",
                    f"row {i}: date {r.observed_on!r} is not YYYY-MM-DD",
                )
            )
        if not item or not value or not reference:
            problems.append((f"第 {i} 行：项目、值和依据（文件/影像/调查编号）都须填写",
                             f"row {i}: item, value and reference (document, image or survey id) are all required"))  # fmt: skip
        if when is not None:
            parsed.append((key or None, kind, item, value, when, reference))
    if problems:
        more = f"（共 {len(problems)} 处）" if len(problems) > 10 else ""
        raise ProjectError("证据文件有误，未做任何更改：" + "；".join(p[0] for p in problems[:10]) + more,
                           "the evidence file has problems; nothing was changed: "
                           + "; ".join(p[1] for p in problems[:10]))  # fmt: skip
    digest = hashlib.sha256(rows.to_csv(index=False).encode()).hexdigest()
    assert project.id is not None
    at = now()
    for stand_key, kind, item, value, when, reference in parsed:
        session.add(ProjectEvidence(project_id=project.id, stand_key=stand_key, kind=kind, item=item,
                                    value=value, observed_on=when, reference=reference,
                                    file_digest=digest, recorded_by=actor.name, recorded_at=at))  # fmt: skip
    record_event(session, project, actor, "evidence_added", project.status, "",
            {"rows": len(parsed), "file_digest": digest})  # fmt: skip
    return len(parsed)
