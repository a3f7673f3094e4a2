"""The carbon model on registered stands: fit growth curves, select stands, run ex-ante.

Thin glue between the stands in the database and the pure functions of ``methodologies``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from sqlalchemy import Result, Select, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from gis_data.read import read_area_of_interest
from methodologies import catalogue, forest_management
from methodologies.exante import ExAnteResult
from methodologies.growth import GrowthCurve, fit_growth_curves
from registry.actors import Actor, require_any_role
from registry.audit import append_event
from registry.db import is_postgres
from registry.errors import GrowthCurvesMissing, SelectionError
from registry.models import GrowthCurveRow, GrowthFit, InventoryBatch, Owner, ProjectStand, Stand
from registry.vocabulary import Role

__all__ = [
    "GROWTH_FITTERS",
    "SelectionError",
    "fit_and_store_growth",
    "latest_growth_curves",
    "run_ex_ante",
    "run_management_scenario",
    "select_stands",
]

SELECTABLE = {
    "township": Stand.township,
    "village": Stand.village,
    "species_group": Stand.species_group,
    "species": Stand.dominant_species,
    "land_class": Stand.land_class,
    "age_group": Stand.age_group,
    "origin": Stand.origin,
    "forest_category": Stand.forest_category,
    "compartment": Stand.compartment,
}


STAND_COLUMNS = (
    "species_group", "site_class", "area_ha", "age_years", "volume_m3_per_ha", "stems_per_ha",
    "mean_dbh_cm", "mean_height_m", "land_class", "forest_right_cert", "township", "origin",
    "age_group", "forest_category", "canopy_closure", "county_code",
)  # fmt: skip


def select_stands(session: Session, selection: str, project_id: int | None = None) -> pd.DataFrame:
    """Current stands chosen by a selection, as a frame (no geometry).

    Selection: ``all``; or ``field=value[|value…]`` terms joined by ``,`` (all must hold),
    fields: township, village, species_group, species, land_class, age_group, origin,
    forest_category, compartment, owner, key, polygon (a file: stands whose interior point
    lies inside its polygons); or ``@file`` with one 小班 key per line.
    """
    frame = stands_frame(session.execute(selection_statement(session, selection, project_id)))
    if frame.empty:
        raise SelectionError(
            f"选择 {selection!r} 没有选中任何当前小班。",
            f"the selection {selection!r} selects no current stand.",
        )
    return frame


def stands_frame(result: Result[Any]) -> pd.DataFrame:
    """The rows of a :func:`selection_statement` as a frame (its columns, even when empty)."""
    rows = result.all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(result.keys()))


def selection_statement(
    session: Session, selection: str, project_id: int | None = None
) -> Select[Any]:
    """The query of :func:`select_stands` (ordered by stand key), not yet run: a caller may add
    conditions and limits to read the selection part by part."""
    stmt = (
        select(
            col(Stand.stand_key).label("stand_id"),
            *(col(getattr(Stand, name)) for name in STAND_COLUMNS),
            col(InventoryBatch.inventory_year),
            col(Owner.name).label("owner"),
        )
        .join(InventoryBatch, col(InventoryBatch.id) == col(Stand.batch_id))
        .outerjoin(Owner, col(Owner.id) == col(Stand.owner_id))
        .where(col(Stand.is_current).is_(True))
        .order_by(col(Stand.stand_key))
    )
    if project_id is not None:  # only the project's active members, filtered in the database
        stmt = stmt.join(
            ProjectStand,
            (col(ProjectStand.stand_key) == col(Stand.stand_key))
            & (col(ProjectStand.project_id) == project_id)
            & col(ProjectStand.active).is_(True),
        )
    text = selection.strip()
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            keys = [
                k.strip() for k in path.read_text(encoding="utf-8-sig").splitlines() if k.strip()
            ]
        except OSError as exc:
            raise SelectionError(
                f"无法读取小班编号文件 {str(path)!r}：{exc}",
                f"cannot read key file {str(path)!r}: {exc}",
            ) from exc
        stmt = stmt.where(col(Stand.stand_key).in_(keys))
    elif text and text != "all":
        for term in text.split(","):
            field, sep, value = term.partition("=")
            field, values = field.strip(), [v.strip() for v in value.split("|")]
            if not sep or not value.strip():
                raise SelectionError(
                    f"无法理解选择条件 {term!r}，应写成 字段=值。",
                    f"cannot read the selection term {term!r}; write field=value.",
                )
            if field == "polygon":
                keys = stands_within(session, Path(value.strip()))
                stmt = stmt.where(col(Stand.stand_key).in_(keys))
            elif field == "owner":
                stmt = stmt.where(col(Owner.name).in_(values))
            elif field == "key":
                stmt = stmt.where(col(Stand.stand_key).in_(values))
            elif field in SELECTABLE:
                stmt = stmt.where(col(SELECTABLE[field]).in_(values))
            else:
                known = ", ".join([*SELECTABLE, "owner", "key", "polygon"])
                raise SelectionError(
                    f"未知的选择字段 {field!r}，可用：{known}",
                    f"unknown selection field {field!r}; use one of {known}",
                )
    return stmt


def refuse_server_files(selection: str) -> None:
    """Refuse a selection that names a file on the server (``@keys.txt``, ``polygon=area.gpkg``)
    — read term by term as :func:`select_stands` reads them (spaces around a field name
    included), for selections that come over HTTP: only the command line may name files."""
    text = selection.strip()
    named = text.startswith("@") or any(
        term.partition("=")[0].strip() == "polygon" for term in text.split(",")
    )
    if named:
        raise SelectionError(
            "网页或 HTTP 请求不能引用服务器上的文件（@文件、polygon=）。",
            "a page or an HTTP request cannot name files on the server (@file, polygon=).",
        )


def stands_within(session: Session, path: Path) -> list[str]:
    """Keys of current stands whose representative (interior) point lies in the file's polygons,
    in key order, asked of the database through its spatial index: PostGIS's GIST index on
    ``stand.geom`` (``ST_Intersects``: only stands whose envelope meets the area are read),
    SpatiaLite's ``SpatialIndex`` (the R*Tree of envelopes); then the exact test
    ``ST_Contains(area, ST_PointOnSurface(geom))`` (GEOS's interior point, as shapely's
    ``point_on_surface``). A point on the area's edge is not inside (``ST_Contains``)."""
    area = read_area_of_interest(path)
    params = {"area": shapely.to_wkb(area)}
    if is_postgres(session):
        sql = (
            "SELECT s.stand_key FROM stand s, (SELECT ST_GeomFromWKB(:area, 4490) AS g) a "
            "WHERE s.is_current AND ST_Intersects(s.geom, a.g) "
            "AND ST_Contains(a.g, ST_PointOnSurface(s.geom)) ORDER BY s.stand_key"
        )
    else:
        sql = (
            "SELECT s.stand_key FROM stand s WHERE s.is_current = 1 AND s.ROWID IN "
            "(SELECT ROWID FROM SpatialIndex WHERE f_table_name = 'stand' "
            "AND f_geometry_column = 'geom' AND search_frame = GeomFromWKB(:area, 4490)) "
            "AND ST_Contains(GeomFromWKB(:area, 4490), ST_PointOnSurface(s.geom)) = 1 "
            "ORDER BY s.stand_key"
        )
    return [str(key) for (key,) in session.execute(text(sql), params).all()]


