"""Remote-sensing monitoring (遥感监测): registered scenes, detection runs, flagged stands with
their evidence, and confirmed reversals settled from the buffer pool (``registry/remote_sensing``;
described for Alembic in ``registry/remote_sensing/tables.py``).

The database refuses what the service never does: changing or deleting a scene, a run or a
reversal, deleting a flag, and changing a flag other than its review (status and the review
columns, once, from ``open``).

Revision ID: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

APPEND_ONLY = ("rs_scene", "rs_run", "rs_reversal")
# what a review may not change: everything but status and the review columns
FIXED = ("run_id", "stand_key", "project_code", "stats_json", "evidence_png", "evidence_sha256")
FLAG_MESSAGE = "rs_flag: only an open flag is reviewed, once (只能复核一次未决标记)"


def upgrade() -> None:
    op.create_table(
        "rs_scene",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("acquired_on", sa.Date, nullable=False),
        sa.Column("index_name", sa.String, nullable=False),
        sa.Column("file_name", sa.String, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("crs_wkt", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("transform_json", sa.Text, nullable=False),
        sa.Column("nodata", sa.Float, nullable=True),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_table(
        "rs_run",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("before_scene_id", sa.Integer, sa.ForeignKey("rs_scene.id"), nullable=False),
        sa.Column("after_scene_id", sa.Integer, sa.ForeignKey("rs_scene.id"), nullable=False),
        sa.Column("project_code", sa.String, nullable=True),  # None: every stand of the county
        sa.Column("parameters_json", sa.Text, nullable=False),
        sa.Column("stands_checked", sa.Integer, nullable=False),
        sa.Column("flagged", sa.Integer, nullable=False),
        sa.Column("unobserved", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_table(
        "rs_flag",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("rs_run.id"), nullable=False),
        sa.Column("stand_key", sa.String, nullable=False),
        sa.Column("project_code", sa.String, nullable=True),  # None: outside every project
        sa.Column("stats_json", sa.Text, nullable=False),
        sa.Column("evidence_png", sa.LargeBinary, nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="open"),
        sa.Column("reviewed_by", sa.String, nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('open', 'confirmed', 'dismissed')", name="ck_rs_flag_status"),
    )  # fmt: skip
    op.create_index("ix_rs_flag_project", "rs_flag", ["project_code", "status"])
    op.create_index("ix_rs_flag_stand", "rs_flag", ["stand_key"])
    op.create_table(
        "rs_reversal",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("flag_id", sa.Integer, sa.ForeignKey("rs_flag.id"), nullable=False, unique=True),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("stand_key", sa.String, nullable=False),
        sa.Column("cause", sa.String, nullable=False),
        sa.Column("event_date", sa.Date, nullable=False),
        sa.Column("interval_start", sa.Date, nullable=False),
        sa.Column("interval_end", sa.Date, nullable=False),
        sa.Column("f", sa.Float, nullable=False),
        sa.Column("stock_s", sa.Float, nullable=False),
        sa.Column("l_phys", sa.Float, nullable=False),
        sa.Column("credited_c", sa.Float, nullable=False),
        sa.Column("l", sa.Float, nullable=False),
        sa.Column("u_area", sa.Float, nullable=False),
        sa.Column("u_change", sa.Float, nullable=False),
        sa.Column("u", sa.Float, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=True),
        sa.Column("own", sa.BigInteger, nullable=False),
        sa.Column("pool", sa.BigInteger, nullable=False),
        sa.Column("shortfall", sa.BigInteger, nullable=False),
        sa.Column("debt", sa.BigInteger, nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("equations_json", sa.Text, nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "cause IN ('fire', 'pests', 'felling', 'wind', 'other')", name="ck_rs_reversal_cause"
        ),
    )  # fmt: skip
    op.create_index("ix_rs_reversal_project", "rs_reversal", ["project_code", "stand_key"])
    _guards()


def _guards() -> None:
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FIXED)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION rs_flag_guard() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR OLD.status <> 'open' OR NEW.status = 'open'
                   OR {changed} THEN
                    RAISE EXCEPTION '{FLAG_MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER rs_flag_guard BEFORE UPDATE OR DELETE ON rs_flag "
            "FOR EACH ROW EXECUTE FUNCTION rs_flag_guard()"
        )
        op.execute(
            """
            CREATE FUNCTION rs_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only (只能追加)', TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION rs_append_only()"
            )
        return
    changed = changed.replace("IS DISTINCT FROM", "IS NOT")
    op.execute(
        f"""
        CREATE TRIGGER rs_flag_guard_update BEFORE UPDATE ON rs_flag
        WHEN OLD.status <> 'open' OR NEW.status = 'open' OR {changed}
        BEGIN SELECT RAISE(ABORT, '{FLAG_MESSAGE}'); END
        """
    )
    op.execute(
        "CREATE TRIGGER rs_flag_guard_delete BEFORE DELETE ON rs_flag "
        f"BEGIN SELECT RAISE(ABORT, '{FLAG_MESSAGE}'); END"
    )
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (只能追加)'); END"
            )


def downgrade() -> None:
    for table in ("rs_reversal", "rs_flag", "rs_run", "rs_scene"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS rs_flag_guard()")
        op.execute("DROP FUNCTION IF EXISTS rs_append_only()")
