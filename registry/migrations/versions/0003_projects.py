"""Carbon-sink projects: stands (one active project per stand), lifecycle history, frozen
ex-ante, monitoring periods.

Revision ID: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "project",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String, nullable=False, unique=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("methodology", sa.String, nullable=False),
        sa.Column("developer", sa.String, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("crediting_years", sa.Integer, nullable=False),
        sa.Column("planted_group", sa.String),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("area_ha", sa.Float, nullable=False),
        sa.Column("n_stands", sa.Integer, nullable=False),
        sa.Column("exante_total_tco2e", sa.Float),
        sa.Column("start_stock_tco2e", sa.Float),
        sa.Column("exante_json", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("boundary", Geometry("MULTIPOLYGON", srid=4490, spatial_index=False)),
        sa.CheckConstraint("crediting_years BETWEEN 20 AND 40", name="ck_project_crediting"),
    )
    op.create_table(
        "project_stand",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("stand_key", sa.String, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
    )
    # The double-counting guard in the database itself: a stand key belongs to at most one
    # active project membership, whatever the code does and however many writers race.
    op.create_index(
        "uq_project_stand_active",
        "project_stand",
        ["stand_key"],
        unique=True,
        sqlite_where=sa.text("active = 1"),
        postgresql_where=sa.text("active"),
    )
    op.create_index("ix_project_stand_project", "project_stand", ["project_id"])
    op.create_table(
        "project_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("from_status", sa.String, nullable=False),
        sa.Column("to_status", sa.String, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
    )
    op.create_table(
        "monitoring_period",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("period_no", sa.Integer, nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("plots_digest", sa.String(64), nullable=False),
        sa.Column("plots_csv", sa.Text, nullable=False),  # the plot data, as submitted
        sa.Column("strata_csv", sa.Text, nullable=False),
        sa.Column("stock_tco2e", sa.Float, nullable=False),
        sa.Column("uncertainty", sa.Float, nullable=False),
        sa.Column("conservative_stock_tco2e", sa.Float, nullable=False),
        sa.Column("baseline_tco2e", sa.Float, nullable=False),
        sa.Column("leakage_tco2e", sa.Float, nullable=False),
        sa.Column("removals_tco2e", sa.Float, nullable=False),
        sa.Column("provenance_json", sa.Text, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("verified_tco2e", sa.Float),
        sa.Column("verifier", sa.String),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("comments", sa.Text),
        sa.UniqueConstraint("project_id", "period_no", name="uq_monitoring_period"),
        sa.CheckConstraint("end_date > start_date", name="ck_period_dates"),
        sa.CheckConstraint(
            "verified_tco2e IS NULL OR verified_tco2e <= removals_tco2e", name="ck_verified_le"
        ),
    )


def downgrade() -> None:
    for table in ("monitoring_period", "project_event", "project_stand", "project"):
        op.drop_table(table)
