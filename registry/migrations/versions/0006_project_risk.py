"""Non-permanence risk per project: the buffer share (%) the validator assessed.

An issuance sets aside max(the registry's minimum buffer share, the project's assessed risk)
in the buffer pool. NULL = not assessed: the registry's minimum applies.

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE project ADD COLUMN buffer_pct DOUBLE PRECISION "
        "CONSTRAINT ck_project_buffer_pct CHECK (buffer_pct >= 0 AND buffer_pct < 100)"
    )


def downgrade() -> None:
    op.drop_column("project", "buffer_pct")
