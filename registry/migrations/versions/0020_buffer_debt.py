"""A project's debt to the pooled buffer account (缓冲池欠量): when a reversal cancels more buffer
credits than the project itself put in, the rest came from other projects' contributions (or,
when the pool ran short, was not cancelled at all: the shortfall) and the project repays it from
its next issuances (``registry/ledger/reversals.py``, ``RULE``). One row per ledger operation: a
reversal (+debt, +shortfall), a repayment at issuance (−debt), the cancellation of repaid credits
for a shortfall (−shortfall); described for Alembic in ``registry/ledger/tables.py``.
Append-only: the database refuses UPDATE and DELETE.

Revision ID: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_GUARD = "buffer_debt: rows are never changed or deleted (缓冲池欠量只能追加，不能修改或删除)"


def upgrade() -> None:
    op.create_table(
        "buffer_debt",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False,
                  unique=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("shortfall", sa.BigInteger, nullable=False),
        sa.CheckConstraint("kind IN ('reversal', 'repayment', 'shortfall_cancelled')",
                           name="ck_buffer_debt_kind"),
        sa.CheckConstraint(
            "(kind = 'reversal' AND quantity > 0 AND shortfall BETWEEN 0 AND quantity) "
            "OR (kind = 'repayment' AND quantity < 0 AND shortfall = 0) "
            "OR (kind = 'shortfall_cancelled' AND quantity = 0 AND shortfall < 0)",
            name="ck_buffer_debt_sign",
        ),
    )  # fmt: skip
    op.create_index("ix_buffer_debt_project", "buffer_debt", ["project_code"])
    if op.get_bind().dialect.name == "postgresql":
        # ledger_append_only() is migration 0011's: it refuses with the table's name
        op.execute(
            "CREATE TRIGGER buffer_debt_append_only BEFORE UPDATE OR DELETE ON buffer_debt "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        op.execute(
            "CREATE TRIGGER buffer_debt_no_truncate BEFORE TRUNCATE ON buffer_debt "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER buffer_debt_no_{verb.lower()} BEFORE {verb} ON buffer_debt "
                f"BEGIN SELECT RAISE(ABORT, '{_GUARD}'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER buffer_debt_no_truncate ON buffer_debt")
        op.execute("DROP TRIGGER buffer_debt_append_only ON buffer_debt")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER buffer_debt_no_{verb}")
    op.drop_index("ix_buffer_debt_project", "buffer_debt")
    op.drop_table("buffer_debt")
