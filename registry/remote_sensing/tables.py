"""The remote-sensing monitoring tables (遥感监测), as migration 0021 creates them, for Alembic's
``target_metadata`` (``registry/schema.py``):

- ``rs_scene``: a registered raster (an index image of one date), its file named by SHA-256 in
  the scene store, its grid (CRS, transform, shape, nodata). Append-only.
- ``rs_run``: one detection between two scenes, with its parameters and their provenance.
  Append-only.
- ``rs_flag``: a flagged stand of a run, with its statistics and evidence image (PNG, SHA-256).
  Only the review columns change, and only once, from ``open``.
- ``rs_reversal``: a confirmed loss: the equations' numbers (R1–R6), the ledger operation that
  cancelled the credits from the buffer pool and the evidence's SHA-256. Append-only.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = [
    "FLAG_STATUSES",
    "RS_TABLES",
    "rs_flag",
    "rs_reversal",
    "rs_run",
    "rs_scene",
]

metadata = SQLModel.metadata
FLAG_STATUSES = ("open", "confirmed", "dismissed")

rs_scene = sa.Table(
    "rs_scene", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
    sa.Column("acquired_on", sa.Date, nullable=False),
    sa.Column("index_name", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("crs_wkt", sa.Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("transform_json", sa.Text, nullable=False),
    sa.Column("nodata", sa.Float, nullable=True),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip

rs_run = sa.Table(
    "rs_run", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("before_scene_id", sa.Integer, sa.ForeignKey("rs_scene.id"), nullable=False),
    sa.Column("after_scene_id", sa.Integer, sa.ForeignKey("rs_scene.id"), nullable=False),
    sa.Column("project_code", sa.String, nullable=True),  # None: every stand of the county
    sa.Column("parameters_json", sa.Text, nullable=False),
    sa.Column("stands_checked", sa.Integer, nullable=False),
    sa.Column("flagged", sa.Integer, nullable=False),
    sa.Column("unobserved", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip

rs_flag = sa.Table(
    "rs_flag", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("rs_run.id"), nullable=False),
    sa.Column("stand_key", sa.String, nullable=False),
    sa.Column("project_code", sa.String, nullable=True),  # None: outside every project
    sa.Column("stats_json", sa.Text, nullable=False),
    sa.Column("evidence_png", sa.LargeBinary, nullable=False),
    sa.Column("evidence_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String, nullable=False, server_default="open"),
    sa.Column("reviewed_by", sa.String, nullable=True),
    sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("review_reason", sa.Text, nullable=True),
    sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="ck_rs_flag_status"),
    sa.Index("ix_rs_flag_project", "project_code", "status"),
    sa.Index("ix_rs_flag_stand", "stand_key"),
)  # fmt: skip

rs_reversal = sa.Table(
    "rs_reversal", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("flag_id", sa.Integer, sa.ForeignKey("rs_flag.id"), nullable=False, unique=True),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("stand_key", sa.String, nullable=False),
    sa.Column("cause", sa.String, nullable=False),
    sa.Column("event_date", sa.Date, nullable=False),
    sa.Column("interval_start", sa.Date, nullable=False),
    sa.Column("interval_end", sa.Date, nullable=False),
    sa.Column("f", sa.Float, nullable=False),
    sa.Column("stock_s", sa.Float, nullable=False),
    sa.Column("l_phys", sa.Float, nullable=False),
    sa.Column("credited_c", sa.Float, nullable=False),
    sa.Column("l", sa.Float, nullable=False),
    sa.Column("u_area", sa.Float, nullable=False),
    sa.Column("u_change", sa.Float, nullable=False),
    sa.Column("u", sa.Float, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=True),
    sa.Column("own", sa.BigInteger, nullable=False),
    sa.Column("pool", sa.BigInteger, nullable=False),
    sa.Column("shortfall", sa.BigInteger, nullable=False),
    sa.Column("debt", sa.BigInteger, nullable=False),
    sa.Column("evidence_sha256", sa.String(64), nullable=False),
    sa.Column("equations_json", sa.Text, nullable=False),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "cause IN ('fire', 'pests', 'felling', 'wind', 'other')", name="ck_rs_reversal_cause"
    ),
    sa.Index("ix_rs_reversal_project", "project_code", "stand_key"),
)  # fmt: skip

RS_TABLES = (rs_scene, rs_run, rs_flag, rs_reversal)
