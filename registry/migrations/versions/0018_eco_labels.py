"""Eco-labels (生态标签): the label catalogue, polygon layers for the spatial criteria (with a
spatial index, CGCS2000), stored evaluations and the attachments of labels to credits
(``registry/labels``; described for Alembic in ``registry/labels/tables.py``).

Revision ID: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

KINDS = "('co-benefit', 'certification', 'market', 'integrity')"
# what no UPDATE of a catalogue entry may change: revoking sets status and the revoked_* columns
FIXED = ("code", "name_zh", "name_en", "kind", "issuer", "evidence_name", "evidence_sha256",
         "criteria_json", "valid_from", "valid_to", "created_by", "created_at")  # fmt: skip
APPEND_ONLY = ("label_layer", "label_layer_polygon", "label_evaluation", "label_attachment")
MESSAGE = "eco_label: an entry is never edited, only revoked once (标签条目不可修改，只能撤销一次)"


def upgrade() -> None:
    op.create_table(
        "eco_label",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String, nullable=False, unique=True),
        sa.Column("name_zh", sa.String, nullable=False),
        sa.Column("name_en", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("issuer", sa.String, nullable=False),
        sa.Column("evidence_name", sa.String, nullable=False),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("criteria_json", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.Column("status", sa.String, nullable=False, server_default="active"),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String, nullable=True),
        sa.Column("revoke_reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_eco_label_kind"),
        sa.CheckConstraint("status IN ('active', 'revoked')", name="ck_eco_label_status"),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name="ck_eco_label_validity"
        ),
    )
    op.create_table(
        "label_layer",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("source_name", sa.String, nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("source_crs", sa.String, nullable=False),
        sa.Column("n_polygons", sa.Integer, nullable=False),
        sa.Column("area_ha", sa.Float, nullable=False),
        sa.Column("loaded_by", sa.String, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "label_layer_polygon",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("layer_id", sa.Integer, sa.ForeignKey("label_layer.id"), nullable=False),
        sa.Column("feature_no", sa.Integer, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4490, spatial_index=True), nullable=False),
    )
    op.create_index("ix_label_layer_polygon_layer_id", "label_layer_polygon", ["layer_id"])
    op.create_table(
        "label_evaluation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label_code", sa.String, nullable=False),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("qualifies", sa.Boolean, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("evaluated_by", sa.String, nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_label_evaluation_project", "label_evaluation", ["project_code", "label_code"]
    )
    op.create_table(
        "label_attachment",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label_code", sa.String, nullable=False),
        sa.Column("project_code", sa.String, nullable=False),
        sa.Column("vintage", sa.Integer, nullable=True),
        sa.Column("attached", sa.Boolean, nullable=False),
        sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=True),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("evaluation_id", sa.Integer, sa.ForeignKey("label_evaluation.id"), nullable=True),
        sa.Column("evaluation_digest", sa.String(64), nullable=True),
        sa.Column("evidence_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_label_attachment_project", "label_attachment", ["project_code", "label_code"]
    )
    _guards()


def _guards() -> None:
    """The database refuses what the service never does: editing a catalogue entry (other than
    revoking an active one), deleting it, and changing or deleting a layer, an evaluation or an
    attachment."""
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FIXED)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION eco_label_guard() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'DELETE' OR OLD.status = 'revoked' OR NEW.status <> 'revoked'
                   OR {changed} THEN
                    RAISE EXCEPTION '{MESSAGE}';
                END IF;
                RETURN NEW;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER eco_label_guard BEFORE UPDATE OR DELETE ON eco_label "
            "FOR EACH ROW EXECUTE FUNCTION eco_label_guard()"
        )
        op.execute(
            """
            CREATE FUNCTION label_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only (只能追加)', TG_TABLE_NAME;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION label_append_only()"
            )
        return
    changed = changed.replace("IS DISTINCT FROM", "IS NOT")
    op.execute(
        f"""
        CREATE TRIGGER eco_label_guard_update BEFORE UPDATE ON eco_label
        WHEN OLD.status = 'revoked' OR NEW.status <> 'revoked' OR {changed}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
        """
    )
    op.execute(
        "CREATE TRIGGER eco_label_guard_delete BEFORE DELETE ON eco_label "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (只能追加)'); END"
            )


def downgrade() -> None:
    op.drop_table("label_attachment")
    op.drop_table("label_evaluation")
    op.drop_table("label_layer_polygon")
    op.drop_table("label_layer")
    op.drop_table("eco_label")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS eco_label_guard()")
        op.execute("DROP FUNCTION IF EXISTS label_append_only()")
