"""Carbon-sink projects: stands, eligibility, the double-counting guard, the lifecycle,
monitoring periods and verification.

The lifecycle is an explicit state machine (:data:`TRANSITIONS`): each action names the states
it may start from, the state it leads to and the roles allowed to take it. Every action runs in
one transaction with a project history row and an audit event; a refusal changes nothing.
A stand key belongs to at most one active project membership — checked here (naming both
projects) and guarded by a partial unique index in the database (migration 0003).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from gis_data.checks import area_ha
from methodologies import catalogue
from methodologies.eligibility import EVIDENCE_COLUMNS
from methodologies.exante import ExAnteResult
from methodologies.expost import EMPTY_PLOT, estimate, estimate_change
from methodologies.plausibility import check_period
from registry.audit import append_event
from registry.db import is_postgres
from registry.errors import (
    DoubleCounting,
    FlaggedPeriod,
    InvalidTransition,
    NotEligible,
    PermissionDenied,
    ProjectError,
    ProjectNotFound,
)
from registry.model import latest_growth_curves, select_stands
from registry.models import (
    STORAGE_SRID,
    MonitoringPeriod,
    Project,
    ProjectEvent,
    ProjectEvidence,
    ProjectStand,
    ProjectStatus,
    Role,
    Stand,
)

__all__ = [
    "TRANSITIONS",
    "Actor",
    "DoubleCounting",
    "FlaggedPeriod",
    "InvalidTransition",
    "NotEligible",
    "PermissionDenied",
    "ProjectError",
    "add_evidence",
    "add_stands",
    "check_project",
    "create_project",
    "frozen_exante",
    "project_stands",
    "project_summary",
    "record_start_measurement",
    "remove_stands",
    "require_role",
    "submit_monitoring",
    "transition",
    "verify_period",
]

S = ProjectStatus


@dataclass(frozen=True)
class Actor:
    name: str
    role: Role


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


def _now() -> datetime:
    return datetime.now(UTC)


def _lock_project(session: Session, code: str) -> Project:
    stmt = select(Project).where(col(Project.code) == code)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    project = session.execute(stmt).scalar_one_or_none()
    if project is None:
        raise ProjectNotFound(f"没有编号为 {code!r} 的项目。", f"no project with code {code!r}.")
    return project


def require_role(actor: Actor, roles: tuple[Role, ...], what: str) -> None:
    if actor.role not in roles:
        allowed = ", ".join(r.value for r in roles)
        raise PermissionDenied(
            f"{actor.name}（角色 {actor.role.value}）无权{what}；需要角色：{allowed}。",
            f"{actor.name} (role {actor.role.value}) may not {what}; it needs one of: {allowed}.",
        )


def _record(
    session: Session, project: Project, actor: Actor, action: str, before: str, comment: str,
    payload: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    assert project.id is not None
    session.add(
        ProjectEvent(
            project_id=project.id,
            at=_now(),
            actor=actor.name,
            role=actor.role.value,
            action=action,
            from_status=before,
            to_status=project.status,
            comment=comment,
        )
    )
    append_event(
        session, actor=actor.name, action=f"project.{action}", entity_type="project",
        entity_id=project.code,
        payload={"role": actor.role.value, "from": before, "to": project.status,
                 "comment": comment, **(payload or {})},
    )  # fmt: skip
    session.flush()


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
    project = _lock_project(session, code)
    previous = project.buffer_pct
    project.buffer_pct = float(buffer_pct)
    session.add(project)
    _record(session, project, actor, "risk_assessed", project.status, reason,
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
        status=S.DRAFT.value, created_at=_now(),
    )  # fmt: skip
    session.add(project)
    session.flush()
    _record(session, project, actor, "created", S.DRAFT.value, "",
            {"methodology": methodology, "start_date": start_date.isoformat(),
             "crediting_years": crediting_years})  # fmt: skip
    return project


def _active_keys(session: Session, project: Project) -> list[str]:
    return list(
        session.execute(
            select(col(ProjectStand.stand_key))
            .where(col(ProjectStand.project_id) == project.id)
            .where(col(ProjectStand.active).is_(True))
            .order_by(col(ProjectStand.stand_key))
        ).scalars()
    )


def _geometries(session: Session, keys: list[str]) -> dict[str, shapely.Geometry]:
    out: dict[str, shapely.Geometry] = {}
    for start in range(0, len(keys), 2000):
        chunk = keys[start : start + 2000]
        rows = session.execute(
            select(col(Stand.stand_key), func.ST_AsBinary(Stand.geom))
            .where(col(Stand.stand_key).in_(chunk))
            .where(col(Stand.is_current).is_(True))
        ).all()
        out.update({k: shapely.from_wkb(bytes(g)) for k, g in rows})
    return out


def _overlap_candidates(
    session: Session, keys: list[str], project_id: int
) -> list[tuple[str, str, str]]:
    """(new key, other project code, other key) pairs whose current geometries intersect,
    found through the engine's spatial index."""
    if not keys:
        return []
    params: dict[str, object] = {"pid": project_id}
    marks = ", ".join(f":k{i}" for i in range(len(keys)))
    params.update({f"k{i}": k for i, k in enumerate(keys)})
    if is_postgres(session):
        spatial = "ST_Intersects(o.geom, n.geom)"
    else:
        spatial = (
            "o.ROWID IN (SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'stand' "
            "AND f_geometry_column = 'geom' AND search_frame = n.geom) AND ST_Intersects(o.geom, n.geom)"
        )
    sql = f"""
        SELECT n.stand_key, p.code, o.stand_key
        FROM stand n
        JOIN stand o ON o.is_current AND {spatial}
        JOIN project_stand ps ON ps.stand_key = o.stand_key AND ps.active
        JOIN project p ON p.id = ps.project_id
        WHERE n.is_current AND n.stand_key IN ({marks}) AND ps.project_id != :pid
    """
    return [(a, b, c) for a, b, c in session.execute(text(sql), params).all()]


