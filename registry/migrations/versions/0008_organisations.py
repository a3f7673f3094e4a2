"""Organisations that hold ledger accounts (持有机构), with their unified social credit code.

Every account now belongs to an organisation (``ledger_account.organisation_id``). Accounts
opened before this migration get one organisation per distinct holder name: the registry's
system accounts (holder ``registry``) a ``registry`` organisation, every other holder kind
``other`` — which a pledge refuses as a pledgee until the bank is registered as a bank.

Revision ID: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

KINDS = "('registry', 'bureau', 'developer', 'buyer', 'bank', 'forest_owner', 'other')"
NO_ORGANISATION = "ledger_account: every account belongs to an organisation (账户须属于某机构)"
IN_USE = "organisation: it holds accounts and cannot be deleted (该机构持有账户，不能删除)"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("credit_code", sa.String(18), unique=True),  # 统一社会信用代码, GB 32100-2015
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_organisation_kind"),
        sa.CheckConstraint("length(credit_code) = 18", name="ck_organisation_credit_code"),
    )
    op.execute(
        "INSERT INTO organisation (name, kind, created_at) SELECT holder, "
        "CASE WHEN holder = 'registry' THEN 'registry' ELSE 'other' END, MIN(created_at) "
        "FROM ledger_account GROUP BY holder"
    )
    # SQLite: no REFERENCES (it could never drop the column again) and no NOT NULL on an added
    # column — triggers refuse what the foreign key and NOT NULL refuse on PostgreSQL
    op.execute(
        "ALTER TABLE ledger_account ADD COLUMN organisation_id INTEGER"
        + (" REFERENCES organisation (id)" if postgres else "")
    )
    op.execute(
        "UPDATE ledger_account SET organisation_id = "
        "(SELECT o.id FROM organisation o WHERE o.name = ledger_account.holder)"
    )
    if postgres:
        op.execute("ALTER TABLE ledger_account ALTER COLUMN organisation_id SET NOT NULL")
        return
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER ledger_account_organisation_{event.lower()} BEFORE {event} ON ledger_account "
            "WHEN NOT EXISTS (SELECT 1 FROM organisation o WHERE o.id = NEW.organisation_id) "
            f"BEGIN SELECT RAISE(ABORT, '{NO_ORGANISATION}'); END"
        )  # fmt: skip
    op.execute(
        "CREATE TRIGGER organisation_in_use BEFORE DELETE ON organisation "
        "WHEN EXISTS (SELECT 1 FROM ledger_account a WHERE a.organisation_id = OLD.id) "
        f"BEGIN SELECT RAISE(ABORT, '{IN_USE}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for trigger in ("ledger_account_organisation_insert", "ledger_account_organisation_update",
                        "organisation_in_use"):  # fmt: skip
            op.execute(f"DROP TRIGGER {trigger}")
    op.drop_column("ledger_account", "organisation_id")
    op.drop_table("organisation")
