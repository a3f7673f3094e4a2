"""Every ledger table guarded by the database, as its meaning requires.

- Append-only (no UPDATE, no DELETE, no TRUNCATE): organisation, ledger_account, issuance,
  retirement — a correction is a new, opposite entry, never an edit.
- Transition-only: ledger_operation (its result is written once, from ``{}``), pledge
  (``active`` → ``released`` / ``enforced`` once, with the closing operation), serial_counter
  (only grows, ``issued`` with ``next_seq``); audit_head moves forward only (migration 0005).
- credit_block (migration 0004) also refuses a block whose serials were never issued (no
  counter, or beyond it), a block in a state its account cannot hold (retired only in the
  retirement account, cancelled only in the cancellation account, pledged only in a holding
  account and under an active pledge of that account), and a pledge that does not exist.
- SQLite: ``INSERT OR REPLACE`` deletes the old row without firing DELETE triggers; a BEFORE
  INSERT trigger on every key refuses it (RAISE ABORT), or — where the code inserts with
  ``ON CONFLICT DO NOTHING`` (accounts, operations, organisations) — ignores it, which is what
  DO NOTHING does.
- PostgreSQL: TRUNCATE refused on every ledger and audit table; the application should connect
  as a role that does not own the tables (README, "PostgreSQL roles"), so that it cannot drop
  or disable these triggers.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

APPEND_ONLY = ("organisation", "ledger_account", "issuance", "retirement", "audit_checkpoint")
TRUNCATE_GUARDED = (
    "organisation", "ledger_account", "ledger_operation", "serial_counter", "credit_block",
    "issuance", "retirement", "pledge", "audit_head", "audit_checkpoint",
)  # fmt: skip
# SQLite REPLACE guards: table → (key conditions, ABORT or IGNORE)
SQLITE_KEYS = {
    "organisation": ("id = NEW.id OR name = NEW.name OR credit_code = NEW.credit_code", "IGNORE"),
    "ledger_account": ("id = NEW.id OR code = NEW.code", "IGNORE"),
    "ledger_operation": ("id = NEW.id OR idempotency_key = NEW.idempotency_key", "IGNORE"),
    "serial_counter": ("project_code = NEW.project_code AND vintage = NEW.vintage", "ABORT"),
    "credit_block": ("id = NEW.id", "ABORT"),
    "issuance": ("id = NEW.id OR op_id = NEW.op_id OR monitoring_period_id = NEW.monitoring_period_id", "ABORT"),
    "retirement": ("id = NEW.id OR certificate_id = NEW.certificate_id OR op_id = NEW.op_id", "ABORT"),
    "pledge": ("id = NEW.id OR op_id = NEW.op_id", "ABORT"),
    "audit_event": ("id = NEW.id", "ABORT"),
    "audit_head": ("1 = 1", "ABORT"),
    "audit_checkpoint": ("id = NEW.id OR seq = NEW.seq", "ABORT"),
}  # fmt: skip

NEVER_ISSUED = "credit_block: these serials were never issued (未签发的序列号)"
WRONG_HOLDER = (
    "credit_block: this account cannot hold credits in this state (账户类型与积分状态不符)"
)
NO_PLEDGE = "credit_block: pledged credits need an active pledge of their holder (质押不存在)"
OPERATION = "ledger_operation: only its result is written, once (操作记录只写一次结果)"
PLEDGE = "pledge: only its closing (active → released/enforced) is written, once (质押只能结束一次)"
COUNTER = "serial_counter: only grows (序列号计数器只增不减)"

# the conditions a new block must meet, as SQL over NEW (both engines)
_ISSUED = (
    "EXISTS (SELECT 1 FROM serial_counter c WHERE c.project_code = NEW.project_code "
    "AND c.vintage = NEW.vintage AND NEW.last_seq < c.next_seq)"
)
_HOLDER = (
    "EXISTS (SELECT 1 FROM ledger_account a WHERE a.id = NEW.account_id AND ("
    "(NEW.state = 'active' AND a.kind IN ('holding', 'buffer')) "
    "OR (NEW.state = 'pledged' AND a.kind = 'holding') "
    "OR (NEW.state = 'retired' AND a.kind = 'retirement') "
    "OR (NEW.state = 'cancelled' AND a.kind = 'cancellation')))"
)
_PLEDGE = (
    "(NEW.pledge_id IS NULL OR EXISTS (SELECT 1 FROM pledge p WHERE p.id = NEW.pledge_id "
    "AND p.holder_account_id = NEW.account_id AND p.status = 'active'))"
)


def upgrade() -> None:
    # signed checkpoints of the chain's head (registry.checkpoints), kept for the public pages
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("made_at", sa.String, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("registry", sa.String, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgres()
    else:
        _sqlite()


def _postgres() -> None:
    op.execute(
        """
        CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '%: rows are never changed or deleted (只能追加，不能修改或删除)', TG_TABLE_NAME;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
    for table in TRUNCATE_GUARDED:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )
    op.execute(
        f"""
        CREATE FUNCTION ledger_operation_guard() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.result_json <> '{{}}' OR NEW.id <> OLD.id
               OR NEW.kind <> OLD.kind OR NEW.idempotency_key <> OLD.idempotency_key
               OR NEW.request_json <> OLD.request_json OR NEW.actor <> OLD.actor
               OR NEW.created_at <> OLD.created_at THEN
                RAISE EXCEPTION '{OPERATION}';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER ledger_operation_guard BEFORE UPDATE OR DELETE ON ledger_operation "
        "FOR EACH ROW EXECUTE FUNCTION ledger_operation_guard()"
    )
    op.execute(
        f"""
        CREATE FUNCTION pledge_guard() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.status <> 'active' OR NEW.status NOT IN ('released', 'enforced')
               OR OLD.closed_op_id IS NOT NULL OR NEW.closed_op_id IS NULL
               OR NEW.id <> OLD.id OR NEW.op_id <> OLD.op_id
               OR NEW.holder_account_id <> OLD.holder_account_id
               OR NEW.bank_account_id <> OLD.bank_account_id OR NEW.loan_ref <> OLD.loan_ref
               OR NEW.amount_fen <> OLD.amount_fen OR NEW.quantity <> OLD.quantity THEN
                RAISE EXCEPTION '{PLEDGE}';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER pledge_guard BEFORE UPDATE OR DELETE ON pledge "
        "FOR EACH ROW EXECUTE FUNCTION pledge_guard()"
    )
    op.execute(
        f"""
        CREATE FUNCTION serial_counter_guard() RETURNS trigger AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR NEW.project_code <> OLD.project_code
               OR NEW.vintage <> OLD.vintage OR NEW.next_seq < OLD.next_seq
               OR NEW.issued - OLD.issued <> NEW.next_seq - OLD.next_seq THEN
                RAISE EXCEPTION '{COUNTER}';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER serial_counter_guard BEFORE UPDATE OR DELETE ON serial_counter "
        "FOR EACH ROW EXECUTE FUNCTION serial_counter_guard()"
    )
    op.execute(
        f"""
        CREATE FUNCTION credit_block_insert_guard() RETURNS trigger AS $$
        BEGIN
            IF NOT {_ISSUED} THEN RAISE EXCEPTION '{NEVER_ISSUED}'; END IF;
            IF NOT {_HOLDER} THEN RAISE EXCEPTION '{WRONG_HOLDER}'; END IF;
            IF NOT {_PLEDGE} THEN RAISE EXCEPTION '{NO_PLEDGE}'; END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER credit_block_insert_guard BEFORE INSERT ON credit_block "
        "FOR EACH ROW EXECUTE FUNCTION credit_block_insert_guard()"
    )
    op.execute(
        "ALTER TABLE credit_block ADD CONSTRAINT fk_block_pledge FOREIGN KEY (pledge_id) "
        "REFERENCES pledge (id)"
    )