def _conflicts(
    session: Session, project: Project, keys: list[str], tolerance_m2: float
) -> list[dict[str, Any]]:
    assert project.id is not None
    conflicts: list[dict[str, Any]] = []
    taken = session.execute(
        select(col(ProjectStand.stand_key), col(Project.code))
        .join(Project, col(Project.id) == col(ProjectStand.project_id))
        .where(col(ProjectStand.active).is_(True))
        .where(col(ProjectStand.stand_key).in_(keys))
        .where(col(ProjectStand.project_id) != project.id)
    ).all()
    for key, other in taken:
        conflicts.append(
            {"stand": key, "other_project": other, "other_stand": key, "overlap_m2": None}
        )
    # the same key in another project is reported above; here: different keys sharing ground
    pairs = [p for p in _overlap_candidates(session, keys, project.id) if p[0] != p[2]]
    if pairs:
        geoms = _geometries(session, sorted({k for p in pairs for k in (p[0], p[2])}))
        left = np.array([geoms[p[0]] for p in pairs], dtype=object)
        right = np.array([geoms[p[2]] for p in pairs], dtype=object)
        shared = shapely.intersection(left, right)
        m2 = area_ha(shared) * 10_000  # lines and points have no area; one projection for all
        for (new, other, other_key), overlap in zip(pairs, m2, strict=True):
            if overlap > tolerance_m2:
                conflicts.append({"stand": new, "other_project": other, "other_stand": other_key,
                                  "overlap_m2": round(float(overlap), 1)})  # fmt: skip
    return conflicts


