"""The ledger's tables, as the migrations create them (0004, 0005, 0007, 0008, 0011), for
Alembic's ``target_metadata``: the schema has one description that the migrations must match
(``tests/registry/test_schema.py`` compares them). The ledger writes these tables with plain SQL
on its hot path; these definitions are the documentation, not the access path.

Engine differences the migrations make on purpose (and the test names): on SQLite
``ledger_account.organisation_id`` is nullable and has no foreign key (triggers refuse what
NOT NULL and the reference refuse on PostgreSQL — SQLite cannot add either to a column later),
``credit_block.pledge_id`` has no foreign key (a trigger checks it), and ``ix_block_live_range``
serves the overlap trigger that PostgreSQL's exclusion constraint makes unnecessary.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = ["LEDGER_TABLES", "metadata"]

metadata = SQLModel.metadata
LIVE = sa.text("closed_op_id IS NULL")

ledger_account = sa.Table(
    "ledger_account", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String, nullable=False, unique=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("holder", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("organisation_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=False),
    sa.CheckConstraint("kind IN ('issuance', 'holding', 'buffer', 'retirement', 'cancellation')",
                       name="ck_account_kind"),
)  # fmt: skip
ledger_operation = sa.Table(
    "ledger_operation", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("idempotency_key", sa.String, nullable=False, unique=True),
    sa.Column("request_json", sa.Text, nullable=False),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip
serial_counter = sa.Table(
    "serial_counter", metadata,
    sa.Column("project_code", sa.String, primary_key=True),
    sa.Column("vintage", sa.Integer, primary_key=True),
    sa.Column("next_seq", sa.BigInteger, nullable=False),
    sa.Column("issued", sa.BigInteger, nullable=False),
    sa.CheckConstraint("next_seq = issued + 1", name="ck_counter_consistent"),
)  # fmt: skip
credit_block = sa.Table(
    "credit_block", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("vintage", sa.Integer, nullable=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("ledger_account.id"), nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("pledge_id", sa.Integer, sa.ForeignKey("pledge.id", name="fk_block_pledge")),
    sa.Column("created_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
    sa.Column("closed_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id")),
    sa.Column("labels", sa.Text, nullable=False, server_default="[]"),
    sa.CheckConstraint("first_seq >= 1 AND last_seq >= first_seq", name="ck_block_range"),
    sa.CheckConstraint("state IN ('active', 'pledged', 'retired', 'cancelled')", name="ck_block_state"),
    sa.CheckConstraint("(state = 'pledged') = (pledge_id IS NOT NULL)", name="ck_block_pledge"),
    sa.Index("ix_block_project", "project_code", "vintage", "first_seq"),
    sa.Index("ix_block_live_holding", "account_id", "state", "project_code", "vintage", "first_seq",
             sqlite_where=LIVE, postgresql_where=LIVE),
    sa.Index("ix_block_live_range", "project_code", "vintage", "first_seq", sqlite_where=LIVE),
)  # fmt: skip
issuance = sa.Table(
    "issuance", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("monitoring_period_id", sa.Integer, nullable=False, unique=True),
    sa.Column("vintage", sa.Integer, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("buffer_quantity", sa.BigInteger, nullable=False),
)  # fmt: skip
retirement = sa.Table(
    "retirement", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("certificate_id", sa.String, nullable=False, unique=True),
    sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
    sa.Column("beneficiary", sa.String, nullable=False),
    sa.Column("purpose", sa.String, nullable=False),
    sa.Column("retired_on", sa.Date, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("serials", sa.Text, nullable=False),
)  # fmt: skip
pledge = sa.Table(
    "pledge", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False),
    sa.Column("holder_account_id", sa.Integer, sa.ForeignKey("ledger_account.id"), nullable=False),
    sa.Column("bank_account_id", sa.Integer, sa.ForeignKey("ledger_account.id"), nullable=False),
    sa.Column("loan_ref", sa.String, nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),  # money as whole fen (0.01 yuan)
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("closed_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id")),
)  # fmt: skip
buffer_debt = sa.Table(  # migration 0020: a project's debt to the pooled buffer (ledger/reversals.py)
    "buffer_debt", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=False, unique=True),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("shortfall", sa.BigInteger, nullable=False),
    sa.CheckConstraint("kind IN ('reversal', 'repayment', 'shortfall_cancelled')", name="ck_buffer_debt_kind"),
    sa.CheckConstraint("(kind = 'reversal' AND quantity > 0 AND shortfall BETWEEN 0 AND quantity) "
                       "OR (kind = 'repayment' AND quantity < 0 AND shortfall = 0) "
                       "OR (kind = 'shortfall_cancelled' AND quantity = 0 AND shortfall < 0)",
                       name="ck_buffer_debt_sign"),
    sa.Index("ix_buffer_debt_project", "project_code"),
)  # fmt: skip
organisation = sa.Table(
    "organisation", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("credit_code", sa.String(18), unique=True),  # 统一社会信用代码, GB 32100-2015
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("length(credit_code) = 18", name="ck_organisation_credit_code"),
)  # fmt: skip
audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, sa.CheckConstraint("id = 1"), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)  # fmt: skip
audit_checkpoint = sa.Table(
    "audit_checkpoint", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("made_at", sa.String, nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    sa.Column("registry", sa.String, nullable=False),
)  # fmt: skip

LEDGER_TABLES = (ledger_account, ledger_operation, serial_counter, credit_block, issuance,
                 retirement, pledge, buffer_debt, organisation, audit_head, audit_checkpoint)  # fmt: skip