GROWTH_FITTERS = (Role.ADMIN, Role.BUREAU_STAFF)


def fit_and_store_growth(session: Session, actor: Actor) -> tuple[int, list[GrowthCurve]]:
    """Fit growth curves to all current stands and store them (a new fit; history kept), by
    bureau staff or an admin (named in the fit and its audit event)."""
    require_any_role(actor, GROWTH_FITTERS, "拟合生长曲线 / fit growth curves")
    rows = session.execute(
        select(
            col(Stand.species_group),
            col(Stand.site_class),
            col(Stand.age_years),
            col(Stand.volume_m3_per_ha),
        )
        .where(col(Stand.is_current).is_(True))
        .where(col(Stand.volume_m3_per_ha).is_not(None))
        .where(col(Stand.age_years).is_not(None))
        .order_by(col(Stand.stand_key))
    ).all()
    data = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=["species_group", "site_class", "age_years", "volume_m3_per_ha"],
    )
    curves = fit_growth_curves(data)
    digest = hashlib.sha256(data.to_csv(index=False).encode()).hexdigest()
    fit = GrowthFit(
        fitted_at=datetime.now(UTC), fitted_by=actor.label, n_stands=len(data), data_digest=digest
    )
    session.add(fit)
    session.flush()
    assert fit.id is not None
    for c in curves:
        session.add(GrowthCurveRow(fit_id=fit.id, **c.to_dict()))
    append_event(
        session, actor=actor.label, action="model.growth_fitted", entity_type="growth_fit",
        entity_id=str(fit.id),
        payload={"stands": len(data), "curves": len(curves), "data_digest": digest},
    )  # fmt: skip
    return fit.id, curves


def latest_growth_curves(session: Session) -> list[GrowthCurve]:
    fit_id = session.execute(
        select(col(GrowthFit.id)).order_by(col(GrowthFit.id).desc()).limit(1)
    ).scalar()
    if fit_id is None:
        raise GrowthCurvesMissing(
            "还没有生长曲线：请先用登记的小班拟合生长曲线。",
            "no growth curves yet: fit them to the registered stands first.",
        )
    rows = session.execute(
        select(GrowthCurveRow).where(col(GrowthCurveRow.fit_id) == fit_id)
    ).scalars()
    return [
        GrowthCurve(r.species_group, r.site_class, r.a, r.b, r.c, r.n, r.rmse, r.r2, r.basis)
        for r in rows
    ]


def run_ex_ante(
    session: Session, selection: str, methodology: str, start_year: int, years: int,
    planted_group: str = "chinese_fir",
) -> ExAnteResult:  # fmt: skip
    """Ex-ante projection of the selected stands under one methodology (the catalogue's record
    says which of them it computes and whether it needs the fitted growth curves)."""
    record = catalogue.methodology(methodology)
    stands = record.computed(select_stands(session, selection))
    curves = latest_growth_curves(session) if record.needs_curves else []
    return record.ex_ante(stands, curves, start_year, years, planted_group)


def run_management_scenario(
    session: Session, selection: str, start_year: int, years: int,
    overrides: Mapping[str, float],
) -> ExAnteResult:  # fmt: skip
    """Forest-management ex-ante (AR-CM-003-V01) of the selected tree stands with some of the
    methodology's parameters replaced — a scenario such as another rotation or more thinning
    (``overrides``: ``methodology_defaults.csv`` name → value, e.g.
    ``fm_project_rotation_extension_years``, ``fm_project_tending_growth_gain``). Grows the
    stands along the latest fitted curves, as :func:`run_ex_ante` does; each replaced value is
    flagged in the traces as a scenario value naming the default it replaces. Reads only."""
    record = catalogue.methodology(forest_management.CODE)
    stands = record.computed(select_stands(session, selection))
    curves = latest_growth_curves(session)
    return forest_management.project_ex_ante(stands, curves, start_year, years, overrides)
