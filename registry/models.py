"""Tables of the registry (SQLModel + GeoAlchemy2), the same on SpatiaLite and PostGIS.

Stands are versioned: a 小班 key has one row per version; ``is_current`` marks the version in
force and ``superseded_by_batch_id`` the inventory batch that replaced it. History is never
deleted. Geometries are CGCS2000 (EPSG:4490) multipolygons.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from registry.vocabulary import ProjectStatus, Role

__all__ = [
    "STORAGE_SRID",
    "AuditEvent",
    "GrowthCurveRow",
    "GrowthFit",
    "InventoryBatch",
    "MonitoringPeriod",
    "Owner",
    "OwnerKind",
    "Project",
    "ProjectEvent",
    "ProjectEvidence",
    "ProjectStand",
    "ProjectStatus",
    "Role",
    "Stand",
    "StandLineage",
]

STORAGE_SRID = 4490


class OwnerKind(StrEnum):
    HOUSEHOLD = "household"  # 农户
    COLLECTIVE = "collective"  # 村集体
    STATE = "state"  # 国有（林场）
    ENTERPRISE = "enterprise"  # 企业、合作社


class InventoryBatch(SQLModel, table=True):
    """One imported inventory file (a 二类调查 delivery or an update)."""

    __tablename__ = "inventory_batch"

    id: int | None = Field(default=None, primary_key=True)
    source_name: str
    fingerprint: str = Field(index=True, unique=True)  # sha256 over the file's bytes
    inventory_year: int | None = None
    profile: str
    source_crs: str
    encoding: str | None = None
    imported_at: datetime = Field(sa_type=DateTime(timezone=True))
    imported_by: str
    n_records: int
    n_new: int
    n_changed: int
    n_unchanged: int
    n_warnings: int
    report_json: str = Field(sa_type=Text)  # warnings and repairs kept with the batch
    key_fields: str | None = None  # the stand key's fields, comma-separated (migration 0009)
    scope: str | None = None  # what the file covers, e.g. "township=泷泊镇|江村镇"
    n_retired: int = 0  # registered stands of the scope that the file no longer holds


class Owner(SQLModel, table=True):
    """A forest right holder (林权权利人)."""

    __tablename__ = "owner"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    kind: str  # OwnerKind
    first_batch_id: int | None = Field(default=None, foreign_key="inventory_batch.id")


class Stand(SQLModel, table=True):
    """One version of a stand (小班). Units: ha, years, m³/ha, cm, m, stems/ha, degrees."""

    __tablename__ = "stand"
    __table_args__ = (
        UniqueConstraint("stand_key", "version", name="uq_stand_key_version"),
        Index(
            "uq_stand_current_key",
            "stand_key",
            unique=True,
            sqlite_where=text("is_current = 1"),
            postgresql_where=text("is_current"),
        ),
        Index("ix_stand_township", "township"),  # a township selection (migration 0022)
    )

    id: int | None = Field(default=None, primary_key=True)
    stand_key: str  # county-林班-小班; indexed by uq_stand_key_version
    version: int
    is_current: bool
    batch_id: int = Field(foreign_key="inventory_batch.id")
    superseded_by_batch_id: int | None = Field(default=None, foreign_key="inventory_batch.id")
    content_hash: str
    county_code: str | None = None
    township: str | None = None
    village: str | None = None
    compartment: str
    subcompartment: str
    area_ha: float  # computed on an equal-area projection of the CGCS2000 ellipsoid
    area_ha_reported: float | None = None  # 面积 as the inventory reported it
    land_class: str | None = None
    forest_use: str | None = None
    origin: str | None = None
    forest_category: str | None = None
    dominant_species: str | None = None
    species_group: str | None = None
    age_years: float | None = None
    age_group: str | None = None
    canopy_closure: float | None = None
    mean_dbh_cm: float | None = None
    mean_height_m: float | None = None
    stems_per_ha: float | None = None
    volume_m3_per_ha: float | None = None
    site_class: str | None = None
    land_tenure: str | None = None
    tree_tenure: str | None = None
    owner_id: int | None = Field(default=None, foreign_key="owner.id")
    forest_right_cert: str | None = None
    slope_deg: float | None = None
    slope_class: str | None = None  # 坡度级 平坡 … 险坡 when the file gives classes, not degrees
    fine_stand: str | None = None  # 细斑号
    extra: str = Field(default="{}", sa_type=Text)  # JSON of the columns the profile does not know
    geom: Any = Field(
        sa_column=Column(
            Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=True), nullable=False
        )
    )


class StandLineage(SQLModel, table=True):
    """How a stand of one inventory became stands of the next (linked by overlap)."""

    __tablename__ = "stand_lineage"

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="inventory_batch.id")
    old_stand_id: int = Field(foreign_key="stand.id")
    new_stand_id: int | None = Field(default=None, foreign_key="stand.id")
    old_key: str
    new_key: str | None = None
    kind: str  # split | merge | renumbered | reshaped | retired
    overlap_ha: float | None = None

    __table_args__ = (
        Index("ix_stand_lineage_old_key", "old_key"),
        Index("ix_stand_lineage_new_key", "new_key"),
    )


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained record of every state change (triggers forbid edits)."""

    __tablename__ = "audit_event"

    id: int = Field(primary_key=True)  # sequence, 1, 2, 3 … without gaps
    occurred_at: str  # ISO 8601, UTC
    actor: str
    action: str
    entity_type: str
    entity_id: str
    payload: str = Field(sa_type=Text)  # canonical JSON
    prev_hash: str
    hash: str = Field(unique=True)


