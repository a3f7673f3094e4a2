"""Credits from consistent measurements (issue #12).

- ``project``: the start measurement of the permanent sample plots (the date, the plot and
  strata tables as submitted, their digest), taken at the start of the crediting period;
- ``monitoring_period``: the measured stock change (undiscounted), its uncertainty, the
  plausibility flags raised for the verifier and the override reason a verifier gave;
- ``project_evidence``: dated observations and declarations a project supplies for its
  applicability conditions (surveys and imagery for "three years non-forest", declarations on
  burning, soil disturbance …), one row each, with the digest of the file they came in.

Revision ID: 0010 (down_revision 0008; re-chained onto 0009 at merge)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KINDS = "('survey', 'imagery', 'declaration', 'measurement')"


def upgrade() -> None:
    for column, kind in (
        ("start_measured_on", "DATE"),
        ("start_plots_csv", "TEXT"),
        ("start_strata_csv", "TEXT"),
        ("start_plots_digest", "VARCHAR"),
    ):
        op.execute(f"ALTER TABLE project ADD COLUMN {column} {kind}")
    for column, kind in (
        ("change_tco2e", "DOUBLE PRECISION"),
        ("change_uncertainty", "DOUBLE PRECISION"),
        ("flags_json", "TEXT DEFAULT '[]'"),
        ("override_reason", "TEXT"),
    ):
        op.execute(f"ALTER TABLE monitoring_period ADD COLUMN {column} {kind}")
    op.create_table(
        "project_evidence",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("project_id", sa.Integer, sa.ForeignKey("project.id"), nullable=False),
        sa.Column("stand_key", sa.String),  # NULL: the whole project
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("item", sa.String, nullable=False),
        sa.Column("value", sa.String, nullable=False),
        sa.Column("observed_on", sa.Date, nullable=False),
        sa.Column("reference", sa.String, nullable=False),
        sa.Column("file_digest", sa.String, nullable=False),
        sa.Column("recorded_by", sa.String, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_project_evidence_kind"),
    )
    op.create_index("ix_project_evidence_project", "project_evidence", ["project_id", "stand_key"])


def downgrade() -> None:
    op.drop_index("ix_project_evidence_project", "project_evidence")
    op.drop_table("project_evidence")
    for column in ("change_tco2e", "change_uncertainty", "flags_json", "override_reason"):
        op.drop_column("monitoring_period", column)
    for column in (
        "start_measured_on",
        "start_plots_csv",
        "start_strata_csv",
        "start_plots_digest",
    ):
        op.drop_column("project", column)
