"""The time the registry's data stand at: the last audit event's (every change writes one)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from registry.db import DriverSQL

__all__ = ["data_as_of"]


def data_as_of(session: Session) -> str | None:
    """ISO 8601 UTC time of the newest audit event, or None for an empty registry."""
    row = DriverSQL(session).first("SELECT occurred_at FROM audit_event ORDER BY id DESC LIMIT 1")
    return str(row[0]) if row else None
