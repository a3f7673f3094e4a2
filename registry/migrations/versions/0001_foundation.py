"""Foundation: inventory batches, owners, versioned stands, append-only audit log.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "inventory_batch",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_name", sa.String, nullable=False),
        sa.Column("fingerprint", sa.String, nullable=False),
        sa.Column("inventory_year", sa.Integer),
        sa.Column("profile", sa.String, nullable=False),
        sa.Column("source_crs", sa.String, nullable=False),
        sa.Column("encoding", sa.String),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String, nullable=False),
        sa.Column("n_records", sa.Integer, nullable=False),
        sa.Column("n_new", sa.Integer, nullable=False),
        sa.Column("n_changed", sa.Integer, nullable=False),
        sa.Column("n_unchanged", sa.Integer, nullable=False),
        sa.Column("n_warnings", sa.Integer, nullable=False),
        sa.Column("report_json", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_inventory_batch_fingerprint", "inventory_batch", ["fingerprint"], unique=True
    )
    op.create_table(
        "owner",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("first_batch_id", sa.Integer, sa.ForeignKey("inventory_batch.id")),
    )
    op.create_table(
        "stand",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("stand_key", sa.String, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("inventory_batch.id"), nullable=False),
        sa.Column("superseded_by_batch_id", sa.Integer, sa.ForeignKey("inventory_batch.id")),
        sa.Column("content_hash", sa.String, nullable=False),
        sa.Column("county_code", sa.String),
        sa.Column("township", sa.String),
        sa.Column("village", sa.String),
        sa.Column("compartment", sa.String, nullable=False),
        sa.Column("subcompartment", sa.String, nullable=False),
        sa.Column("area_ha", sa.Float, nullable=False),
        sa.Column("area_ha_reported", sa.Float),
        sa.Column("land_class", sa.String),
        sa.Column("forest_use", sa.String),
        sa.Column("origin", sa.String),
        sa.Column("forest_category", sa.String),
        sa.Column("dominant_species", sa.String),
        sa.Column("species_group", sa.String),
        sa.Column("age_years", sa.Float),
        sa.Column("age_group", sa.String),
        sa.Column("canopy_closure", sa.Float),
        sa.Column("mean_dbh_cm", sa.Float),
        sa.Column("mean_height_m", sa.Float),
        sa.Column("stems_per_ha", sa.Float),
        sa.Column("volume_m3_per_ha", sa.Float),
        sa.Column("site_class", sa.String),
        sa.Column("land_tenure", sa.String),
        sa.Column("tree_tenure", sa.String),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("owner.id")),
        sa.Column("forest_right_cert", sa.String),
        sa.Column("slope_deg", sa.Float),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column(
            "geom",
            Geometry("MULTIPOLYGON", srid=4490, spatial_index=True),
            nullable=False,
        ),
        sa.UniqueConstraint("stand_key", "version", name="uq_stand_key_version"),
        sa.CheckConstraint("area_ha > 0", name="ck_stand_area_positive"),
        sa.CheckConstraint("version >= 1", name="ck_stand_version"),
    )
    # stand_key lookups use uq_stand_key_version (stand_key is its first column)
    # No index on batch_id / owner_id yet: each costs ~0.25 s per 50 000 inserted stands on
    # SpatiaLite (bench/import) and no query needs one yet; add them with the queries.
    op.create_index(
        "uq_stand_current_key",
        "stand",
        ["stand_key"],
        unique=True,
        sqlite_where=sa.text("is_current = 1"),
        postgresql_where=sa.text("is_current"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.String, nullable=False),
        sa.Column("actor", sa.String, nullable=False),
        sa.Column("action", sa.String, nullable=False),
        sa.Column("entity_type", sa.String, nullable=False),
        sa.Column("entity_id", sa.String, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    # The audit log is append-only: the database refuses UPDATE and DELETE.
    if postgres:
        op.execute(
            """
            CREATE FUNCTION audit_event_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_event is append-only (审计日志只能追加)';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
                "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only (审计日志只能追加)'); END"
            )


def downgrade() -> None:
    raise NotImplementedError("the foundation schema is not dropped by a migration")
