"""Project documents (项目文件): the files the registry generates — design documents, monitoring
reports, workbooks — with their SHA-256, so that a verifier can check that a file received is
the one the registry issued (``registry/documents/store.py``; described for Alembic in
``registry/documents/tables.py``). Append-only: the database refuses UPDATE and DELETE.

Revision ID: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

MESSAGE = "document is append-only (项目文件只能追加)"


def upgrade() -> None:
    op.create_table(
        "document",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("period_no", sa.Integer, nullable=True),
        sa.Column("format", sa.String, nullable=False),
        sa.Column("file_name", sa.String, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("audience", sa.String, nullable=False),
        sa.Column("generated_by", sa.String, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('pdd', 'monitoring_report', 'workbook')", name="ck_document_kind"
        ),
        sa.CheckConstraint("format IN ('docx', 'pdf', 'xlsx', 'html')", name="ck_document_format"),
        sa.CheckConstraint("audience IN ('public', 'staff')", name="ck_document_audience"),
    )
    op.create_index("ix_document_sha256", "document", ["sha256"])
    op.create_index("ix_document_project", "document", ["project_code", "kind"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION document_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER document_append_only BEFORE UPDATE OR DELETE ON document "
            "FOR EACH ROW EXECUTE FUNCTION document_append_only()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER document_no_{verb.lower()} BEFORE {verb} ON document "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade() -> None:
    op.drop_table("document")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS document_append_only()")
