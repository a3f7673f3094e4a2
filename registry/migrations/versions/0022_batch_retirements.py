"""Bulk ledger moves (``registry/ledger/batch.py``): one operation may now write many
retirements, each with its own certificate. SQLite's guard against ``INSERT OR REPLACE`` on
``retirement`` (migration 0011) also refused a second row of the same operation; it now keys on
the row's id and its certificate only, which are what a replace would overwrite. PostgreSQL had
no such rule (its retirements are append-only by trigger and unique by certificate).

Revision ID: 0022
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_RAISE = "RAISE(ABORT, 'retirement: a row with this key exists; it is never replaced (不能覆盖已有记录)')"


def _guard(key: str) -> None:
    op.execute("DROP TRIGGER retirement_no_replace")
    op.execute(
        "CREATE TRIGGER retirement_no_replace BEFORE INSERT ON retirement "
        f"WHEN EXISTS (SELECT 1 FROM retirement WHERE {key}) BEGIN SELECT {_RAISE}; END"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _guard("id = NEW.id OR certificate_id = NEW.certificate_id")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _guard("id = NEW.id OR certificate_id = NEW.certificate_id OR op_id = NEW.op_id")