def _double_counting(project: Project, conflicts: list[dict[str, Any]]) -> DoubleCounting:
    lines_zh = [
        f"小班 {c['stand']} 已属于项目 {c['other_project']}" if c["overlap_m2"] is None
        else f"小班 {c['stand']} 与项目 {c['other_project']} 的小班 {c['other_stand']} 重叠 {c['overlap_m2']:,.1f} 平方米"
        for c in conflicts[:20]
    ]  # fmt: skip
    lines_en = [
        f"stand {c['stand']} already belongs to project {c['other_project']}" if c["overlap_m2"] is None
        else f"stand {c['stand']} overlaps stand {c['other_stand']} of project {c['other_project']} by {c['overlap_m2']:,.1f} m²"
        for c in conflicts[:20]
    ]  # fmt: skip
    more = f" (+{len(conflicts) - 20})" if len(conflicts) > 20 else ""
    return DoubleCounting(
        f"重复计量：项目 {project.code} 不能加入这些小班：" + "；".join(lines_zh) + more,
        f"double counting: project {project.code} cannot take these stands: "
        + "; ".join(lines_en)
        + more,
        conflicts,
    )


def _refresh_boundary(session: Session, project: Project) -> None:
    keys = _active_keys(session, project)
    geoms = _geometries(session, keys)
    project.n_stands = len(keys)
    if not geoms:
        project.boundary, project.area_ha = None, 0.0
        return
    union = shapely.union_all(list(geoms.values()))
    parts = [p for p in shapely.get_parts(union) if p.geom_type == "Polygon"]
    multi = shapely.MultiPolygon(parts)
    project.area_ha = float(area_ha(np.array([multi], dtype=object))[0])
    project.boundary = func.ST_GeomFromWKB(shapely.to_wkb(multi), STORAGE_SRID)


def _draft_for_stand_changes(session: Session, actor: Actor, code: str) -> Project:
    """The project, locked, if ``actor`` may change its stands now (staff; draft only)."""
    require_role(actor, STAFF, "修改项目小班 / change project stands")
    project = _lock_project(session, code)
    if project.status not in EDITABLE:
        raise InvalidTransition(
            f"项目 {code} 处于 {project.status} 状态，只有草稿可以增减小班。",
            f"project {code} is {project.status}; only a draft can gain or lose stands.",
        )
    return project


def add_stands(
    session: Session, actor: Actor, code: str, selection: str, tolerance_m2: float = 1.0
) -> list[str]:
    """Add the current stands chosen by ``selection`` (see ``select_stands``) to a draft project.

    Raises DoubleCounting naming both projects when a stand, or more than ``tolerance_m2`` of
    its area, already belongs to another project.
    """
    project = _draft_for_stand_changes(session, actor, code)
    keys = select_stands(session, selection)["stand_id"].tolist()
    existing = set(_active_keys(session, project))
    new = [k for k in keys if k not in existing]
    conflicts = _conflicts(session, project, new, tolerance_m2)
    if conflicts:
        raise _double_counting(project, conflicts)
    assert project.id is not None
    now = _now()
    session.add_all(
        ProjectStand(project_id=project.id, stand_key=k, active=True, added_at=now) for k in new
    )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent writer claimed a stand first
        raise DoubleCounting(
            f"重复计量：另一项目刚刚登记了其中的小班（{code}），请重新检查。",
            f"double counting: another project has just claimed one of these stands "
            f"({code}); check again.",
            [],
        ) from exc
    _refresh_boundary(session, project)
    _record(session, project, actor, "stands_added", project.status, "",
            {"added": len(new), "selection": selection,
             "keys_digest": hashlib.sha256("\n".join(new).encode()).hexdigest()})  # fmt: skip
    return new


def remove_stands(session: Session, actor: Actor, code: str, selection: str) -> list[str]:
    """Take stands out of a draft project (the membership is kept as history)."""
    project = _draft_for_stand_changes(session, actor, code)
    keys = set(select_stands(session, selection)["stand_id"]) & set(_active_keys(session, project))
    if keys:
        session.execute(
            update(ProjectStand)
            .where(col(ProjectStand.project_id) == project.id)
            .where(col(ProjectStand.stand_key).in_(sorted(keys)))
            .where(col(ProjectStand.active).is_(True))
            .values(active=False, removed_at=_now())
        )
    _refresh_boundary(session, project)
    _record(session, project, actor, "stands_removed", project.status, "", {"removed": len(keys)})
    return sorted(keys)


