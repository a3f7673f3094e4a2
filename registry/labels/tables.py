"""The eco-label tables (生态标签), as migration 0018 creates them, for Alembic's
``target_metadata`` (``registry/schema.py``):

- ``eco_label``: the catalogue. An entry is added once and never edited; revoking it sets
  ``status`` and the ``revoked_*`` columns (nothing else changes).
- ``label_layer`` / ``label_layer_polygon``: polygon layers loaded from files (a water-source
  protection zone, a protected area …), reprojected to CGCS2000 (EPSG:4490), with a spatial
  index, for the spatial tests of the criteria.
- ``label_evaluation``: a stored evaluation of a label's criteria for a project (per stand, with
  its SHA-256 digest) — written when a label is attached.
- ``label_attachment``: each attachment (and detachment on revocation) of a label to a project's
  credits, with the ledger operation that relabelled the blocks.
"""

from __future__ import annotations

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlmodel import SQLModel

__all__ = [
    "LABEL_KINDS",
    "LABEL_TABLES",
    "eco_label",
    "label_attachment",
    "label_evaluation",
    "label_layer",
    "label_layer_polygon",
]

metadata = SQLModel.metadata
LABEL_KINDS = ("co-benefit", "certification", "market", "integrity")
LABEL_STATUSES = ("active", "revoked")


def _in(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


eco_label = sa.Table(
    "eco_label", metadata,
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
    sa.Column("valid_to", sa.Date, nullable=True),  # None: open-ended
    sa.Column("status", sa.String, nullable=False, server_default="active"),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("revoked_by", sa.String, nullable=True),
    sa.Column("revoke_reason", sa.Text, nullable=True),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    _in("kind", LABEL_KINDS, "ck_eco_label_kind"),
    _in("status", LABEL_STATUSES, "ck_eco_label_status"),
    sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_eco_label_validity"),
)  # fmt: skip

label_layer = sa.Table(
    "label_layer", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False, unique=True),
    sa.Column("source_name", sa.String, nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("source_crs", sa.String, nullable=False),
    sa.Column("n_polygons", sa.Integer, nullable=False),
    sa.Column("area_ha", sa.Float, nullable=False),
    sa.Column("loaded_by", sa.String, nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)  # fmt: skip

label_layer_polygon = sa.Table(
    "label_layer_polygon", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("layer_id", sa.Integer, sa.ForeignKey("label_layer.id"), nullable=False, index=True),
    sa.Column("feature_no", sa.Integer, nullable=False),
    sa.Column("geom", Geometry("MULTIPOLYGON", srid=4490, spatial_index=True), nullable=False),
)  # fmt: skip

label_evaluation = sa.Table(
    "label_evaluation", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label_code", sa.String, nullable=False),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("qualifies", sa.Boolean, nullable=False),
    sa.Column("result_json", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("evaluated_by", sa.String, nullable=False),
    sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_label_evaluation_project", "project_code", "label_code"),
)  # fmt: skip

label_attachment = sa.Table(
    "label_attachment", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("label_code", sa.String, nullable=False),
    sa.Column("project_code", sa.String, nullable=False),
    sa.Column("vintage", sa.Integer, nullable=True),  # None: every vintage of the project
    sa.Column("attached", sa.Boolean, nullable=False),  # False: detached (revocation)
    sa.Column("op_id", sa.Integer, sa.ForeignKey("ledger_operation.id"), nullable=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
    sa.Column("evaluation_id", sa.Integer, sa.ForeignKey("label_evaluation.id"), nullable=True),
    sa.Column("evaluation_digest", sa.String(64), nullable=True),
    sa.Column("evidence_sha256", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_label_attachment_project", "project_code", "label_code"),
)  # fmt: skip

LABEL_TABLES = (eco_label, label_layer, label_layer_polygon, label_evaluation, label_attachment)