class GrowthFit(SQLModel, table=True):
    """One fit of the growth curves to the current stands (the latest is used)."""

    __tablename__ = "growth_fit"

    id: int | None = Field(default=None, primary_key=True)
    fitted_at: datetime = Field(sa_type=DateTime(timezone=True))
    fitted_by: str
    n_stands: int
    data_digest: str  # sha256 of the (group, site, age, volume) rows the fit used


class GrowthCurveRow(SQLModel, table=True):
    """A Chapman–Richards curve V(t) = a(1 − e^(−bt))^c (m³/ha) and its fit statistics."""

    __tablename__ = "growth_curve"

    id: int | None = Field(default=None, primary_key=True)
    fit_id: int = Field(foreign_key="growth_fit.id")
    species_group: str
    site_class: str
    a: float
    b: float
    c: float
    n: int
    rmse: float
    r2: float
    basis: str

    __table_args__ = (
        UniqueConstraint("fit_id", "species_group", "site_class", name="uq_growth_curve"),
    )


class Project(SQLModel, table=True):
    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True)
    name: str
    methodology: str
    developer: str
    start_date: date
    crediting_years: int
    planted_group: str | None = None
    status: str
    area_ha: float = 0.0
    n_stands: int = 0
    exante_total_tco2e: float | None = None  # frozen at registration
    start_stock_tco2e: float | None = None  # frozen at registration
    exante_json: str | None = Field(default=None, sa_type=Text)  # frozen ex-ante table + traces
    buffer_pct: float | None = None  # assessed non-permanence risk (%); None = registry minimum
    # the permanent plots measured at the start of the crediting period (migration 0010)
    start_measured_on: date | None = None
    start_plots_csv: str | None = Field(default=None, sa_type=Text)
    start_strata_csv: str | None = Field(default=None, sa_type=Text)
    start_plots_digest: str | None = None
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    boundary: Any = Field(
        default=None,
        sa_column=Column(Geometry("MULTIPOLYGON", srid=STORAGE_SRID, spatial_index=False)),
    )


class ProjectStand(SQLModel, table=True):
    __tablename__ = "project_stand"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    stand_key: str
    active: bool
    added_at: datetime = Field(sa_type=DateTime(timezone=True))
    removed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))

    __table_args__ = (
        Index("ix_project_stand_project", "project_id"),
        # a stand key belongs to at most one active membership (migration 0003)
        Index("uq_project_stand_active", "stand_key", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
    )  # fmt: skip


class ProjectEvent(SQLModel, table=True):
    __tablename__ = "project_event"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    at: datetime = Field(sa_type=DateTime(timezone=True))
    actor: str
    role: str
    action: str
    from_status: str
    to_status: str
    comment: str = Field(default="", sa_type=Text)


class MonitoringPeriod(SQLModel, table=True):
    __tablename__ = "monitoring_period"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    period_no: int
    start_date: date
    end_date: date
    plots_digest: str
    plots_csv: str = Field(sa_type=Text)  # the tree list as submitted (canonical columns)
    strata_csv: str = Field(sa_type=Text)  # the strata areas as submitted
    stock_tco2e: float  # ex-post stock at the end of the period (stratified estimate)
    uncertainty: float
    conservative_stock_tco2e: float  # after the uncertainty deduction
    baseline_tco2e: float
    leakage_tco2e: float
    removals_tco2e: float  # conservative stock change − baseline − leakage
    provenance_json: str = Field(sa_type=Text)
    status: str  # submitted | verified | rejected
    verified_tco2e: float | None = None
    verifier: str | None = None
    verified_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    comments: str | None = Field(default=None, sa_type=Text)
    change_tco2e: float | None = None  # measured stock change, undiscounted (migration 0010)
    change_uncertainty: float | None = None  # U of the change (90 % half-width / |change|)
    flags_json: str | None = Field(
        default="[]", sa_type=Text, sa_column_kwargs={"server_default": "[]"}
    )
    override_reason: str | None = Field(default=None, sa_type=Text)  # why a flagged period passed

    __table_args__ = (UniqueConstraint("project_id", "period_no", name="uq_monitoring_period"),)


class ProjectEvidence(SQLModel, table=True):
    """A dated observation or declaration supporting an applicability condition (migration 0010).

    ``kind``: survey | imagery | declaration | measurement; ``item`` what it is about (e.g.
    land_class, burning, soil_disturbance_pct); ``stand_key`` NULL for the whole project.
    """

    __tablename__ = "project_evidence"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id")
    stand_key: str | None = None
    kind: str
    item: str
    value: str
    observed_on: date
    reference: str
    file_digest: str
    recorded_by: str
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True))

    __table_args__ = (Index("ix_project_evidence_project", "project_id", "stand_key"),)