def _project_stands(session: Session, project: Project) -> pd.DataFrame:
    if not _active_keys(session, project):
        return pd.DataFrame(columns=["stand_id"])
    return select_stands(session, "all", project_id=project.id)


def project_stands(session: Session, code: str) -> pd.DataFrame:
    """The current stands of a project's active membership (one row per stand, the columns of
    :func:`registry.model.select_stands`); refuses an unknown project."""
    return _project_stands(session, _lock_project(session, code))


def frozen_exante(session: Session, code: str) -> dict[str, Any]:
    """The ex-ante frozen at registration (``{}`` before), as stored: by year, traces, flags."""
    return dict(json.loads(_lock_project(session, code).exante_json or "{}"))


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
    project = _draft_for_stand_changes(session, actor, code)
    missing = [c for c in EVIDENCE_COLUMNS if c not in rows]
    if missing:
        raise ProjectError(
            f"证据文件缺少列：{', '.join(missing)}",
            f"the evidence file lacks the columns: {', '.join(missing)}",
        )
    members = set(_active_keys(session, project))
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
    now = _now()
    for stand_key, kind, item, value, when, reference in parsed:
        session.add(ProjectEvidence(project_id=project.id, stand_key=stand_key, kind=kind, item=item,
                                    value=value, observed_on=when, reference=reference,
                                    file_digest=digest, recorded_by=actor.name, recorded_at=now))  # fmt: skip
    _record(session, project, actor, "evidence_added", project.status, "",
            {"rows": len(parsed), "file_digest": digest})  # fmt: skip
    return len(parsed)


def check_project(session: Session, code: str, tolerance_m2: float = 1.0) -> pd.DataFrame:
    """Eligibility and double-counting report: one row per stand and rule, with its source."""
    project = _lock_project(session, code)
    stands = _project_stands(session, project)
    report = catalogue.check_eligibility(
        project.methodology, stands, project.start_date.year,
        project.planted_group or "chinese_fir", project_evidence(session, project),
        project.start_date,
    )  # fmt: skip
    conflicts = _conflicts(session, project, stands["stand_id"].tolist(), tolerance_m2)
    rows = [
        (c["stand"], "no_double_counting", False,
         f"与项目 {c['other_project']} 的小班 {c['other_stand']} 冲突",
         f"conflicts with stand {c['other_stand']} of project {c['other_project']}",
         "registry: one stand, one project")
        for c in conflicts
    ]  # fmt: skip
    if rows:
        report = pd.concat([report, pd.DataFrame(rows, columns=report.columns)], ignore_index=True)
    return report


def _ex_ante(session: Session, project: Project) -> tuple[ExAnteResult, float]:
    """The project's ex-ante and the stock its stands hold at the start (t CO2e), as its
    methodology's catalogue record computes them."""
    record = catalogue.methodology(project.methodology)
    stands = record.computed(_project_stands(session, project))
    curves = latest_growth_curves(session) if record.needs_curves else []
    result = record.ex_ante(stands, curves, project.start_date.year, project.crediting_years,
                            project.planted_group or "chinese_fir")  # fmt: skip
    return result, record.start_stock(stands)


def transition(
    session: Session, actor: Actor, code: str, action: str, comment: str = ""
) -> Project:
    """Take a lifecycle action (see TRANSITIONS); checks role and state; atomic."""
    if action not in TRANSITIONS or action in ("monitor", "verify"):
        raise ProjectError(
            f"未知操作 {action!r}（监测和核证请用专门的命令）。",
            f"unknown action {action!r} (monitoring and verification have their own commands).",
        )
    project = _lock_project(session, code)
    rule = TRANSITIONS[action]
    before = ProjectStatus(project.status)
    _check(project, actor, action, rule, before)
    payload: dict[str, Any] = {}
    if action == "submit":
        report = check_project(session, code)
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
        result, start_stock = _ex_ante(session, project)
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
            period = _open_period(session, project)
            period.status = "rejected"
            period.comments = comment
            project.status = _status_before_monitoring(session, project)
        else:
            project.status = REJECT_TO[before].value
    else:
        assert rule.target is not None
        project.status = rule.target.value
    _record(session, project, actor, action, before.value, comment, payload)
    return project


