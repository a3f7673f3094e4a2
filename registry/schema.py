"""The schema's one description: the SQLModel tables (``registry.models``), the ledger's
(``registry.ledger.tables``) and the users' (``registry.user_tables``) on one metadata — Alembic's ``target_metadata`` — and how to
compare it with a migrated database (``schema_differences``), which a test runs on both engines.
"""

from __future__ import annotations

import re
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData
from sqlalchemy.types import TypeEngine

__all__ = ["schema_differences", "target_metadata"]

# what SpatiaLite and PostGIS keep in the same database: not ours to describe
_SPATIAL_INTERNALS = re.compile(
    r"^(spatial_ref_sys.*|geometry_columns.*|views_geometry_columns.*|virts_geometry_columns.*"
    r"|spatialite_history|sql_statements_log|data_licenses|ElementaryGeometries|KNN2?"
    r"|SpatialIndex|idx_\w+_geom(_\w+)?|alembic_version|topology|layer)$"
)


def target_metadata() -> MetaData:
    """Every table of the registry on one metadata (importing the modules that define them)."""
    import registry.compensation.compensation_tables
    import registry.compensation.valuation_tables
    import registry.documents.tables
    import registry.labels.tables
    import registry.ledger.tables
    import registry.models
    import registry.remote_sensing.tables
    import registry.user_tables
    import registry.web_tables

    return registry.ledger.tables.metadata


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and name is not None and _SPATIAL_INTERNALS.match(name):
        return False
    # the spatial index of a geometry column is SpatiaLite's virtual table or PostGIS's GiST
    # index, made by GeoAlchemy2 / the migration; not a plain index to compare
    return not (type_ == "index" and name is not None and re.match(r"^idx_\w+_geom$", name))


def _same_type(
    context: Any, inspected: Any, metadata: Any, inspected_type: TypeEngine[Any],
    metadata_type: TypeEngine[Any],
) -> bool | None:  # fmt: skip
    """SQLite stores every float as REAL: Float and REAL are the same there. Otherwise Alembic's
    own comparison decides (None)."""
    if context.dialect.name == "sqlite":
        names = {type(inspected_type).__name__.upper(), type(metadata_type).__name__.upper()}
        if names <= {"REAL", "FLOAT", "DOUBLE", "DOUBLE_PRECISION"}:
            return False
    return None


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the description
    (empty when the migrations and the tables agree)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": _same_type, "include_object": _include}
        )
        return list(compare_metadata(context, target_metadata()))
