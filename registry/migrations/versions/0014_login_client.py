"""Sign-in throttling per (username, client address): ``login_failure.client``.

Counted per username alone, five wrong passwords from anyone locked a user out for the whole
window. The throttle now counts a username's failures from one client address (the address the
server sees; ``tanhui serve`` trusts ``X-Forwarded-For`` only from a proxy on the same machine)
and, much higher, from every address together — so one stranger cannot lock a user out, and a
guesser spread over many addresses still meets a ceiling. Failures recorded before this
migration have the client ``''`` and count towards the ceiling only.

Revision ID: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "login_failure",
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_login_failure_username_client_at", "login_failure", ["username", "client", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_login_failure_username_client_at", "login_failure")
    op.drop_column("login_failure", "client")
