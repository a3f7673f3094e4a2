"""Credit ledger: accounts, serial blocks, operations (idempotent), issuances, retirements,
pledges. The database guards the invariants too: blocks never overlap (exclusion constraint on
PostgreSQL, trigger on SQLite), a closed, retired or cancelled block never changes, nothing is
deleted.

Revision ID: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATES = "('active', 'pledged', 'retired', 'cancelled')"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "ledger_account",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String, nullable=False, unique=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("holder", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('issuance', 'holding', 'buffer', 'retirement', 'cancellation')",
            name="ck_account_kind",
        ),
    )
    op.create_table(
        "ledger_operation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("idempotency_key", sa.String, nullable=False, unique=True),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "serial_counter",
        sa.Column("project_code", sa.String, primary_key=True),
        sa.Column("vintage", sa.Integer, primary_key=True),
        sa.Column("next_seq", sa.BigInteger, nullable=False),
        sa.Column("issued", sa.BigInteger, nullable=False),
        sa.CheckConstraint("next_seq = issued + 1", name="ck_counter_consistent"),
    )
    op.create_table(
        "credit_block",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("vintage", sa.Integer, nullable=False),
        sa.Column("first_seq", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("account_id", sa.Integer, sa.ForeignKey("ledger_account.id"), nullable=False),
        sa.Column("state", sa.String, nullable=False),
        sa.Column("pledge_id", sa.Integer),
        sa.Column(
            "created_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False
        ),
        sa.Column("closed_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id")),
        sa.CheckConstraint("first_seq >= 1 AND last_seq >= first_seq", name="ck_block_range"),
        sa.CheckConstraint(f"state IN {STATES}", name="ck_block_state"),
        sa.CheckConstraint("(state = 'pledged') = (pledge_id IS NOT NULL)", name="ck_block_pledge"),
    )
    op.create_index("ix_block_live_account", "credit_block", ["account_id", "closed_op_id"])
    op.create_index("ix_block_project", "credit_block", ["project_code", "vintage", "first_seq"])
    op.create_table(
        "issuance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("monitoring_period_id", sa.Integer, nullable=False, unique=True),
        sa.Column("vintage", sa.Integer, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("buffer_quantity", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "retirement",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("certificate_id", sa.String, nullable=False, unique=True),
        sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
        sa.Column("beneficiary", sa.String, nullable=False),
        sa.Column("purpose", sa.String, nullable=False),
        sa.Column("retired_on", sa.Date, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("serials", sa.Text, nullable=False),
    )
    op.create_table(
        "pledge",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
        sa.Column(
            "holder_account_id", sa.Integer, sa.ForeignKey("ledger_account.id"), nullable=False
        ),
        sa.Column(
            "bank_account_id", sa.Integer, sa.ForeignKey("ledger_account.id"), nullable=False
        ),
        sa.Column("loan_ref", sa.String, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),  # money as whole fen (0.01 yuan)
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("closed_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id")),
    )
    message = "credit_block: a closed, retired or cancelled block never changes (积分块不可修改)"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE credit_block ADD CONSTRAINT ex_block_no_overlap EXCLUDE USING gist "
            "(project_code WITH =, vintage WITH =, int8range(first_seq, last_seq, '[]') WITH &&) "
            "WHERE (closed_op_id IS NULL)"
        )
        op.execute(
            f"""
            CREATE FUNCTION credit_block_guard() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' THEN
                    RAISE EXCEPTION 'credit_block rows are never deleted';
                END IF;
                IF OLD.closed_op_id IS NOT NULL OR OLD.state IN ('retired', 'cancelled')
                   OR NEW.project_code <> OLD.project_code OR NEW.vintage <> OLD.vintage
                   OR NEW.first_seq <> OLD.first_seq OR NEW.last_seq <> OLD.last_seq
                   OR NEW.account_id <> OLD.account_id OR NEW.state <> OLD.state
                   OR NEW.pledge_id IS DISTINCT FROM OLD.pledge_id THEN
                    RAISE EXCEPTION '{message}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER credit_block_guard BEFORE UPDATE OR DELETE ON credit_block "
            "FOR EACH ROW EXECUTE FUNCTION credit_block_guard()"
        )
    else:
        op.execute(
            f"""
            CREATE TRIGGER credit_block_guard_update BEFORE UPDATE ON credit_block
            WHEN OLD.closed_op_id IS NOT NULL OR OLD.state IN ('retired', 'cancelled')
                 OR NEW.project_code <> OLD.project_code OR NEW.vintage <> OLD.vintage
                 OR NEW.first_seq <> OLD.first_seq OR NEW.last_seq <> OLD.last_seq
                 OR NEW.account_id <> OLD.account_id OR NEW.state <> OLD.state
                 OR NEW.pledge_id IS NOT OLD.pledge_id
            BEGIN SELECT RAISE(ABORT, '{message}'); END
            """
        )
        op.execute(
            "CREATE TRIGGER credit_block_guard_delete BEFORE DELETE ON credit_block "
            "BEGIN SELECT RAISE(ABORT, 'credit_block rows are never deleted'); END"
        )
        op.execute(
            """
            CREATE TRIGGER credit_block_no_overlap BEFORE INSERT ON credit_block
            WHEN EXISTS (SELECT 1 FROM credit_block b WHERE b.closed_op_id IS NULL
                         AND b.project_code = NEW.project_code AND b.vintage = NEW.vintage
                         AND b.first_seq <= NEW.last_seq AND NEW.first_seq <= b.last_seq)
            BEGIN SELECT RAISE(ABORT, 'credit_block: serial ranges of live blocks overlap'); END
            """
        )


def downgrade() -> None:
    for table in ("pledge", "retirement", "issuance", "credit_block", "serial_counter",
                  "ledger_operation", "ledger_account"):  # fmt: skip
        op.drop_table(table)
