"""Users, sign-in and granted organisation kinds.

- ``app_user``: a person (or machine) of an organisation with roles (comma-separated, sorted),
  an argon2 password hash (NULL: no password, cannot sign in over HTTP), and ``disabled``.
- ``login_failure``: failed sign-ins (username, time) — the login throttle counts them in the
  database, so it holds across every worker of the server.
- ``api_token`` and ``web_session``: bearer tokens and cookie sessions, stored as the SHA-256
  of the secret (the secret itself is shown once and never stored); revoked by a timestamp.
- ``organisation_grant``: the kind a registry admin granted an organisation (bank, verifier,
  developer …). Append-only like ``organisation`` itself (migration 0011): the organisation's
  kind is its latest grant, else the kind it was registered with. ``organisation`` stays
  untouched — no column of it becomes writable.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

GRANT_KINDS = (
    "('registry', 'bureau', 'developer', 'buyer', 'bank', 'forest_owner', 'verifier', 'other')"
)
APPEND_ONLY = "organisation_grant: rows are never changed or deleted (只能追加，不能修改或删除)"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String, nullable=False),
        sa.Column("organisation_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("roles", sa.String, nullable=False),
        sa.Column("password_hash", sa.String, nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failure_username_at", "login_failure", ["username", "at"])
    for table in ("api_token", "web_session"):
        op.create_table(
            table,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
            sa.Column("name", sa.String, nullable=False),
            sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        )
    op.create_table(
        "organisation_grant",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("organisation_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("granted_by", sa.String, nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN {GRANT_KINDS}", name="ck_organisation_grant_kind"),
    )
    op.create_index("ix_organisation_grant_org", "organisation_grant", ["organisation_id", "id"])
    if postgres:
        op.execute(
            "CREATE TRIGGER organisation_grant_append_only BEFORE UPDATE OR DELETE ON "
            "organisation_grant FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
        )
        op.execute(
            "CREATE TRIGGER organisation_grant_no_truncate BEFORE TRUNCATE ON organisation_grant "
            "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER organisation_grant_no_{event.lower()} BEFORE {event} ON "
            f"organisation_grant BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )
    # REPLACE would delete the row it replaces without firing DELETE triggers
    op.execute(
        "CREATE TRIGGER organisation_grant_no_replace BEFORE INSERT ON organisation_grant "
        "WHEN EXISTS (SELECT 1 FROM organisation_grant g WHERE g.id = NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER organisation_grant_append_only ON organisation_grant")
        op.execute("DROP TRIGGER organisation_grant_no_truncate ON organisation_grant")
    op.drop_table("organisation_grant")
    op.drop_table("web_session")
    op.drop_table("api_token")
    op.drop_index("ix_login_failure_username_at", "login_failure")
    op.drop_table("login_failure")
    op.drop_table("app_user")
