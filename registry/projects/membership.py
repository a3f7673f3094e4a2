"""Which stands a project holds: adding and removing them, and the double-counting guard
(a stand, or more than the tolerance of its area, belongs to at most one active project).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

from gis_data.checks import area_ha
from registry.carbon_model import select_stands
from registry.db import is_postgres
from registry.errors import (
    DoubleCounting,
)
from registry.models import (
    STORAGE_SRID,
    Project,
    ProjectStand,
    Stand,
)
from registry.projects.core import (
    Actor,
    active_keys,
    draft_for_stand_changes,
    lock_project,
    now,
    record_event,
    stands_of,
)

__all__ = ["add_stands", "conflicts", "project_stands", "remove_stands"]


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
        # LATERAL: for each new stand, its neighbours through the GIST index. Written as a plain
        # join, the planner (a province of 1,000,000 stands, bench/province) hashed every
        # current stand against the memberships instead — a full scan of stand. OFFSET 0 keeps
        # the planner from pulling the subquery up into that same join.
        sql = f"""
            SELECT n.stand_key, p.code, o.stand_key
            FROM stand n
            CROSS JOIN LATERAL (
                SELECT c.stand_key FROM stand c
                WHERE c.is_current AND ST_Intersects(c.geom, n.geom) OFFSET 0
            ) o
            JOIN project_stand ps ON ps.stand_key = o.stand_key AND ps.active
            JOIN project p ON p.id = ps.project_id
            WHERE n.is_current AND n.stand_key IN ({marks}) AND ps.project_id != :pid
        """
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


def conflicts(
    session: Session, project: Project, keys: list[str], tolerance_m2: float
) -> list[dict[str, Any]]:
    """Stands of ``keys`` another active project holds: the same key, or a different stand
    sharing more than ``tolerance_m2`` m² of ground (from the spatial index's candidates)."""
    assert project.id is not None
    clashes: list[dict[str, Any]] = []
    taken = session.execute(
        select(col(ProjectStand.stand_key), col(Project.code))
        .join(Project, col(Project.id) == col(ProjectStand.project_id))
        .where(col(ProjectStand.active).is_(True))
        .where(col(ProjectStand.stand_key).in_(keys))
        .where(col(ProjectStand.project_id) != project.id)
    ).all()
    for key, other in taken:
        clashes.append(
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
                clashes.append({"stand": new, "other_project": other, "other_stand": other_key,
                                  "overlap_m2": round(float(overlap), 1)})  # fmt: skip
    return clashes


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
    keys = active_keys(session, project)
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


def add_stands(
    session: Session, actor: Actor, code: str, selection: str, tolerance_m2: float
) -> list[str]:
    """Add the current stands chosen by ``selection`` (see ``select_stands``) to a draft project.

    Raises DoubleCounting naming both projects when a stand, or more than ``tolerance_m2`` of
    its area, already belongs to another project.
    """
    project = draft_for_stand_changes(session, actor, code)
    keys = select_stands(session, selection)["stand_id"].tolist()
    existing = set(active_keys(session, project))
    new = [k for k in keys if k not in existing]
    found = conflicts(session, project, new, tolerance_m2)
    if found:
        raise _double_counting(project, found)
    assert project.id is not None
    at = now()
    session.add_all(
        ProjectStand(project_id=project.id, stand_key=k, active=True, added_at=at) for k in new
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
    record_event(session, project, actor, "stands_added", project.status, "",
            {"added": len(new), "selection": selection,
             "keys_digest": hashlib.sha256("\n".join(new).encode()).hexdigest()})  # fmt: skip
    return new


def remove_stands(session: Session, actor: Actor, code: str, selection: str) -> list[str]:
    """Take stands out of a draft project (the membership is kept as history)."""
    project = draft_for_stand_changes(session, actor, code)
    keys = set(select_stands(session, selection)["stand_id"]) & set(active_keys(session, project))
    if keys:
        session.execute(
            update(ProjectStand)
            .where(col(ProjectStand.project_id) == project.id)
            .where(col(ProjectStand.stand_key).in_(sorted(keys)))
            .where(col(ProjectStand.active).is_(True))
            .values(active=False, removed_at=now())
        )
    _refresh_boundary(session, project)
    record_event(
        session, project, actor, "stands_removed", project.status, "", {"removed": len(keys)}
    )
    return sorted(keys)


def project_stands(session: Session, code: str) -> pd.DataFrame:
    """The current stands of a project's active membership (one row per stand, the columns of
    :func:`registry.carbon_model.select_stands`); refuses an unknown project."""
    return stands_of(session, lock_project(session, code))
