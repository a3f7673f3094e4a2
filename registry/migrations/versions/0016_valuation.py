"""Valuation of the sink (issue #17, part A): ``price_scenario``, the prices of a tonne of CO2e
under a name, each with its date, market, source and whether the source was checked; rows are
append-only (a new price supersedes, the old one stays). Described for Alembic in
``registry/compensation/valuation_tables.py``.

Revision ID: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_GUARD = "price_scenario: rows are never changed or deleted (价格情景只能追加，不能修改或删除)"


def upgrade() -> None:
    op.create_table(
        "price_scenario",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("market", sa.String, nullable=False),
        sa.Column("price_fen", sa.BigInteger, nullable=False),
        sa.Column("price_date", sa.Date, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("growth_pct", sa.String),
        sa.Column("label_premiums", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price_fen > 0", name="ck_price_positive"),
        sa.CheckConstraint("status IN ('verified', 'unverified')", name="ck_price_status"),
    )
    op.create_index("ix_price_scenario_name", "price_scenario", ["name"])
    if op.get_bind().dialect.name == "postgresql":
        # ledger_append_only() is migration 0011's: it refuses with the table's name
        op.execute(
            "CREATE TRIGGER price_scenario_append_only BEFORE UPDATE OR DELETE ON price_scenario "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER price_scenario_no_{verb.lower()} BEFORE {verb} ON price_scenario "
                f"BEGIN SELECT RAISE(ABORT, '{_GUARD}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER price_scenario_append_only ON price_scenario")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER price_scenario_no_{verb}")
    op.drop_index("ix_price_scenario_name", "price_scenario")
    op.drop_table("price_scenario")
