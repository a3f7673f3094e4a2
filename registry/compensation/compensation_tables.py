"""The tables of benefit sharing and payment rosters, as migration 0017 makes them, for
Alembic's ``target_metadata`` (``registry/schema.py``):

- ``owner_identity`` (private: never on a public page, tile, API or dump): who an owner is
  (resident ID number — or, for a collective or company, its unified social credit code) and
  the bank card it is paid to; one row per owner, replaced by a re-import.
- ``owner_user_link``: a forest owner's user account linked to the owner it speaks for, so the
  user sees that owner's payments.
- ``sharing_rule``: a project's benefit-sharing rule, versioned (a change is a new version;
  old versions are kept and rosters name the version they used); append-only (guarded).
- ``roster`` / ``roster_line``: a payment roster per monitoring period (draft → approved →
  paid) and its lines, each with the figures and the rule version that produced it, and — from
  its approval — the payee's identity snapshot (ID kind and number, bank, card: private), so a
  later re-import of identities never redirects an approved roster's money. Money is
  whole fen (BIGINT), like ``pledge.amount_fen``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = [
    "COMPENSATION_TABLES",
    "ROSTER_STATUSES",
    "owner_identity",
    "owner_user_link",
    "roster",
    "roster_line",
    "sharing_rule",
]

metadata = SQLModel.metadata
ROSTER_STATUSES = ("draft", "approved", "paid")

owner_identity = sa.Table(
    "owner_identity", metadata,
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), primary_key=True),
    sa.Column("id_kind", sa.String, nullable=False),  # resident_id | credit_code
    sa.Column("id_number", sa.String, nullable=False),  # private
    sa.Column("bank_name", sa.String, nullable=False),
    sa.Column("bank_card", sa.String, nullable=False),  # private
    sa.Column("phone", sa.String, nullable=True),  # private
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String, nullable=False),
    sa.CheckConstraint("id_kind IN ('resident_id', 'credit_code')", name="ck_owner_identity_kind"),
)  # fmt: skip

owner_user_link = sa.Table(
    "owner_user_link", metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id"), primary_key=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), nullable=False, index=True),
    sa.Column("linked_by", sa.String, nullable=False),
    sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip

sharing_rule = sa.Table(
    "sharing_rule", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("preset", sa.String, nullable=True),
    sa.Column("rule_json", sa.Text, nullable=False),  # parties' shares, basis, caps, 股 table
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("project_code", "version", name="uq_sharing_rule_version"),
)  # fmt: skip

roster = sa.Table(
    "roster", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("period_no", sa.Integer, nullable=False),
    sa.Column("rule_id", sa.Integer, sa.ForeignKey("sharing_rule.id"), nullable=False),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String, nullable=False, server_default="draft"),
    sa.Column("method_json", sa.Text, nullable=False),  # how removals went to stands, etc.
    sa.Column("prepared_by", sa.String, nullable=False),
    sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("approved_by", sa.String, nullable=True),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("paid_by", sa.String, nullable=True),
    sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("payment_reference", sa.String, nullable=True),
    sa.UniqueConstraint("project_code", "period_no", name="uq_roster_period"),
    sa.CheckConstraint("status IN ('draft', 'approved', 'paid')", name="ck_roster_status"),
    sa.CheckConstraint("amount_fen >= 0", name="ck_roster_amount"),
)  # fmt: skip

roster_line = sa.Table(
    "roster_line", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("roster_id", sa.Integer, sa.ForeignKey("roster.id"), nullable=False, index=True),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("party", sa.String, nullable=False),  # owners | village_collective | developer …
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id"), nullable=True),
    sa.Column("payee", sa.String, nullable=False),
    sa.Column("stands_json", sa.Text, nullable=False, server_default="[]"),
    sa.Column("figures_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("amount_fen", sa.BigInteger, nullable=False),
    # the payee's identity as approved (private): frozen at approval, what the bank file pays
    sa.Column("payee_id_kind", sa.String, nullable=True),
    sa.Column("payee_id_number", sa.String, nullable=True),
    sa.Column("payee_bank_name", sa.String, nullable=True),
    sa.Column("payee_bank_card", sa.String, nullable=True),
    sa.UniqueConstraint("roster_id", "line_no", name="uq_roster_line_no"),
    sa.CheckConstraint("amount_fen >= 0", name="ck_roster_line_amount"),
)  # fmt: skip

COMPENSATION_TABLES = (owner_identity, owner_user_link, sharing_rule, roster, roster_line)
