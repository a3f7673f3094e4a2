"""The public library's workflows: grievances on projects and buyers' purchase requests
(``registry/web_tables.py`` describes both tables).

Revision ID: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grievance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("contact", sa.String, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="open"),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("answered_by", sa.String, nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'answered', 'closed')", name="ck_grievance_status"),
    )
    op.create_index("ix_grievance_project_code", "grievance", ["project_code"])
    op.create_table(
        "purchase_request",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("buyer_account", sa.String, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("note", sa.String, nullable=False, server_default=""),
        sa.Column("status", sa.String, nullable=False, server_default="requested"),
        sa.Column("requested_by", sa.String, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.String, nullable=True),
        sa.Column(
            "transfer_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=True
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'confirmed', 'rejected', 'cancelled')",
            name="ck_purchase_request_status",
        ),
        sa.CheckConstraint("quantity > 0", name="ck_purchase_request_quantity"),
    )
    op.create_index("ix_purchase_request_project_code", "purchase_request", ["project_code"])
    op.create_index("ix_purchase_request_buyer_account", "purchase_request", ["buyer_account"])


def downgrade() -> None:
    op.drop_table("purchase_request")
    op.drop_table("grievance")
