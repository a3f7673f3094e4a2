"""The tables of the public library's workflows, as migration 0013 creates them, for Alembic's
``target_metadata`` (``registry/schema.py``):

- ``grievance``: a complaint or comment on a project from anyone (申诉与意见); the name and
  contact are private (bureau staff only); answered by bureau staff; every change audited.
- ``purchase_request``: a buyer asks for a quantity of a project's credits into its account;
  bureau staff confirm (the credits move by a ledger transfer, whose operation it records)
  or reject; the buyer may cancel while it is requested.
- ``request_key`` (migration 0015): the idempotency key of each such request that is not a
  ledger operation, with the request it was first used for and its result
  (``registry/request_keys.py``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = [
    "GRIEVANCE_STATUSES",
    "PURCHASE_STATUSES",
    "WEB_TABLES",
    "grievance",
    "purchase_request",
    "request_key",
]

metadata = SQLModel.metadata
GRIEVANCE_STATUSES = ("open", "answered", "closed")
PURCHASE_STATUSES = ("requested", "confirmed", "rejected", "cancelled")


def _in(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


grievance = sa.Table(
    "grievance", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_code", sa.String, nullable=False, index=True),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("name", sa.String, nullable=False),  # private
    sa.Column("contact", sa.String, nullable=True),  # private
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("status", sa.String, nullable=False, server_default="open"),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("answered_by", sa.String, nullable=True),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    _in("status", GRIEVANCE_STATUSES, "ck_grievance_status"),
)  # fmt: skip

purchase_request = sa.Table(
    "purchase_request", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_code", sa.String, nullable=False, index=True),
    sa.Column("buyer_account", sa.String, nullable=False, index=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("note", sa.String, nullable=False, server_default=""),
    sa.Column("status", sa.String, nullable=False, server_default="requested"),
    sa.Column("requested_by", sa.String, nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.String, nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decision_comment", sa.String, nullable=True),
    sa.Column("transfer_op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=True),
    _in("status", PURCHASE_STATUSES, "ck_purchase_request_status"),
    sa.CheckConstraint("quantity > 0", name="ck_purchase_request_quantity"),
)  # fmt: skip

request_key = sa.Table(
    "request_key", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("idempotency_key", sa.String, nullable=False, unique=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("request_json", sa.Text, nullable=False),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip

WEB_TABLES = (grievance, purchase_request, request_key)
