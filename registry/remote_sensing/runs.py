"""Disturbance detection runs (扰动检测) between two registered scenes, and their flags.

:func:`run_detection` (bureau staff or admin) reads the stands (:mod:`.stand_frame`), the two
scenes (their SHA-256 checked), runs ``gis_data.disturbance.detect_disturbances`` and stores the
run (parameters with their provenance: every default is UNVERIFIED until the bureau calibrates
its own) and one flag per flagged stand with its evidence: the statistics (JSON), a map image
(PNG) and its SHA-256, both scenes' SHA-256. One transaction, one audit event
(``monitoring.run``). A flag outside every project is information for the bureau: nothing was
credited there, so it cannot become a reversal.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from gis_data.disturbance import DetectionParameters, detect_disturbances, evidence_png
from gis_data.errors import GisDataError
from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.errors import Invalid, NotFound
from registry.remote_sensing.scenes import OPERATORS, READERS, find_scene, scene_file
from registry.remote_sensing.stand_frame import stand_frame
from registry.remote_sensing.tables import FLAG_STATUSES, rs_flag, rs_run, rs_scene
from registry.remote_sensing.views import FlagView, RunView

__all__ = ["READERS", "STAT_COLUMNS", "flag_evidence", "list_flags", "run_detection"]

STAT_COLUMNS = ("valid_share", "mean_before", "mean_after", "mean_change", "disturbed_ha",
                "disturbed_share", "disturbed_mean_change", "boundary_share", "area_u")  # fmt: skip


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def run_detection(
    session: Session, actor: Actor, before: str, after: str,
    params: DetectionParameters | None = None, project: str | None = None,
    progress: Callable[[int, int], None] | None = None, store: Any = None,
) -> RunView:  # fmt: skip
    """Detect disturbances between the scenes ``before`` and ``after`` (names) over every
    current stand, or ``project``'s active stands; store the run and its flags."""
    require_any_role(actor, OPERATORS, "运行扰动检测 / run a disturbance detection")
    first, second = find_scene(session, before), find_scene(session, after)
    if first.acquired_on >= second.acquired_on:
        raise Invalid(f"前期影像 {first.name}（{first.acquired_on}）须早于后期影像 {second.name}（{second.acquired_on}）。",
                      f"the before scene {first.name} ({first.acquired_on}) must be earlier than "
                      f"the after scene {second.name} ({second.acquired_on}).")  # fmt: skip
    if project is not None:
        from registry.projects.core import find_project

        find_project(session, project)
    stands = stand_frame(session, project)
    if stands.empty:
        raise Invalid("没有可检测的小班。", "no stands to check.")
    params = params or DetectionParameters()
    path_before, path_after = scene_file(session, first, store), scene_file(session, second, store)
    try:
        detection = detect_disturbances(stands[["stand_key", "geometry"]], path_before,
                                        path_after, params, progress)  # fmt: skip
    except GisDataError as exc:  # grids that differ, an unreadable band: the user's to fix
        raise Invalid(exc.message_zh, exc.message_en) from exc
    found = detection.stands.set_index("stand_key")
    parameters = {"provenance": params.provenance(), "note": detection.note,
                  "before_sha256": first.sha256, "after_sha256": second.sha256}  # fmt: skip
    flagged = found[found["flagged"].astype(bool)]
    unobserved = int((~found["observed"].astype(bool)).sum())
    created = datetime.now(UTC)
    run_id = session.execute(sa.insert(rs_run).values(
        before_scene_id=first.id, after_scene_id=second.id, project_code=project,
        parameters_json=json.dumps(parameters, ensure_ascii=False, sort_keys=True),
        stands_checked=len(found), flagged=len(flagged), unobserved=unobserved,
        created_by=actor.label, created_at=created,
    ).returning(rs_run.c.id)).scalar_one()  # fmt: skip
    by_key = stands.set_index("stand_key")
    for key, row in flagged.iterrows():
        stats: dict[str, Any] = {c: _number(row[c]) for c in STAT_COLUMNS if c in row.index}
        stats.update(before_sha256=first.sha256, after_sha256=second.sha256,
                     before_on=first.acquired_on, after_on=second.acquired_on)  # fmt: skip
        png = evidence_png(path_before, path_after, by_key.loc[key, "geometry"], stands.crs,
                           detection, str(key), title=f"林分 stand {key}: {first.name} ({first.acquired_on}) → "
                                 f"{second.name} ({second.acquired_on})")  # fmt: skip
        code = by_key.loc[key, "project_code"]
        session.execute(sa.insert(rs_flag).values(
            run_id=run_id, stand_key=str(key), project_code=None if pd.isna(code) else str(code),
            stats_json=json.dumps(stats, sort_keys=True), evidence_png=png,
            evidence_sha256=hashlib.sha256(png).hexdigest(), status="open",
        ))  # fmt: skip
    append_event(session, actor=actor.label, action="monitoring.run", entity_type="rs_run",
                 entity_id=str(run_id),
                 payload={"before": first.name, "after": second.name, "project": project,
                          "before_sha256": first.sha256, "after_sha256": second.sha256,
                          "stands_checked": len(found), "flagged": len(flagged),
                          "unobserved": unobserved,
                          "parameters": {k: v["value"] for k, v in params.provenance().items()}})  # fmt: skip
    session.flush()
    flags = tuple(_flags(session, sa.true(), run_id=run_id))
    return RunView(run_id, first.name, second.name, project, parameters, len(found),
                   len(flagged), unobserved, detection.note, flags)  # fmt: skip


