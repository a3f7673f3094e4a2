"""The tables of users, sign-in and granted organisation kinds, as migrations 0012 and 0014
make them, for Alembic's ``target_metadata`` (``registry/schema.py``). ``registry/users.py``
and ``registry/organisations.py`` read and write them with plain SQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = ["USER_TABLES"]

metadata = SQLModel.metadata
GRANT_KINDS = (
    "('registry', 'bureau', 'developer', 'buyer', 'bank', 'forest_owner', 'verifier', 'other')"
)


def _secret_table(name: str) -> sa.Table:
    """Bearer tokens and cookie sessions: the SHA-256 of the secret, revoked by a timestamp."""
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )  # fmt: skip


app_user = sa.Table(
    "app_user", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String, nullable=False),
    sa.Column("organisation_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=False),
    sa.Column("roles", sa.String, nullable=False),
    sa.Column("password_hash", sa.String, nullable=True),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip
login_failure = sa.Table(
    "login_failure", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("client", sa.String(64), nullable=False, server_default=""),  # migration 0014
    sa.Index("ix_login_failure_username_at", "username", "at"),
    sa.Index("ix_login_failure_username_client_at", "username", "client", "at"),
)  # fmt: skip
api_token = _secret_table("api_token")
web_session = _secret_table("web_session")
organisation_grant = sa.Table(
    "organisation_grant", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("organisation_id", sa.Integer, sa.ForeignKey("organisation.id"), nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("granted_by", sa.String, nullable=False),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(f"kind IN {GRANT_KINDS}", name="ck_organisation_grant_kind"),
    sa.Index("ix_organisation_grant_org", "organisation_id", "id"),
)  # fmt: skip

USER_TABLES = (app_user, login_failure, api_token, web_session, organisation_grant)
