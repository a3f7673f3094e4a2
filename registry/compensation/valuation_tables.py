"""The valuation's table, as migration 0016 creates it, for Alembic's ``target_metadata``
(``registry/schema.py``):

- ``price_scenario``: one published (or assumed) price of a tonne of CO2e under a name — a
  market (CCER, 湘林碳票, 全国碳市场, a bureau's reserve price), the price in whole fen, the date
  it held, where it was read (publication or URL), whether that source was checked (``verified``)
  or not (``unverified``), an optional annual price growth (%, exact decimal text) and optional
  label premiums (JSON object: eco-label code → uplift %, exact decimal text). Rows are never
  changed or deleted (triggers refuse it): a new price under the same name supersedes the
  older one, which stays for the record (a bank's "price at the pledge date")."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = ["PRICE_STATUSES", "VALUATION_TABLES", "price_scenario"]

metadata = SQLModel.metadata
PRICE_STATUSES = ("verified", "unverified")

price_scenario = sa.Table(
    "price_scenario", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, index=True),
    sa.Column("market", sa.String, nullable=False),
    sa.Column("price_fen", sa.BigInteger, nullable=False),  # per t CO2e, whole fen (0.01 yuan)
    sa.Column("price_date", sa.Date, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("growth_pct", sa.String),  # annual price growth, % (exact decimal text)
    sa.Column("label_premiums", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("price_fen > 0", name="ck_price_positive"),
    sa.CheckConstraint("status IN ('verified', 'unverified')", name="ck_price_status"),
)  # fmt: skip

VALUATION_TABLES = (price_scenario,)