def _sqlite() -> None:
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, '{table}: rows are never changed or deleted (只能追加，不能修改或删除)'); END"
            )
    op.execute(
        f"""
        CREATE TRIGGER ledger_operation_guard BEFORE UPDATE ON ledger_operation
        WHEN OLD.result_json <> '{{}}' OR NEW.id <> OLD.id OR NEW.kind <> OLD.kind
             OR NEW.idempotency_key <> OLD.idempotency_key OR NEW.request_json <> OLD.request_json
             OR NEW.actor <> OLD.actor OR NEW.created_at <> OLD.created_at
        BEGIN SELECT RAISE(ABORT, '{OPERATION}'); END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER pledge_guard BEFORE UPDATE ON pledge
        WHEN OLD.status <> 'active' OR NEW.status NOT IN ('released', 'enforced')
             OR OLD.closed_op_id IS NOT NULL OR NEW.closed_op_id IS NULL
             OR NEW.id <> OLD.id OR NEW.op_id <> OLD.op_id
             OR NEW.holder_account_id <> OLD.holder_account_id
             OR NEW.bank_account_id <> OLD.bank_account_id OR NEW.loan_ref <> OLD.loan_ref
             OR NEW.amount_fen <> OLD.amount_fen OR NEW.quantity <> OLD.quantity
        BEGIN SELECT RAISE(ABORT, '{PLEDGE}'); END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER serial_counter_guard BEFORE UPDATE ON serial_counter
        WHEN NEW.project_code <> OLD.project_code OR NEW.vintage <> OLD.vintage
             OR NEW.next_seq < OLD.next_seq OR NEW.issued - OLD.issued <> NEW.next_seq - OLD.next_seq
        BEGIN SELECT RAISE(ABORT, '{COUNTER}'); END
        """
    )
    for table in ("ledger_operation", "pledge", "serial_counter"):
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN "
            f"SELECT RAISE(ABORT, '{table}: rows are never deleted (不能删除)'); END"
        )
    for table, (key, action) in SQLITE_KEYS.items():
        raise_ = "RAISE(IGNORE)" if action == "IGNORE" else (
            f"RAISE(ABORT, '{table}: a row with this key exists; it is never replaced (不能覆盖已有记录)')"
        )  # fmt: skip
        op.execute(
            f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {key}) BEGIN SELECT {raise_}; END"
        )
    for name, condition, message in (
        ("issued", _ISSUED, NEVER_ISSUED),
        ("holder", _HOLDER, WRONG_HOLDER),
        ("pledge", _PLEDGE, NO_PLEDGE),
    ):
        op.execute(
            f"CREATE TRIGGER credit_block_{name} BEFORE INSERT ON credit_block "
            f"WHEN NOT {condition} BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE credit_block DROP CONSTRAINT fk_block_pledge")
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        for table in TRUNCATE_GUARDED:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        for trigger, table in (
            ("ledger_operation_guard", "ledger_operation"), ("pledge_guard", "pledge"),
            ("serial_counter_guard", "serial_counter"), ("credit_block_insert_guard", "credit_block"),
        ):  # fmt: skip
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
            op.execute(f"DROP FUNCTION {trigger}()")
        op.execute("DROP FUNCTION ledger_append_only()")
        op.drop_table("audit_checkpoint")
        return
    names = [f"{t}_no_{v}" for t in APPEND_ONLY for v in ("update", "delete")]
    names += ["ledger_operation_guard", "pledge_guard", "serial_counter_guard"]
    names += [f"{t}_no_delete" for t in ("ledger_operation", "pledge", "serial_counter")]
    names += [f"{t}_no_replace" for t in SQLITE_KEYS]
    names += [f"credit_block_{n}" for n in ("issued", "holder", "pledge")]
    for name in names:
        op.execute(f"DROP TRIGGER {name}")
    op.drop_table("audit_checkpoint")
