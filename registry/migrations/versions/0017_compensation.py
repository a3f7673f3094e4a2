"""Benefit sharing and payment rosters (issue #17, part B): owners' identities and bank cards
(private), the link of a forest owner's user to its owner, versioned sharing rules per project,
and payment rosters per monitoring period with their lines (described for Alembic in
``registry/compensation/compensation_tables.py``).

Revision ID: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owner_identity",
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), primary_key=True),
        sa.Column("id_kind", sa.String, nullable=False),
        sa.Column("id_number", sa.String, nullable=False),
        sa.Column("bank_name", sa.String, nullable=False),
        sa.Column("bank_card", sa.String, nullable=False),
        sa.Column("phone", sa.String, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String, nullable=False),
        sa.CheckConstraint(
            "id_kind IN ('resident_id', 'credit_code')", name="ck_owner_identity_kind"
        ),
    )
    op.create_table(
        "owner_user_link",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), nullable=False),
        sa.Column("linked_by", sa.String, nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_owner_user_link_owner_id", "owner_user_link", ["owner_id"])
    op.create_table(
        "sharing_rule",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("preset", sa.String, nullable=True),
        sa.Column("rule_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_code", "version", name="uq_sharing_rule_version"),
    )
    op.create_table(
        "roster",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("period_no", sa.Integer, nullable=False),
        sa.Column("rule_id", sa.Integer, sa.ForeignKey("sharing_rule.id"), nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="draft"),
        sa.Column("method_json", sa.Text, nullable=False),
        sa.Column("prepared_by", sa.String, nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String, nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_by", sa.String, nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_reference", sa.String, nullable=True),
        sa.UniqueConstraint("project_code", "period_no", name="uq_roster_period"),
        sa.CheckConstraint("status IN ('draft', 'approved', 'paid')", name="ck_roster_status"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_roster_amount"),
    )
    op.create_table(
        "roster_line",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("roster_id", sa.Integer, sa.ForeignKey("roster.id"), nullable=False),
        sa.Column("line_no", sa.Integer, nullable=False),
        sa.Column("party", sa.String, nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), nullable=True),
        sa.Column("payee", sa.String, nullable=False),
        sa.Column("stands_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("figures_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("roster_id", "line_no", name="uq_roster_line_no"),
        sa.CheckConstraint("amount_fen >= 0", name="ck_roster_line_amount"),
    )
    op.create_index("ix_roster_line_roster_id", "roster_line", ["roster_id"])


def downgrade() -> None:
    op.drop_index("ix_roster_line_roster_id", "roster_line")
    op.drop_table("roster_line")
    op.drop_table("roster")
    op.drop_table("sharing_rule")
    op.drop_index("ix_owner_user_link_owner_id", "owner_user_link")
    op.drop_table("owner_user_link")
    op.drop_table("owner_identity")
