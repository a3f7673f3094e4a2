"""Eco-labels on credit blocks (生态标签): a canonical JSON array of label codes, empty for now.

A block's labels travel with its credits: an operation that splits a block writes the same
labels on every piece. Like every other field of a block, they never change in place (the
guard of migration 0004 now covers them too): attaching a label will be an operation that
closes the block and writes it again, labelled, so that the history shows when it happened.

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

MESSAGE = "credit_block: a closed, retired or cancelled block never changes (积分块不可修改)"
# the fields of a block that no UPDATE may change (closing it sets closed_op_id, nothing else)
FIELDS = ("project_code", "vintage", "first_seq", "last_seq", "account_id", "state")


def upgrade() -> None:
    op.execute("ALTER TABLE credit_block ADD COLUMN labels TEXT NOT NULL DEFAULT '[]'")
    _guard(with_labels=True)


def downgrade() -> None:
    _guard(with_labels=False)
    op.drop_column("credit_block", "labels")


def _guard(with_labels: bool) -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    fields = [*FIELDS, "labels"] if with_labels else list(FIELDS)
    changed = " OR ".join(f"NEW.{f} <> OLD.{f}" for f in fields)
    if postgres:
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION credit_block_guard() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION 'credit_block rows are never deleted';
                END IF;
                IF OLD.closed_op_id IS NOT NULL OR OLD.state IN ('retired', 'cancelled')
                   OR {changed}
                   OR NEW.pledge_id IS DISTINCT FROM OLD.pledge_id THEN
                    RAISE EXCEPTION '{MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        return
    op.execute("DROP TRIGGER credit_block_guard_update")
    op.execute(
        f"""
        CREATE TRIGGER credit_block_guard_update BEFORE UPDATE ON credit_block
        WHEN OLD.closed_op_id IS NOT NULL OR OLD.state IN ('retired', 'cancelled')
             OR {changed}
             OR NEW.pledge_id IS NOT OLD.pledge_id
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
        """
    )
