"""Idempotency keys of the registry's requests that are not ledger operations (a buyer's
purchase request, its confirmation, rejection or cancellation): ``request_key`` holds each key
once with the request it was first used for and that request's result, as ``ledger_operation``
does for the ledger's own operations (``registry/request_keys.py``; described for Alembic in
``registry/web_tables.py``).

Revision ID: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_key",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("request_key")