def _check(
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


def _open_period(session: Session, project: Project) -> MonitoringPeriod:
    period = session.execute(
        select(MonitoringPeriod)
        .where(col(MonitoringPeriod.project_id) == project.id)
        .where(col(MonitoringPeriod.status) == "submitted")
    ).scalar_one_or_none()
    if period is None:
        raise ProjectError(
            f"项目 {project.code} 没有待核证的监测期。",
            f"project {project.code} has no monitoring period awaiting verification.",
        )
    return period


def _status_before_monitoring(session: Session, project: Project) -> str:
    last = session.execute(
        select(col(ProjectEvent.from_status))
        .where(col(ProjectEvent.project_id) == project.id)
        .where(col(ProjectEvent.action) == "monitor")
        .order_by(col(ProjectEvent.id).desc())
        .limit(1)
    ).scalar_one()
    return str(last)


def _periods(session: Session, project: Project) -> list[MonitoringPeriod]:
    return list(
        session.execute(
            select(MonitoringPeriod)
            .where(col(MonitoringPeriod.project_id) == project.id)
            .order_by(col(MonitoringPeriod.period_no))
        ).scalars()
    )


def _read_csv(text_: str) -> pd.DataFrame:
    from io import StringIO

    return pd.read_csv(StringIO(text_))


def _digest(trees: pd.DataFrame, strata: pd.DataFrame) -> str:
    return hashlib.sha256(
        trees.to_csv(index=False).encode() + strata.to_csv(index=False).encode()
    ).hexdigest()


START_TOLERANCE_DAYS = 366


def record_start_measurement(
    session: Session, actor: Actor, code: str, measured_on: date, trees: pd.DataFrame,
    strata: pd.DataFrame,
) -> Project:  # fmt: skip
    """Record the measurement of the permanent sample plots at the start of the crediting period.

    Every later monitoring period is measured on the same plots, the same way; the first
    period's removals are the change from this measurement (never from modelled inventory
    stock). Staff only; within a year of the project's start date; replaceable (audited) until
    a monitoring period has been submitted. The plots are checked like monitoring plots.
    """
    require_role(actor, STAFF, "记录样地起始测定 / record the start measurement")
    project = _lock_project(session, code)
    if project.status not in (S.DRAFT, S.SUBMITTED, S.VALIDATED, S.REGISTERED):
        raise InvalidTransition(
            f"项目 {code} 处于 {project.status} 状态，已开始监测，不能再更改起始测定。",
            f"project {code} is {project.status}: monitoring has begun, the start measurement "
            "can no longer change.",
        )
    if any(p.status != "rejected" for p in _periods(session, project)):
        raise InvalidTransition(
            f"项目 {code} 已有监测期，不能再更改起始测定。",
            f"project {code} has a monitoring period: the start measurement can no longer change.",
        )
    gap = abs((measured_on - project.start_date).days)
    if gap > START_TOLERANCE_DAYS:
        raise ProjectError(
            f"起始测定日期 {measured_on} 与项目开始日期 {project.start_date} 相差 {gap} 天，须在一年以内。",
            f"the start measurement ({measured_on}) is {gap} days from the project's start "
            f"({project.start_date}); it must be within a year.",
        )
    record = catalogue.methodology(project.methodology)
    result = estimate(trees, strata, exclude_pre_existing=record.excludes_pre_existing_trees)
    previous = project.start_plots_digest
    digest = _digest(trees, strata)
    project.start_measured_on = measured_on
    project.start_plots_csv = trees.to_csv(index=False)
    project.start_strata_csv = strata.to_csv(index=False)
    project.start_plots_digest = digest
    session.add(project)
    _record(session, project, actor, "start_measured", project.status, "",
            {"measured_on": measured_on.isoformat(), "plots_digest": digest,
             "replaces_digest": previous, "plots": int(result.plots["plot_id"].nunique()),
             "stock_tco2e": round(result.estimate_tco2e, 3),
             "uncertainty": None if not np.isfinite(result.uncertainty) else round(result.uncertainty, 4)})  # fmt: skip
    return project


def _area_by_group(trees: pd.DataFrame, strata: pd.DataFrame) -> dict[str, float]:
    """Species group of each stratum (its most frequent tree group) → summed stratum area."""
    counted = trees[trees["species_group"] != EMPTY_PLOT]
    if counted.empty:
        return {}
    group_of = counted.groupby("stratum")["species_group"].agg(lambda g: g.value_counts().index[0])
    out: dict[str, float] = {}
    areas = strata.set_index("stratum")["area_ha"].astype(float)
    for stratum, area in areas.items():
        group = group_of.get(stratum)
        if group is not None:
            out[str(group)] = out.get(str(group), 0.0) + float(area)
    return out


def submit_monitoring(
    session: Session, actor: Actor, code: str, start: date, end: date, trees: pd.DataFrame,
    strata: pd.DataFrame, plausibility_factor: float | None = None,
) -> MonitoringPeriod:  # fmt: skip
    """Attach a monitoring period with its plot data; compute ex-post removals; → monitored.

    Periods are consecutive (each starts the day after the last kept one ends; the first on the
    project's start date), do not overlap and lie within the crediting period. The stock change
    is measured between two measurements of the same permanent plots made the same way: the
    start measurement (first period) or the previous kept period's plots, whose *undiscounted*
    estimate is the starting stock. Removals = the change after the methodology's uncertainty
    deduction (on the change) − the baseline change over the period (from the ex-ante frozen at
    registration) − leakage (0). Afforestation does not count pre-existing trees. The
    plausibility gate's flags are stored for the verifier (``plausibility_factor``: the
    registry's setting, default the parameter table's).
    """
    project = _lock_project(session, code)
    rule = TRANSITIONS["monitor"]
    before = ProjectStatus(project.status)
    _check(project, actor, "monitor", rule, before)
    kept = [p for p in _periods(session, project) if p.status != "rejected"]
    expected_start = (
        project.start_date if not kept else date.fromordinal(kept[-1].end_date.toordinal() + 1)
    )
    last_day = date(
        project.start_date.year + project.crediting_years,
        project.start_date.month,
        project.start_date.day,
    )
    if start != expected_start:
        raise ProjectError(
            f"监测期须从 {expected_start.isoformat()} 开始（与上一监测期连续），而不是 {start.isoformat()}。",
            f"the monitoring period must start on {expected_start.isoformat()} (consecutive with the last), not {start.isoformat()}.",
        )
    if not start < end < last_day:
        raise ProjectError(
            f"监测期 {start}–{end} 须在计入期内（截至 {last_day} 之前）。",
            f"the monitoring period {start}–{end} must end within the crediting period (before {last_day}).",
        )
    if kept:
        start_trees, start_strata = _read_csv(kept[-1].plots_csv), _read_csv(kept[-1].strata_csv)
        start_source = f"period {kept[-1].period_no} ({kept[-1].plots_digest[:12]})"
    elif project.start_plots_csv and project.start_strata_csv:
        start_trees = _read_csv(project.start_plots_csv)
        start_strata = _read_csv(project.start_strata_csv)
        start_source = f"start measurement {project.start_measured_on} ({(project.start_plots_digest or '')[:12]})"
    else:
        raise ProjectError(
            f"项目 {code} 没有起始样地测定：请先用 tanhui project measure-start 记录计入期开始时的样地测定"
            "（碳汇量只能来自同一方法的两次测定之差，不能用样地减去模型估算的蓄积）。",
            f"project {code} has no start measurement: record the plots measured at the start of "
            "the crediting period first (tanhui project measure-start) — removals come from two "
            "measurements made the same way, never plots against modelled inventory.",
        )
    if float(strata["area_ha"].sum()) > project.area_ha * 1.01:
        raise ProjectError(
            f"各层面积之和 {strata['area_ha'].sum():,.1f} 公顷超过项目面积 {project.area_ha:,.1f} 公顷。",
            f"the strata add up to {strata['area_ha'].sum():,.1f} ha, more than the project's {project.area_ha:,.1f} ha.",
        )
    record = catalogue.methodology(project.methodology)
    change = estimate_change(start_trees, start_strata, trees, strata, project.methodology,
                             exclude_pre_existing=record.excludes_pre_existing_trees)  # fmt: skip
    result = change.end
    by_year = pd.DataFrame(json.loads(project.exante_json or "{}").get("by_year", []))
    covered = (
        by_year[
            (by_year["year"] >= start.year)
            & (by_year["year"] <= end.year - (0 if (end.month, end.day) == (12, 31) else 1))
        ]
        if len(by_year)
        else by_year
    )
    baseline = float(covered["baseline_change"].sum()) if len(covered) else 0.0
    exante_net = float(covered["net_removals"].sum()) if len(covered) else 0.0
    removals = change.conservative_change_tco2e - baseline
    years = ((end - start).days + 1) / 365.25
    flags = check_period(
        area_by_group=_area_by_group(trees, strata), years=years,
        project_change_tco2e=change.change_tco2e, net_removals_tco2e=removals,
        exante_net_tco2e=exante_net, factor=plausibility_factor,
    )  # fmt: skip
    digest = _digest(trees, strata)
    u = change.uncertainty if np.isfinite(change.uncertainty) else None
    assert project.id is not None
    period = MonitoringPeriod(
        project_id=project.id, period_no=len(_periods(session, project)) + 1, start_date=start,
        end_date=end, plots_digest=digest,
        plots_csv=trees.to_csv(index=False),
        strata_csv=strata.to_csv(index=False), stock_tco2e=result.estimate_tco2e,
        uncertainty=result.uncertainty if np.isfinite(result.uncertainty) else -1.0,
        conservative_stock_tco2e=result.conservative_tco2e,
        baseline_tco2e=baseline, leakage_tco2e=0.0, removals_tco2e=removals,
        change_tco2e=change.change_tco2e, change_uncertainty=u,
        flags_json=json.dumps([f.to_dict() for f in flags], ensure_ascii=False),
        provenance_json=json.dumps({
            "change": change.trace.to_dict(), "method": change.method,
            "start": start_source, "start_stock_tco2e": change.start.estimate_tco2e,
            "end_stock_tco2e": change.end.estimate_tco2e,
            "change_tco2e": change.change_tco2e, "change_half_width_tco2e": change.half_width_tco2e,
            "change_df": change.df, "change_uncertainty": u,
            "deduction_fraction": change.deduction.fraction,
            "conservative_change_tco2e": change.conservative_change_tco2e,
            "pre_existing_tco2e": {"start": change.start.pre_existing_tco2e,
                                   "end": change.end.pre_existing_tco2e},
            "strata": result.strata.to_dict(orient="records"),
            "baseline_years": covered["year"].tolist() if len(covered) else [],
            "exante_net_tco2e": exante_net,
            "unverified_parameters": [p.name for p in change.trace.unverified()],
        }, ensure_ascii=False, default=str),
        status="submitted",
    )  # fmt: skip
    session.add(period)
    project.status = S.MONITORED.value
    _record(session, project, actor, "monitor", before.value, "",
            {"period": period.period_no, "start": start.isoformat(), "end": end.isoformat(),
             "removals_tco2e": round(removals, 3), "change_tco2e": round(change.change_tco2e, 3),
             "change_uncertainty": None if u is None else round(u, 4), "method": change.method,
             "flags": [f.kind for f in flags], "plots_digest": digest})  # fmt: skip
    return period


def verify_period(
    session: Session, actor: Actor, code: str, quantity: float, comments: str = "",
    override_reason: str = "",
) -> MonitoringPeriod:  # fmt: skip
    """The verifier approves a quantity (t CO2e) ≤ the computed removals of the open period.

    A period the plausibility gate flagged is refused unless ``override_reason`` says why the
    verifier accepts it; the override, the flags and the reason go into the audit event.
    """
    project = _lock_project(session, code)
    before = ProjectStatus(project.status)
    _check(project, actor, "verify", TRANSITIONS["verify"], before)
    period = _open_period(session, project)
    if not 0 <= quantity <= period.removals_tco2e:
        raise ProjectError(
            f"核证量 {quantity:,.3f} t CO2e 须在 0 与计算的净碳汇 {period.removals_tco2e:,.3f} t CO2e（已扣除不确定性）之间。",
            f"the verified quantity {quantity:,.3f} t CO2e must lie between 0 and the computed net "
            f"removals {period.removals_tco2e:,.3f} t CO2e (after the uncertainty deduction).",
        )
    flags = json.loads(period.flags_json or "[]")
    if flags and not override_reason.strip():
        raise FlaggedPeriod(
            f"监测期 {period.period_no} 未通过合理性检查，核证须写明理由（--override-reason）："
            + "；".join(f["message_zh"] for f in flags),
            f"monitoring period {period.period_no} is flagged; verifying it needs an explicit "
            "override with a reason (--override-reason): "
            + "; ".join(f["message_en"] for f in flags),
        )
    period.status = "verified"
    period.verified_tco2e = quantity
    period.verifier = actor.name
    period.verified_at = _now()
    period.comments = comments
    period.override_reason = override_reason.strip() or None
    project.status = S.VERIFIED.value
    payload: dict[str, Any] = {"period": period.period_no, "verified_tco2e": quantity}
    if flags:
        payload |= {"override_reason": override_reason.strip(), "flags": flags}
    _record(session, project, actor, "verify", before.value, comments, payload)
    return period


def project_summary(session: Session, code: str) -> dict[str, Any]:
    """Everything `tanhui project show` prints."""
    project = _lock_project(session, code)
    history = (
        session.execute(
            select(ProjectEvent)
            .where(col(ProjectEvent.project_id) == project.id)
            .order_by(col(ProjectEvent.id))
        )
        .scalars()
        .all()
    )
    return {
        "code": project.code, "name": project.name, "methodology": project.methodology,
        "developer": project.developer, "status": project.status,
        "start_date": project.start_date.isoformat(), "crediting_years": project.crediting_years,
        "area_ha": project.area_ha, "stands": project.n_stands,
        "exante_total_tco2e": project.exante_total_tco2e,
        "buffer_pct": project.buffer_pct,
        "start_stock_tco2e": project.start_stock_tco2e,
        "start_measured_on": project.start_measured_on.isoformat() if project.start_measured_on else None,
        "start_plots_digest": project.start_plots_digest,
        "unverified_parameters": json.loads(project.exante_json)["unverified_parameters"] if project.exante_json else [],
        "monitoring_periods": [
            {"period": p.period_no, "start": p.start_date.isoformat(), "end": p.end_date.isoformat(),
             "status": p.status, "stock_tco2e": p.stock_tco2e, "uncertainty": p.uncertainty,
             "removals_tco2e": p.removals_tco2e, "verified_tco2e": p.verified_tco2e,
             "change_tco2e": p.change_tco2e, "change_uncertainty": p.change_uncertainty,
             "flags": json.loads(p.flags_json or "[]"), "override_reason": p.override_reason,
             "verifier": p.verifier, "comments": p.comments}
            for p in _periods(session, project)
        ],
        "history": [
            {"at": e.at.isoformat() if e.at else None, "actor": e.actor, "role": e.role,
             "action": e.action, "from": e.from_status, "to": e.to_status, "comment": e.comment}
            for e in history
        ],
    }  # fmt: skip
