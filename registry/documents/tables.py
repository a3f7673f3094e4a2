"""The document store's table (项目文件), as migration 0019 creates it, for Alembic's
``target_metadata`` (``registry/schema.py``):

- ``document``: every file the registry generated — a design document, a monitoring report, a
  workbook — in one format, with its bytes, their SHA-256 and size, who generated it and when,
  and its audience (``public``: shown on the project's public page; ``staff``: bureau staff
  only). Rows are only ever added (the database refuses UPDATE and DELETE); each row's audit
  event ``document.generated`` carries the same SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import SQLModel

__all__ = ["AUDIENCES", "DOCUMENT_FORMATS", "DOCUMENT_KINDS", "document"]

metadata = SQLModel.metadata
DOCUMENT_KINDS = ("pdd", "monitoring_report", "workbook")
DOCUMENT_FORMATS = ("docx", "pdf", "xlsx", "html")
AUDIENCES = ("public", "staff")


def _in(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


document = sa.Table(
    "document", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("period_no", sa.Integer, nullable=True),
    sa.Column("format", sa.String, nullable=False),
    sa.Column("file_name", sa.String, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, index=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("audience", sa.String, nullable=False),
    sa.Column("generated_by", sa.String, nullable=False),
    sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
    _in("kind", DOCUMENT_KINDS, "ck_document_kind"),
    _in("format", DOCUMENT_FORMATS, "ck_document_format"),
    _in("audience", AUDIENCES, "ck_document_audience"),
    sa.Index("ix_document_project", "project_code", "kind"),
)  # fmt: skip
