"""Alembic environment: migrations run on the connection handed in by ``registry.db.migrate``."""

from __future__ import annotations

from alembic import context

from registry.schema import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always pass a connection
    raise RuntimeError("run migrations through registry.db.migrate(engine)")
context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
)
context.run_migrations()