_BEFORE, _AFTER = rs_scene.alias("before_scene"), rs_scene.alias("after_scene")


def _flags(session: Session, where: Any, run_id: int | None = None) -> list[FlagView]:
    stmt = (
        sa.select(rs_flag.c.id, rs_flag.c.run_id, rs_flag.c.stand_key, rs_flag.c.project_code,
                  rs_flag.c.status, _BEFORE.c.name, _AFTER.c.name, _BEFORE.c.acquired_on,
                  _AFTER.c.acquired_on, rs_flag.c.stats_json, rs_flag.c.evidence_sha256,
                  rs_flag.c.reviewed_by, rs_flag.c.reviewed_at, rs_flag.c.review_reason)
        .join(rs_run, rs_run.c.id == rs_flag.c.run_id)
        .join(_BEFORE, _BEFORE.c.id == rs_run.c.before_scene_id)
        .join(_AFTER, _AFTER.c.id == rs_run.c.after_scene_id)
        .where(where).order_by(rs_flag.c.id)
    )  # fmt: skip
    if run_id is not None:
        stmt = stmt.where(rs_flag.c.run_id == run_id)
    return [
        FlagView(int(r[0]), int(r[1]), str(r[2]), r[3], str(r[4]), str(r[5]), str(r[6]),
                 str(_iso(r[7])), str(_iso(r[8])), json.loads(r[9]), str(r[10]), r[11],
                 _iso(r[12]), r[13])
        for r in session.execute(stmt)
    ]  # fmt: skip


def list_flags(
    session: Session, actor: Actor, project: str | None = None, status: str | None = None
) -> list[FlagView]:
    """The flags (bureau staff, admin, verifiers), of one project and/or one status."""
    require_any_role(actor, READERS, "查看扰动标记 / read the disturbance flags")
    if status is not None and status not in FLAG_STATUSES:
        raise Invalid(f"未知状态 {status!r}（可用：{', '.join(FLAG_STATUSES)}）。",
                      f"unknown status {status!r} (one of: {', '.join(FLAG_STATUSES)}).")  # fmt: skip
    where: sa.ColumnElement[bool] = sa.true()
    if project is not None:
        where = sa.and_(where, rs_flag.c.project_code == project)
    if status is not None:
        where = sa.and_(where, rs_flag.c.status == status)
    return _flags(session, where)


def find_flag(session: Session, flag_id: int) -> FlagView:
    found = _flags(session, rs_flag.c.id == flag_id)
    if not found:
        raise NotFound(f"没有编号为 {flag_id} 的扰动标记。", f"no disturbance flag {flag_id}.")
    return found[0]


def flag_evidence(session: Session, actor: Actor, flag_id: int) -> bytes:
    """The flag's evidence map (PNG), its SHA-256 checked against the stored one."""
    require_any_role(actor, READERS, "查看扰动证据 / read a flag's evidence")
    flag = find_flag(session, flag_id)
    png = session.execute(
        sa.select(rs_flag.c.evidence_png).where(rs_flag.c.id == flag_id)
    ).scalar_one()
    data = bytes(png)
    if hashlib.sha256(data).hexdigest() != flag.evidence_sha256:
        from registry.errors import Failure

        raise Failure(f"标记 {flag_id} 的证据图 SHA-256 不符。", f"flag {flag_id}'s evidence PNG does not match its SHA-256.")  # fmt: skip
    return data
