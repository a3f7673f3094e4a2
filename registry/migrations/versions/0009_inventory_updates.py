"""Inventory updates: slope classes and 细斑 on stands, the key and scope of each batch, and the
lineage that links the stands of one inventory to those of the next (splits, merges, retirements).

A later inventory retires the registered stands it no longer contains (never deleting them:
the old version stays, marked superseded by the batch) and links old and new stands whose
geometries overlap. ``stand_lineage`` holds one row per link (``new_stand_id`` is NULL for a
stand retired with no successor). Existing stands keep their keys and content hashes.

Revision ID: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KINDS = "('split', 'merge', 'renumbered', 'reshaped', 'retired')"


def upgrade() -> None:
    op.add_column("stand", sa.Column("slope_class", sa.String))
    op.add_column("stand", sa.Column("fine_stand", sa.String))
    op.add_column("inventory_batch", sa.Column("key_fields", sa.String))
    op.add_column("inventory_batch", sa.Column("scope", sa.String))
    op.add_column(
        "inventory_batch", sa.Column("n_retired", sa.Integer, nullable=False, server_default="0")
    )
    op.create_table(
        "stand_lineage",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("inventory_batch.id"), nullable=False),
        sa.Column("old_stand_id", sa.Integer, sa.ForeignKey("stand.id"), nullable=False),
        sa.Column("new_stand_id", sa.Integer, sa.ForeignKey("stand.id")),
        sa.Column("old_key", sa.String, nullable=False),
        sa.Column("new_key", sa.String),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("overlap_ha", sa.Float),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_stand_lineage_kind"),
    )
    op.create_index("ix_stand_lineage_old_key", "stand_lineage", ["old_key"])
    op.create_index("ix_stand_lineage_new_key", "stand_lineage", ["new_key"])


def downgrade() -> None:
    op.drop_index("ix_stand_lineage_new_key", "stand_lineage")
    op.drop_index("ix_stand_lineage_old_key", "stand_lineage")
    op.drop_table("stand_lineage")
    for table, column in (
        ("inventory_batch", "n_retired"), ("inventory_batch", "scope"),
        ("inventory_batch", "key_fields"), ("stand", "fine_stand"), ("stand", "slope_class"),
    ):  # fmt: skip
        op.drop_column(table, column)  # SQLite ≥ 3.35 drops a column in place
