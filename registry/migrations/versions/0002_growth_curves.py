"""Growth curves fitted to the inventory, with their fit statistics.

Revision ID: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "growth_fit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fitted_by", sa.String, nullable=False),
        sa.Column("n_stands", sa.Integer, nullable=False),
        sa.Column("data_digest", sa.String(64), nullable=False),
    )
    op.create_table(
        "growth_curve",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("fit_id", sa.Integer, sa.ForeignKey("growth_fit.id"), nullable=False),
        sa.Column("species_group", sa.String, nullable=False),
        sa.Column("site_class", sa.String, nullable=False),
        sa.Column("a", sa.Float, nullable=False),
        sa.Column("b", sa.Float, nullable=False),
        sa.Column("c", sa.Float, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("rmse", sa.Float, nullable=False),
        sa.Column("r2", sa.Float, nullable=False),
        sa.Column("basis", sa.String, nullable=False),
        sa.UniqueConstraint("fit_id", "species_group", "site_class", name="uq_growth_curve"),
    )


def downgrade() -> None:
    op.drop_table("growth_curve")
    op.drop_table("growth_fit")
